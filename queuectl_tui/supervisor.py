"""Starts, scales and stops worker processes; shared by ``worker start`` and the TUI.

Each worker runs in its own session, so a Ctrl+C in the terminal reaches only
the supervisor, which passes it on once: the first stop sends SIGTERM (finish
the job, then exit), a second sends SIGUSR1 (stop the job now and put it back).
Two different signals, because two quick SIGTERMs would merge into one.
A worker that crashes (not one that was asked to stop) is replaced,
within a restart budget so a worker that cannot start does not loop forever.

The supervisor is the "child subreaper" of its workers (Linux): when a worker
is killed outright, its job's processes are re-parented to the supervisor,
which kills them at once. So a job whose worker died never keeps running
beside the retry that the expired lease will start.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections import deque
from typing import IO

from queuectl_tui.timeutil import lease_clock  # intervals: immune to wall-clock steps

RESTART_BUDGET = 10  # self-inflicted worker failures tolerated per RESTART_WINDOW seconds
RESTART_WINDOW = 60.0
REAP_INTERVAL = 0.2
# Where a child process finds its database when it is not on its command line.
DB_ENV = "QUEUECTL_DB"


class Supervisor:
    """The worker processes of one owner (a ``worker start`` or a TUI)."""

    def __init__(self, db_path: str, owner: str = "cli", log: IO | None = None):
        self.db_path = str(db_path)
        self.owner = owner
        self.log = log
        self.wanted = 0
        self.stopping = False
        self.gave_up = False
        self.procs: list[subprocess.Popen] = []
        self.retiring: set[int] = set()
        self.signalled: set[int] = set()  # pids already sent the graceful SIGTERM
        self._crashes: deque[float] = deque()
        self.subreaper = _become_subreaper()

    def _spawn(self) -> subprocess.Popen:
        arguments, env = database_argument(self.db_path)
        command = [
            sys.executable, "-m", "queuectl_tui.worker", *arguments,
            "--owner", self.owner, "--parent-pid", str(os.getpid()),
        ]
        proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            start_new_session=True, env=env,
        )
        self.procs.append(proc)
        return proc

    def start(self, count: int) -> None:
        self.stopping = False
        self.scale(count)

    def scale(self, count: int) -> None:
        """Run ``count`` workers: start new ones, or ask the newest to finish and exit."""
        self.wanted = max(count, 0)
        active = [p for p in self.procs if p.pid not in self.retiring]
        for _ in range(self.wanted - len(active)):
            self._spawn()
        for proc in reversed(active[self.wanted:]):
            self.retiring.add(proc.pid)
            self._graceful(proc)

    def _graceful(self, proc: subprocess.Popen) -> None:
        if proc.pid not in self.signalled:
            self.signalled.add(proc.pid)
            _send(proc, signal.SIGTERM)

    def stop(self) -> None:
        """Graceful on the first call; called again, the workers stop their jobs."""
        if self.stopping:
            self.stop_now()
            return
        self.stopping = True
        self.wanted = 0
        for proc in self.procs:
            self._graceful(proc)

    def stop_now(self) -> None:
        """Stop the running jobs at once and put them back (no attempt is charged)."""
        self.stopping = True
        self.wanted = 0
        for proc in self.procs:
            _send(proc, signal.SIGUSR1)

    def shutdown(self, timeout: float, stop_jobs: bool = False) -> bool:
        """The one way to end a set of workers: ask them to stop (after their job, or
        with ``stop_jobs`` at once, the jobs put back uncharged), wait up to ``timeout``
        seconds, then SIGKILL what is left and the job processes it leaves behind.
        Returns False if some worker had to be killed."""
        if stop_jobs:
            self.stop_now()
        else:
            self.stop()
        clean = self.wait(timeout)
        if not clean:
            self.kill()
        if self.subreaper:
            self.kill_orphans()
        return clean

    def kill(self) -> None:
        """Last resort (a hung shutdown): SIGKILL every worker."""
        for proc in self.procs:
            _send(proc, signal.SIGKILL)
        for proc in self.procs:
            proc.wait()
        self.procs.clear()

    def reap(self) -> list[tuple[int, int]]:
        """Collect exited workers and replace crashed ones; returns (pid, status) pairs."""
        exited = []
        for proc in list(self.procs):
            code = proc.poll()
            if code is None:
                continue
            self.procs.remove(proc)
            self.signalled.discard(proc.pid)
            exited.append((proc.pid, code))
            if proc.pid in self.retiring:
                self.retiring.discard(proc.pid)
            elif code == 0:
                # Asked to stop from elsewhere (`worker stop`): not to be replaced.
                self.wanted = max(self.wanted - 1, 0)
            elif code > 0 and not self.stopping:
                # It failed by itself (cannot open the database, a bug): replaced, but
                # only so often. A worker killed by a signal is always replaced.
                self._crashes.append(lease_clock())
        if self.subreaper:
            self.kill_orphans()
        while self._crashes and self._crashes[0] < lease_clock() - RESTART_WINDOW:
            self._crashes.popleft()
        if len(self._crashes) > RESTART_BUDGET and not self.gave_up:
            self.gave_up = True
            self.stop()
        if not self.stopping:
            active = [p for p in self.procs if p.pid not in self.retiring]
            for _ in range(self.wanted - len(active)):
                self._spawn()
        return exited

    def kill_orphans(self) -> list[int]:
        """Kill the process groups of job processes that became our children: the
        jobs of workers that died. Other children of this process (the TUI's, a
        test runner's) are left alone. Returns the pids killed."""
        ours = {p.pid for p in self.procs}
        killed = []
        for pid in _children():
            if pid in ours or not _is_job_process(pid):
                continue
            try:
                os.killpg(os.getpgid(pid), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
            killed.append(pid)
        return killed

    def alive(self) -> list[subprocess.Popen]:
        return [p for p in self.procs if p.poll() is None]

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for every worker to exit; False if some still run at the timeout."""
        deadline = None if timeout is None else lease_clock() + timeout
        while self.procs:
            self.reap()
            if not self.procs:
                break
            if deadline is not None and lease_clock() >= deadline:
                return False
            time.sleep(REAP_INTERVAL)
        return True


def _become_subreaper() -> bool:
    """prctl(PR_SET_CHILD_SUBREAPER): orphans of our workers become our children."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    pr_set_child_subreaper = 36
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(pr_set_child_subreaper, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _children() -> list[int]:
    """Our direct children, from /proc (every thread's list: the TUI has threads)."""
    pids: set[int] = set()
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return []
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/children") as handle:
                pids.update(int(p) for p in handle.read().split())
        except OSError:
            continue
    return sorted(pids)


def _is_job_process(pid: int) -> bool:
    """Job processes carry the marker the worker puts in their environment."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            return b"QUEUECTL_JOB_ID=" in handle.read()
    except OSError:
        return False


def _send(proc: subprocess.Popen, sig: int) -> None:
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass


def child_target(db_path: str) -> str:
    """What a child process reopens: a file by its absolute path (it may start in
    another folder), a URL as given."""
    from queuectl_tui.store import is_database_url

    return db_path if is_database_url(db_path) else os.path.abspath(db_path)


def log_beside(db_path: str, suffix: str) -> str:
    """Where the workers' log of a database goes (``store.side_file``): beside a
    file, in the per-user data folder for a URL."""
    from queuectl_tui.store import side_file

    return side_file(db_path, suffix)


def database_argument(db_path: str) -> tuple[list[str], dict[str, str] | None]:
    """How a child process is told its database: the command-line arguments and
    the environment (None: this one's). A URL holding a password goes through
    the environment (``QUEUECTL_DB``), which only the same user can read, never
    on the command line, which ``ps`` shows every user."""
    from queuectl_tui.store import url_has_secret

    if not url_has_secret(db_path):
        return ["--db", db_path], None
    return [], {**os.environ, DB_ENV: db_path}


def run_foreground(db_path: str, count: int, say=None) -> int:
    """Supervise ``count`` workers until they stop; the body of ``worker start``."""
    from queuectl_tui.store import location_of

    say = say or (lambda text: print(text, file=sys.stderr, flush=True))
    supervisor = Supervisor(db_path)
    signals = 0

    def on_signal(signum, frame):
        nonlocal signals
        signals += 1
        if signals == 1:
            say("Stopping: workers finish their current job (signal again to stop jobs now)")
        else:
            say("Stopping now: running jobs are stopped and put back")
        supervisor.stop()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        supervisor.start(count)
        pids = ", ".join(str(p.pid) for p in supervisor.procs)
        say(f"Started {count} worker{'s' if count != 1 else ''} (pids {pids}) on "
            f"{location_of(db_path)}; Ctrl+C stops them after their current job")
        supervisor.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if supervisor.gave_up:
        say("Error: workers kept crashing; gave up (see the messages above)")
        return 1
    say("All workers stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of a detached supervisor (``worker start --detach``)."""
    parser = argparse.ArgumentParser(prog="queuectl-supervisor")
    parser.add_argument("--db", default=os.environ.get(DB_ENV))
    parser.add_argument("--count", type=int, default=1)
    args = parser.parse_args(argv)
    if not args.db:
        parser.error(f"--db or ${DB_ENV} is required")
    return run_foreground(args.db, args.count)


if __name__ == "__main__":
    sys.exit(main())
