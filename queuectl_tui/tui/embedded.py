"""The TUI's own worker processes, behind one small object with one way to end.

Every exit of the app (q, ctrl+q, the palette, ctrl+c, SIGTERM/SIGHUP, a crash)
ends in ``EmbeddedWorkers.shutdown``: whatever still runs then is stopped at
once, its job put back in the queue without charging an attempt, and any job
process left behind is killed. The quit dialog's choices only decide what
happens *before* that: wait for the jobs, stop them now, or leave the workers
finishing in the background (the one case ``shutdown`` does nothing).

Nothing is opened or started until the first worker is wanted: with
``--workers 0`` the app creates no log file and becomes no subreaper.
"""

from __future__ import annotations

from typing import IO

from queuectl_tui.files import open_log
from queuectl_tui.supervisor import Supervisor, log_beside

SHUTDOWN_SECONDS = 5.0  # stop-now takes well under a second; then SIGKILL


class EmbeddedWorkers:
    """The worker processes one TUI runs on its database."""

    def __init__(self, db_path: str, owner: str, log_path: str | None = None,
                 can_leave: bool = True):
        self.db_path = db_path
        self.owner = owner
        self.log_path = log_path or log_beside(db_path, ".tui-workers.log")
        # A throwaway (demo) database is deleted on exit: its workers cannot stay.
        self.can_leave = can_leave
        self.leaving = False
        self.closed = False
        self._paused = 0
        self._log: IO[bytes] | None = None
        self._supervisor: Supervisor | None = None

    # --- running -------------------------------------------------------------

    @property
    def wanted(self) -> int:
        return self._supervisor.wanted if self._supervisor else 0

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._supervisor.procs] if self._supervisor else []

    def _started(self) -> Supervisor:
        if self._supervisor is None:
            # private (0600), never through a symlink, rotated like every log
            self._log = open_log(self.log_path)
            self._supervisor = Supervisor(self.db_path, owner=self.owner, log=self._log)
        return self._supervisor

    def scale(self, count: int) -> int:
        """Run ``count`` workers (0..64); returns the count now wanted."""
        count = max(0, min(count, 64))
        if self.closed or (count == 0 and self._supervisor is None):
            return 0
        supervisor = self._started()
        supervisor.stopping = False
        supervisor.scale(count)
        return count

    def toggle(self, default: int) -> int:
        """Stop every worker (after its job), or start the last number again."""
        if self.wanted:
            self._paused = self.wanted
            return self.scale(0)
        return self.scale(self._paused or max(default, 1))

    def reap(self) -> None:
        if self._supervisor is not None:
            self._supervisor.reap()

    def alive(self) -> int:
        return len(self._supervisor.alive()) if self._supervisor else 0

    # --- ending --------------------------------------------------------------

    def finish_jobs(self) -> None:
        """Quit choice "wait": each worker finishes its job, then exits."""
        if self._supervisor is not None and not self._supervisor.stopping:
            self._supervisor.stop()

    def stop_jobs(self) -> None:
        """Quit choice "stop now", and what signals and crashes do: the jobs are
        stopped and put back in the queue, no attempt charged."""
        if self._supervisor is not None:
            self._supervisor.stop_now()

    def leave(self) -> None:
        """Quit choice "leave": the workers finish their jobs in the background
        (they exit by themselves once the app has gone)."""
        if self.can_leave:
            self.leaving = True
        else:
            self.stop_jobs()

    def shutdown(self, timeout: float = SHUTDOWN_SECONDS) -> None:
        """The end of every exit: stop what still runs at once (unless the user
        chose to leave the workers running) and close the log. Idempotent."""
        if self.closed:
            return
        self.closed = True
        if self._supervisor is not None and not self.leaving:
            self._supervisor.shutdown(timeout, stop_jobs=True)
        if self._log is not None:
            self._log.close()
