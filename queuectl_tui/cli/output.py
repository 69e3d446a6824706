"""Printing: plain tables for people, one-line JSON for scripts.

No rich here on purpose: importing it costs ~40 ms on every call, and piped
output must be plain text anyway. Colour is added only on a terminal.

Job text (commands, errors, output) is shown as text, never as instructions to
the terminal: on a terminal its control characters are made visible (␛ for
ESC), table cells always (a table is for reading, and a row must stay one
line), while ``--json`` and piped ``show`` stay byte-exact.
"""

from __future__ import annotations

import json
import os
import sys
import unicodedata
from collections.abc import Callable, Iterable, Sequence

import click

from queuectl_tui.display import ELLIPSIS, one_line, visible
from queuectl_tui.store import Attempt, Job
from queuectl_tui.timeutil import to_iso, to_wall

STATE_COLOURS = {
    "pending": "cyan",
    "processing": "yellow",
    "completed": "green",
    "failed": "magenta",
    "dead": "red",
    "cancelled": "bright_black",
}



def job_dict(job: Job, with_output: bool = False, lease_offset: float | None = None) -> dict:
    """A job as JSON: the model's field names, timestamps in ISO 8601 UTC.
    ``lease_offset``: ``JobQueue.lease_offset()``, which turns the lease (a reading
    of the storage's lease clock) into wall time; None: this machine's clock."""
    lease = job.lease_expires_at
    data = {
        "id": job.id,
        "command": job.command,
        "state": job.state,
        "queue": job.queue,
        "priority": job.priority,
        "attempts": job.attempts,
        "max_retries": job.max_retries,
        "timeout": job.timeout,
        "run_at": to_iso(job.run_at),
        "next_retry_at": to_iso(job.run_at) if job.state == "failed" else None,
        "created_at": to_iso(job.created_at),
        "updated_at": to_iso(job.updated_at),
        "started_at": to_iso(job.started_at),
        "finished_at": to_iso(job.finished_at),
        "worker_id": job.worker_id,
        "lease_expires_at": to_iso(to_wall(lease) if lease_offset is None or lease is None
                                   else abs(lease) + lease_offset),
        "exit_code": job.exit_code,
        "last_error": job.last_error,
    }
    if with_output:
        data["output"] = job.output
    return data


def attempt_dict(attempt: Attempt) -> dict:
    return {
        "number": attempt.number,
        "worker_id": attempt.worker_id,
        "started_at": to_iso(attempt.started_at),
        "finished_at": to_iso(attempt.finished_at),
        "duration": (
            round(attempt.finished_at - attempt.started_at, 6)
            if attempt.started_at is not None
            else None
        ),
        "exit_code": attempt.exit_code,
        "error": attempt.error,
        "retry_at": to_iso(attempt.retry_at),
    }


def print_json(data: object) -> None:
    """One line, UTF-8 as is: ``list --json | jq`` and ``json.loads`` both work.
    (JSON escapes control characters itself: ESC is ``\\u001b``.)"""
    click.echo(json.dumps(data, ensure_ascii=False))


def print_json_array(items: Iterable[object]) -> None:
    """``print_json(list(items))``, written as the items come: the same bytes, without
    holding every item (or the whole text) in memory."""
    pieces, size = ["["], 1
    for index, item in enumerate(items):
        piece = json.dumps(item, ensure_ascii=False)
        pieces.append(", " + piece if index else piece)
        size += len(piece)
        if size > 1 << 16:
            click.echo("".join(pieces), nl=False)
            pieces, size = [], 0
    pieces.append("]")
    click.echo("".join(pieces))


def to_terminal() -> bool:
    """Is stdout a terminal? Then colour is on and job text is made visible."""
    return sys.stdout.isatty()


def shown(text: str | None) -> str:
    """Job text as ``show`` prints it: control characters made visible on a
    terminal, byte-exact into a pipe or file."""
    if not text:
        return ""
    return visible(text) if to_terminal() else text


def coloured_state(state: str) -> str:
    """The state in its colour. Padding around it is allowed (``status`` pads it)
    and stays outside the colour's escape codes."""
    name = state.strip()
    start = state.index(name) if name else 0
    return (state[:start] + click.style(name, fg=STATE_COLOURS.get(name))
            + state[start + len(name):])


def _terminal_width() -> int:
    """$COLUMNS, else the terminal's width, else 120 (piped output is not cut short)."""
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        columns = os.get_terminal_size(1).columns
    except OSError:
        return 120
    return columns or 120  # a pseudo-terminal nobody sized says 0


def width(text: str) -> int:
    """Columns ``text`` takes on a terminal: wide (CJK, emoji) characters take two,
    combining marks none. (Good enough for a table; not a full wcwidth.)"""
    if text.isascii():
        return len(text)
    return sum(0 if unicodedata.combining(ch) else
               2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _fit(text: str, columns: int) -> str:
    """``text`` cut to ``columns`` terminal columns (with an ellipsis), then padded."""
    if width(text) > columns:
        kept, used = [], 0
        for ch in text:
            size = width(ch)
            if used + size > columns - 1:
                break
            kept.append(ch)
            used += size
        text = "".join(kept) + ELLIPSIS
    return text + " " * max(columns - width(text), 0)


def print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    shrink: Sequence[int] = (),
    styles: dict[int, Callable[[str], str]] | None = None,
) -> None:
    """Left-aligned columns; the ``shrink`` columns give way when the terminal is narrow.

    Every cell is flattened to one line with its control characters made visible,
    whoever the caller is: no job text can break the table or drive the terminal.
    ``styles`` colour a column's text; the padding stays outside the colour.
    """
    rows = [[one_line(cell) for cell in row] for row in rows]
    widths = [width(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], width(cell))
    available = _terminal_width()
    excess = sum(widths) + 2 * (len(widths) - 1) - available
    for i in shrink:
        if excess <= 0:
            break
        cut = min(excess, max(widths[i] - 12, 0))
        widths[i] -= cut
        excess -= cut
    styles = styles or {}
    click.echo(
        click.style("  ".join(_fit(h, w) for h, w in zip(headers, widths, strict=True)).rstrip(),
                    bold=True)
    )
    for row in rows:
        cells = []
        for i, (cell, columns) in enumerate(zip(row, widths, strict=True)):
            fitted = _fit(cell, columns)
            if i in styles:
                text = fitted.rstrip(" ")
                fitted = styles[i](text) + fitted[len(text):]
            cells.append(fitted)
        click.echo("  ".join(cells).rstrip())
