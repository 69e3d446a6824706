"""The DLQ pane: dead jobs, paged, searched and sorted like the Jobs pane, retried
from the keyboard."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding

from queuectl_tui.timeutil import relative
from queuectl_tui.tui.data import JobRow, Listing
from queuectl_tui.tui.messages import RetryAllDead
from queuectl_tui.tui.screens.confirm import ConfirmScreen
from queuectl_tui.tui.widgets.format import literal
from queuectl_tui.tui.widgets.job_table_pane import JobTablePane
from queuectl_tui.tui.widgets.live_table import Cell

DLQ_COLUMNS = [
    ("mark", " "), ("id", "ID"), ("attempts", "Tries"), ("died", "Died"),
    ("created", "Created"), ("command", "Command"), ("last_error", "Last error"),
]


class DlqPane(JobTablePane):
    """r retries the selected (or marked) jobs, space marks, R retries all, x deletes."""

    PANE = "dlq"
    TITLE = "Dead letter queue"
    COLUMNS = DLQ_COLUMNS
    MIN_WIDTH = {"created": 100}
    SORTABLE = ("updated", "created", "priority", "attempts", "id")
    LISTING = Listing(state="dead", sort="updated")
    ERROR_SHARE = 0.55
    SORT_NAMES = {"updated": "died"}

    BINDINGS = [
        Binding("r", "retry", "Retry", id="dlq.retry",
                tooltip="Retry the marked jobs, or the selected one"),
        Binding("R", "retry_all", "Retry all", id="dlq.retry_all",
                tooltip="Retry every dead job (asks first)"),
        Binding("x", "delete", "Delete", id="dlq.delete",
                tooltip="Delete the marked jobs, or the selected one (asks first)"),
    ]

    def cells(self, row: JobRow, now: float, columns: list[str],
              widths: dict[str, int]) -> tuple[Cell, ...]:
        cell = {
            "mark": lambda: self.mark_cell(row.id),
            "id": lambda: literal(row.id),
            "attempts": lambda: str(row.attempts),
            "died": lambda: relative(row.updated_at, now),
            "created": lambda: relative(row.created_at, now),
            "command": lambda: literal(row.command, widths["command"]),
            "last_error": lambda: literal(row.last_error, widths["last_error"]),
        }
        return tuple(cell[key]() for key in columns)

    def filter_label(self, listing: Listing) -> Text:
        return Text.assemble(("Dead letter queue", "bold"), "  ")

    def empty_hint(self, listing: Listing) -> Text:
        if listing.search:
            return super().empty_hint(listing)
        return Text("The DLQ is empty: no job has failed max_retries times.")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dead = 0

    def note_counts(self, counts: dict[str, int]) -> None:
        """The jobs per state of every snapshot, whichever pane it was for: R asks
        with the current number even when the DLQ pane was never shown."""
        self.dead = counts.get("dead", 0)

    def action_retry_all(self) -> None:
        total = self.dead
        if not total:
            self.notify("The DLQ is empty", severity="warning")
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.marked.clear()
                self.post_message(RetryAllDead())

        self.app.push_screen(
            ConfirmScreen(f"Retry all {total:,} dead jobs?", "Retry all"), confirmed)
