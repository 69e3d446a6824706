"""Write one fixture database with the queuectl that is importable (run it with
PYTHONPATH pointing at a checkout of an old commit; see README in this folder).

Only the public domain API is used (it existed unchanged from the first
commit), so the file holds what that version's own code wrote: its schema,
its header (user_version, application_id, WAL) and its way of recording runs.
"""

from __future__ import annotations

import os
import sqlite3
import sys

from queuectl_tui import registry
from queuectl_tui.jobspec import JobSpec
from queuectl_tui.queue import JobQueue

WORKER = "fixture-host-4242-abcdef"


def _run_one(queue: JobQueue, spec: JobSpec) -> object:
    """Enqueue one job and claim it at once (nothing else is runnable then)."""
    queue.enqueue([spec])
    job = queue.claim(WORKER, 3600.0)
    assert job is not None and job.id == spec.id, job
    return job


def make(path: str) -> None:
    queue = JobQueue.open(path)
    queue.set_config("max_retries", 2)
    queue.set_config("backoff_max", 600)
    if hasattr(queue, "prepare_worker"):  # version 3: what a worker does first
        queue.prepare_worker()
    if hasattr(queue, "storage"):  # version 4: the registry takes the storage
        registry.register(queue.storage, WORKER, "cli")
    else:
        registry.register(WORKER, "cli")
    config = queue.config()
    job = _run_one(queue, JobSpec(command="exit 3", id="dead-one", max_retries=0))
    assert queue.fail(job, WORKER, 3, "exit code 3", "boom\n", config) == "dead"
    job = _run_one(queue, JobSpec(command="false", id="retrying", max_retries=5))
    assert queue.fail(job, WORKER, 1, "exit code 1", "", config) == "failed"
    job = _run_one(queue, JobSpec(command='echo "[b]héllo[/b]"', id="done", priority=3))
    assert queue.complete(job, WORKER, 0, "[b]héllo[/b]\n")
    _run_one(queue, JobSpec(command="sleep 100", id="running", timeout=200.0))
    queue.enqueue([JobSpec(command="echo later", id="later", priority=7, run_at=4102444800.0),
                   JobSpec(command="echo never", id="never", queue="other"),
                   JobSpec(command="echo waiting", id="waiting", run_at=4102444800.0)])
    assert queue.cancel(["never"]) == ["never"]
    queue.close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE worker SET hostname = 'fixture-host', pid = 4242")
        # A file from an earlier boot (as any copied or kept file is): its leases
        # are taken back on first open, the same in every test run.
        conn.execute("UPDATE setting SET value = 'fixture-boot' WHERE key = 'lease_boot'")
    # Small in git: 1 KiB pages instead of 4 KiB. Only the page layout changes;
    # the schema text, rows, user_version, application_id and WAL mode stay.
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("PRAGMA page_size = 1024")
    conn.execute("VACUUM")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()


if __name__ == "__main__":
    target = sys.argv[1]
    if os.path.exists(target):
        sys.exit(f"{target} exists")
    make(target)
