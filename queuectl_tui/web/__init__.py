"""``queuectl web``: the TUI in a browser tab through textual-serve, and Prometheus
metrics. Everything here needs the ``web`` extra (``pip install 'queuectl-tui[web]'``);
nothing on the CLI's start-up path imports this package's dependencies."""

from __future__ import annotations

EXTRA_HINT = "install the web extra: pip install 'queuectl-tui[web]'"


SERVER_MODULES = ("textual_serve", "aiohttp", "prometheus_client")


def require_extra(feature: str, modules: tuple[str, ...] = SERVER_MODULES) -> None:
    """Fail with one line naming the extra if its packages are missing (checked
    without importing them)."""
    import importlib.util

    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        from queuectl_tui.errors import QueueError

        raise QueueError(f"{feature} needs {', '.join(missing)}; {EXTRA_HINT}")
