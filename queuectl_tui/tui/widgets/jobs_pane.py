"""The Jobs pane: every job, filtered, searched, sorted and paged."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding

from queuectl_tui.queue import STATES
from queuectl_tui.timeutil import relative
from queuectl_tui.tui.data import JobRow, Listing
from queuectl_tui.tui.messages import CancelJobs
from queuectl_tui.tui.screens.confirm import ConfirmScreen
from queuectl_tui.tui.widgets.format import literal, state_cell, when
from queuectl_tui.tui.widgets.job_table_pane import JobTablePane, jobs_label
from queuectl_tui.tui.widgets.live_table import Cell

JOB_COLUMNS = [
    ("mark", " "), ("id", "ID"), ("state", "State"), ("priority", "Pri"),
    ("attempts", "Tries"), ("when", "Run at"), ("created", "Created"), ("updated", "Updated"),
    ("command", "Command"), ("last_error", "Last error"),
]
FILTERS = (None, *STATES)


class JobsPane(JobTablePane):
    """Filter with f/F, search with /, sort with o (or click a header), page with [ and ]."""

    PANE = "jobs"
    TITLE = "Filter:"
    COLUMNS = JOB_COLUMNS
    # Narrower than this, a column gives its room to the command.
    MIN_WIDTH = {"priority": 100, "created": 100, "last_error": 100, "updated": 140}
    SORTABLE = ("created", "updated", "priority", "state", "attempts", "id", "run_at")

    BINDINGS = [
        Binding("f", "cycle_filter(1)", "Filter", id="jobs.filter",
                tooltip="Show only one state (cycles through all; F goes back)"),
        Binding("F", "cycle_filter(-1)", "Filter back", show=False, id="jobs.filter_back",
                tooltip="Cycle the state filter backwards"),
        Binding("c", "cancel_job", "Cancel", id="jobs.cancel",
                tooltip="Cancel the marked jobs, or the selected one (asks if running)"),
        Binding("r", "retry", "Retry", show=False, id="jobs.retry",
                tooltip="Retry the marked dead jobs, or the selected one"),
        Binding("x", "delete", "Delete", show=False, id="jobs.delete",
                tooltip="Delete the marked jobs, or the selected one (asks first)"),
    ]

    def cells(self, row: JobRow, now: float, columns: list[str],
              widths: dict[str, int]) -> tuple[Cell, ...]:
        cell = {
            "mark": lambda: self.mark_cell(row.id),
            "id": lambda: literal(row.id),
            "state": lambda: state_cell(row.state),
            "priority": lambda: str(row.priority),
            "attempts": lambda: f"{row.attempts}/{max(row.max_retries, 1)}",
            "when": lambda: when(row.state, row.run_at, row.started_at, now),
            "created": lambda: relative(row.created_at, now),
            "updated": lambda: relative(row.updated_at, now),
            "command": lambda: literal(row.command, widths["command"]),
            "last_error": lambda: literal(row.last_error, widths["last_error"]),
        }
        return tuple(cell[key]() for key in columns)

    def filter_label(self, listing: Listing) -> Text:
        return Text.assemble(("Filter: ", "bold"), listing.state or "all", "  ")

    def empty_hint(self, listing: Listing) -> Text:
        if listing.search or listing.state:
            return super().empty_hint(listing) if listing.search else Text(
                f"No {listing.state} jobs. f / F change the filter.")
        return Text.assemble(
            ("No jobs yet. ", "bold"), "Press ", ("n", "bold"), " to enqueue one, or run ",
            ("queuectl enqueue -c 'echo hello'", "bold"), " in a shell.")

    def action_cycle_filter(self, step: int = 1) -> None:
        state = self.listing.state
        following = FILTERS[(FILTERS.index(state) + step) % len(FILTERS)]
        self.change_listing(state=following)

    def action_cancel_job(self) -> None:
        """Cancel at once a single waiting job; ask first for a running job (its
        command is stopped) or for several jobs."""
        targets = self.targets()
        if not targets:
            self.notify("Nothing to cancel", severity="warning")
            return
        running = [job_id for job_id in targets
                   if job_id in self.rows and self.rows[job_id].state == "processing"]

        def cancel() -> None:
            self.marked.difference_update(targets)
            self.post_message(CancelJobs(targets))

        if len(targets) == 1 and not running:
            cancel()
            return
        if len(targets) == 1:
            question = f"Cancel {jobs_label(targets)}? It is running: its command is stopped."
        else:
            question = f"Cancel {len(targets)} jobs?" + (
                f" {len(running)} of them running: their commands are stopped."
                if running else "")

        def confirmed(yes: bool | None) -> None:
            if yes:
                cancel()

        self.app.push_screen(ConfirmScreen(question, "Cancel jobs", no_label="Keep",
                                           destructive=True), confirmed)
