"""The DLQ pane: dead jobs, retried from the keyboard."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from queuectl_tui.display import one_line
from queuectl_tui.timeutil import relative
from queuectl_tui.tui.data import Snapshot
from queuectl_tui.tui.widgets.format import flexible_widths
from queuectl_tui.tui.widgets.job_table_pane import JobTablePane
from queuectl_tui.tui.widgets.live_table import LiveTable

DLQ_COLUMNS = [
    ("mark", " "), ("id", "ID"), ("attempts", "Tries"), ("died", "Died"),
    ("command", "Command"), ("last_error", "Last error"),
]
MARK = Text("●", style="bold yellow")


class DlqPane(JobTablePane):
    """r retries the selected (or marked) jobs, space marks, R retries all, x deletes."""

    TABLE_ID = "dlq-table"

    BINDINGS = [
        Binding("r", "retry", "Retry", id="dlq.retry",
                tooltip="Retry the marked jobs, or the selected one"),
        Binding("space", "mark", "Mark", id="dlq.mark", tooltip="Mark a job for r or x"),
        Binding("R", "retry_all", "Retry all", id="dlq.retry_all",
                tooltip="Retry every dead job (asks first)"),
        Binding("x", "delete", "Delete", id="dlq.delete",
                tooltip="Delete the marked jobs, or the selected one (asks first)"),
        Binding("enter", "open", "Open", id="dlq.open", tooltip="Open the job's detail"),
    ]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.marked: set[str] = set()
        self._snapshot: Snapshot | None = None
        self._now = 0.0

    def compose(self) -> ComposeResult:
        yield Static("[b]Dead letter queue[/b]  ·  jobs that failed max_retries times",
                     classes="pane-title")
        yield LiveTable(DLQ_COLUMNS, id="dlq-table")
        yield Static(id="dlq-status", classes="pane-status")

    def apply(self, snapshot: Snapshot, now: float) -> None:
        self._snapshot, self._now = snapshot, now
        present = {row.id for row in snapshot.rows}
        self.marked &= present
        id_width = max((len(row.id) for row in snapshot.rows), default=8)
        fixed = 1 + id_width + 5 + 12 + 2 * len(DLQ_COLUMNS) + 2
        command_width, error_width = flexible_widths(
            self.size.width or self.app.size.width, fixed, share=0.45)
        self.table.sync([
            (row.id, (MARK if row.id in self.marked else " ", row.id, str(row.attempts),
                      relative(row.updated_at, now), one_line(row.command, command_width),
                      one_line(row.last_error, error_width)))
            for row in snapshot.rows
        ])
        marked = f"  ·  {len(self.marked)} marked" if self.marked else ""
        if snapshot.total:
            status = (f"{snapshot.total:,} dead job{'s' if snapshot.total != 1 else ''}"
                      f"{marked}  ·  r retry  space mark  R retry all  x delete")
        else:
            status = "The DLQ is empty."
        self.query_one("#dlq-status", Static).update(status)

    def _targets(self) -> list[str]:
        if self.marked:
            return sorted(self.marked)
        key = self.table.selected_key
        return [key] if key else []

    def action_mark(self) -> None:
        key = self.table.selected_key
        if key is None:
            return
        self.marked ^= {key}
        if self._snapshot is not None:
            self.apply(self._snapshot, self._now)
        if self.table.cursor_row < self.table.row_count - 1:
            self.table.move_cursor(row=self.table.cursor_row + 1)

    def action_retry(self) -> None:
        targets = self._targets()
        if not targets:
            self.app.notify("Nothing to retry", severity="warning")
            return
        self.marked.clear()
        label = targets[0] if len(targets) == 1 else f"{len(targets)} jobs"
        self.app.run_domain(lambda q: q.retry_dead(targets), f"Retrying {label}")

    def action_retry_all(self) -> None:
        snapshot = self.app.last_snapshot  # its counts are current whatever the pane
        total = snapshot.counts["dead"] if snapshot else 0
        if not total:
            self.app.notify("The DLQ is empty", severity="warning")
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.marked.clear()
                self.app.run_domain(lambda q: q.retry_dead(None),
                                    "Retrying every dead job")

        from queuectl_tui.tui.screens.confirm import ConfirmScreen

        self.app.push_screen(
            ConfirmScreen(f"Retry all {total:,} dead jobs?", "Retry all"), confirmed)

    def action_delete(self) -> None:
        targets = self._targets()
        if not targets:
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.marked.difference_update(targets)
                label = targets[0] if len(targets) == 1 else f"{len(targets)} jobs"
                self.app.run_domain(lambda q: q.delete(targets), f"Deleted {label}")

        from queuectl_tui.tui.screens.confirm import ConfirmScreen

        what = targets[0] if len(targets) == 1 else f"{len(targets)} jobs"
        self.app.push_screen(ConfirmScreen(f"Delete {what} and its history?", "Delete"),
                             confirmed)

