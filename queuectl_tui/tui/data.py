"""What the TUI reads, as plain data: fetched in a thread, applied on the event loop.

A ``View`` is the frozen state of what the user looks at: the pane, and one
``Listing`` (filter, search, sort, page) per job table, so the Jobs and the
DLQ panes page, search and sort alike and each keeps its place when the user
switches away and back. ``fetch`` turns a view into a ``Snapshot`` with only
the rows on screen (a page, never the whole table) and the counts. Nothing
here touches a widget.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from queuectl_tui import registry
from queuectl_tui.config import Config
from queuectl_tui.queue import JobQueue
from queuectl_tui.registry import WorkerInfo

PAGE_SIZE = 200
PANES = ("jobs", "dlq", "workers", "config")
LISTED_PANES = ("jobs", "dlq")  # the panes with a Listing in the View


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
    created_at: float = 0.0
    started_at: float | None = None


@dataclass(frozen=True)
class Listing:
    """One job table's window: which jobs (state, search), in which order, which page."""

    state: str | None = None
    search: str = ""
    sort: str = "created"
    descending: bool = True
    offset: int = 0


@dataclass(frozen=True)
class View:
    pane: str = "jobs"
    jobs: Listing = Listing()
    dlq: Listing = Listing(state="dead", sort="updated")

    def listing(self, pane: str | None = None) -> Listing | None:
        """The listing of ``pane`` (default: the shown one); None for panes without one."""
        pane = pane or self.pane
        return getattr(self, pane) if pane in LISTED_PANES else None


@dataclass
class Snapshot:
    view: View
    counts: dict[str, int]
    config: Config
    workers: list[WorkerInfo]
    rows: list[JobRow] = field(default_factory=list)
    total: int = 0  # rows matching the listing, for the pager: every one is reachable


def fetch(queue: JobQueue, view: View) -> Snapshot:
    """Everything the screen needs for ``view``: a few indexed queries."""
    queue.recover_expired_if_writable()  # a full disk must not stop the screen
    config = queue.config()
    snapshot = Snapshot(
        view=view,
        counts=queue.counts(),
        config=config,
        workers=registry.live_workers(queue.storage, config.lease_seconds),
    )
    listing = view.listing()
    if listing is not None:
        search = listing.search or None
        snapshot.rows = _rows(queue.page(listing.state, search, listing.sort,
                                         listing.descending, listing.offset, PAGE_SIZE))
        if search:
            snapshot.total = queue.count(listing.state, search)
        elif listing.state:
            snapshot.total = snapshot.counts[listing.state]
        else:
            snapshot.total = sum(snapshot.counts.values())
    return snapshot


def _rows(jobs) -> list[JobRow]:
    return [
        JobRow(j.id, j.state, j.priority, j.attempts, j.max_retries, j.run_at, j.updated_at,
               j.command, j.last_error, j.created_at, j.started_at)
        for j in jobs
    ]
