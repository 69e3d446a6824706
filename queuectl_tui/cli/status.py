"""``queuectl status``: the one-screen summary, kept lean because scripts poll it."""

from __future__ import annotations

import click

from queuectl_tui.cli import AppContext, pass_app
from queuectl_tui.cli.output import coloured_state, print_json, print_table
from queuectl_tui.config import format_value
from queuectl_tui.store import STATES
from queuectl_tui.timeutil import human_delta, now, relative, to_iso


@click.command()
@click.option("--json", "as_json", is_flag=True,
              help='Print {"jobs": {...}, "workers": [...], "config": {...}}.')
@pass_app
def status(app: AppContext, as_json: bool) -> None:
    """Summary: jobs per state, live workers, configuration."""
    from queuectl_tui import registry

    counts = app.queue.counts()
    config = app.queue.config()
    workers = registry.live_workers(app.queue.storage, config.lease_seconds)
    if as_json:
        print_json({
            "jobs": counts,
            "workers": [worker_dict(w) for w in workers],
            "config": dict(config.items()),
            "database": app.queue.storage.location,
        })
        return
    click.echo(click.style("Jobs", bold=True))
    for state in STATES:
        click.echo(f"  {coloured_state(state.ljust(11))} {counts[state]:>8}")
    click.echo(f"  {'total'.ljust(11)} {sum(counts.values()):>8}")
    click.echo()
    click.echo(click.style(f"Workers: {len(workers)} live", bold=True))
    if workers:
        print_worker_table(workers)
    click.echo()
    settings = "  ".join(f"{k}={format_value(v)}" for k, v in config.items())
    click.echo(f"{click.style('Config', bold=True)}  {settings}")
    click.echo(f"{click.style('Database', bold=True)} {app.queue.storage.location}")


def worker_dict(w) -> dict:
    return {
        "id": w.id, "pid": w.pid, "hostname": w.hostname, "owner": w.owner, "state": w.state,
        "current_job": w.current_job, "jobs_done": w.jobs_done, "jobs_failed": w.jobs_failed,
        "started_at": to_iso(w.started_at), "heartbeat_at": to_iso(w.heartbeat_at),
    }


def print_worker_table(workers) -> None:
    stamp = now()
    rows = [
        [str(w.pid), w.hostname, w.state, w.current_job or "-", str(w.jobs_done),
         str(w.jobs_failed), human_delta(stamp - w.started_at),
         relative(w.heartbeat_at, stamp), w.owner]
        for w in workers
    ]
    print_table(["PID", "HOST", "STATE", "CURRENT JOB", "DONE", "FAILED", "UP", "HEARTBEAT",
                 "OWNER"], rows, shrink=(1, 3))
