"""The full-screen face. ``make_app`` is the one way to build it: the CLI, the
tests and the screenshot script all go through it."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable


def make_app(
    db_path: str,
    workers: int | None = None,
    demo: bool = False,
    clock: Callable[[], float] = time.time,
):
    """Open (creating if needed) the database and build the app.

    ``workers=None`` means the ``tui_workers`` setting; ``demo`` seeds the
    database with example jobs first and keeps adding new ones while open.
    """
    from queuectl_tui.queue import JobQueue
    from queuectl_tui.tui.app import QueuectlApp

    queue = JobQueue.open(db_path)
    if demo:
        from queuectl_tui.demo import seed_demo

        if queue.count() == 0:
            seed_demo(queue)
    count = queue.config().tui_workers if workers is None else workers
    return QueuectlApp(queue, os.path.abspath(db_path), workers=count, demo=demo, clock=clock)


def demo_database() -> str:
    """A throwaway database for `queuectl demo`."""
    return os.path.join(tempfile.mkdtemp(prefix="queuectl-demo-"), "demo.db")
