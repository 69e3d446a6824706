"""``queuectl worker start|stop|list``."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import click

from queuectl_tui.cli import AppContext, pass_app
from queuectl_tui.cli.output import print_json

MAX_WORKERS = 64
DETACH_READY_SECONDS = 10.0


@click.group()
def worker() -> None:
    """Start, stop and list worker processes."""


@worker.command()
@click.option("-n", "--count", type=click.IntRange(1, MAX_WORKERS), default=1, show_default=True,
              help="Number of worker processes.")
@click.option("-d", "--detach", is_flag=True,
              help="Run in the background and return at once.")
@click.option("--log", "log_path", type=click.Path(dir_okay=False, path_type=Path),
              help="With --detach: append worker output here (default: beside the database).")
@pass_app
def start(app: AppContext, count: int, detach: bool, log_path: Path | None) -> None:
    """Start COUNT workers; in the foreground until Ctrl+C or `queuectl worker stop`.

    The first Ctrl+C (or SIGTERM) lets running jobs finish, then the workers
    exit; a second one stops the jobs and puts them back in the queue.
    """
    from queuectl_tui.store import is_database_url, side_file
    from queuectl_tui.supervisor import run_foreground

    queue = app.queue  # open (and create) the database before any worker starts
    # A file by its absolute path (the workers may run elsewhere); a URL as given.
    db_path = app.db_path if is_database_url(app.db_path) else \
        str(Path(app.db_path).expanduser().resolve())
    if not detach:
        sys.exit(run_foreground(db_path, count))
    from queuectl_tui import registry
    from queuectl_tui.files import open_log
    from queuectl_tui.supervisor import database_argument

    log_path = log_path or Path(side_file(db_path, ".workers.log"))
    arguments, env = database_argument(db_path)
    before = {w.id for w in registry.live_workers(queue.storage, queue.config().lease_seconds)}
    # 0600, never through a symlink, rotated past 20 MB (one .1 generation).
    with open_log(log_path) as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "queuectl_tui.supervisor", *arguments,
             "--count", str(count)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, env=env,
        )
    deadline = time.monotonic() + DETACH_READY_SECONDS
    while time.monotonic() < deadline:
        started = [w for w in registry.live_workers(queue.storage, queue.config().lease_seconds)
                   if w.id not in before]
        if len(started) >= count:
            break
        if proc.poll() is not None:
            raise click.ClickException(f"the workers did not start; see {log_path}")
        time.sleep(0.05)
    click.echo(f"Started {count} worker{'s' if count != 1 else ''} in the background "
               f"(supervisor pid {proc.pid}); log: {log_path}")


@worker.command()
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="Wait until the workers have finished their jobs and exited.")
@click.option("--timeout", type=click.FloatRange(min=0), default=None,
              help="With --wait: give up waiting after this many seconds (exit 1).")
@pass_app
def stop(app: AppContext, wait: bool, timeout: float | None) -> None:
    """Ask every worker on this database to finish its current job and exit."""
    from queuectl_tui import registry

    lease = app.queue.config().lease_seconds
    live = registry.live_workers(app.queue.storage, lease)
    if not live:
        click.echo("No workers are running.")
        return
    registry.request_stop(app.queue.storage, [w.id for w in live])
    busy = sum(1 for w in live if w.current_job)
    click.echo(f"Stopping {len(live)} worker{'s' if len(live) != 1 else ''}"
               + (f" ({busy} finishing a job)" if busy else ""), err=True)
    if not wait:
        return
    ids = {w.id for w in live}
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        remaining = [w for w in registry.live_workers(app.queue.storage, lease) if w.id in ids]
        if not remaining:
            break
        if deadline is not None and time.monotonic() >= deadline:
            raise click.ClickException(
                f"{len(remaining)} worker(s) still finishing their jobs; they will exit after"
            )
        time.sleep(0.1)
    click.echo(f"Stopped {len(live)} worker{'s' if len(live) != 1 else ''}.")


@worker.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array on one line.")
@pass_app
def list_workers(app: AppContext, as_json: bool) -> None:
    """List live workers (dead ones are dropped)."""
    from queuectl_tui import registry
    from queuectl_tui.cli.status import print_worker_table, worker_dict

    workers = registry.live_workers(app.queue.storage, app.queue.config().lease_seconds)
    if as_json:
        print_json([worker_dict(w) for w in workers])
    elif not workers:
        click.echo("No workers are running.")
    else:
        print_worker_table(workers)
