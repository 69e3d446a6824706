"""Jobs that misbehave, and inputs that try to escape: the worker stays healthy."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.test_workers import is_running

pytestmark = pytest.mark.backends


def run_jobs(cli, *jobs: dict) -> None:
    cli("enqueue", "-", input="\n".join(json.dumps(job) for job in jobs))


def test_misbehaving_jobs_leave_the_worker_healthy(fast_cli, tmp_path):
    pidfile = tmp_path / "leftover.pid"
    run_jobs(
        fast_cli,
        # closes its stdout and stderr early, then keeps working
        {"id": "closes-stdout", "command": "echo before; exec >&- 2>&-; sleep 0.3; true"},
        # leaves a background child behind (holding no pipe) and exits at once
        {"id": "forks-and-exits",
         "command": f"(sleep 60 > /dev/null 2>&1 &  echo $! > {pidfile}); echo parent done"},
        # never exits
        {"id": "never-exits", "command": "while :; do :; done", "timeout": 1,
         "max_retries": 1},
        # prints far more than the output limit, on both streams
        {"id": "floods", "command": "yes out | head -c 3000000; yes err | head -c 3000000 >&2"},
        {"id": "afterwards", "command": "echo still healthy"},
    )
    supervisor = fast_cli.start_workers(1)
    (worker,) = fast_cli.live_workers()
    job = wait_for(lambda: fast_cli.job("afterwards")["state"] == "completed"
                   and fast_cli.job("never-exits")["state"] == "dead"
                   and fast_cli.job("afterwards"), timeout=30, message="all jobs to finish")
    assert job["output"] == "still healthy\n"
    assert fast_cli.job("closes-stdout")["state"] == "completed"
    assert fast_cli.job("closes-stdout")["output"] == "before\n"
    assert fast_cli.job("forks-and-exits")["state"] == "completed"
    leftover = int(pidfile.read_text())
    wait_for(lambda: not is_running(leftover), timeout=5,
             message="the leftover child to be killed with its job's group")
    assert fast_cli.job("never-exits")["last_error"] == "timed out after 1.0s"
    flood = fast_cli.job("floods")
    assert flood["state"] == "completed"
    assert len(flood["output"].encode()) <= 65536 + 100
    assert [w["pid"] for w in fast_cli.live_workers()] == [worker["pid"]]
    assert supervisor.poll() is None


def test_job_ids_and_fields_never_reach_a_shell(fast_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the payloads touch a relative path: keep the id short
    marker = tmp_path / "PWNED"
    sneaky_id = "x;touch${IFS}PWNED;$(touch${IFS}PWNED)`touch${IFS}PWNED`'$(id)'"
    run_jobs(fast_cli, {"id": sneaky_id, "command": 'echo "$QUEUECTL_JOB_ID"',
                        "queue": "q;touch PWNED"})
    fast_cli.start_workers(1)
    job = wait_for(lambda: fast_cli.job(sneaky_id)["state"] == "completed"
                   and fast_cli.job(sneaky_id), message="the job to run")
    assert job["output"] == sneaky_id + "\n"  # the id arrived as data, untouched
    assert not marker.exists()


def test_a_worker_started_as_root_says_so(fast_cli):
    supervisor = fast_cli.start_workers(1)
    supervisor.terminate()
    supervisor.wait(timeout=10)
    log = supervisor.stderr.read().decode()
    if os.geteuid() == 0:
        assert "WARNING: running as root" in log
    else:
        assert "running as root" not in log


@pytest.mark.sqlite_only
def test_database_and_folder_are_private(fast_cli, db_path: Path):
    """SQLite only: the database is a file (PostgreSQL's access is the server's)."""
    assert oct(db_path.stat().st_mode & 0o777) == "0o600"
