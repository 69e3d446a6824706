"""``queuectl schedule add|list|pause|resume|remove|run``: recurring jobs.

Thin: the checks, the cron evaluation and the firing are the domain's
(``queuectl_tui/schedules.py``); the workers fire due schedules, there is no
daemon to start.
"""

from __future__ import annotations

import os
from datetime import datetime

import click

from queuectl_tui.cli import AppContext, pass_app
from queuectl_tui.cli.output import coloured_state, print_json, print_table, to_terminal
from queuectl_tui.errors import InvalidInput
from queuectl_tui.timeutil import relative, to_iso


@click.group()
def schedule() -> None:
    """Recurring jobs: a cron schedule that enqueues a job each time it fires.

    Running workers fire due schedules (no other process is needed), each
    occurrence exactly once however many workers and hosts there are. When no
    worker was running at an occurrence, the missed runs fire once when one
    starts again, not once each.
    """


@schedule.command("add")
@click.argument("name")
@click.argument("cron")
@click.option("-c", "--command", required=True, help="The shell command each run enqueues.")
@click.option("--queue", default="default", show_default=True, help="The jobs' queue.")
@click.option("--priority", type=int, default=0, show_default=True,
              help="The jobs' priority (higher runs first).")
@click.option("--timeout", help="Kill a run after this long, e.g. 30, 90s, 5m (0 = no limit).")
@click.option("--max-retries", type=int,
              help="Failed runs of each job before the DLQ (default: config, when it fires).")
@click.option("--tz", "tz", metavar="ZONE",
              help="Time zone the expression is read in, e.g. Europe/Paris (default: this"
                   " machine's zone, recorded with the schedule).")
@click.option("--cwd", metavar="DIR",
              help="Folder the jobs run in (default: the current folder).")
@click.option("-e", "--env", "env", multiple=True, metavar="NAME=VALUE",
              help="A variable set for the jobs only (repeatable).")
@pass_app
def add(app: AppContext, name: str, cron: str, command: str, queue: str, priority: int,
        timeout: str | None, max_retries: int | None, tz: str | None, cwd: str | None,
        env: tuple[str, ...]) -> None:
    """Add schedule NAME: run COMMAND at the times CRON says.

    CRON is a standard 5-field expression, 'minute hour day-of-month month
    day-of-week' ('*/15 * * * *', '30 2 * * 1-5'), or @hourly, @daily
    (@midnight), @weekly, @monthly, @yearly (@annually). Daylight saving time
    is handled as Debian's cron does: a time the clock skips runs just after
    the change, a time it repeats runs once.
    """
    from queuectl_tui import schedules

    if cwd is None:
        try:
            cwd = os.getcwd()
        except OSError:  # our folder was removed: the worker's folder, then
            cwd = None
    else:
        cwd = os.path.abspath(os.path.expanduser(cwd))
    new = schedules.spec(name, cron, command, queue=queue, priority=priority,
                         timeout=timeout, max_retries=max_retries, tz=tz, cwd=cwd,
                         env=_env(env) if env else None)
    book = app.queue.schedules
    info = book.add(new)
    click.echo(f"Added schedule {info.name}: {info.description} ({info.tz}); "
               f"next run {_when(info.next_at, info.tz, book.now())}")


def _env(pairs: tuple[str, ...]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise InvalidInput(f"--env takes NAME=VALUE, got {pair!r}")
        env[name] = value
    return env


def _when(moment: float | None, tz: str, reference: float) -> str:
    """A time in the schedule's own zone (what its expression speaks of), and how
    far it is from ``reference`` (the schedule clock)."""
    if moment is None:
        return "-"
    from queuectl_tui.schedules import zone

    local = datetime.fromtimestamp(moment, zone(tz)).strftime("%Y-%m-%d %H:%M %Z")
    return f"{local} ({relative(moment, reference)})"


@schedule.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array on one line.")
@pass_app
def list_schedules(app: AppContext, as_json: bool) -> None:
    """List the schedules: next run, last run and the state of its job, paused."""
    book = app.queue.schedules
    infos = book.list()
    if as_json:
        print_json([_as_dict(info) for info in infos])
        return
    if not infos:
        click.echo("No schedules.")
        return
    reference = book.now()
    rows = [
        [
            info.name,
            info.cron,
            info.tz,
            "paused" if info.paused else _when(info.next_at, info.tz, reference),
            relative(info.last_at, reference),
            info.last_job_id or "-",
            info.last_state or ("-" if info.last_job_id is None else "purged"),
            info.command,
        ]
        for info in infos
    ]
    print_table(
        ["NAME", "SCHEDULE", "ZONE", "NEXT RUN", "LAST RUN", "LAST JOB", "STATE", "COMMAND"],
        rows,
        shrink=(7, 5, 0),
        styles={6: coloured_state} if to_terminal() else None,
    )


def _as_dict(info) -> dict:
    return {
        "name": info.name,
        "cron": info.cron,
        "description": info.description,
        "tz": info.tz,
        "command": info.command,
        "queue": info.queue,
        "priority": info.priority,
        "timeout": info.timeout,
        "max_retries": info.max_retries,
        "cwd": info.cwd,
        "env": info.env,
        "paused": info.paused,
        "next_at": to_iso(info.next_at),
        "last_at": to_iso(info.last_at),
        "last_job_id": info.last_job_id,
        "last_state": info.last_state,
        "created_at": to_iso(info.created_at),
        "updated_at": to_iso(info.updated_at),
    }


@schedule.command()
@click.argument("name")
@pass_app
def pause(app: AppContext, name: str) -> None:
    """Stop firing NAME until it is resumed (its jobs already enqueued stay)."""
    if app.queue.schedules.pause(name):
        click.echo(f"Paused {name}")
    else:
        click.echo(f"{name} was already paused")


@schedule.command()
@click.argument("name")
@pass_app
def resume(app: AppContext, name: str) -> None:
    """Fire NAME again, from its next time on (runs missed while paused are not made up)."""
    book = app.queue.schedules
    if not book.resume(name):
        click.echo(f"{name} is not paused")
        return
    info = book.get(name)
    click.echo(f"Resumed {name}; next run {_when(info.next_at, info.tz, book.now())}")


@schedule.command()
@click.argument("name")
@pass_app
def remove(app: AppContext, name: str) -> None:
    """Delete schedule NAME (the jobs it enqueued stay)."""
    app.queue.schedules.remove(name)
    click.echo(f"Removed {name}")


@schedule.command()
@click.argument("name")
@pass_app
def run(app: AppContext, name: str) -> None:
    """Enqueue NAME's job once, now, and print its id (its next run is unchanged;
    works on a paused schedule too)."""
    click.echo(app.queue.schedules.run_now(name))
