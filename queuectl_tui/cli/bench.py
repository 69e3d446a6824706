"""``queuectl bench``: the seven figures, as a table or one JSON object."""

from __future__ import annotations

import click

from queuectl_tui.cli.output import print_json


@click.command()
@click.option("--jobs", "-n", type=click.IntRange(10, 1_000_000), default=1000,
              show_default=True, help="Jobs for the spawn-limit and throughput runs.")
@click.option("--workers", "-w", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Worker processes (and plain spawning processes for the limit).")
@click.option("--history", type=click.IntRange(0, 10_000_000), default=200_000,
              show_default=True, help="Finished jobs in the database for the history run.")
@click.option("--idle-seconds", type=click.FloatRange(1, 600), default=10.0,
              show_default=True, help="How long to watch an idle worker's CPU.")
@click.option("--db", "server", metavar="URL", default=None,
              help="Also measure on this PostgreSQL server, in a throwaway database "
                   "created there and dropped (needs CREATEDB). Default: the global "
                   "--db / QUEUECTL_DB when it is a postgresql:// URL.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def bench(ctx: click.Context, jobs: int, workers: int, history: int, idle_seconds: float,
          server: str | None, as_json: bool) -> None:
    """Measure queuectl on throwaway databases (never yours): spawn limit,
    throughput, bulk enqueue, pickup latency, history scale, CLI start-up and
    idle cost; with a PostgreSQL server, throughput and pickup latency there too."""
    from queuectl_tui import bench as benchmark
    from queuectl_tui.errors import QueueError
    from queuectl_tui.store import is_database_url, location_of

    if server is None and ctx.obj is not None and is_database_url(str(ctx.obj.db_path)):
        server = str(ctx.obj.db_path)
    if server is not None and not is_database_url(server):
        raise click.BadParameter("a postgresql:// URL", param_hint="--db")
    say = (lambda text: None) if as_json else (lambda text: click.echo(text, err=True))
    try:
        figures = benchmark.run(jobs, workers, history, idle_seconds, say=say, server=server)
    except QueueError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        extra = {"server": location_of(server)} if server else {}
        print_json({"jobs": jobs, "workers": workers, **extra, **figures.results})
    else:
        click.echo(figures.table())
