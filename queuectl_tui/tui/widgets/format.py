"""Cells for the tables: coloured states, relative times, literal one-line text.

Every string that comes from a job or a user (id, command, error, worker id,
search text) is turned into a ``rich.text.Text`` here before a widget shows
it: a DataTable parses plain ``str`` cells as Rich markup, so ``[/var/lib]``
in an error would crash the app and ``[a-z]`` in a command would vanish.
Control characters are made visible too (``display.visible``), so a job's
text can never retitle or clear the user's terminal.
"""

from __future__ import annotations

from rich.text import Text

from queuectl_tui.display import next_run, one_line, visible
from queuectl_tui.timeutil import human_delta, relative

STATE_STYLES = {
    "pending": "cyan",
    "processing": "bold yellow",
    "completed": "green",
    "failed": "magenta",
    "dead": "bold red",
    "cancelled": "dim",
}
MARK = Text("●", style="bold yellow")
NO_MARK = Text(" ")


def literal(text: str | None, width: int | None = None, style: str = "") -> Text:
    """``text`` exactly as written (no markup), on one line, cut to ``width``."""
    return Text(one_line(text, width), style=style)


def literal_block(text: str | None, style: str = "") -> Text:
    """Several lines of ``text`` (a command, an output) exactly as written; control
    characters visible, newlines and tabs kept."""
    return Text(visible(text), style=style)


def state_cell(state: str) -> Text:
    return Text(state, style=STATE_STYLES.get(state, ""))


def when(state: str, run_at: float, started_at: float | None, now: float) -> str:
    """The time that matters for the job's state, worded as the CLI's `list` does:
    when it (re)runs, or when the running one started."""
    waiting = next_run(state, run_at, now)
    if waiting is not None:
        return waiting
    if state == "processing" and started_at is not None:
        return f"started {relative(started_at, now)}"
    return "-"


def age(seconds: float) -> str:
    return human_delta(max(seconds, 0))
