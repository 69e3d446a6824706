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
from tests.conftest import FAST_CONFIG, Target, kill_registered_workers, wait_for

# Tests that take a database fixture run on both backends; the full-disk test is
# SQLite's alone (it needs the database file on a small filesystem).
pytestmark = pytest.mark.backends


class Workers:
    """Bare worker processes on one database, each logging to its own file."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.procs: list[subprocess.Popen] = []
        self.dbs: set[Target] = set()

    def start(self, db: Target, env: dict | None = None) -> subprocess.Popen:
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


def configure(db: Target, **settings: str) -> None:
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


def job_row(db: Target, job_id: str) -> dict:
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


# --- item 3: the disk fills up while workers record their results ---------------------


@pytest.fixture
def small_fs(tmp_path):
    """A 3 MB tmpfs: a real ENOSPC, on a file system of its own."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs",
                             str(mount_point)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill up (needs root): {result.stderr}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(directory: Path) -> Path:
    """Write a file until the file system is full; returns it (delete it to free space)."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


@pytest.mark.slow
def test_a_full_disk_while_recording_never_runs_a_job_twice(workers, small_fs, tmp_path):
    """Jobs finish while the disk is full, so their results wait in the workers'
    memory for longer than the lease while another process (`status`, polling)
    keeps trying to take expired jobs back. When space returns, every waiting
    result must be recorded and no job may run again."""
    db = small_fs / "queue.db"
    configure(db, lease_seconds="1")
    counters = tmp_path / "counters"
    counters.mkdir()
    total = 24
    queue = JobQueue.open(db)
    from queuectl_tui.jobspec import JobSpec

    queue.enqueue([JobSpec(id=f"full{n:02d}",
                           command=f"echo run >> {counters}/$QUEUECTL_JOB_ID; sleep 0.4")
                   for n in range(total)])
    queue.close()
    env = dict(os.environ, QUEUECTL_DB=str(db))

    def poll_status() -> None:
        subprocess.run([sys.executable, "-m", "queuectl_tui", "status"], env=env,
                       capture_output=True, timeout=60)

    for _ in range(4):
        workers.start(db)
    outages = 0
    deadline = time.monotonic() + 60
    while len(list(counters.iterdir())) < total and time.monotonic() < deadline:
        wait_for(lambda: any(counters.iterdir()), message="jobs to run")
        filler = fill(small_fs)
        outages += 1
        full_until = time.monotonic() + 3  # > lease + the recovery grace
        while time.monotonic() < full_until:
            poll_status()
        filler.unlink()
        freed_until = time.monotonic() + 1.0
        while time.monotonic() < freed_until:
            poll_status()

    def finished() -> dict | None:
        queue = JobQueue.open(db)
        try:
            counts = queue.counts()
        finally:
            queue.close()
        return counts if counts["completed"] + counts["dead"] == total else None

    counts = wait_for(finished, timeout=60, message="every job to finish")
    runs = {path.name: len(path.read_text().split()) for path in counters.iterdir()}
    twice = sorted(job for job, n in runs.items() if n > 1)
    print(f"\nfull disk: {outages} outages, {total} jobs, ran twice: {len(twice)} {twice}")
    assert counts["completed"] == total
    assert len(runs) == total
    assert twice == []


def test_a_lease_renewed_during_its_grace_is_not_taken_back(db_path):
    """The domain rule behind the test above: an expired lease is first only marked;
    its worker's renewal (or its result) within the grace keeps the job its own."""
    from queuectl_tui.jobspec import JobSpec

    queue = JobQueue.open(db_path)
    try:
        queue.set_config("lease_seconds", 1)
        queue.enqueue([JobSpec(id="slow-writer", command="true")])
        queue.prepare_worker()
        claimed = queue.claim("w", lease_seconds=-1)  # expired while it could not write
        assert queue.recover_expired() == []
        assert queue.renew_lease(claimed, "w", 1)  # the disk has room again
        time.sleep(0.6)  # past the grace the first pass gave
        assert queue.recover_expired() == []
        assert queue.get("slow-writer").state == "processing"
        assert queue.complete(claimed, "w", 0, "the one run")
        job = queue.get("slow-writer")
        assert (job.state, job.attempts, job.output) == ("completed", 1, "the one run")
    finally:
        queue.close()


# --- item 1: taking back a lost job kills only that job's processes --------------------


def test_taking_back_a_job_never_kills_the_same_job_id_of_another_database(
        workers, backend, other_db, tmp_path):
    """job1 in A and job1 in B, a worker on each. A's worker is frozen past its lease;
    `queuectl --db A status` takes A's job1 back and must kill A's lost run only:
    B's healthy job1 runs once, to its end."""
    dbs = {"A": backend, "B": other_db}
    counters = {name: tmp_path / f"runs-{name}" for name in "AB"}
    pids = {name: tmp_path / f"pid-{name}" for name in "AB"}
    procs = {}
    go = tmp_path / "go"
    for name, db in dbs.items():
        configure(db, lease_seconds="1")
        queue = JobQueue.open(db)
        from queuectl_tui.jobspec import JobSpec

        # Each run waits for the test's go before it ends: B's run is still going
        # when A's job is taken back, however slow this machine is.
        queue.enqueue([JobSpec(id="job1", max_retries=1, command=(
            f"echo run >> {counters[name]}; echo $$ > {pids[name]};"
            f" until [ -e {go} ]; do sleep 0.05; done; echo done"))])
        queue.close()
        procs[name] = workers.start(db)
    wait_for(lambda: all(p.exists() and p.read_text().strip() for p in pids.values()),
             message="both jobs to start")
    lost_run = int(pids["A"].read_text())
    os.kill(procs["A"].pid, signal.SIGSTOP)
    try:
        env = dict(os.environ, QUEUECTL_DB=str(dbs["A"]))

        def a_taken_back() -> bool:
            subprocess.run([sys.executable, "-m", "queuectl_tui", "status"], env=env,
                           capture_output=True, timeout=60)
            return job_row(dbs["A"], "job1")["state"] != "processing"

        wait_for(a_taken_back, timeout=15, interval=0.2, message="A's job1 to be taken back")
        wait_for(lambda: not _alive(lost_run), timeout=5, message="A's lost run to be killed")
        go.touch()
        job_b = wait_for(lambda: (j := job_row(dbs["B"], "job1"))["state"] != "processing"
                         and j, timeout=15, message="B's job1 to finish")
    finally:
        os.kill(procs["A"].pid, signal.SIGCONT)
    assert (job_b["state"], job_b["attempts"], job_b["output"]) == ("completed", 1, "done\n")
    assert runs_of(counters["B"]) == ["run"]
    assert "lease expired" in job_row(dbs["A"], "job1")["last_error"]


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_kill_strays_never_signals_a_process_of_another_user():
    """Root reads every process's environment; a job of another user that carries
    the same markers (same database id even) must still be left alone."""
    if os.geteuid() != 0:
        pytest.skip("needs root to start a process as another user")
    from queuectl_tui.runner import job_environment, kill_strays

    env = job_environment("job1", 1, "same-db-id")
    other = subprocess.Popen(["sleep", "30"], env=env, user=65534, group=65534)
    mine = subprocess.Popen(["sleep", "30"], env=env)
    try:
        killed = kill_strays("job1", 1, "same-db-id")
        assert mine.wait(timeout=5) == -signal.SIGKILL
        assert other.poll() is None
        assert killed == [mine.pid]
    finally:
        for proc in (other, mine):
            proc.kill()
            proc.wait()
