"""The WAL stays bounded with many workers (issue 9, item 8).

Before: SQLite's passive auto-checkpoint never reset the WAL while 8 workers
kept a reader inside it, and it grew without bound (150-355 MB after 20,000
`true` jobs). Now a worker truncates it from its housekeeping once it passes a
size. The suite runs 8,000 jobs with the threshold at 2 MB (about 10 s; the
old code reached 58 MB here, the new one 14-25 MB); `python scripts/wal_growth.py --jobs 20000
--workers 8` prints the 20,000-job figure at the default threshold (8 MB).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time

from queuectl_tui.jobspec import JobSpec
from queuectl_tui.queue import JobQueue
from queuectl_tui.store import sqlite as sqlite_store

JOBS = 8000
THRESHOLD = 2 * 1024 * 1024
BOUND = 40 * 1024 * 1024  # threshold + a second of writing at ~1,000 jobs/s, with room


def _wal(path) -> int:
    try:
        return os.stat(f"{path}-wal").st_size
    except OSError:
        return 0


def _unfinished(path) -> int:
    with sqlite3.connect(path, timeout=30) as conn:
        count = conn.execute("SELECT count(*) FROM job WHERE state IN"
                             " ('pending', 'processing', 'failed')").fetchone()[0]
    conn.close()
    return count


def test_wal_stays_bounded_with_eight_busy_workers(fast_cli, db_path):
    fast_cli.env["QUEUECTL_WAL_CHECKPOINT_BYTES"] = str(THRESHOLD)
    queue = JobQueue.open(db_path)
    queue.enqueue([JobSpec(command="true") for _ in range(JOBS)])
    queue.close()
    # Not Cli.start_workers: 12,000 log lines would fill its stderr pipe and block.
    proc = subprocess.Popen([sys.executable, "-m", "queuectl_tui", "worker", "start",
                             "--count", "8"], env=fast_cli.env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    fast_cli.procs.append(proc)  # stopped (then killed) by the fixture, even on failure
    largest = 0
    deadline = time.monotonic() + 120
    next_count = 0.0
    while True:
        largest = max(largest, _wal(db_path))
        if time.monotonic() >= next_count:
            next_count = time.monotonic() + 0.5
            if _unfinished(db_path) == 0:
                break
        assert time.monotonic() < deadline, "the jobs did not finish in 120 s"
        time.sleep(0.01)
    print(f"\n{JOBS} jobs, 8 workers: WAL max {largest / 1e6:.1f} MB (bound {BOUND / 1e6:.0f})")
    assert largest < BOUND, f"WAL reached {largest / 1e6:.1f} MB"


def test_checkpoint_if_large_truncates_a_large_wal_despite_a_reader(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_store, "_next_checkpoint", 0.0)
    path = tmp_path / "q.db"
    queue = JobQueue.open(path)
    reader = sqlite3.connect(path)
    reader.execute("SELECT count(*) FROM job").fetchall()  # connected, not in a read
    queue.enqueue([JobSpec(command="x" * 2000) for _ in range(3000)])
    assert _wal(path) > 1024 * 1024
    assert not sqlite_store.checkpoint_if_large(queue.db, limit=_wal(path))  # not past: nothing
    assert sqlite_store.checkpoint_if_large(queue.db, limit=1024 * 1024)
    assert _wal(path) == 0
    reader.close()
    queue.close()


def test_journal_size_limit_is_set_on_every_connection(tmp_path):
    queue = JobQueue.open(tmp_path / "q.db")
    (limit,) = queue.db.execute_sql("PRAGMA journal_size_limit").fetchone()
    assert limit == sqlite_store.JOURNAL_SIZE_LIMIT
    queue.close()


def test_a_long_read_makes_the_checkpoint_give_up_quickly_and_back_off(tmp_path, monkeypatch):
    """Writers wait while a forced checkpoint waits for readers: a long read (a big
    listing) must cost them a fraction of a second, not the reader's duration."""
    monkeypatch.setattr(sqlite_store, "_next_checkpoint", 0.0)
    path = tmp_path / "q.db"
    queue = JobQueue.open(path)
    queue.enqueue([JobSpec(command="x" * 2000) for _ in range(1000)])
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM job").fetchall()  # a read transaction, held
    queue.enqueue([JobSpec(command="y" * 2000) for _ in range(1000)])  # frames it pins
    started = time.monotonic()
    assert not sqlite_store.checkpoint_if_large(queue.db, limit=1024)
    assert time.monotonic() - started < sqlite_store.CHECKPOINT_BUDGET + 0.5
    started = time.monotonic()
    assert not sqlite_store.checkpoint_if_large(queue.db, limit=1024)  # backing off: no wait
    assert time.monotonic() - started < 0.05
    reader.execute("COMMIT")
    reader.close()
    monkeypatch.setattr(sqlite_store, "_next_checkpoint", 0.0)
    assert sqlite_store.checkpoint_if_large(queue.db, limit=1024)
    assert _wal(path) == 0
    queue.close()
