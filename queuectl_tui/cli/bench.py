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
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def bench(jobs: int, workers: int, history: int, idle_seconds: float, as_json: bool) -> None:
    """Measure queuectl on throwaway databases (never yours): spawn limit,
    throughput, bulk enqueue, pickup latency, history scale, CLI start-up and
    idle cost."""
    from queuectl_tui import bench as benchmark

    say = (lambda text: None) if as_json else (lambda text: click.echo(text, err=True))
    figures = benchmark.run(jobs, workers, history, idle_seconds, say=say)
    if as_json:
        print_json({"jobs": jobs, "workers": workers, **figures.results})
    else:
        click.echo(figures.table())
