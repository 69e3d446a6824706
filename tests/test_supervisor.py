"""The supervisor's process handling, in process."""

from __future__ import annotations

import os
import subprocess

from queuectl_tui.supervisor import Supervisor


def test_kill_orphans_kills_job_processes_only(tmp_path):
    supervisor = Supervisor(str(tmp_path / "q.db"))
    plain = subprocess.Popen(["sleep", "30"])
    job = subprocess.Popen(["sleep", "30"], env=dict(os.environ, QUEUECTL_JOB_ID="j1"),
                           start_new_session=True)
    try:
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


def _running_job(tmp_path, job_id: str):
    from queuectl_tui.jobspec import JobSpec
    from queuectl_tui.queue import JobQueue
    from tests.conftest import wait_for

    db = str(tmp_path / "q.db")
    queue = JobQueue.open(db)
    queue.set_config("poll_interval", "0.05")
    queue.enqueue([JobSpec(command="sleep 120", id=job_id)])
    supervisor = Supervisor(db, owner="test", log=subprocess.DEVNULL)
    supervisor.start(1)
    wait_for(lambda: queue.get(job_id).state == "processing" and _job_processes(job_id),
             timeout=20, message="the worker to run the job")
    return queue, supervisor


def test_shutdown_with_stop_jobs_puts_the_job_back_uncharged(tmp_path):
    queue, supervisor = _running_job(tmp_path, "sup-stop-now")
    try:
        assert supervisor.shutdown(5, stop_jobs=True) is True
        job = queue.get("sup-stop-now")
        assert (job.state, job.attempts) == ("pending", 0)
        assert not supervisor.procs
        assert not _job_processes("sup-stop-now")
    finally:
        supervisor.kill()
        queue.close()


def test_shutdown_kills_a_hung_worker_and_its_job_at_the_timeout(tmp_path):
    import signal
    import time

    queue, supervisor = _running_job(tmp_path, "sup-hung")
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
