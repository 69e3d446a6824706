"""A demo database with realistic jobs, for a first run and for the screenshots.

Everything is made through the real domain operations (enqueue, claim,
complete, fail), so the demo shows exactly what a user's queue would: attempt
timelines, backoff, the DLQ. Commands are harmless: they echo, sleep, or call
programs that do not exist (which is how jobs land in the DLQ).
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from queuectl_tui.config import Config
from queuectl_tui.jobspec import JobSpec
from queuectl_tui.queue import JobQueue
from queuectl_tui.timeutil import now

DEMO_WORKER = "demo-host-4242-beef"
DEMO_PREFIX = "queuectl-demo-"


@contextmanager
def throwaway_database(server: str | None = None, label: str = "demo") -> Iterator[str]:
    """Where a demo shows off, then forgets: a file in a new temporary folder or,
    when queuectl is pointed at a PostgreSQL server, a database of its own created
    on that server (so the demo exercises the backend the user chose) and dropped
    on the way out. Never the user's own database."""
    from queuectl_tui.store import is_database_url

    if server is not None and is_database_url(server):
        from queuectl_tui.store.scratch import scratch_database

        with scratch_database(server, label) as url:
            yield url
        return
    folder = tempfile.mkdtemp(prefix=f"queuectl-{label}-")
    try:
        yield os.path.join(folder, "demo.db")
    finally:
        shutil.rmtree(folder, ignore_errors=True)

# (id, command, priority, outcome): outcome is what the seeded history did.
_HISTORY = [
    ("resize-images-2031", "echo 'resized 48 images to 1024px' && sleep 0.2", 0, "ok"),
    ("nightly-backup", "echo 'dumped 3 databases (1.2 GB)'", 5, "ok"),
    ("send-welcome-1042", "echo 'mail queued for user 1042'", 0, "ok"),
    ("send-welcome-1043", "echo 'mail queued for user 1043'", 0, "ok"),
    ("rebuild-search-index", "echo 'indexed 18,204 documents'", 2, "ok"),
    ("thumbnail-7781", "echo 'thumbnail written: 7781.webp'", 0, "ok"),
    ("export-report-q3", "echo 'report-q3.csv: 4,812 rows'", 1, "ok"),
    ("sync-crm-contacts", "crm-sync --since yesterday", 3, "dead"),
    ("charge-invoice-5521", "billing-cli charge --invoice 5521", 8, "dead"),
    ("webhook-retry-88", "curl-notify https://hooks.example.com/88", 0, "dead"),
    ("transcode-video-19", "ffmpeg-lite -i upload-19.mov out.mp4", 1, "dead"),
    ("fetch-exchange-rates", "rates-fetch --currency EUR,USD", 4, "failing"),
    ("warm-cache-eu", "cache-warm --region eu", 0, "failing"),
]

_PENDING = [
    ("generate-sitemap", "sleep 2; echo 'sitemap.xml: 912 urls'", 0),
    ("cleanup-tmp", "sleep 1; echo 'removed 37 temp files'", -1),
    ("send-digest-daily", "sleep 3; echo 'digest sent to 1,204 subscribers'", 3),
    ("reindex-products", "sleep 4; echo 'reindexed 5,310 products'", 1),
    ("compress-logs", "sleep 2; echo 'compressed 12 log files'", 0),
]

_SCHEDULED = [
    ("monthly-invoices", "sleep 1; echo 'invoices generated'", 5, 3600),
    ("purge-old-sessions", "sleep 1; echo 'purged sessions'", 0, 900),
]


def seed_demo(queue: JobQueue, pending: bool = True) -> None:
    """Fill ``queue`` with a history (completed, dead, failing jobs), runnable
    work and scheduled jobs."""
    specs = [
        JobSpec(command=cmd, id=job_id, priority=pri, max_retries=1 if out == "dead" else 3)
        for job_id, cmd, pri, out in _HISTORY
    ]
    queue.enqueue(specs)
    outcomes = {job_id: out for job_id, _, _, out in _HISTORY}
    config = Config(backoff_base=2, backoff_max=3600)
    while (claimed := queue.claim(DEMO_WORKER, 30)) is not None:
        if outcomes[claimed.id] == "ok":
            queue.complete(claimed, DEMO_WORKER, 0, _output_for(claimed.command))
            continue
        program = claimed.command.split()[0]
        error = f"command not found: {program}"
        retry = Config(backoff_base=60, backoff_max=3600) if outcomes[claimed.id] == "failing" \
            else config
        queue.fail(claimed, DEMO_WORKER, 127, error, f"sh: 1: {program}: not found\n",
                   retry)
    if not pending:
        return
    stamp = now()
    queue.enqueue([JobSpec(command=cmd, id=job_id, priority=pri)
                   for job_id, cmd, pri in _PENDING])
    queue.enqueue([JobSpec(command=cmd, id=job_id, priority=pri, run_at=stamp + delay)
                   for job_id, cmd, pri, delay in _SCHEDULED])


def _output_for(command: str) -> str:
    start = command.find("'")
    end = command.find("'", start + 1)
    return command[start + 1 : end] + "\n" if start >= 0 and end > start else ""


_TASKS = [
    ("send-email", "sleep {d}; echo 'mail sent to user {n}'"),
    ("resize-image", "sleep {d}; echo 'resized image {n}'"),
    ("sync-account", "sleep {d}; echo 'account {n} synced'"),
    ("notify-slack", "slack-notify --channel ops --ticket {n}"),
    ("score-lead", "sleep {d}; echo 'lead {n} scored'"),
]


def random_job(rng: random.Random | None = None) -> JobSpec:
    """One more plausible job, for a demo that keeps producing work."""
    rng = rng or random.Random()
    name, template = rng.choice(_TASKS)
    number = rng.randint(1000, 9999)
    command = template.format(d=round(rng.uniform(0.3, 2.5), 1), n=number)
    return JobSpec(command=command, id=f"{name}-{number}-{rng.randint(100, 999)}",
                   priority=rng.choice([0, 0, 0, 1, 2, 5]), max_retries=2)
