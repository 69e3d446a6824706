"""``queuectl`` (no subcommand), ``queuectl tui`` and ``queuectl demo``: the full-screen app.

Textual is imported here, inside the commands, and nowhere else on the CLI path.
"""

from __future__ import annotations

import signal
import sys

import click

from queuectl_tui.cli import AppContext, pass_app

_EXIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _exit_on_signal(signum, frame) -> None:
    """Before the app's own handlers are in place (while importing, opening the
    database) and after: unwind, so the ``finally`` below still cleans up."""
    raise SystemExit(128 + signum)


def _run(db_path: str, workers: int | None, demo: bool, read_only: bool = False) -> None:
    """Run the app; whatever way it ends, its embedded workers are shut down before
    the exit status is returned: 0, 1 after a crash (the error on stderr), 128+N
    after signal N."""
    _need_terminal()
    previous = {sig: signal.signal(sig, _exit_on_signal) for sig in _EXIT_SIGNALS}
    app = None
    try:
        try:
            from queuectl_tui.tui import make_app
        except ImportError as exc:
            raise click.ClickException(f"the TUI cannot start: {exc}") from None
        app = make_app(db_path, workers=workers, demo=demo, read_only=read_only)
        app.run()
    finally:
        for sig in _EXIT_SIGNALS:  # already on the way out: finish the clean-up
            signal.signal(sig, signal.SIG_IGN)
        try:
            if app is not None:
                app.embedded.shutdown()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    if app.crash is not None:
        from queuectl_tui.display import one_line

        click.echo(f"Error: the TUI stopped on an unexpected error: "
                   f"{type(app.crash).__name__}: {one_line(str(app.crash))}; its embedded "
                   "workers were stopped and their jobs put back", err=True)
    code = app.return_code or 0
    if code:
        sys.exit(code)


def _need_terminal() -> None:
    if not sys.stdout.isatty():
        raise click.ClickException(
            "the TUI needs a terminal; for scripts use the subcommands (queuectl --help)")


@click.command()
@click.option("-w", "--workers", type=click.IntRange(0, 64), default=None,
              help="Embedded worker processes (default: the tui_workers setting; 0 = monitor).")
@click.option("--read-only", is_flag=True,
              help="Look, change nothing: no key changes a job or a setting (a wall display).")
@click.option("--demo", is_flag=True,
              help="Open a throwaway database full of example jobs instead (like `queuectl "
                   "demo`); this database is not touched.")
@pass_app
def tui(app: AppContext, workers: int | None, read_only: bool, demo: bool) -> None:
    """Open the full-screen app (also what bare `queuectl` does)."""
    if demo:
        _run_demo(workers if workers is not None else 2, app.db_path)
        return
    _run(app.db_path, workers, demo, read_only=read_only)


@click.command()
@click.option("-w", "--workers", type=click.IntRange(0, 64), default=2, show_default=True,
              help="Embedded worker processes.")
@pass_app
def demo(app: AppContext, workers: int) -> None:
    """Open the TUI on a throwaway database full of example jobs, with live workers.
    The database is deleted when the app ends. With a PostgreSQL --db, the demo
    runs in a database of its own created on that server (needs CREATEDB)."""
    _run_demo(workers, app.db_path)


def _run_demo(workers: int, target: str) -> None:
    from queuectl_tui.demo import throwaway_database
    from queuectl_tui.store import location_of

    _need_terminal()
    with throwaway_database(target) as demo_target:
        click.echo(f"Demo database: {location_of(demo_target)} (deleted on exit)", err=True)
        _run(demo_target, workers, True)
