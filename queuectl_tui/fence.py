"""A job never outlives its lease while its worker is stuck: the lease watchdog.

On a database that several hosts share, a job whose lease runs out is taken
back by another host (after the recovery's grace) and run there. The worker
renews its lease between polls of the job and stops the job itself when the
renewals keep failing (``Worker.execute``). But a database call can also
*hang*: a network that drops packets without a reset leaves it waiting on TCP
retransmissions for many minutes, with nobody left to stop the job. This
thread watches the deadline from outside the stuck call and SIGKILLs the job's
processes -- found by the markers every job process carries
(``runner.kill_strays``) -- once the lease can no longer be counted on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from queuectl_tui.runner import kill_strays


class LeaseWatchdog:
    """One per worker: ``arm`` when a job starts, ``extend`` after each renewal,
    ``disarm`` when it ends. Fires at most once per arming."""

    def __init__(self, on_fire: Callable[[str], None]):
        self._on_fire = on_fire  # hears the job id, from the watchdog thread
        self._cond = threading.Condition()
        self._armed: tuple[str, int, str, float] | None = None
        self._thread: threading.Thread | None = None

    def arm(self, job_id: str, attempt: int, database_id: str, deadline: float) -> None:
        """Kill ``attempt`` of ``job_id`` at ``deadline`` (monotonic) unless extended."""
        with self._cond:
            self._armed = (job_id, attempt, database_id, deadline)
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="lease-watchdog",
                                                daemon=True)
                self._thread.start()
            self._cond.notify()

    def extend(self, deadline: float) -> None:
        with self._cond:
            if self._armed is not None:
                self._armed = (*self._armed[:3], deadline)

    def disarm(self) -> None:
        with self._cond:
            self._armed = None

    def _watch(self) -> None:
        while True:
            with self._cond:
                if self._armed is None:
                    self._cond.wait()
                    continue
                job_id, attempt, database_id, deadline = self._armed
                remaining = deadline - time.monotonic()
                if remaining > 0:
                    self._cond.wait(remaining)
                    continue
                self._armed = None
            kill_strays(job_id, attempt, database_id)
            self._on_fire(job_id)
