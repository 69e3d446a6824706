"""What the TUI reads, as plain data: fetched in a thread, applied on the event loop.

A ``View`` is the frozen state of what the user looks at (pane, filter,
search, sort, page); ``fetch`` turns it into a ``Snapshot`` with only the
rows on screen (a page, never the whole table) and the counts. Nothing here
touches a widget.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from queuectl_tui import registry
from queuectl_tui.config import Config
from queuectl_tui.queue import JobQueue
from queuectl_tui.registry import WorkerInfo

PAGE_SIZE = 200
PANES = ("jobs", "dlq", "workers", "config")


@dataclass(frozen=True)
class JobRow:
    """The columns of a job the tables show (no output: that is the detail screen's)."""

    id: str
    state: str
    priority: int
    attempts: int
    max_retries: int
    run_at: float
    updated_at: float
    command: str
    last_error: str | None


@dataclass(frozen=True)
class View:
    pane: str = "jobs"
    state: str | None = None
    search: str = ""
    sort: str = "created"
    descending: bool = True
    offset: int = 0
    dlq_offset: int = 0


@dataclass
class Snapshot:
    view: View
    counts: dict[str, int]
    config: Config
    workers: list[WorkerInfo]
    rows: list[JobRow] = field(default_factory=list)
    total: int = 0  # rows matching the view's filter, for the pager


def fetch(queue: JobQueue, view: View) -> Snapshot:
    """Everything the screen needs for ``view``: a few indexed queries."""
    queue.recover_expired()
    config = queue.config()
    snapshot = Snapshot(
        view=view,
        counts=queue.counts(),
        config=config,
        workers=registry.live_workers(config.lease_seconds),
    )
    if view.pane == "jobs":
        search = view.search or None
        snapshot.rows = _rows(queue.page(view.state, search, view.sort, view.descending,
                                         view.offset, PAGE_SIZE))
        snapshot.total = (snapshot.counts[view.state] if view.state and not search
                          else sum(snapshot.counts.values()) if not search
                          else queue.count(view.state, search))
    elif view.pane == "dlq":
        snapshot.rows = _rows(queue.page("dead", None, "updated", True, view.dlq_offset,
                                         PAGE_SIZE))
        snapshot.total = snapshot.counts["dead"]
    return snapshot


def _rows(jobs) -> list[JobRow]:
    return [
        JobRow(j.id, j.state, j.priority, j.attempts, j.max_retries, j.run_at, j.updated_at,
               j.command, j.last_error)
        for j in jobs
    ]
