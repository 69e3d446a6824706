"""What the Jobs and DLQ panes share: a live, paged table of jobs with search,
sort, marks, and the keys that act on the selected or marked jobs.

A pane owns its ``Listing`` (filter, search, sort, page): every change is made
here and posted as ``ListingChanged``; the app fetches it and hands the rows
back through ``apply``. The pane never reads the app's state.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, Static

from queuectl_tui.tui.data import PAGE_SIZE, JobRow, Listing, Snapshot
from queuectl_tui.tui.messages import DeleteJobs, OpenJob, RetryJobs
from queuectl_tui.tui.offers import offered
from queuectl_tui.tui.screens.confirm import ConfirmScreen
from queuectl_tui.tui.widgets.format import MARK, NO_MARK
from queuectl_tui.tui.widgets.live_table import Cell, JobTable

# Column key -> the sort it asks for when its header is clicked (and its arrow).
SORT_OF_COLUMN = {"id": "id", "state": "state", "priority": "priority",
                  "attempts": "attempts", "when": "run_at", "created": "created",
                  "updated": "updated", "died": "updated"}
FLEXIBLE = ("command", "last_error")  # cut to the room the other columns leave
MIN_TEXT = 12
SCROLLBAR = 2  # the table's vertical scrollbar


def jobs_label(ids: Sequence[str]) -> str:
    """"job-7" or "3 jobs", for questions and toasts."""
    return f"job {ids[0]}" if len(ids) == 1 else f"{len(ids)} jobs"


class JobTablePane(Vertical):
    """A pane around one ``JobTable`` keyed by job id, paged by ``PAGE_SIZE``."""

    PANE = ""  # "jobs" or "dlq": which listing of the View this pane shows
    TITLE = ""
    COLUMNS: list[tuple[str, str]] = []
    # Columns shown only from this many columns of terminal width.
    MIN_WIDTH: dict[str, int] = {}
    SORTABLE: tuple[str, ...] = ()
    LISTING = Listing()
    ERROR_SHARE = 0.45  # of the free width, what the last-error column gets
    SORT_NAMES = {"run_at": "run at"}  # how the status line names a sort

    BINDINGS = [
        Binding("slash", "search", "Search", id="table.search",
                tooltip="Search job ids and commands (escape clears)"),
        Binding("escape", "clear_search", "Clear search", show=False, id="table.clear_search",
                tooltip="Clear the search"),
        Binding("o", "cycle_sort", "Sort", id="table.sort",
                tooltip="Sort by the next column (or click a header)"),
        Binding("O", "reverse_sort", "Reverse", show=False, id="table.reverse",
                tooltip="Reverse the sort order"),
        Binding("right_square_bracket", "page(1)", "Next page", show=False, id="table.next",
                tooltip="Next page of jobs"),
        Binding("left_square_bracket", "page(-1)", "Prev page", show=False, id="table.prev",
                tooltip="Previous page of jobs"),
        Binding("space", "mark", "Mark", show=False, id="table.mark",
                tooltip="Mark or unmark the job, for r, x and c"),
        Binding("y", "copy_id", "Copy id", show=False, id="table.copy",
                tooltip="Copy the selected job's id to the clipboard"),
    ]

    @dataclass
    class ListingChanged(Message):
        """The pane's filter, search, sort or page changed: fetch it."""

        pane: str
        listing: Listing

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.listing = self.LISTING
        self.marked: set[str] = set()
        self.rows: dict[str, JobRow] = {}
        self.total = 0
        self._snapshot: Snapshot | None = None
        self._now = 0.0

    @property
    def table_id(self) -> str:
        return f"{self.PANE}-table"

    def compose(self) -> ComposeResult:
        with Horizontal(classes="toolbar"):
            yield Static(self.TITLE, id=f"{self.PANE}-filter", classes="toolbar-label")
            yield Input(placeholder="/ search id or command", id=f"{self.PANE}-search",
                        classes="table-search")
        yield JobTable(self.columns_for(self.listing, 0), id=self.table_id)
        yield Static(id=f"{self.PANE}-empty", classes="empty-hint")
        yield Static(id=f"{self.PANE}-status", classes="pane-status")

    @property
    def table(self) -> JobTable:
        return self.query_one(f"#{self.table_id}", JobTable)

    @property
    def search_input(self) -> Input:
        return self.query_one(f"#{self.PANE}-search", Input)

    # --- drawing ---------------------------------------------------------------

    def columns_for(self, listing: Listing, width: int) -> list[tuple[str, str]]:
        """The columns that fit ``width``, the sorted one with its arrow."""
        arrow = " ↓" if listing.descending else " ↑"
        return [(key, label + (arrow if SORT_OF_COLUMN.get(key) == listing.sort else ""))
                for key, label in self.COLUMNS if width >= self.MIN_WIDTH.get(key, 0)]

    def cells(self, row: JobRow, now: float, columns: list[str],
              widths: dict[str, int]) -> tuple[Cell, ...]:
        raise NotImplementedError

    def apply(self, snapshot: Snapshot, now: float) -> None:
        """Show a fetched snapshot of this pane's listing."""
        self._snapshot, self._now = snapshot, now
        listing = snapshot.view.listing(self.PANE) or self.listing
        self.rows = {row.id: row for row in snapshot.rows}
        self.total = snapshot.total
        self.marked &= self.rows.keys()  # marks are for jobs you can see
        width = self.size.width or self.app.size.width
        columns = self.columns_for(listing, width)
        self.table.set_columns(columns)
        keys = [key for key, _ in columns]
        widths = self.text_widths(snapshot.rows, now, columns, width)
        self.table.sync([(row.id, self.cells(row, now, keys, widths))
                         for row in snapshot.rows])
        self.set_class(not snapshot.rows, "-empty")
        self.query_one(f"#{self.PANE}-empty", Static).update(self.empty_hint(listing))
        self.query_one(f"#{self.PANE}-status", Static).update(self.status(listing))
        self.query_one(f"#{self.PANE}-filter", Static).update(self.filter_label(listing))

    def on_resize(self) -> None:
        """Wider or narrower: show or drop columns now, from the rows already
        fetched (the next fetch may be seconds away when nothing changes)."""
        if self._snapshot is not None:
            self.apply(self._snapshot, self._now)

    def text_widths(self, rows: list[JobRow], now: float, columns: list[tuple[str, str]],
                    width: int) -> dict[str, int]:
        """What the command and error columns may use: the width the other columns
        leave (measured on this page's cells), so the table never scrolls sideways."""
        keys = [key for key, _ in columns]
        cut = {key: 1 for key in FLEXIBLE}
        sample = [self.cells(row, now, keys, cut) for row in rows]
        # A DataTable column never gets narrower than the widest cell it has held.
        held = {column.key.value: column.content_width
                for column in self.table.columns.values()}
        used = SCROLLBAR
        for index, (key, label) in enumerate(columns):
            used += 2  # a column's padding
            if key not in FLEXIBLE:
                used += max([cell_len(label), held.get(key, 0)]
                            + [cell_len(_plain(cells[index])) for cells in sample])
        free = width - used
        if "last_error" not in keys:
            return {"command": max(free, MIN_TEXT), "last_error": MIN_TEXT}
        error = max(int(free * self.ERROR_SHARE), MIN_TEXT)
        return {"command": max(free - error, MIN_TEXT), "last_error": error}

    def mark_cell(self, job_id: str) -> Text:
        return MARK if job_id in self.marked else NO_MARK

    def filter_label(self, listing: Listing) -> Text:
        return Text.assemble((self.TITLE, "bold"), "  ")

    def empty_hint(self, listing: Listing) -> Text:
        if listing.search:
            return Text.assemble("No job matches ", (repr(listing.search), "bold"),
                                 ". Escape clears the search.")
        return Text("Nothing here.")

    def status(self, listing: Listing) -> Text:
        """Where the user is: which rows of how many, the search, the sort, the marks."""
        shown = len(self.rows)
        first = listing.offset + 1 if shown else 0
        last = listing.offset + shown
        text = Text(f"rows {first:,}–{last:,} of {self.total:,}")
        if listing.search:
            text.append("  ·  matching ")
            text.append(repr(listing.search), style="bold")
        arrow = "↓" if listing.descending else "↑"
        text.append(f"  ·  sorted by {self.SORT_NAMES.get(listing.sort, listing.sort)} {arrow}")
        if self.total > PAGE_SIZE:
            page = listing.offset // PAGE_SIZE + 1
            pages = (self.total + PAGE_SIZE - 1) // PAGE_SIZE
            text.append(f"  ·  page {page}/{pages} ([ ])")
        if self.marked:
            text.append(f"  ·  {len(self.marked)} marked", style="bold yellow")
        return text

    # --- the listing -------------------------------------------------------------

    def change_listing(self, **changes) -> None:
        """Change what the pane lists and ask for it; back to the first page unless
        the page itself is what changed."""
        if "offset" not in changes:
            changes["offset"] = 0
        listing = dataclasses.replace(self.listing, **changes)
        if listing != self.listing:
            self.listing = listing
            self.post_message(self.ListingChanged(self.PANE, listing))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return offered(self, action)  # read-only / browser tab: see tui/offers.py

    def action_cycle_sort(self) -> None:
        following = self.SORTABLE[(self.SORTABLE.index(self.listing.sort) + 1)
                                  % len(self.SORTABLE)] \
            if self.listing.sort in self.SORTABLE else self.SORTABLE[0]
        self.change_listing(sort=following, descending=True)

    def action_reverse_sort(self) -> None:
        self.change_listing(descending=not self.listing.descending)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        sort = SORT_OF_COLUMN.get(event.column_key.value)
        if sort in self.SORTABLE:
            descending = not self.listing.descending if self.listing.sort == sort else True
            self.change_listing(sort=sort, descending=descending)

    def action_page(self, step: int) -> None:
        offset = max(self.listing.offset + step * PAGE_SIZE, 0)
        if offset != self.listing.offset and (step < 0 or offset < self.total):
            self.change_listing(offset=offset)

    def action_search(self) -> None:
        self.search_input.focus()

    def action_clear_search(self) -> None:
        if self.search_input.value or self.search_input.has_focus:
            self.search_input.value = ""
            self.table.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.change_listing(search=event.value.strip())

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.table.focus()

    # --- acting on jobs ------------------------------------------------------------

    def targets(self) -> list[str]:
        """The marked jobs, or else the selected one."""
        if self.marked:
            return sorted(self.marked)
        key = self.table.selected_key
        return [key] if key else []

    def action_open(self) -> None:
        key = self.table.selected_key
        if key:
            self.post_message(OpenJob(key))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.post_message(OpenJob(event.row_key.value))

    def action_mark(self) -> None:
        key = self.table.selected_key
        if key is None:
            return
        self.marked ^= {key}
        self.table.update_cell(key, "mark", self.mark_cell(key))
        if self._snapshot is not None:
            listing = self._snapshot.view.listing(self.PANE) or self.listing
            self.query_one(f"#{self.PANE}-status", Static).update(self.status(listing))
        if self.table.cursor_row < self.table.row_count - 1:
            self.table.move_cursor(row=self.table.cursor_row + 1)

    def action_copy_id(self) -> None:
        key = self.table.selected_key
        if key:
            self.app.copy_to_clipboard(key)
            self.notify(f"Copied {key}", markup=False)

    def action_retry(self) -> None:
        targets = self.targets()
        if not targets:
            self.notify("Nothing to retry", severity="warning")
            return
        self.marked.difference_update(targets)
        self.post_message(RetryJobs(targets))

    def action_delete(self) -> None:
        targets = self.targets()
        if not targets:
            self.notify("Nothing to delete", severity="warning")
            return
        question = (f"Delete {jobs_label(targets)} and its history?" if len(targets) == 1
                    else f"Delete {len(targets)} jobs and their history?")

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.marked.difference_update(targets)
                self.post_message(DeleteJobs(targets))

        self.app.push_screen(ConfirmScreen(question, "Delete", destructive=True), confirmed)


def _plain(cell: Cell) -> str:
    return cell.plain if isinstance(cell, Text) else cell
