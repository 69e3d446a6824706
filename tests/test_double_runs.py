"""Ways a job could run twice, each reproduced with real processes (issue 9, items 1-3).

Jobs append a line to a counter file outside the database, so what really ran is
counted, not what the database says. Workers are started directly
(``python -m queuectl_tui.worker``), without a supervisor: no child subreaper
cleans up behind them, as after the supervisor was killed or the TUI left its
workers finishing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from queuectl_tui.queue import JobQueue
from tests.conftest import FAST_CONFIG, kill_registered_workers, wait_for


class Workers:
    """Bare worker processes on one database, each logging to its own file."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.procs: list[subprocess.Popen] = []
        self.dbs: set[Path] = set()

    def start(self, db: Path, env: dict | None = None) -> subprocess.Popen:
        log = self.tmp_path / f"worker{len(self.procs)}.log"
        with open(log, "wb") as handle:
            proc = subprocess.Popen(
                [sys.executable, "-m", "queuectl_tui.worker", "--db", str(db)],
                stdin=subprocess.DEVNULL, stdout=handle, stderr=handle,
                start_new_session=True, env=env,
            )
        proc.log = log
        self.procs.append(proc)
        self.dbs.add(db)
        return proc

    def cleanup(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                proc.kill()
            proc.wait()
        for db in self.dbs:
            kill_registered_workers(db)


@pytest.fixture
def workers(tmp_path):
    group = Workers(tmp_path)
    yield group
    group.cleanup()


def configure(db: Path, **settings: str) -> None:
    queue = JobQueue.open(db)
    for key, value in {**FAST_CONFIG, **settings}.items():
        queue.set_config(key, value)
    queue.close()


def runs_of(counter: Path) -> list[str]:
    return counter.read_text().split() if counter.exists() else []


def kill_pids_in(pidfile: Path) -> None:
    """Kill the daemons a test's jobs left behind (they wrote their pids here)."""
    if not pidfile.exists():
        return
    for pid in pidfile.read_text().split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


def job_row(db: Path, job_id: str) -> dict:
    queue = JobQueue.open(db)
    try:
        job = queue.get(job_id)
        return {"state": job.state, "attempts": job.attempts, "output": job.output,
                "last_error": job.last_error}
    finally:
        queue.close()


# --- item 2: a daemon that keeps the job's stdout open -------------------------------


def test_a_daemon_holding_stdout_does_not_block_the_worker(workers, cli, tmp_path):
    """The job's shell exits at once but leaves a process in another session that
    holds the output pipe. The result must be recorded promptly, the job must run
    once, and no later recovery may run it again."""
    db = cli.db
    pids = tmp_path / "daemon.pids"
    counter = tmp_path / "runs"
    cli("config", "set", "poll-interval", "0.05")
    cli("config", "set", "lease-seconds", "1")
    # The daemon starts its own session (so killing the job's group misses it) and
    # keeps the inherited stdout; the shell waits until it runs, then exits.
    daemon = f"setsid sh -c 'echo $$ >> {pids}; exec sleep 20' &"
    command = (f"echo run >> {counter}; {daemon}"
               f" until [ -s {pids} ]; do sleep 0.01; done; echo done")
    cli("enqueue", json.dumps({"id": "daemonic", "command": command}))
    try:
        workers.start(db)
        workers.start(db)  # a second worker would run the job again if it were taken back
        started = time.monotonic()
        job = wait_for(lambda: (j := job_row(db, "daemonic"))["state"] == "completed" and j,
                       timeout=10, message="the job to be recorded")
        took = time.monotonic() - started
        # Recovery would happen after the 1 s lease: give it time to go wrong.
        time.sleep(2.5)
        job = job_row(db, "daemonic")
        print(f"\ndaemon job recorded after {took:.2f}s; runs={len(runs_of(counter))}")
        assert (job["state"], job["attempts"]) == ("completed", 1)
        assert job["output"] == "done\n"
        assert runs_of(counter) == ["run"]
        assert took < 5
    finally:
        kill_pids_in(pids)
