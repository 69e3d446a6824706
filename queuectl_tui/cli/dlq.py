"""``queuectl dlq list|retry``: the dead letter queue."""

from __future__ import annotations

import click

from queuectl_tui.cli import AppContext, pass_app
from queuectl_tui.cli.output import job_dict, print_json, print_table
from queuectl_tui.display import one_line
from queuectl_tui.timeutil import now, relative


@click.group()
def dlq() -> None:
    """Jobs that failed max_retries times: list them, retry them."""


@dlq.command("list")
@click.option("--limit", type=click.IntRange(min=0), default=None,
              help="Show the latest N dead jobs (default: all).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array on one line.")
@pass_app
def list_dead(app: AppContext, limit: int | None, as_json: bool) -> None:
    """List dead jobs with their last error."""
    jobs = app.queue.list_jobs("dead", limit or None)
    if as_json:
        print_json([job_dict(j) for j in jobs])
        return
    if not jobs:
        click.echo("The DLQ is empty.")
        return
    stamp = now()
    print_table(
        ["ID", "TRIES", "DIED", "COMMAND", "LAST ERROR"],
        [[j.id, str(j.attempts), relative(j.updated_at, stamp), one_line(j.command),
          one_line(j.last_error)] for j in jobs],
        shrink=(4, 3, 0),
    )


@dlq.command()
@click.argument("job_ids", nargs=-1)
@click.option("--all", "retry_all", is_flag=True, help="Retry every dead job.")
@pass_app
def retry(app: AppContext, job_ids: tuple[str, ...], retry_all: bool) -> None:
    """Move dead jobs back to pending with attempts reset to 0.

    All or nothing: if any id is unknown or not dead, nothing changes.
    """
    if retry_all == bool(job_ids):
        raise click.UsageError("give job ids or --all (not both)")
    retried = app.queue.retry_dead(None if retry_all else list(job_ids))
    if retry_all and not retried:
        click.echo("The DLQ is empty.")
        return
    for job_id in retried:
        click.echo(f"Retrying {job_id}")
