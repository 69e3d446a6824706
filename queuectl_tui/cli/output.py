"""Printing: plain tables for people, one-line JSON for scripts.

No rich here on purpose: importing it costs ~40 ms on every call, and piped
output must be plain text anyway. Colour is added only on a terminal.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import click

from queuectl_tui.display import ELLIPSIS
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



def job_dict(job: Job, with_output: bool = False) -> dict:
    """A job as JSON: the model's field names, timestamps in ISO 8601 UTC."""
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
        "lease_expires_at": to_iso(to_wall(job.lease_expires_at)),  # a lease_clock reading
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
    """One line, UTF-8 as is: ``list --json | jq`` and ``json.loads`` both work."""
    click.echo(json.dumps(data, ensure_ascii=False))


def coloured_state(state: str) -> str:
    return click.style(state, fg=STATE_COLOURS.get(state))


def _terminal_width() -> int:
    """$COLUMNS, else the terminal's width, else 120 (piped output is not cut short)."""
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(1).columns
    except OSError:
        return 120


def print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    shrink: Sequence[int] = (),
    styles: dict[int, callable] | None = None,
) -> None:
    """Left-aligned columns; the ``shrink`` columns give way when the terminal is narrow."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
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
        click.style("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(),
                    bold=True)
    )
    for row in rows:
        cells = []
        for i, (cell, width) in enumerate(zip(row, widths, strict=True)):
            text = cell if len(cell) <= width else cell[: max(width - 1, 0)] + ELLIPSIS
            padded = text.ljust(width)
            cells.append(styles[i](padded) if i in styles else padded)
        click.echo("  ".join(cells).rstrip())
