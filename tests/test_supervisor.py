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
