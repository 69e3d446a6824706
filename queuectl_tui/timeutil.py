"""Time in one representation.

The store keeps every timestamp as float seconds since the Unix epoch (UTC by
definition), which makes the claim query's ``run_at <= now`` a plain numeric
comparison. Conversions to and from text live here: ISO 8601 UTC for JSON,
local time for people, and the tolerant parsing of what users type.

Two values are not wall-clock times: a job's lease (``lease_expires_at``) and a
worker's heartbeat (``heartbeat_at``) are readings of ``lease_clock``, a clock
that never steps, so setting the wall clock (by hand, NTP, a VM resume) can
neither make a healthy job look abandoned nor delay taking back a dead one.
``to_wall`` turns them into wall time for display. The clock restarts at boot:
``boot_id`` tells a reading of this boot from one of an earlier boot.
"""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, datetime

from queuectl_tui.errors import InvalidInput

now = time.time  # the wall clock: display, run_at, created/finished times

# Leases, heartbeats and every interval a process measures: CLOCK_MONOTONIC on
# Linux (system-wide, counts from boot, slewed but never stepped). Not
# CLOCK_BOOTTIME: that one counts suspended time, so after a laptop's lid was
# closed longer than a lease every healthy job would look abandoned on resume.
lease_clock = time.monotonic

_BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"


def boot_id() -> str | None:
    """This boot's id (Linux); None where there is none to read."""
    try:
        with open(_BOOT_ID_PATH) as handle:
            return handle.read().strip() or None
    except OSError:
        return None


def to_wall(reading: float | None) -> float | None:
    """A ``lease_clock`` reading of this boot as wall-clock time, for display. A
    suspect lease is stored negated (see ``store.sqlite.SUSPECT_SQL``): shown as its
    grace deadline."""
    if reading is None:
        return None
    return abs(reading) - lease_clock() + now()

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)", re.IGNORECASE)
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# Far enough for any real schedule, near enough that datetime never overflows.
_MAX_SECONDS = 100 * 365 * 86400


def to_iso(ts: float | None) -> str | None:
    """ISO 8601 in UTC with millisecond precision, as JSON output promises."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )


def to_local(ts: float | None) -> str:
    """Local wall-clock time for tables: people read their own time zone."""
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def parse_when(text: str) -> float:
    """Parse an ISO 8601 date-time; without a zone it is the local time."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("run_at must be an ISO 8601 date-time such as 2026-01-31T09:00:00")
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"run_at {text!r} is not an ISO 8601 date-time (e.g. 2026-01-31T09:00:00+01:00)"
        ) from None
    try:
        if moment.tzinfo is None:
            moment = moment.astimezone()  # interpret as local time (year 1 can fail here)
        return moment.timestamp()
    except (OverflowError, OSError, ValueError):
        raise InvalidInput(f"run_at {text!r} is out of range") from None


def parse_duration(value: str | float | int) -> float:
    """Seconds from a number or a string like ``90``, ``1.5``, ``30s``, ``2h30m``, ``7d``."""
    if isinstance(value, bool):
        raise InvalidInput(f"{value!r} is not a duration")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str(value).strip()
        try:
            seconds = float(text)
        except ValueError:
            parts = _DURATION_PART.findall(text)
            if not parts or _DURATION_PART.sub("", text).strip():
                raise InvalidInput(
                    f"{value!r} is not a duration (use seconds or e.g. 30s, 5m, 2h, 7d)"
                ) from None
            seconds = sum(float(n) * _UNIT_SECONDS[u.lower()] for n, u in parts)
    if not math.isfinite(seconds) or seconds < 0 or seconds > _MAX_SECONDS:
        raise InvalidInput(f"{value!r} is not a duration between 0 and 100 years")
    return seconds


def human_delta(seconds: float) -> str:
    """A short span such as ``850ms``, ``42s``, ``3m05s``, ``2h10m``, ``4d``."""
    seconds = abs(seconds)
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.0f}s" if seconds >= 10 else f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"
    return f"{int(seconds // 86400)}d"


def relative(ts: float | None, reference: float | None = None) -> str:
    """``3s ago`` or ``in 4.0s``: what an operator wants to know at a glance."""
    if ts is None:
        return "-"
    delta = ts - (reference if reference is not None else now())
    if abs(delta) < 0.5:
        return "now"
    return f"in {human_delta(delta)}" if delta > 0 else f"{human_delta(delta)} ago"
