"""The supervisor's process handling, in process."""

from __future__ import annotations

import os
import subprocess

import pytest

from queuectl_tui.supervisor import Supervisor

# Tests that take the `backend` fixture run on both backends.
pytestmark = pytest.mark.backends


def test_kill_orphans_kills_job_processes_only(tmp_path):
    supervisor = Supervisor(str(tmp_path / "q.db"))
    plain = subprocess.Popen(["sleep", "30"])
    job = subprocess.Popen(["sleep", "30"], env=dict(os.environ, QUEUECTL_JOB_ID="j1"),
                           start_new_session=True)
    try:
        from tests.conftest import wait_for

        # Until it has exec'd, the child still shows this process's environment.
        wait_for(lambda: job.pid in _job_processes("j1"), message="the job process to start")
        killed = supervisor.kill_orphans()
        assert killed == [job.pid]
        assert plain.poll() is None  # someone else's child: untouched
    finally:
        plain.kill()
        plain.wait()
        if job.poll() is None:
            job.kill()
        try:
            job.wait(timeout=5)
        except ChildProcessError:
            pass


def _job_processes(job_id: str) -> list[int]:
    marker = f"QUEUECTL_JOB_ID={job_id}\0".encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/environ", "rb") as handle:
                    if marker in handle.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found


def _running_job(backend, job_id: str):
    from queuectl_tui.jobspec import JobSpec
    from queuectl_tui.queue import JobQueue
    from tests.conftest import wait_for

    db = str(backend)
    queue = JobQueue.open(db)
    queue.set_config("poll_interval", "0.05")
    queue.enqueue([JobSpec(command="sleep 120", id=job_id)])
    supervisor = Supervisor(db, owner="test", log=subprocess.DEVNULL)
    supervisor.start(1)
    wait_for(lambda: queue.get(job_id).state == "processing" and _job_processes(job_id),
             timeout=20, message="the worker to run the job")
    return queue, supervisor


def test_shutdown_with_stop_jobs_puts_the_job_back_uncharged(backend):
    queue, supervisor = _running_job(backend, "sup-stop-now")
    try:
        assert supervisor.shutdown(5, stop_jobs=True) is True
        job = queue.get("sup-stop-now")
        assert (job.state, job.attempts) == ("pending", 0)
        assert not supervisor.procs
        assert not _job_processes("sup-stop-now")
    finally:
        supervisor.kill()
        queue.close()


def test_shutdown_kills_a_hung_worker_and_its_job_at_the_timeout(backend):
    import signal
    import time

    queue, supervisor = _running_job(backend, "sup-hung")
    try:
        (proc,) = supervisor.procs
        os.kill(proc.pid, signal.SIGSTOP)  # deaf to every polite request
        started = time.monotonic()
        assert supervisor.shutdown(1, stop_jobs=True) is False
        assert time.monotonic() - started < 5
        assert proc.poll() is not None
        from tests.conftest import wait_for

        wait_for(lambda: not _job_processes("sup-hung"), timeout=5,
                 message="the orphaned job to be killed")
    finally:
        supervisor.kill()
        for pid in _job_processes("sup-hung"):
            os.kill(pid, signal.SIGKILL)
        queue.close()


STEP_DURING_WAIT = """
import subprocess, sys, time
from pathlib import Path
from queuectl_tui.supervisor import Supervisor

supervisor = Supervisor(sys.argv[1], owner="test", log=subprocess.DEVNULL)
child = subprocess.Popen(["sleep", "30"])  # a worker that will not stop in time
supervisor.procs.append(child)
Path(sys.argv[2]).touch()
started = time.monotonic()
try:
    print(supervisor.wait(timeout=2), round(time.monotonic() - started, 1), flush=True)
finally:
    child.kill()
    child.wait()
"""


def test_a_wall_clock_step_does_not_cut_a_wait_short(tmp_path):
    """``wait(timeout=2)`` (what ``worker stop``/``shutdown`` give workers to finish)
    lasts 2 s even when the wall clock jumps a day ahead meanwhile."""
    from tests.conftest import wait_for
    from tests.test_clock import DAY, stepped

    (tmp_path / "stepwait.py").write_text(STEP_DURING_WAIT)
    offset, ready = tmp_path / "offset", tmp_path / "ready"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), os.getcwd()]))
    proc = subprocess.Popen(stepped(offset, "stepwait", str(tmp_path / "q.db"), str(ready)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    try:
        wait_for(lambda: ready.exists() or proc.poll() is not None, message="the wait to start")
        offset.write_text(str(DAY))
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    result, elapsed = out.split()
    assert result == "False", err
    assert float(elapsed) >= 1.9, f"gave up after {elapsed} s of a 2 s timeout"
