"""Text both faces show the same way (the CLI's tables and the TUI's cells)."""

from __future__ import annotations

from queuectl_tui.timeutil import relative

ELLIPSIS = "…"


def one_line(text: str | None, width: int | None = None) -> str:
    """Flatten newlines and tabs so one value stays on one table row; cut to ``width``."""
    if not text:
        return ""
    flat = " ".join(text.split())
    if width is not None and len(flat) > width:
        return flat[: max(width - 1, 0)] + ELLIPSIS
    return flat


def next_run(state: str, run_at: float, now: float) -> str | None:
    """When a waiting job runs: "now" or "in 4.0s"; None for jobs that do not wait."""
    if state not in ("pending", "failed"):
        return None
    return "now" if run_at <= now else relative(run_at, now)
