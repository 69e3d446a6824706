"""Chaos, contention and crashes: nothing lost, nothing run twice at once, nothing corrupt.

Each test is bounded in time and count, prints its figures, and cleans up every
process it starts (the ``cli`` fixture stops supervisors and kills leftovers).
All run on both backends; what is SQLite's alone (a deleted or unwritable file,
a full disk, the WAL) is in test_lifecycle, test_worker_stop, test_disk_full and
test_wal.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest

from queuectl_tui.store import STATES
from tests.conftest import Target, db_execute, db_executemany, db_rows, is_postgres, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.backends]


def job_processes(db: Target) -> list[int]:
    """Pids of running job processes of the queue in ``db`` (its QUEUECTL_DB_ID is in
    their environment): never another test's, which may be running beside this one."""
    rows = db_rows(db, "SELECT value FROM setting WHERE key = 'database_id'")
    if not rows:
        return []
    marker = f"QUEUECTL_DB_ID={rows[0][0]}".encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            pids.append(int(entry))
    return pids


def integrity(db: Target) -> str:
    """'ok' for a consistent database: SQLite's own check of the file; on both, no
    attempt without its job and no job in an unknown state."""
    if not is_postgres(db):
        (result,) = db_rows(db, "PRAGMA integrity_check")[0]
        if result != "ok":
            return result
    orphans = db_rows(db, "SELECT count(*) FROM attempt WHERE job_id NOT IN"
                          " (SELECT id FROM job)")[0][0]
    states = {row[0] for row in db_rows(db, "SELECT DISTINCT state FROM job")}
    if orphans or not states <= set(STATES):
        return f"{orphans} orphan attempts, states {sorted(states)}"
    return "ok"


def test_chaos_kill_workers_and_jobs_nothing_lost_nothing_concurrent(cli, db_path, tmp_path):
    """400 short jobs, 4 workers; every ~0.5 s a worker (or a job process) is
    SIGKILLed and the supervisor replaces it. Each execution holds an flock on a
    per-job file, so two concurrent runs of one job would be caught in the act."""
    total = 400
    log = tmp_path / "runs.log"
    locks = tmp_path / "locks"
    locks.mkdir()
    for key, value in (("poll_interval", "0.05"), ("lease_seconds", "1"),
                       ("backoff_base", "1"), ("backoff_max", "1")):
        cli("config", "set", key, value)
    body = (f'echo "$QUEUECTL_JOB_ID $QUEUECTL_ATTEMPT start" >> {log}; sleep 0.1; '
            f'echo "$QUEUECTL_JOB_ID $QUEUECTL_ATTEMPT end" >> {log}')
    # flock exits 99 only when the lock is taken (not when one of its processes is killed).
    command = (f"flock -n -E 99 {locks}/$QUEUECTL_JOB_ID -c '{body}'; rc=$?; "
               f"[ $rc -ne 99 ] || echo \"$QUEUECTL_JOB_ID $QUEUECTL_ATTEMPT CONCURRENT\" >> {log}"
               "; exit $rc")
    lines = "\n".join(json.dumps({"id": f"c{n:03d}", "command": command, "max_retries": 20})
                      for n in range(total))
    cli("enqueue", "-", input=lines)
    cli.start_workers(4)
    rng = random.Random(1234)
    worker_kills = job_kills = 0
    deadline = time.monotonic() + 150
    time.sleep(0.5)
    while time.monotonic() < deadline:
        status = cli.json("status", "--json")  # one call a round: rounds stay short
        counts = status["jobs"]
        if counts["completed"] + counts["dead"] == total:
            break
        # Workers first: at least 5 of them die however fast the jobs go.
        if worker_kills >= 5 and rng.random() < 0.3 and (victims := job_processes(db_path)):
            try:
                os.kill(rng.choice(victims), signal.SIGKILL)
                job_kills += 1
            except ProcessLookupError:
                pass
        else:
            workers = status["workers"]
            if workers:
                try:
                    os.kill(rng.choice(workers)["pid"], signal.SIGKILL)
                    worker_kills += 1
                except ProcessLookupError:
                    pass
        time.sleep(0.5)
    counts = wait_for(lambda: (c := cli.json("status", "--json")["jobs"])
                      and c["completed"] + c["dead"] == total and c, timeout=60,
                      message="every job to finish")
    runs: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for line in log.read_text().splitlines():
        job_id, attempt, what = line.split()
        runs[job_id].append((int(attempt), what))
    concurrent = [j for j, events in runs.items() if any(w == "CONCURRENT" for _, w in events)]
    starts = {j: sum(1 for _, w in events if w == "start") for j, events in runs.items()}
    reruns = sum(n - 1 for n in starts.values() if n > 1)
    jobs = cli.json("list", "--json")
    lost = [j["id"] for j in jobs if j["state"] not in ("completed", "dead")]
    print(f"\nchaos: jobs={total} worker_kills={worker_kills} job_kills={job_kills} "
          f"completed={counts['completed']} dead={counts['dead']} reruns={reruns} "
          f"concurrent={len(concurrent)} lost={len(lost)}")
    assert lost == [] and counts["processing"] == 0
    assert concurrent == []
    assert worker_kills >= 5
    # Every job that completed ran to its end exactly once, in its last attempt...
    by_id = {j["id"]: j for j in jobs}
    for job_id, events in runs.items():
        job = by_id[job_id]
        ends = [a for a, w in events if w == "end"]
        if job["state"] == "completed":
            assert ends and max(ends) == job["attempts"], (job_id, events, job["attempts"])
        # ...and ran again only after an attempt that failed or lost its worker.
        assert starts[job_id] <= job["attempts"]
        if starts[job_id] > 1:
            history = cli.job(job_id)["attempt_history"]
            failed = [a for a in history if a["error"]]
            assert len(failed) >= starts[job_id] - 1, (job_id, events, history)
            assert all("lease expired" in a["error"] or "killed" in a["error"]
                       or "exit code" in a["error"] for a in failed), history
    assert set(runs) == {f"c{n:03d}" for n in range(total)}
    assert integrity(db_path) == "ok"


