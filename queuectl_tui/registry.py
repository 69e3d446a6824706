"""The worker registry: who is alive, what they are doing, and stop requests.

Workers register a row at start, renew its heartbeat while they live and delete
it when they exit. A row whose heartbeat is older than the lease belongs to a
dead process; readers ignore it and the next sweep removes it. ``worker stop``
asks through the same rows, so it works from any shell (and, later, any host)
without knowing process ids.

``heartbeat_at`` is stored as a reading of the storage's lease clock
(``Storage.clock``: on SQLite ``timeutil.lease_clock``, never stepped), so a
wall-clock step neither kills nor revives a worker; the faces get it converted
to wall time in ``WorkerInfo``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import NamedTuple

from queuectl_tui.host import hostname
from queuectl_tui.store import Job, Storage
from queuectl_tui.store.base import WorkerRow


class WorkerInfo(NamedTuple):
    """A live worker as the faces show it."""

    id: str
    pid: int
    hostname: str
    owner: str
    state: str
    started_at: float
    heartbeat_at: float
    jobs_done: int
    jobs_failed: int
    current_job: str | None


def register(storage: Storage, worker_id: str, owner: str, wakeup: str | None = None) -> None:
    """Add (or, after a sweep, restore) this process's row. ``wakeup``: its
    wake-up address (``Waiter.name``)."""
    storage.register_worker(WorkerRow(
        id=worker_id, pid=os.getpid(), hostname=hostname(), owner=owner, state="running",
        started_at=storage.now(), heartbeat_at=storage.clock(), jobs_done=0, jobs_failed=0,
        wakeup=wakeup,
    ))


def heartbeat(storage: Storage, worker_id: str, jobs_done: int, jobs_failed: int) -> str | None:
    """Renew the heartbeat; returns the row's state (``stopping`` when asked to
    stop) or None if the row is gone (swept as dead: the worker should exit)."""
    return storage.heartbeat(worker_id, jobs_done, jobs_failed)


def unregister(storage: Storage, worker_id: str) -> None:
    storage.delete_workers([worker_id])


def _is_alive(row: WorkerRow, stale_before: float, host: str) -> bool:
    if row.heartbeat_at < stale_before:
        return False
    if row.hostname == host:
        try:
            os.kill(row.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
    return True


def live_workers(storage: Storage, lease_seconds: float) -> list[WorkerInfo]:
    """Workers that are alive now, on every host; rows of dead ones are removed on
    the way. A row on another host is judged by its heartbeat alone."""
    clock = storage.clock()
    to_wall = storage.now() - clock  # heartbeats are lease-clock readings
    stale_before = clock - lease_seconds
    host = hostname()
    rows = storage.workers()
    dead = [r.id for r in rows if not _is_alive(r, stale_before, host)]
    if dead:
        try:  # a reader on a full disk or a read-only file still lists
            storage.delete_workers(dead)
        except storage.errors:
            pass
    alive = [r for r in rows if r.id not in set(dead)]
    current = dict(
        Job.select(Job.worker_id, Job.id)
        .where(Job.state == "processing", Job.worker_id.in_([r.id for r in alive]))
        .tuples()
    ) if alive else {}
    return [
        WorkerInfo(
            id=r.id, pid=r.pid, hostname=r.hostname, owner=r.owner, state=r.state,
            started_at=r.started_at, heartbeat_at=abs(r.heartbeat_at) + to_wall,
            jobs_done=r.jobs_done, jobs_failed=r.jobs_failed, current_job=current.get(r.id),
        )
        for r in alive
    ]


def request_stop(storage: Storage, worker_ids: Sequence[str] | None = None,
                 host: str | None = None) -> int:
    """Ask workers (all, the given ones, or those on ``host``) to finish their job
    and exit: through the database, so it reaches every host."""
    return storage.request_stop(worker_ids, host)
