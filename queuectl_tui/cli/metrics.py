"""``queuectl metrics``: the Prometheus text of ``GET /metrics``, on stdout (for
node-exporter's textfile collector, or a look by hand)."""

from __future__ import annotations

import click

from queuectl_tui.cli import AppContext, pass_app


@click.command()
@click.option("--since", type=click.FloatRange(min=0), default=None, metavar="EPOCH",
              help="Start the *_total counters at this time (epoch seconds); default: all"
                   " the history the database keeps.")
@pass_app
def metrics(app: AppContext, since: float | None) -> None:
    """Print the queue's metrics in the Prometheus text format.

    For node-exporter: `queuectl metrics > DIR/queuectl.prom.tmp && mv
    DIR/queuectl.prom.tmp DIR/queuectl.prom` from cron (the rename keeps a
    scrape from reading half a file). Needs the web extra (prometheus_client).
    """
    from queuectl_tui.web import require_extra

    require_extra("queuectl metrics", ("prometheus_client",))
    from queuectl_tui import metrics as figures
    from queuectl_tui.web.exposition import render

    click.echo(render(figures.collect(app.queue, since)).decode(), nl=False)
