"""Leases and a wall clock that steps (issue 9, item 4), and leases across a reboot.

A real process's wall clock is stepped by starting it through a small wrapper that
replaces ``time.time`` (what the wall clock is read through) with the real clock
plus an offset read from a file, before queuectl is imported: writing the file
steps that process's clock, at any moment, as ``date -s`` would step the
machine's (which a test must not do to a shared machine).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from queuectl_tui.jobspec import JobSpec
from queuectl_tui.queue import JobQueue
from queuectl_tui.timeutil import lease_clock
from tests.conftest import FAST_CONFIG, kill_registered_workers, wait_for

DAY = 86400.0

STEPPED = """
import runpy, sys, time
from pathlib import Path
real, offset_file = time.time, Path(sys.argv.pop(1))
def stepped():
    try:
        return real() + float(offset_file.read_text() or 0)
    except (OSError, ValueError):
        return real()
time.time = stepped
runpy.run_module(sys.argv.pop(1), run_name="__main__", alter_sys=True)
"""


def stepped(offset_file: Path, module: str, *args: str) -> list[str]:
    """The command line of ``python -m module args`` with a steppable wall clock."""
    return [sys.executable, "-c", STEPPED, str(offset_file), module, *args]


@pytest.fixture
def setup(tmp_path):
    db = tmp_path / "queue.db"
    queue = JobQueue.open(db)
    for key, value in {**FAST_CONFIG, "lease_seconds": "1"}.items():
        queue.set_config(key, value)
    queue.close()
    procs: list[subprocess.Popen] = []
    yield db, procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    kill_registered_workers(db)


def enqueue(db: Path, job_id: str, command: str, **fields) -> None:
    queue = JobQueue.open(db)
    try:
        queue.enqueue([JobSpec(id=job_id, command=command, **fields)])
    finally:
        queue.close()


def job(db: Path, job_id: str):
    queue = JobQueue.open(db)
    try:
        return queue.get(job_id)
    finally:
        queue.close()


def status(db: Path, offset_file: Path) -> None:
    """`queuectl status` (which takes back expired leases) with a stepped clock."""
    subprocess.run(stepped(offset_file, "queuectl_tui", "--db", str(db), "status"),
                   capture_output=True, timeout=60, check=True)


def start_worker(db: Path, procs: list, offset_file: Path, log: Path) -> subprocess.Popen:
    with open(log, "wb") as handle:
        proc = subprocess.Popen(stepped(offset_file, "queuectl_tui.worker", "--db", str(db)),
                                stdout=handle, stderr=handle, start_new_session=True)
    procs.append(proc)
    return proc


def test_a_clock_step_forward_does_not_take_back_a_healthy_job(setup, tmp_path):
    """Another process whose wall clock is a day ahead looks at a running job
    with a 1 s lease: the job is healthy and must not be taken back or killed."""
    db, procs = setup
    runs, go, offset = tmp_path / "runs", tmp_path / "go", tmp_path / "offset"
    enqueue(db, "healthy", f"echo run >> {runs}; until [ -e {go} ]; do sleep 0.05; done")
    start_worker(db, procs, tmp_path / "no-offset", tmp_path / "worker.log")
    wait_for(runs.exists, message="the job to start")
    offset.write_text(str(DAY))
    for _ in range(4):  # a few passes, spanning more than a lease and its grace
        status(db, offset)
        assert job(db, "healthy").state == "processing"
    go.touch()
    done = wait_for(lambda: (j := job(db, "healthy")).state != "processing" and j,
                    message="the job to finish")
    assert (done.state, done.attempts) == ("completed", 1)
    assert runs.read_text().split() == ["run"]


def test_a_clock_step_back_does_not_delay_taking_back_a_dead_workers_job(setup, tmp_path):
    """The worker dies; every clock then reads a day earlier. Its job must still be
    taken back after its lease (and grace), not a day later."""
    db, procs = setup
    offset = tmp_path / "offset"
    enqueue(db, "orphan", "sleep 30", max_retries=2)
    worker = start_worker(db, procs, offset, tmp_path / "worker.log")
    wait_for(lambda: job(db, "orphan").state == "processing", message="the job to start")
    os.kill(worker.pid, signal.SIGKILL)
    offset.write_text(str(-DAY))

    def taken_back() -> bool:
        status(db, offset)
        return job(db, "orphan").state != "processing"

    wait_for(taken_back, timeout=10, interval=0.1, message="the dead worker's job to be taken back")
    assert "lease expired" in job(db, "orphan").last_error


def test_a_clock_step_during_a_job_neither_times_it_out_nor_stops_its_renewals(setup, tmp_path):
    """The worker's own wall clock jumps a day ahead while its job (timeout 60 s)
    runs: the job is not timed out and runs to its end once."""
    db, procs = setup
    runs, go, offset = tmp_path / "runs", tmp_path / "go", tmp_path / "offset"
    enqueue(db, "steady", f"echo run >> {runs}; until [ -e {go} ]; do sleep 0.05; done",
            timeout=60)
    start_worker(db, procs, offset, tmp_path / "worker.log")
    wait_for(runs.exists, message="the job to start")
    offset.write_text(str(DAY))

    def heartbeat() -> float:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT heartbeat_at FROM worker").fetchone()[0]

    for _ in range(2):  # two housekeeping rounds on the stepped clock
        before = heartbeat()
        wait_for(lambda b=before: heartbeat() != b, message="a heartbeat")
    go.touch()
    done = wait_for(lambda: (j := job(db, "steady")).state != "processing" and j,
                    message="the job to finish")
    assert (done.state, done.attempts, done.last_error) == ("completed", 1, None)
    assert runs.read_text().split() == ["run"]


def test_leases_of_an_earlier_boot_are_taken_back_at_once(tmp_path):
    """The database as a reboot leaves it: a running job whose lease, read on the
    previous boot's clock, looks valid for a long while on this one, and the row of
    a worker with a heartbeat "from the future" whose pid now belongs to someone
    else. The first command after the boot takes the job back and drops the row."""
    db = tmp_path / "queue.db"
    cli_env = dict(os.environ, QUEUECTL_DB=str(db))
    queue = JobQueue.open(db)
    queue.prepare_worker()
    queue.enqueue([JobSpec(id="before-reboot", command="true")])
    queue.claim("oldhost-1-abcd", lease_seconds=1000)
    queue.close()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE setting SET value = 'an-earlier-boot' WHERE key = 'lease_boot'")
        conn.execute("INSERT INTO worker (id, pid, hostname, owner, state, started_at,"
                     " heartbeat_at, jobs_done, jobs_failed) VALUES (?, ?, ?, 'cli',"
                     " 'running', 0, ?, 0, 0)",
                     ("oldhost-1-abcd", os.getpid(), os.uname().nodename, lease_clock() + 500))

    def cli(*args: str) -> str:
        return subprocess.run([sys.executable, "-m", "queuectl_tui", *args], env=cli_env,
                              capture_output=True, text=True, check=True, timeout=60).stdout

    assert json.loads(cli("worker", "list", "--json")) == []
    taken = json.loads(cli("show", "before-reboot", "--json"))
    assert taken["state"] == "failed" and "restarted" in taken["last_error"]
