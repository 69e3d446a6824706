"""Bench figures that any backend can give: `queuectl bench --db postgresql://…`.

`bench.py` measures SQLite with sqlite3 queries of its own (kept as they are,
so its figures stay comparable with every earlier run). The same two questions
asked of PostgreSQL go through the domain instead (``JobQueue`` counts and
reads, ``registry``, ``Supervisor``), so this module holds no SQL and works on
whatever ``JobQueue.open`` accepts: a path or a URL. Each figure runs on a
throwaway database (``store.scratch``), never the user's.

- throughput: N `true` jobs for W idle workers, from the first start to the
  last finish (as ``bench._queue_throughput``), beside SQLite's in the same run;
- pickup latency: one idle worker at default settings; one job at a time;
  from its creation to its start (on PostgreSQL both stamps are the server's
  clock, and the wake-up is NOTIFY).
"""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable
from contextlib import contextmanager

from queuectl_tui import registry
from queuectl_tui.jobspec import JobSpec
from queuectl_tui.queue import JobQueue
from queuectl_tui.supervisor import Supervisor

UNFINISHED = ("pending", "processing", "failed")


@contextmanager
def _workers(db: str, count: int):
    """An open queue and COUNT idle workers on it, all ended on the way out."""
    queue = JobQueue.open(db)
    supervisor = Supervisor(db, owner="bench", log=subprocess.DEVNULL)
    supervisor.start(count)
    try:
        lease = queue.config().lease_seconds
        _wait_for(lambda: len(registry.live_workers(queue.storage, lease)) >= count, 15)
        yield queue
    finally:
        supervisor.shutdown(15)
        queue.close()


def queue_throughput(db: str, jobs: int, workers: int) -> float:
    """Enqueue N `true` jobs for W idle workers; jobs/s from first start to last finish."""
    with _workers(db, workers) as queue:
        prefix = f"t{time.monotonic_ns()}"
        queue.enqueue([JobSpec(command="true", id=f"{prefix}-{n}") for n in range(jobs)])
        # Rarely (the bench must not compete with the queue): the figure comes from
        # the jobs' own stamps, so noticing the end late changes nothing.
        _wait_for(lambda: sum(queue.counts()[state] for state in UNFINISHED) == 0, 600,
                  interval=0.2)
        spans = [(job.started_at, job.finished_at) for job in queue.each_job("completed")
                 if job.id.startswith(prefix)]
    if len(spans) != jobs:
        raise RuntimeError(f"bench: {len(spans)} of {jobs} jobs completed")
    return jobs / (max(end for _, end in spans) - min(start for start, _ in spans))


def pickup_latency(db: str, samples: int = 25) -> list[float]:
    """One idle worker; enqueue one job at a time; seconds from the job's creation
    stamp to its start (the stamp is taken just before the insert: this slightly
    overstates, as in ``bench.pickup_latency``)."""
    latencies = []
    with _workers(db, 1) as queue:
        time.sleep(0.5)  # let it settle into its idle wait
        for n in range(samples):
            job_id = f"latency-{n}"
            queue.enqueue([JobSpec(command="true", id=job_id)])
            _wait_for(lambda j=job_id: queue.get(j).state == "completed", 30,
                      interval=0.002)
            job = queue.get(job_id)
            latencies.append(max(job.started_at - job.created_at, 0.0))
            time.sleep(0.05 + 0.1 * (n % 3))  # idle again, at varying moments
    return latencies


def p50_p99_ms(latencies: list[float]) -> tuple[float, float]:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return 1000 * statistics.median(ordered), 1000 * p99


def _wait_for(condition: Callable[[], bool], timeout: float, interval: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("bench: timed out")
        time.sleep(interval)