def test_contention_eight_workers_and_busy_cli_clients_never_fail(cli, db_path):
    """8 workers run short jobs while 4 client processes loop over enqueue, list,
    status, show, dlq retry and config set: every call succeeds, none says locked."""
    cli("config", "set", "poll-interval", "0.05")
    cli("enqueue", "-", input="\n".join(
        json.dumps({"id": f"seed{n}", "command": "true"}) for n in range(50)))
    cli("enqueue", json.dumps({"id": "doomed", "command": "false", "max_retries": 1}))
    cli.start_workers(8)
    failures: list[str] = []
    calls = [0]
    stop_at = time.monotonic() + 12
    lock = threading.Lock()

    def client(number: int) -> None:
        step = 0
        while time.monotonic() < stop_at:
            step += 1
            args = [
                ["enqueue", json.dumps({"id": f"k{number}-{step}", "command": "true"})],
                ["list", "--state", "completed", "--json"],
                ["status", "--json"],
                ["show", "seed1", "--json"],
                ["dlq", "retry", "--all"],
                ["config", "set", "max-retries", "3"],
                ["enqueue", "-"],
            ][step % 7]
            payload = "\n".join(json.dumps({"command": "true"}) for _ in range(20)) \
                if args == ["enqueue", "-"] else None
            result = subprocess.run([sys.executable, "-m", "queuectl_tui", *args],
                                    input=payload, capture_output=True, text=True,
                                    env=cli.env, timeout=60)
            with lock:
                calls[0] += 1
                if result.returncode != 0 or "locked" in result.stderr:
                    failures.append(f"{' '.join(args)[:40]}: {result.stderr.strip()}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts = cli.json("status", "--json")["jobs"]
    print(f"\ncontention: 8 workers, 4 clients, {calls[0]} CLI calls in 12s, "
          f"{len(failures)} failed; jobs: {counts}")
    assert failures == []
    assert calls[0] >= 40
    assert integrity(db_path) == "ok"


def _kill_during(args: list[str], env: dict, stdin: bytes | None, after: float) -> int:
    proc = subprocess.Popen([sys.executable, "-m", "queuectl_tui", *args], env=env,
                            stdin=subprocess.PIPE if stdin is not None else None,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if stdin is not None:
        proc.stdin.write(stdin)
        proc.stdin.close()
    time.sleep(after)
    proc.kill()
    return proc.wait()


@pytest.mark.backends("sqlite")  # PostgreSQL: test_bulk and the kill -9 test
def test_killing_a_bulk_enqueue_leaves_all_or_nothing(cli, db_path):
    cli("status")
    batch = 30_000
    outcomes = []
    for trial in range(8):
        payload = "\n".join(json.dumps({"id": f"t{trial}-{n}", "command": "true"})
                            for n in range(batch)).encode()
        before = cli.json("status", "--json")["jobs"]["pending"]
        _kill_during(["enqueue", "-"], cli.env, payload, after=0.15 + 0.05 * trial)
        assert integrity(db_path) == "ok"
        added = cli.json("status", "--json")["jobs"]["pending"] - before
        assert added in (0, batch), added
        outcomes.append(added)
    print(f"\nbulk enqueue killed 8 times: {outcomes.count(0)} rolled back, "
          f"{outcomes.count(batch)} committed, 0 partial")


@pytest.mark.backends("sqlite")  # the chunk rule on PostgreSQL is test_bulk's
def test_killing_a_dlq_retry_leaves_whole_chunks_done_and_a_rerun_finishes(cli, db_path):
    """The bulk rule (queue.py, "operator actions"): `dlq retry --all` works in
    chunks of 500, each its own transaction, so other writers get in. Killed
    midway, it leaves whole chunks retried, oldest first, every row either fully
    retried or untouched; running it again retries the rest. (It used to be one
    transaction, all or nothing, holding the write lock throughout.)"""
    cli("status")
    count = 8_000
    db_executemany(
        db_path,
        "INSERT INTO job (id, command, state, queue, priority, attempts, max_retries,"
        " run_at, created_at, updated_at) VALUES (?, 'false', 'dead', 'default', 0, 1, 1,"
        " 0, ?, 0)", [(f"d{n}", n) for n in range(count)])
    outcomes = []
    for trial in range(6):
        _kill_during(["dlq", "retry", "--all"], cli.env, None, after=0.25 + 0.1 * trial)
        assert integrity(db_path) == "ok"
        rows = db_rows(db_path, "SELECT state, attempts FROM job ORDER BY created_at")
        retried = sum(1 for state, _ in rows if state == "pending")
        assert retried % 500 == 0, retried  # whole chunks only
        assert rows[:retried] == [("pending", 0)] * retried  # a prefix, oldest first
        assert rows[retried:] == [("dead", 1)] * (count - retried)
        outcomes.append(retried)
        assert "Retrying" in cli("dlq", "retry", "--all").out or retried == count
        assert cli.json("status", "--json")["jobs"]["dead"] == 0  # the re-run did the rest
        db_execute(db_path, "UPDATE job SET state = 'dead', attempts = 1")
    print(f"\ndlq retry --all killed 6 times: {outcomes.count(0)} before the first chunk, "
          f"{outcomes.count(count)} after the last, "
          f"{sum(1 for o in outcomes if 0 < o < count)} midway ({outcomes}); "
          "every re-run finished the rest")


def test_kill_9_during_heavy_writes_leaves_a_consistent_database(cli, db_path):
    """Power-loss style: writers and workers are SIGKILLed mid-flight, repeatedly;
    the database reopens clean and every job is in exactly one state."""
    cli("config", "set", "poll-interval", "0.05")
    for round_ in range(4):
        cli.start_workers(2)
        writers = [subprocess.Popen(
            [sys.executable, "-m", "queuectl_tui", "enqueue", "-"], env=cli.env,
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(2)]
        for n, writer in enumerate(writers):
            writer.stdin.write("\n".join(json.dumps({"id": f"w{round_}-{n}-{i}",
                                                     "command": "true"})
                                         for i in range(5000)).encode())
            writer.stdin.close()
        time.sleep(0.3)
        for writer in writers:
            writer.kill()
            writer.wait()
        for worker in cli.live_workers():
            try:
                os.kill(worker["pid"], signal.SIGKILL)
            except ProcessLookupError:
                pass
        for proc in cli.procs:
            proc.kill()
            proc.wait()
        cli.procs.clear()
        assert integrity(db_path) == "ok"
    status = cli.json("status", "--json")["jobs"]
    rows = db_rows(db_path, "SELECT count(*) FROM job")[0][0]
    orphans = db_rows(db_path, "SELECT count(*) FROM attempt WHERE job_id NOT IN"
                               " (SELECT id FROM job)")[0][0]
    assert sum(status.values()) == rows and orphans == 0
    print(f"\nkill -9 during writes, 4 rounds: integrity ok, {rows} jobs, states {status}")
