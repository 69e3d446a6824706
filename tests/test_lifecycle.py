"""A worker under an unavailable database: it backs off and recovers, never dies or spins.

SQLite only: both tests make the file unavailable (a lock held past the busy
timeout, the file deleted). PostgreSQL's equivalents (the server restarted, a
backend terminated) are the fault tests of ``test_postgres_*``."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

import pytest

from tests.conftest import wait_for

pytestmark = pytest.mark.slow


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_worker_survives_a_database_locked_longer_than_the_busy_timeout(fast_cli, db_path):
    fast_cli.env["QUEUECTL_BUSY_TIMEOUT"] = "0.5"
    supervisor = fast_cli.start_workers(1)
    (worker,) = fast_cli.live_workers()
    locker = sqlite3.connect(db_path, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")
    locker.execute("INSERT INTO job (id, command, state, queue, priority, attempts, max_retries,"
                   " run_at, created_at, updated_at) VALUES"
                   " ('after-lock', 'echo done', 'pending', 'default', 0, 0, 3, 0, 0, 0)")
    cpu_before = _cpu_seconds(worker["pid"])
    time.sleep(4)  # the lock is held: 8 busy timeouts long
    cpu_used = _cpu_seconds(worker["pid"]) - cpu_before
    locker.execute("COMMIT")
    locker.close()
    assert supervisor.poll() is None
    job = wait_for(lambda: fast_cli.job("after-lock")["state"] == "completed", timeout=40,
                   message="the job to run once the lock is gone")
    assert job
    assert [w["pid"] for w in fast_cli.live_workers()] == [worker["pid"]]  # same process
    print(f"\nlocked 4s: worker used {cpu_used:.2f}s of CPU while waiting")
    assert cpu_used < 1.0  # backing off, not spinning


def test_worker_waits_for_a_deleted_database_and_picks_up_the_new_one(fast_cli, db_path):
    supervisor = fast_cli.start_workers(1)
    (worker,) = fast_cli.live_workers()
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(f"{db_path}{suffix}")
        except FileNotFoundError:
            pass
    time.sleep(2.5)  # a few housekeeping rounds without a database
    assert supervisor.poll() is None
    fast_cli("config", "set", "poll-interval", "0.05")  # creates a fresh database
    fast_cli("enqueue", json.dumps({"id": "reborn", "command": "echo again"}))
    job = wait_for(lambda: fast_cli.job("reborn")["state"] == "completed", timeout=40,
                   message="the worker to find the new database")
    assert job
    assert [w["pid"] for w in fast_cli.live_workers()] == [worker["pid"]]
