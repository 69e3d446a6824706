"""Bulk operator actions on many jobs: bounded listings, chunks that let other
writers in, the documented rule when a chunked action is interrupted, and
`purge --vacuum`.

The bulk rule (``JobQueue``, "operator actions"): chunks of ``BULK_CHUNK`` jobs,
each its own write transaction; explicit ids are all checked first (one bad id
changes nothing); an interrupted action leaves whole chunks done, oldest first,
and running it again does the rest.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time

import pytest

from queuectl_tui.errors import Conflict
from queuectl_tui.queue import BULK_CHUNK
from tests.conftest import Target, db_execute, db_executemany, db_rows, db_snapshot

pytestmark = pytest.mark.backends


def insert(db: Target, count: int, state: str = "dead", prefix: str = "d",
           output: str | None = None) -> list[str]:
    """``count`` jobs in ``state``, created in id order (as a worker would leave them)."""
    ids = [f"{prefix}{n:05d}" for n in range(count)]
    db_executemany(
        db,
        "INSERT INTO job (id, command, state, queue, priority, attempts, max_retries,"
        " run_at, created_at, updated_at, last_error, output) VALUES"
        " (?, 'false', ?, 'default', 0, 1, 1, 0, ?, 1, 'exit code 1', ?)",
        [(job_id, state, 1000 + n, output) for n, job_id in enumerate(ids)])
    return ids


def states(db: Target) -> dict[str, str]:
    return dict(db_rows(db, "SELECT id, state FROM job"))


# --- dlq list: a default limit, like list ----------------------------------

def test_dlq_list_shows_the_latest_50_by_default_and_says_how_to_see_all(cli, db_path):
    cli("status")
    ids = insert(db_path, 60)
    table = cli("dlq", "list")
    rows = table.out.splitlines()[1:]
    assert [row.split()[0] for row in rows] == ids[10:]  # the latest 50, oldest first
    assert table.err == "(latest 50 of 60 dead jobs; --limit 0 shows all)\n"
    every = cli("dlq", "list", "--limit", "0")
    assert len(every.out.splitlines()) == 61 and every.err == ""
    assert len(cli("dlq", "list", "--limit", "7").out.splitlines()) == 8
    # --json: every dead job unless --limit, as `list --json` (scripts read all of it).
    assert [j["id"] for j in cli.json("dlq", "list", "--json")] == ids
    assert [j["id"] for j in cli.json("dlq", "list", "--json", "--limit", "3")] == ids[-3:]


def test_list_json_streams_the_same_array_as_before(cli, db_path):
    cli("status")
    ids = insert(db_path, 1200, state="completed", prefix="c")
    out = cli("list", "--json").out
    assert out.count("\n") == 1 and out.startswith('[{"id": "c00000"')
    jobs = json.loads(out)
    assert [j["id"] for j in jobs] == ids
    assert set(jobs[0]) >= {"id", "command", "state", "next_retry_at", "last_error"}
    assert "output" not in jobs[0]
    assert cli.json("list", "--state", "dead", "--json") == []


# --- chunks that let other writers in ---------------------------------------

@pytest.mark.sqlite_only
def test_dlq_retry_all_lets_another_writer_in_while_it_runs(cli, db_path):
    """With one transaction, no other process could write between the first and
    the last retried job; now a write gets in while part of the DLQ is retried.
    (SQLite only: it probes SQLite's one database-wide write lock; PostgreSQL
    locks rows, so other writers are never held up by a retry there.)"""
    cli("status")
    total = 12 * BULK_CHUNK
    insert(db_path, total)
    conn = sqlite3.connect(db_path, timeout=0, isolation_level=None)
    proc = subprocess.Popen([sys.executable, "-m", "queuectl_tui", "dlq", "retry", "--all"],
                            env=cli.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen_mid_way: list[int] = []

    def dead() -> int:
        return conn.execute("SELECT count(*) FROM job WHERE state = 'dead'").fetchone()[0]

    try:
        deadline = time.monotonic() + 60
        while proc.poll() is None and not seen_mid_way and time.monotonic() < deadline:
            if dead() in (0, total):  # not started, or done: nothing to learn
                time.sleep(0.001)
                continue
            try:
                conn.execute("BEGIN IMMEDIATE")  # timeout 0: only if nobody holds the lock
            except sqlite3.OperationalError:
                time.sleep(0.0005)
                continue
            left = dead()
            conn.execute("INSERT INTO setting (key, value) VALUES ('probe', '1')"
                         " ON CONFLICT (key) DO UPDATE SET value = value + 1")
            conn.execute("COMMIT")
            if 0 < left < total:
                seen_mid_way.append(left)
        assert proc.wait(timeout=60) == 0, proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
        conn.close()
    assert seen_mid_way, "no other writer got the lock while dlq retry --all ran"
    assert seen_mid_way[0] % BULK_CHUNK == 0  # whole chunks
    assert cli.json("status", "--json")["jobs"]["pending"] == total


def test_retry_all_does_not_retry_a_job_that_died_again_meanwhile(queue, db_path):
    """`--all` means the jobs dead when it started: a job that fails at once and
    dies again during the call is not retried a second time by the same call."""
    insert(db_path, BULK_CHUNK + 1)
    seen = []

    def died_again(chunk: list[str]) -> None:
        seen.append(len(chunk))
        if len(seen) == 1:  # between chunks: the first retried job is dead again
            db_execute(db_path, "UPDATE job SET state = 'dead', updated_at = ? WHERE id = ?",
                       (time.time() + 5, chunk[0]))

    retried = queue.retry_dead(None, on_chunk=died_again)
    assert seen == [BULK_CHUNK, 1]
    assert len(retried) == len(set(retried)) == BULK_CHUNK + 1
    assert list(states(db_path).values()).count("dead") == 1


# --- explicit ids: all checked first ----------------------------------------

@pytest.mark.parametrize("count", [3, 2 * BULK_CHUNK + 7])
def test_cancel_of_many_ids_with_one_bad_changes_nothing(cli, db_path, count):
    cli("status")
    ids = insert(db_path, count, state="pending", prefix="p")
    insert(db_path, 1, state="completed", prefix="done")
    before = db_snapshot(db_path)
    bad = [*ids[:-1], "done00000"]
    result = cli("cancel", *bad, check=False)
    assert result.returncode == 1
    assert result.err == ("Error: job 'done00000' is completed; only pending, failed, "
                          "processing jobs can be cancelled\n")
    assert db_snapshot(db_path) == before
    good = cli("cancel", *ids)
    assert good.out == "".join(f"Cancelled {job_id}\n" for job_id in ids)
    assert set(states(db_path).values()) == {"cancelled", "completed"}


def test_retry_of_many_ids_checks_them_all_and_retries_them_all(queue, db_path):
    ids = insert(db_path, 2 * BULK_CHUNK + 1)
    insert(db_path, 1, state="pending", prefix="alive")
    with pytest.raises(Conflict, match="'alive00000' is pending"):
        queue.retry_dead([*ids, "alive00000"])
    assert set(states(db_path).values()) == {"dead", "pending"}
    assert list(states(db_path).values()).count("pending") == 1
    chunks = []
    assert queue.retry_dead(ids, on_chunk=lambda c: chunks.append(len(c))) == ids
    assert chunks == [BULK_CHUNK, BULK_CHUNK, 1]
    assert list(states(db_path).values()).count("pending") == len(ids) + 1


def test_a_long_id_list_skips_jobs_another_process_moved_on(queue, db_path):
    """Between the check and a later chunk, another process deleted a job: that
    chunk acts on the rest (the job is gone; its retry is moot) and says so."""
    ids = insert(db_path, BULK_CHUNK + 2)

    def meanwhile(chunk: list[str]) -> None:
        if len(chunk) == BULK_CHUNK:
            db_execute(db_path, "DELETE FROM job WHERE id = ?", (ids[-1],))

    assert queue.retry_dead(ids, on_chunk=meanwhile) == ids[:-1]


# --- purge in chunks, and --vacuum ------------------------------------------

@pytest.mark.parametrize("count", [2 * BULK_CHUNK, 2 * BULK_CHUNK + 1])
def test_purge_deletes_every_finished_job_across_chunks(queue, db_path, count):
    insert(db_path, count, state="completed", prefix="c")
    insert(db_path, 3, state="dead", prefix="d")
    insert(db_path, 2, state="pending", prefix="p")
    db_execute(db_path,
               "INSERT INTO attempt (job_id, number, finished_at) VALUES ('c00001', 1, 1)")
    assert queue.purge(["completed", "dead"]) == count + 3
    assert set(states(db_path).values()) == {"pending"}
    assert db_rows(db_path, "SELECT count(*) FROM attempt") == [(0,)]


def test_purge_older_than_keeps_recent_jobs(queue, db_path):
    insert(db_path, 5, state="completed", prefix="old")  # updated_at = 1 (1970)
    insert(db_path, 2, state="completed", prefix="new")
    db_execute(db_path, "UPDATE job SET updated_at = ? WHERE id LIKE 'new%'", (time.time(),))
    assert queue.purge(["completed"], older_than=time.time() - 3600) == 5
    assert sorted(states(db_path)) == ["new00000", "new00001"]


@pytest.mark.sqlite_only
def test_purge_vacuum_gives_the_space_back(cli, db_path):
    """SQLite only: it measures the database file."""
    cli("status")
    insert(db_path, 400, state="completed", output="x" * 20_000)  # about 8 MB
    cli("enqueue", '{"id": "kept", "command": "true"}')
    grown = db_path.stat().st_size
    assert grown > 8_000_000
    plain = cli("purge", "--completed")
    assert plain.out == "Purged 400 jobs\n"
    assert db_path.stat().st_size == grown  # SQLite keeps the pages for reuse
    vacuumed = cli("purge", "--vacuum")  # alone: the space of an earlier purge
    assert vacuumed.out.startswith("Database ") and " MB -> " in vacuumed.out
    assert db_path.stat().st_size < 1_000_000
    assert cli.state("kept") == "pending"
    insert(db_path, 1, state="completed", prefix="again")
    both = cli("purge", "--completed", "--vacuum")
    assert both.out.startswith("Purged 1 job\nDatabase ")
