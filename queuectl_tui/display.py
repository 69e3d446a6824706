"""Text both faces show the same way (the CLI's tables and the TUI's cells)."""

from __future__ import annotations

from queuectl_tui.timeutil import relative

ELLIPSIS = "…"


def one_line(text: str | None, width: int | None = None) -> str:
    """Flatten newlines and tabs so one value stays on one table row; cut to ``width``.
    Control characters are made visible (see ``visible``)."""
    if not text:
        return ""
    flat = visible(" ".join(text.split()))
    if width is not None and len(flat) > width:
        return flat[: max(width - 1, 0)] + ELLIPSIS
    return flat


def next_run(state: str, run_at: float, now: float) -> str | None:
    """When a waiting job runs: "now" or "in 4.0s"; None for jobs that do not wait."""
    if state not in ("pending", "failed"):
        return None
    return "now" if run_at <= now else relative(run_at, now)


# C0 controls (but tab and newline), DEL and C1 controls, as the Unicode "control
# pictures" (ESC -> ␛) or a \x escape: a job's output must never reach a terminal as
# instructions (retitle it, clear it, move the cursor over earlier text).
_VISIBLE = {code: chr(0x2400 + code) for code in range(0x20) if code not in (0x09, 0x0A)}
_VISIBLE[0x7F] = "\u2421"  # ␡
_VISIBLE.update({code: f"\\x{code:02x}" for code in range(0x80, 0xA0)})


def visible(text: str | None) -> str:
    """``text`` with every control character but newline and tab made visible.

    A Windows line end stays a line end; a lone carriage return (which would
    let later text overwrite earlier text on screen) is shown as ␍.
    """
    if not text:
        return ""
    return text.replace("\r\n", "\n").translate(_VISIBLE)
