"""The queue's figures as plain data, for ``GET /metrics`` and ``queuectl metrics``.

Everything is derived from the database at the moment of asking, so every web
server, cron job and shell sees the same numbers and nothing has to be kept in
memory between scrapes. "Since" counters count what the database still holds
from a starting point on: the web server passes its start time, `queuectl
metrics` by default the whole history the database keeps (a purge lowers them:
to Prometheus that is a counter reset, which ``rate()`` handles).

No Prometheus here (the domain imports no optional dependency): turning a
``Snapshot`` into the text format is ``queuectl_tui.web.exposition``'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import peewee

from queuectl_tui import registry
from queuectl_tui.queue import JobQueue
from queuectl_tui.store import STATES, Attempt, Job
from queuectl_tui.timeutil import now

RUNNABLE_STATES = ("pending", "failed")


@dataclass(frozen=True)
class Snapshot:
    """The figures at ``taken_at`` (epoch seconds)."""

    taken_at: float
    since: float | None  # start of the "since" counters; None: all history kept
    jobs: dict[tuple[str, str], int]  # (queue, state) -> count; every state of every queue
    workers: dict[str, int]  # live workers per state (running / stopping)
    busy_workers: int  # live workers running a job now
    completed_since: int  # jobs completed since ``since`` (still in the database)
    dead_since: int  # jobs moved to the DLQ since ``since``
    failed_attempts_since: int  # failed runs (non-zero exit, timeout, lost worker)
    oldest_runnable_age: float  # seconds the longest-waiting runnable job has waited; 0: none
    pickup_count: int  # completed jobs since ``since`` whose wait is known...
    pickup_seconds: float  # ...and their total wait from runnable to started
    states: tuple[str, ...] = field(default=STATES)

    def per_state(self) -> dict[str, int]:
        totals = dict.fromkeys(self.states, 0)
        for (_, state), count in self.jobs.items():
            totals[state] = totals.get(state, 0) + count
        return totals


def collect(queue: JobQueue, since: float | None = None) -> Snapshot:
    """Read every figure; ``since`` (epoch seconds) starts the "since" counters.

    Costs one pass over the job table (the per-queue counts; ``queuectl status``
    pays the same) plus index range reads.
    """
    stamp = now()
    jobs: dict[tuple[str, str], int] = {}
    rows = (Job.select(Job.queue, Job.state, peewee.fn.COUNT(Job.id))
            .group_by(Job.queue, Job.state).tuples())
    for queue_name, state, count in rows:
        jobs[(queue_name, state)] = count
    for queue_name in {q for q, _ in jobs} or {"default"}:
        for state in STATES:
            jobs.setdefault((queue_name, state), 0)

    live = registry.live_workers(queue.storage, queue.config().lease_seconds)
    workers = {"running": 0, "stopping": 0}
    for worker in live:
        workers[worker.state] = workers.get(worker.state, 0) + 1

    def finished_since(state: str):
        # completed and dead rows keep updated_at == finished_at: the (state, updated_at)
        # index reads just the range.
        query = Job.select().where(Job.state == state)
        return query if since is None else query.where(Job.updated_at >= since)

    completed = finished_since("completed")
    pickup_count, pickup_seconds = (
        completed.select(peewee.fn.COUNT(Job.id),
                         peewee.fn.COALESCE(peewee.fn.SUM(Job.started_at - Job.run_at), 0.0))
        .where(Job.started_at.is_null(False)).scalar(as_tuple=True))
    failed_attempts = Attempt.select()
    if since is not None:
        failed_attempts = failed_attempts.where(Attempt.finished_at >= since)

    oldest = None
    for state in RUNNABLE_STATES:  # one (state, run_at) index seek each
        first = (Job.select(Job.run_at).where(Job.state == state, Job.run_at <= stamp)
                 .order_by(Job.run_at).limit(1).scalar())
        if first is not None and (oldest is None or first < oldest):
            oldest = first

    return Snapshot(
        taken_at=stamp,
        since=since,
        jobs=jobs,
        workers=workers,
        busy_workers=sum(1 for w in live if w.current_job),
        completed_since=completed.count(),
        dead_since=finished_since("dead").count(),
        failed_attempts_since=failed_attempts.count(),
        oldest_runnable_age=max(stamp - oldest, 0.0) if oldest is not None else 0.0,
        pickup_count=pickup_count or 0,
        pickup_seconds=max(pickup_seconds or 0.0, 0.0),
    )
