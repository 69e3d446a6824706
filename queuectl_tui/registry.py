"""The worker registry: who is alive, what they are doing, and stop requests.

Workers register a row at start, renew its heartbeat while they live and delete
it when they exit. A row whose heartbeat is older than the lease belongs to a
dead process; readers ignore it and the next sweep removes it. ``worker stop``
asks through the same rows, so it works from any shell (and, later, any host)
without knowing process ids.

``heartbeat_at`` is stored as a reading of ``timeutil.lease_clock`` (never stepped,
see there), so a wall-clock step neither kills nor revives a worker; the faces
get it converted to wall time in ``WorkerInfo``.
"""

from __future__ import annotations

import os
import socket
from typing import NamedTuple

import peewee

from queuectl_tui.store import Job, Worker
from queuectl_tui.timeutil import lease_clock, now, to_wall


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


def register(worker_id: str, owner: str, doorbell: str | None = None) -> None:
    Worker.replace(
        id=worker_id, pid=os.getpid(), hostname=socket.gethostname(), owner=owner,
        state="running", started_at=now(), heartbeat_at=lease_clock(), doorbell=doorbell,
    ).execute()


def heartbeat(worker_id: str, jobs_done: int, jobs_failed: int) -> str | None:
    """Renew the heartbeat; returns the row's state (``stopping`` when asked to
    stop) or None if the row is gone (swept as dead: the worker should exit)."""
    cursor = Worker._meta.database.execute_sql(
        "UPDATE worker SET heartbeat_at = ?, jobs_done = ?, jobs_failed = ? WHERE id = ?"
        " RETURNING state",
        (lease_clock(), jobs_done, jobs_failed, worker_id),
    )
    rows = cursor.fetchall()
    return rows[0][0] if rows else None


def unregister(worker_id: str) -> None:
    Worker.delete().where(Worker.id == worker_id).execute()


def _is_alive(row: Worker, stale_before: float, host: str) -> bool:
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


def live_workers(lease_seconds: float) -> list[WorkerInfo]:
    """Workers that are alive now; rows of dead ones are removed on the way."""
    stale_before = lease_clock() - lease_seconds
    host = socket.gethostname()
    rows = list(Worker.select().order_by(Worker.started_at, Worker.id))
    dead = [r.id for r in rows if not _is_alive(r, stale_before, host)]
    if dead:
        try:  # a reader on a full disk or a read-only file still lists
            Worker.delete().where(Worker.id.in_(dead)).execute()
        except peewee.DatabaseError:
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
            started_at=r.started_at, heartbeat_at=to_wall(r.heartbeat_at), jobs_done=r.jobs_done,
            jobs_failed=r.jobs_failed, current_job=current.get(r.id),
        )
        for r in alive
    ]


def request_stop(worker_ids: list[str] | None = None) -> int:
    """Ask workers (all, or the given ones) to finish their job and exit."""
    query = Worker.update(state="stopping").where(Worker.state == "running")
    if worker_ids is not None:
        query = query.where(Worker.id.in_(worker_ids))
    return query.execute()
