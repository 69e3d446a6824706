"""Cells for the tables: coloured states, relative times, one-line text."""

from __future__ import annotations

from rich.text import Text

from queuectl_tui.display import next_run, one_line
from queuectl_tui.timeutil import human_delta, relative
from queuectl_tui.tui.data import JobRow

STATE_STYLES = {
    "pending": "cyan",
    "processing": "bold yellow",
    "completed": "green",
    "failed": "magenta",
    "dead": "bold red",
    "cancelled": "dim",
}


def state_cell(state: str) -> Text:
    return Text(state, style=STATE_STYLES.get(state, ""))


def run_at_cell(row: JobRow, now: float) -> str:
    return next_run(row.state, row.run_at, now) or "-"


def flexible_widths(total: int, fixed: int, share: float = 0.55) -> tuple[int, int]:
    """Split what the fixed columns leave between two text columns (command, error),
    so a table fits its pane instead of scrolling sideways."""
    free = max(total - fixed, 16)
    first = max(int(free * share), 16)
    return first, max(free - first, 12)


def job_cells(row: JobRow, now: float, command_width: int = 48,
              error_width: int = 60) -> tuple:
    return (
        row.id,
        state_cell(row.state),
        str(row.priority),
        f"{row.attempts}/{max(row.max_retries, 1)}",
        run_at_cell(row, now),
        relative(row.updated_at, now),
        one_line(row.command, command_width),
        one_line(row.last_error, error_width),
    )


def age(seconds: float) -> str:
    return human_delta(max(seconds, 0))
