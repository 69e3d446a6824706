"""``queuectl web``: the TUI in browser tabs (textual-serve), and ``/metrics``.

Nothing of the web extra is imported until this command runs; without the extra
it says which one to install.
"""

from __future__ import annotations

import errno
import os
import secrets

import click

from queuectl_tui.cli import AppContext, pass_app

TOKEN_ENV = "QUEUECTL_WEB_TOKEN"
REAP_SECONDS = 0.5
DEMO_PRODUCER_SECONDS = 2.5
WORKERS_STOP_SECONDS = 1.5  # then the pool is killed (its jobs were already put back)


def _check_token(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    if len(value) < 8 or not value.isascii() or not value.isprintable() or " " in value:
        raise click.BadParameter("a token is at least 8 printable ASCII characters,"
                                 " without spaces", ctx=ctx, param=param)
    return value


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but the loopback requires a token.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to listen on (0: any free port; the URL printed says which).")
@click.option("-w", "--workers", type=click.IntRange(0, 64), default=None,
              help="Worker processes this server supervises while it runs (default 0;"
                   " 2 with --demo). Browser tabs never run workers of their own.")
@click.option("--read-only", is_flag=True,
              help="Tabs can look but change nothing (a wall display).")
@click.option("--token", envvar=TOKEN_ENV, show_envvar=True, callback=_check_token,
              help="The access token (default: a random one whenever --host is not the"
                   " loopback). Prefer the variable: a command line is visible to other"
                   " users.")
@click.option("--public-url", metavar="URL",
              help="The URL browsers use to reach this server (behind a reverse proxy),"
                   " e.g. https://queue.example.com/.")
@click.option("--max-tabs", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="Browser tabs served at once (each runs an app process of ~40 MiB).")
@click.option("--demo", is_flag=True,
              help="Serve a throwaway database full of example jobs (deleted on exit).")
@pass_app
def web(app: AppContext, host: str, port: int, workers: int | None, read_only: bool,
        token: str | None, public_url: str | None, max_tabs: int, demo: bool) -> None:
    """Serve the TUI to web browsers, and Prometheus metrics on /metrics.

    Every browser tab runs its own copy of the app (a process that ends with the
    tab) on the same database. Ctrl+C or SIGTERM ends the tabs and stops the
    workers this server runs, putting their jobs back in the queue.
    """
    from queuectl_tui.web import require_extra

    require_extra("queuectl web")
    from queuectl_tui.web.server import is_loopback

    os.environ.pop(TOKEN_ENV, None)  # not for the tabs, the workers or their jobs
    if public_url is not None and not public_url.startswith(("http://", "https://")):
        raise click.BadParameter("give an http:// or https:// URL", param_hint="--public-url")
    if token is None and not is_loopback(host):
        token = secrets.token_urlsafe(24)
    db_path = app.db_path
    if demo:
        import tempfile

        from queuectl_tui.demo import seed_demo
        from queuectl_tui.queue import JobQueue

        # (not tui.demo_database: the CLI never imports the TUI package)
        db_path = os.path.join(tempfile.mkdtemp(prefix="queuectl-web-demo-"), "demo.db")
        seeded = JobQueue.open(db_path)
        seed_demo(seeded)
        seeded.close()
        workers = 2 if workers is None else workers
    try:
        _serve(db_path, host, port, workers or 0, read_only, token, public_url, max_tabs, demo)
    finally:
        if demo:
            import shutil

            shutil.rmtree(os.path.dirname(db_path), ignore_errors=True)


def _serve(db_path: str, host: str, port: int, workers: int, read_only: bool,
           token: str | None, public_url: str | None, max_tabs: int, demo: bool) -> None:
    import asyncio
    from pathlib import Path

    from queuectl_tui import metrics
    from queuectl_tui.queue import JobQueue
    from queuectl_tui.store import is_database_url, location_of, url_has_secret
    from queuectl_tui.web.exposition import render
    from queuectl_tui.web.server import WebServer, WebSettings, default_title, serve

    if not is_database_url(db_path):  # a file (a database URL is passed on as it is)
        db_path = str(Path(db_path).expanduser().resolve())
    queue = JobQueue.open(db_path)  # an unreachable or foreign database fails here
    if url_has_secret(db_path):
        # The tabs' app processes (and the worker pool) find it here, not on a
        # command line that `ps` shows (WebSettings.app_command).
        os.environ["QUEUECTL_DB"] = db_path
    settings = WebSettings(db_path=db_path, host=host, port=port, token=token,
                           read_only=read_only, public_url=public_url, max_tabs=max_tabs,
                           title=default_title(db_path))
    pool = None

    async def metrics_text() -> bytes:
        return await asyncio.to_thread(
            lambda: render(metrics.collect(queue, since=settings.started_at)))

    async def stop_workers() -> None:
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, WORKERS_STOP_SECONDS, True)

    async def reap() -> None:
        while pool is not None:
            pool.reap()
            await asyncio.sleep(REAP_SECONDS)

    async def produce() -> None:
        import random

        from queuectl_tui.demo import random_job

        rng = random.Random()
        while True:
            await asyncio.sleep(DEMO_PRODUCER_SECONDS)
            await asyncio.to_thread(queue.enqueue, [random_job(rng)])

    def ready(url: str) -> None:
        nonlocal pool
        if workers:
            from queuectl_tui.supervisor import Supervisor

            pool = Supervisor(db_path, owner=f"web:{os.getpid()}")
            pool.start(workers)
        what = " (read-only)" if read_only else ""
        pool_text = f", {workers} worker{'s' if workers != 1 else ''}" if workers else ""
        where = f" (listening on {host}:{server.bound_port})" if public_url else ""
        click.echo(f"Serving {location_of(db_path)}{what}{pool_text} on {url}{where}")
        if token:
            click.echo("Anyone with this URL can use the queue: keep the token secret.",
                       err=True)
        click.echo("Ctrl+C stops the server.", err=True)

    server = WebServer(settings, metrics_text=metrics_text, on_stop=stop_workers)
    background = [reap] + ([produce] if demo else [])
    try:
        serve(server, ready, background)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise click.ClickException(
                f"port {port} on {host} is already in use; choose another with --port"
            ) from None
        raise click.ClickException(
            f"cannot listen on {host} port {port}: {exc.strerror or exc}") from None
    finally:
        if pool is not None:  # an error on the way out: the pool still ends
            pool.shutdown(WORKERS_STOP_SECONDS, stop_jobs=True)
        queue.close()
