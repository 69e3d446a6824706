"""Typed settings: their names, defaults, limits and the help the UIs show.

Settings live in the database (table ``setting``) so the CLI, the TUI and every
worker, on this machine or another, see one configuration, and a change
reaches running workers without a restart. This module knows the keys and how
to validate them; reading and writing the rows is the store's business.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from queuectl_tui.errors import InvalidInput


class Setting(NamedTuple):
    """One configuration key: its type, default, accepted range and help."""

    key: str
    kind: type  # int or float
    default: float
    minimum: float
    maximum: float
    help: str

    def parse(self, raw: object) -> int | float:
        """Validate ``raw`` (text from a user or a stored value) into this key's type."""
        name = self.key.replace("_", "-")
        if isinstance(raw, bool):
            raise InvalidInput(f"{name} must be a number, not {raw!r}")
        try:
            number = float(str(raw).strip()) if not isinstance(raw, int | float) else raw
        except ValueError:
            raise InvalidInput(f"{name} must be a number, got {raw!r}") from None
        if isinstance(number, float) and not math.isfinite(number):
            raise InvalidInput(f"{name} must be a finite number, got {raw!r}")
        if self.kind is int:
            if number != int(number):
                raise InvalidInput(f"{name} must be a whole number, got {raw!r}")
            number = int(number)
        else:
            number = float(number)
        if not self.minimum <= number <= self.maximum:
            raise InvalidInput(
                f"{name} must be between {format_value(self.minimum)} and "
                f"{format_value(self.maximum)}, got {format_value(number)}"
            )
        return number


SETTINGS: dict[str, Setting] = {
    s.key: s
    for s in (
        Setting("max_retries", int, 3, 0, 1000,
                "Failed runs before a job moves to the DLQ (a job always runs at least once)."),
        Setting("backoff_base", float, 2, 1, 1000,
                "Retry delay after the n-th failure is backoff_base ** n seconds."),
        Setting("backoff_max", float, 3600, 0, 31_536_000,
                "Upper bound in seconds for any single retry delay."),
        Setting("poll_interval", float, 1, 0.01, 3600,
                "Seconds an idle worker waits before looking for new jobs again."),
        Setting("job_timeout", float, 0, 0, 31_536_000,
                "Default seconds a job may run before it is killed (0 = no limit)."),
        Setting("lease_seconds", float, 15, 1, 86400,
                "A running job's lease; a worker silent this long is presumed dead "
                "and its job is run again."),
        Setting("output_limit", int, 65536, 0, 64 * 1024 * 1024,
                "Bytes of combined stdout+stderr kept per job (the tail)."),
        Setting("tui_workers", int, 2, 0, 64,
                "Worker processes the TUI starts and embeds when it opens (0 = monitor only)."),
    )
}


def normalize_key(key: str) -> str:
    """Accept ``max-retries``, ``max_retries`` and ``MAX_RETRIES`` alike."""
    name = key.strip().lower().replace("-", "_")
    if name not in SETTINGS:
        known = ", ".join(k.replace("_", "-") for k in SETTINGS)
        raise InvalidInput(f"unknown config key {key!r} (known keys: {known})")
    return name


def format_value(value: float) -> str:
    """``2`` rather than ``2.0``, ``0.1`` rather than ``0.1000``: stable, script-friendly."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)  # repr: shortest exact


class Config(NamedTuple):
    """A snapshot of all settings, defaults filled in. (NamedTuples, not dataclasses,
    in this module: a frozen dataclass costs a millisecond to define, and every CLI
    call imports it.)"""

    max_retries: int = 3
    backoff_base: float = 2.0
    backoff_max: float = 3600.0
    poll_interval: float = 1.0
    job_timeout: float = 0.0
    lease_seconds: float = 15.0
    output_limit: int = 65536
    tui_workers: int = 2

    @classmethod
    def from_stored(cls, stored: dict[str, str]) -> Config:
        """Build from the ``setting`` rows; a stored value that no longer validates
        (written by a future version, or by hand) falls back to the default."""
        values = {}
        for key, spec in SETTINGS.items():
            if key in stored:
                try:
                    values[key] = spec.parse(stored[key])
                except InvalidInput:
                    continue
        return cls(**values)

    def items(self) -> list[tuple[str, int | float]]:
        """Keys and values in the fixed order ``config get`` prints."""
        return [(name, getattr(self, name)) for name in self._fields]

    def backoff_delay(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th failed run."""
        try:
            delay = self.backoff_base ** failures
        except OverflowError:
            return self.backoff_max
        return min(delay, self.backoff_max)
