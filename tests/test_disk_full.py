"""A full disk, for real: a 2 MB tmpfs filled to the last block (root only).

What a user sees: "database or disk is full: PATH" and exit 1 from a write,
never "cannot rollback - no transaction is active"; the reading commands keep
working (they skip the lease recovery they cannot write); and once some space
is freed, writing goes on, instead of the WAL swallowing the freed space.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import peewee
import pytest

from queuectl_tui.jobspec import JobSpec
from queuectl_tui.queue import JobQueue
from tests.conftest import db_snapshot


@pytest.fixture
def small_disk(tmp_path):
    """A private folder on a 2 MB tmpfs, unmounted afterwards."""
    mount_point = tmp_path / "tmpfs"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs",
                             str(mount_point)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(folder: Path, leave: int = 0) -> Path:
    """Write a filler file until the disk is full, then give back ``leave`` bytes."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    block = b"\0" * 4096
    try:
        with contextlib.suppress(OSError):
            while os.write(fd, block):
                pass
    finally:
        os.close(fd)
    if leave:
        os.truncate(filler, max(filler.stat().st_size - leave, 0))
    return filler


def queuectl(db: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("QUEUECTL_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "queuectl_tui", "--db", str(db), *args],
                          capture_output=True, text=True, timeout=60, env=env)


def test_full_disk_is_reported_plainly_and_reading_still_works(small_disk):
    db = small_disk / "queue.db"
    queue = JobQueue.open(db)
    queue.enqueue([JobSpec(command="true", id="running")])
    # A job whose worker died: reading commands would take it back, which writes.
    queue.db.execute_sql("UPDATE job SET state = 'processing', attempts = 1,"
                         " worker_id = 'elsewhere-1-ab', lease_expires_at = 1")
    # And a dead worker's row, which listing workers sweeps away (a write too).
    queue.db.execute_sql("INSERT INTO worker (id, pid, hostname, owner, state, started_at,"
                         " heartbeat_at, jobs_done, jobs_failed) VALUES ('gone', 999999,"
                         " 'elsewhere', 'cli', 'running', 1, 1, 0, 0)")
    # `queue` stays open like a running worker's connection: the WAL stays in use.
    fill(small_disk)
    before = db_snapshot(db)

    result = queuectl(db, "enqueue", '{"command": "echo [b]hi[/b]"}')
    assert result.returncode == 1, result
    assert result.stderr == f"Error: database or disk is full: {db}\n"
    assert result.stdout == ""

    assert db_snapshot(db) == before

    # Reading commands read. (They take back the dead worker's job if the write
    # happens to fit in the WAL's space, and skip it quietly if not.)
    for args in (["status"], ["list", "--json"], ["show", "running"], ["dlq", "list"],
                 ["config", "get", "max_retries"], ["worker", "list"]):
        result = queuectl(db, *args)
        assert result.returncode == 0, (args, result.stderr)
        assert result.stderr == "", (args, result.stderr)
    assert '"id": "running"' in queuectl(db, "list", "--json").stdout
    queue.close()


def test_freeing_some_space_is_enough_to_go_on_writing(small_disk):
    """The WAL must not eat the freed space: 60 small enqueues (about 60 KB of
    jobs), each opening the store as a CLI call does, fit in 400 KB freed."""
    db = small_disk / "queue.db"
    JobQueue.open(db).enqueue([JobSpec(command="true", id="first")])
    holder = sqlite3.connect(db)  # a worker or the TUI: the WAL stays in use
    holder.execute("SELECT count(*) FROM job").fetchall()
    fill(small_disk, leave=400 * 1024)
    done = 0
    try:
        for n in range(60):
            queue = JobQueue.open(db)
            try:
                queue.enqueue([JobSpec(command=f"echo {n} " + "x" * 1000, id=f"job-{n}")])
            finally:
                queue.close()
            done += 1
    except Exception as exc:
        pytest.fail(f"only {done} of 60 enqueues fit in the freed space: {exc}")
    finally:
        holder.close()
    result = queuectl(db, "enqueue", '{"id": "after", "command": "true"}')
    assert result.returncode == 0, result.stderr
    assert queuectl(db, "show", "after").returncode == 0


def test_enqueue_succeeds_again_once_the_disk_has_room(small_disk):
    db = small_disk / "queue.db"
    assert queuectl(db, "enqueue", '{"id": "a", "command": "true"}').returncode == 0
    filler = fill(small_disk)
    result = queuectl(db, "enqueue", '{"id": "b", "command": "true"}')
    assert (result.returncode, result.stderr) == (1, f"Error: database or disk is full: {db}\n")
    filler.unlink()
    result = queuectl(db, "enqueue", '{"id": "b", "command": "true"}')
    assert result.returncode == 0, result.stderr
    assert queuectl(db, "list", "--json").stdout.count('"id"') == 2


def test_the_tui_refresh_reads_on_a_full_disk(small_disk):
    """The TUI's fetch skips the lease recovery it cannot write, like the CLI's
    reading commands, instead of failing every refresh."""
    from queuectl_tui.tui.data import View, fetch

    db = small_disk / "queue.db"
    queue = JobQueue.open(db)
    queue.enqueue([JobSpec(command="echo '[b]hi[/b] \033]0;pwned\007'", id="running"),
                   JobSpec(command="true", id="waiting")])
    queue.db.execute_sql("UPDATE job SET state = 'processing', attempts = 1,"
                         " worker_id = 'elsewhere-1-ab', lease_expires_at = 1"
                         " WHERE id = 'running'")
    # An empty WAL: the recovery's write needs blocks the disk no longer has.
    queue.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    fill(small_disk)
    before = db_snapshot(db)
    try:
        with pytest.raises(peewee.DatabaseError):  # the write fails...
            queue.recover_expired()
        snapshot = fetch(queue, View())  # ...and the refresh reads all the same
        assert snapshot.counts["processing"] == 1 and snapshot.counts["pending"] == 1
        assert sorted(row.id for row in snapshot.rows) == ["running", "waiting"]
        assert db_snapshot(db) == before
    finally:
        queue.close()
