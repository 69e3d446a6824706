"""The Jobs pane: every job, filtered, searched, sorted and paged."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Static

from queuectl_tui.store import STATES
from queuectl_tui.tui.data import PAGE_SIZE, Snapshot
from queuectl_tui.tui.widgets.format import flexible_widths, job_cells
from queuectl_tui.tui.widgets.job_table_pane import JobTablePane
from queuectl_tui.tui.widgets.live_table import LiveTable

JOB_COLUMNS = [
    ("id", "ID"), ("state", "State"), ("priority", "Pri"), ("attempts", "Tries"),
    ("run_at", "Run at"), ("updated", "Updated"), ("command", "Command"),
    ("last_error", "Last error"),
]
# Below this many columns, "updated" and "last error" give their room to the command.
WIDE_ENOUGH_FOR_ERRORS = 100
NARROW_JOB_COLUMNS = [c for c in JOB_COLUMNS if c[0] not in ("updated", "last_error")]
SORTABLE = ("created", "updated", "priority", "state", "attempts", "id", "run_at")
FILTERS = (None, *STATES)


class JobsPane(JobTablePane):
    """Filter with f, search with /, sort with o (or click a header), page with [ and ]."""

    TABLE_ID = "jobs-table"

    BINDINGS = [
        Binding("enter", "open", "Open", id="jobs.open", tooltip="Open the job's detail"),
        Binding("f", "cycle_filter", "Filter", id="jobs.filter",
                tooltip="Show only one state (cycles through all)"),
        Binding("slash", "search", "Search", id="jobs.search",
                tooltip="Search job ids and commands"),
        Binding("o", "cycle_sort", "Sort", id="jobs.sort", tooltip="Change the sort column"),
        Binding("O", "reverse_sort", "Reverse", show=False, id="jobs.reverse"),
        Binding("c", "cancel_job", "Cancel job", id="jobs.cancel",
                tooltip="Cancel the selected job"),
        Binding("right_square_bracket", "page(1)", "Next page", show=False, id="jobs.next"),
        Binding("left_square_bracket", "page(-1)", "Prev page", show=False, id="jobs.prev"),
    ]

    def compose(self) -> ComposeResult:
        with Horizontal(classes="toolbar"):
            yield Static(id="jobs-filter", classes="toolbar-label")
            yield Input(placeholder="/ search id or command", id="jobs-search")
        yield LiveTable(JOB_COLUMNS, id="jobs-table")
        yield Static(id="jobs-status", classes="pane-status")

    def apply(self, snapshot: Snapshot, now: float) -> None:
        view = snapshot.view
        width = self.size.width or self.app.size.width
        wide = width >= WIDE_ENOUGH_FOR_ERRORS
        columns = JOB_COLUMNS if wide else NARROW_JOB_COLUMNS
        self.table.set_columns(columns)
        keep = [index for index, (key, _) in enumerate(JOB_COLUMNS)
                if key in {k for k, _ in columns}]
        id_width = max((len(row.id) for row in snapshot.rows), default=8)
        # id + state, pri, tries, run at (+ updated) + two spaces of padding per column
        fixed = id_width + 10 + 3 + 5 + 10 + (9 if wide else 0) + 2 * len(columns) + 2
        command_width, error_width = flexible_widths(width, fixed, 0.55 if wide else 1.0)
        rows = []
        for row in snapshot.rows:
            cells = job_cells(row, now, command_width, error_width)
            rows.append((row.id, tuple(cells[i] for i in keep)))
        self.table.sync(rows)
        label = view.state or "all"
        self.query_one("#jobs-filter", Static).update(f"[b]Filter:[/b] {label}  ")
        first = view.offset + 1 if snapshot.rows else 0
        last = view.offset + len(snapshot.rows)
        arrow = "↓" if view.descending else "↑"
        pages = "  ·  [ ] page" if snapshot.total > PAGE_SIZE else ""
        search = f"  ·  matching '{view.search}'" if view.search else ""
        self.query_one("#jobs-status", Static).update(
            f"rows {first:,}–{last:,} of {snapshot.total:,}{search}  ·  "
            f"sorted by {view.sort} {arrow}{pages}"
        )

    # --- actions -------------------------------------------------------------


    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        column = {"run_at": "run_at", "updated": "updated", "priority": "priority",
                  "state": "state", "attempts": "attempts", "id": "id"}.get(
            event.column_key.value)
        if column:
            view = self.app.view
            descending = not view.descending if view.sort == column else True
            self.app.change_view(sort=column, descending=descending, offset=0)

    def action_cycle_filter(self) -> None:
        view = self.app.view
        following = FILTERS[(FILTERS.index(view.state) + 1) % len(FILTERS)]
        self.app.change_view(state=following, offset=0)

    def action_cycle_sort(self) -> None:
        view = self.app.view
        following = SORTABLE[(SORTABLE.index(view.sort) + 1) % len(SORTABLE)]
        self.app.change_view(sort=following, offset=0)

    def action_reverse_sort(self) -> None:
        self.app.change_view(descending=not self.app.view.descending, offset=0)

    def action_page(self, step: int) -> None:
        view = self.app.view
        offset = max(view.offset + step * PAGE_SIZE, 0)
        if offset != view.offset and (step < 0 or offset < self.app.last_total):
            self.app.change_view(offset=offset)

    def action_search(self) -> None:
        self.query_one("#jobs-search", Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.app.change_view(search=event.value.strip(), offset=0)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.table.focus()

    def on_key(self, event) -> None:
        search = self.query_one("#jobs-search", Input)
        if event.key == "escape" and search.has_focus:
            event.stop()
            search.value = ""
            self.table.focus()

    def action_cancel_job(self) -> None:
        key = self.table.selected_key
        if key:
            self.app.run_domain(lambda q: q.cancel([key]), f"Cancelled {key}")
