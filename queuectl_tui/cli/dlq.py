"""``queuectl dlq list|retry``: the dead letter queue."""

from __future__ import annotations

import click

from queuectl_tui.cli import AppContext, pass_app
from queuectl_tui.cli.jobs import DEFAULT_LIST_LIMIT, print_jobs_json
from queuectl_tui.cli.output import print_table
from queuectl_tui.display import one_line
from queuectl_tui.timeutil import now, relative


@click.group()
def dlq() -> None:
    """Jobs that failed max_retries times: list them, retry them."""


@dlq.command("list")
@click.option("--limit", type=click.IntRange(min=0), default=None,
              help=f"Show the latest N dead jobs (0 = all; default {DEFAULT_LIST_LIMIT} in a "
                   "table, all with --json).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array on one line.")
@pass_app
def list_dead(app: AppContext, limit: int | None, as_json: bool) -> None:
    """List dead jobs with their last error (the latest N of them, oldest first)."""
    if as_json:
        print_jobs_json(app, "dead", limit)
        return
    jobs = app.queue.list_jobs("dead", DEFAULT_LIST_LIMIT if limit is None else (limit or None))
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
    total = app.queue.count("dead")
    if total > len(jobs):
        click.echo(f"(latest {len(jobs)} of {total} dead jobs; --limit 0 shows all)", err=True)


@dlq.command()
@click.argument("job_ids", nargs=-1)
@click.option("--all", "retry_all", is_flag=True, help="Retry every dead job.")
@pass_app
def retry(app: AppContext, job_ids: tuple[str, ...], retry_all: bool) -> None:
    """Move dead jobs back to pending with attempts reset to 0.

    If any id is unknown or not dead, nothing changes. Jobs are retried 500 at a
    time (each batch printed when committed), so workers and enqueues keep going
    meanwhile; an interrupted `--all` is finished by running it again.
    """
    if retry_all == bool(job_ids):
        raise click.UsageError("give job ids or --all (not both)")
    retried = app.queue.retry_dead(
        None if retry_all else list(job_ids),
        on_chunk=lambda done: click.echo("\n".join(f"Retrying {job_id}" for job_id in done)))
    if retry_all and not retried:
        click.echo("The DLQ is empty.")
