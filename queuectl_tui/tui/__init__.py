"""The full-screen face. ``make_app`` is the one way to build it: the CLI, the
tests and the screenshot script all go through it."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable

DEMO_PREFIX = "queuectl-demo-"


def make_app(
    db_path: str,
    workers: int | None = None,
    demo: bool = False,
    clock: Callable[[], float] = time.time,
    read_only: bool = False,
    embed_workers: bool = True,
):
    """Open (creating if needed) the database and build the app.

    ``workers=None`` means the ``tui_workers`` setting; ``demo`` seeds the
    database with example jobs first and keeps adding new ones while open. Demo
    data only ever goes to a new, empty database (``demo_database()``): a
    database that already holds jobs is refused, so a user's real queue never
    gets fake jobs. ``read_only`` offers nothing that changes the queue (and opens
    it read-only, so the domain refuses too); ``embed_workers=False`` offers no
    embedded workers (a browser tab). Either means no workers start here.
    """
    from queuectl_tui.errors import InvalidInput
    from queuectl_tui.queue import JobQueue
    from queuectl_tui.tui.app import QueuectlApp

    queue = JobQueue.open(db_path, read_only=read_only)
    if demo:
        from queuectl_tui.demo import seed_demo

        if queue.count() != 0:
            queue.close()
            raise InvalidInput("demo jobs go only to a new, empty database; "
                               f"{queue.storage.location} "
                               "already has jobs (use `queuectl demo`)")
        seed_demo(queue)
    count = queue.config().tui_workers if workers is None else workers
    can_embed = embed_workers and not read_only
    from queuectl_tui.supervisor import child_target

    return QueuectlApp(queue, child_target(db_path), workers=count if can_embed else 0,
                       demo=demo, clock=clock, throwaway=demo, can_embed=can_embed)


def demo_database() -> str:
    """A throwaway database for `queuectl demo`, in its own new folder (remove it
    with ``remove_demo_database``)."""
    return os.path.join(tempfile.mkdtemp(prefix=DEMO_PREFIX), "demo.db")


def remove_demo_database(path: str) -> None:
    """Delete a ``demo_database()`` folder (and only such a folder)."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.basename(folder).startswith(DEMO_PREFIX):
        shutil.rmtree(folder, ignore_errors=True)
