"""The first Ctrl+C / SIGTERM stops a worker even while its database is unavailable
(issue 9, item 6): at once when it holds no job, after the job is recorded when it
holds one.

SQLite only: each test makes the file unavailable (a read-only mount, the file
deleted, a full disk); PostgreSQL's unavailable server is in ``test_postgres_*``."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from queuectl_tui.queue import JobQueue
from tests.conftest import FAST_CONFIG, kill_registered_workers, wait_for
from tests.test_double_runs import fill, small_fs  # noqa: F401 (a fixture)


def configure(db: Path) -> None:
    queue = JobQueue.open(db)
    for key, value in {**FAST_CONFIG, "lease_seconds": "2"}.items():
        queue.set_config(key, value)
    queue.close()


class Foreground:
    """`queuectl worker start` in the foreground, its output in a file."""

    def __init__(self, db: Path, log: Path):
        self.log = log
        with open(log, "wb") as handle:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "queuectl_tui", "--db", str(db), "worker", "start"],
                stdin=subprocess.DEVNULL, stdout=handle, stderr=handle,
            )
        self.db = db

    def says(self, text: str) -> bool:
        return text in self.log.read_text(errors="replace")

    def stop_within(self, seconds: float) -> int | None:
        """Send one SIGTERM; the exit status, or None if still running after ``seconds``."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return None

    def cleanup(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        kill_registered_workers(self.db)
        for line in self.log.read_text(errors="replace").splitlines():
            pid = line.split("worker ", 1)[-1].split(":", 1)[0]
            if "worker" in line and pid.isdigit():  # workers that never registered
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass


@pytest.fixture
def read_only_db(small_fs):  # noqa: F811
    """A database seen through a read-only bind mount, its -wal and -shm present
    (another process has it open), as a worker finds a database it may not write.
    chmod does not stop root; a read-only mount does."""
    writable = small_fs / "rw"
    read_only = small_fs / "ro"
    writable.mkdir()
    read_only.mkdir()
    configure(writable / "queue.db")
    holder = sqlite3.connect(writable / "queue.db")
    holder.execute("SELECT count(*) FROM job").fetchall()
    subprocess.run(["mount", "--bind", str(writable), str(read_only)], check=True)
    subprocess.run(["mount", "-o", "remount,ro,bind", str(read_only)], check=True)
    yield read_only / "queue.db"
    holder.close()
    subprocess.run(["umount", "-l", str(read_only)], check=False)


def test_first_signal_stops_a_worker_on_a_read_only_database(read_only_db, tmp_path):
    run = Foreground(read_only_db, tmp_path / "out.log")
    try:
        wait_for(lambda: run.says("readonly database"), message="the worker to hit the wall")
        started = time.monotonic()
        code = run.stop_within(5)
        print(f"\nread-only database: stopped {time.monotonic() - started:.2f}s after SIGTERM")
        assert code == 0, run.log.read_text()
        assert "All workers stopped" in run.log.read_text()
    finally:
        run.cleanup()


def test_first_signal_stops_a_worker_whose_database_was_deleted(tmp_path):
    db = tmp_path / "queue.db"
    configure(db)
    run = Foreground(db, tmp_path / "out.log")
    try:
        wait_for(lambda: run.says("started (worker id"), message="the worker to start")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        wait_for(lambda: run.says("is gone"), message="the worker to notice")
        code = run.stop_within(5)
        assert code == 0, run.log.read_text()
        assert not db.exists()  # and it did not create it again on its way out
    finally:
        run.cleanup()


def test_first_signal_waits_until_the_held_job_is_recorded(small_fs, tmp_path):  # noqa: F811
    """The disk fills while a job runs; SIGTERM arrives. The worker keeps the
    result until it can be recorded, then exits: the job ran once, completed."""
    db = small_fs / "queue.db"
    configure(db)
    runs, go = tmp_path / "runs", tmp_path / "go"
    from queuectl_tui.jobspec import JobSpec

    queue = JobQueue.open(db)
    queue.enqueue([JobSpec(id="held", command=(
        f"echo run >> {runs}; until [ -e {go} ]; do sleep 0.05; done; echo done"))])
    queue.close()
    run = Foreground(db, tmp_path / "out.log")
    try:
        wait_for(runs.exists, message="the job to start")
        filler = fill(small_fs)
        run.proc.send_signal(signal.SIGTERM)
        go.touch()
        wait_for(lambda: run.says("cannot record the result yet"),
                 message="the worker to find the disk full")
        assert run.proc.poll() is None  # it holds a result: it may not leave yet
        filler.unlink()
        assert run.proc.wait(timeout=15) == 0
        queue = JobQueue.open(db)
        job = queue.get("held")
        queue.close()
        assert (job.state, job.attempts, job.output) == ("completed", 1, "done\n")
        assert runs.read_text().split() == ["run"]
    finally:
        run.cleanup()
