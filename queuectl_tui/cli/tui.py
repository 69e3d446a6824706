"""``queuectl`` (no subcommand), ``queuectl tui`` and ``queuectl demo``: the full-screen app.

Textual is imported here, inside the commands, and nowhere else on the CLI path.
"""

from __future__ import annotations

import sys

import click

from queuectl_tui.cli import AppContext, pass_app


def _run(db_path: str, workers: int | None, demo: bool) -> None:
    if not sys.stdout.isatty():
        raise click.ClickException(
            "the TUI needs a terminal; for scripts use the subcommands (queuectl --help)")
    try:
        from queuectl_tui.tui import make_app
    except ImportError as exc:
        raise click.ClickException(f"the TUI cannot start: {exc}") from None
    make_app(db_path, workers=workers, demo=demo).run()


@click.command()
@click.option("-w", "--workers", type=click.IntRange(0, 64), default=None,
              help="Embedded worker processes (default: the tui_workers setting; 0 = monitor).")
@click.option("--demo", is_flag=True, help="Fill the database with example jobs first.")
@pass_app
def tui(app: AppContext, workers: int | None, demo: bool) -> None:
    """Open the full-screen app (also what bare `queuectl` does)."""
    _run(app.db_path, workers, demo)


@click.command()
@click.option("-w", "--workers", type=click.IntRange(0, 64), default=2, show_default=True,
              help="Embedded worker processes.")
def demo(workers: int) -> None:
    """Open the TUI on a throwaway database full of example jobs, with live workers."""
    from queuectl_tui.tui import demo_database

    path = demo_database()
    click.echo(f"Demo database: {path}", err=True)
    _run(path, workers, True)
