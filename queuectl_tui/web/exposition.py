"""A ``metrics.Snapshot`` in the Prometheus text format, through ``prometheus_client``.

A custom collector over a fresh registry: the figures live in the database, not
in this process, so each scrape reads a snapshot and describes it; nothing is
counted in memory (two servers on one database report the same numbers).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    SummaryMetricFamily,
)

from queuectl_tui.metrics import Snapshot

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class SnapshotCollector:
    """Describes one snapshot (``collect`` is what ``prometheus_client`` calls)."""

    def __init__(self, snapshot: Snapshot):
        self.snapshot = snapshot

    def collect(self):
        snap = self.snapshot
        jobs = GaugeMetricFamily("queuectl_jobs", "Jobs in the database, by queue and state.",
                                 labels=["queue", "state"])
        for (queue, state), count in sorted(snap.jobs.items()):
            jobs.add_metric([queue, state], count)
        yield jobs
        workers = GaugeMetricFamily("queuectl_workers", "Live worker processes, by state.",
                                    labels=["state"])
        for state, count in sorted(snap.workers.items()):
            workers.add_metric([state], count)
        yield workers
        yield GaugeMetricFamily("queuectl_workers_busy", "Live workers running a job now.",
                                value=snap.busy_workers)
        yield CounterMetricFamily(
            "queuectl_jobs_completed", "Jobs completed since the start (still in the database).",
            value=snap.completed_since)
        yield CounterMetricFamily(
            "queuectl_jobs_dead", "Jobs moved to the dead letter queue since the start.",
            value=snap.dead_since)
        yield CounterMetricFamily(
            "queuectl_attempts_failed",
            "Failed runs since the start (non-zero exit, timeout, lost worker).",
            value=snap.failed_attempts_since)
        yield GaugeMetricFamily(
            "queuectl_oldest_runnable_job_age_seconds",
            "How long the longest-waiting runnable job has waited (0: none waits).",
            value=snap.oldest_runnable_age)
        yield SummaryMetricFamily(
            "queuectl_pickup_latency_seconds",
            "Wait from runnable (enqueued, scheduled time, retry time) to started, over the"
            " jobs completed since the start.",
            count_value=snap.pickup_count, sum_value=snap.pickup_seconds)
        if snap.since is not None:
            yield GaugeMetricFamily("queuectl_metrics_since_timestamp_seconds",
                                    "Start of the counters (the web server's start).",
                                    value=snap.since)


def render(snapshot: Snapshot) -> bytes:
    """The text format for ``snapshot``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    return generate_latest(registry)
