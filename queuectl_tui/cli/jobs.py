"""Commands about jobs: enqueue, list, show, status, cancel, purge."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from queuectl_tui.cli import AppContext, pass_app
from queuectl_tui.cli.output import (
    attempt_dict,
    coloured_state,
    job_dict,
    print_json,
    print_json_array,
    print_table,
    shown,
    to_terminal,
)
from queuectl_tui.display import next_run, one_line, visible
from queuectl_tui.errors import InvalidInput
from queuectl_tui.store import STATES
from queuectl_tui.timeutil import human_delta, now, parse_duration, relative, to_local

DEFAULT_LIST_LIMIT = 50
# What `show` prints of a job's output on a terminal (the rest: --full, or a pipe).
SHOW_TAIL_LINES = 200
SHOW_TAIL_CHARS = 64 * 1024


def _read_text(source: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{source} is not valid UTF-8 text") from None


def _read_file(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    return _read_text(str(path), data)


def _job_text(job: str | None, file: Path | None, command: str | None) -> str | None:
    """Where the job JSON comes from: argument, file path, stdin, or none (--command)."""
    given = [x for x in (job, file, command) if x is not None]
    if len(given) > 1:
        raise click.UsageError("give the job once: as JOB, with --file, or with --command")
    if not given:
        raise click.UsageError(
            "missing JOB: a JSON object, a .json file, or - to read jobs from stdin"
        )
    if command is not None:
        return None
    if file is not None:
        return _read_file(file)
    if job == "-":
        return _read_text("standard input", sys.stdin.buffer.read())
    if job.lstrip().startswith(("{", "[")):
        return job
    path = Path(job)
    try:
        is_file = path.is_file()
    except (OSError, ValueError):  # a name too long, or with a NUL, is no file of ours
        is_file = False
    if is_file:
        return _read_file(path)
    if job.endswith((".json", ".jsonl")):
        raise InvalidInput(f"no such file: {job}")
    raise InvalidInput(
        f"JOB must be a JSON object such as '{{\"command\": \"echo hi\"}}', a .json file or -;"
        f" got {one_line(job, 40)!r} (to enqueue a shell command directly, use --command)"
    )


@click.command()
@click.argument("job", required=False)
@click.option("-f", "--file", type=click.Path(dir_okay=False, path_type=Path),
              help="Read the job(s) from this file (an object, an array or JSON lines).")
@click.option("-c", "--command", "command", help="Enqueue this shell command (no JSON needed).")
@click.option("--id", "job_id", help="Job id (default: generated). Single job only.")
@click.option("--priority", type=int, help="Higher runs first (default 0).")
@click.option("--timeout", help="Kill the job after this long, e.g. 30, 90s, 5m (0 = no limit).")
@click.option("--max-retries", type=int, help="Failed runs before the DLQ (default: config).")
@click.option("--run-at", help="Not before this ISO 8601 time (no zone = local time).")
@click.option("--delay", help="Not before this long from now, e.g. 10, 30s, 5m, 2h.")
@pass_app
def enqueue(app: AppContext, job, file, command, job_id, priority, timeout, max_retries, run_at,
            delay) -> None:
    """Add jobs to the queue and print their ids.

    JOB is a JSON object ('{"id":"job1","command":"echo hi"}'), a path to a
    .json file, or - to read stdin: one object, a JSON array, or JSON lines.
    A batch is enqueued in one transaction: all of it or nothing.
    """
    from queuectl_tui.jobspec import (
        check_delay,
        check_timeout,
        parse_documents,
        spec_from_document,
        unknown_fields,
    )

    text = _job_text(job, file, command)
    documents = [{"command": command}] if text is None else parse_documents(text)
    if job_id is not None and len(documents) > 1:
        raise click.UsageError("--id applies to a single job, but the input holds "
                               f"{len(documents)}")
    if run_at is not None and delay is not None:
        raise click.UsageError("give either --run-at or --delay, not both")
    overrides = {
        "id": job_id, "priority": priority, "max_retries": max_retries, "run_at": run_at,
    }
    if timeout is not None:
        overrides["timeout"] = check_timeout(timeout)
    if delay is not None:
        overrides["delay"] = check_delay(delay)
    stamp = now()
    specs = []
    for index, document in enumerate(documents):
        merged = dict(document)
        for key, value in overrides.items():
            if value is not None:
                merged[key] = value
        if "run_at" in merged and "delay" in overrides:
            merged.pop("run_at")
        if "delay" in merged and run_at is not None:
            merged.pop("delay")
        try:
            specs.append(spec_from_document(merged, stamp))
        except InvalidInput as exc:
            where = f"job {index + 1}: " if len(documents) > 1 else ""
            raise InvalidInput(f"{where}{exc}") from None
        for name in unknown_fields(document):
            click.echo(f"Warning: ignoring unknown field {name!r}", err=True)
    for job_id in app.queue.enqueue(specs):
        click.echo(job_id)


@click.command("list")
@click.option("--state", type=click.Choice(STATES, case_sensitive=False),
              help="Only jobs in this state.")
@click.option("--limit", type=click.IntRange(min=0),
              help=f"Show the latest N jobs (0 = all; default {DEFAULT_LIST_LIMIT} in a "
                   "table, all with --json).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array on one line.")
@pass_app
def list_jobs(app: AppContext, state: str | None, limit: int | None, as_json: bool) -> None:
    """List jobs, oldest first (the latest N of them)."""
    state = state.lower() if state else None
    if as_json:
        print_jobs_json(app, state, limit)
        return
    jobs = app.queue.list_jobs(state, DEFAULT_LIST_LIMIT if limit is None else (limit or None))
    if not jobs:
        click.echo(f"No {state} jobs." if state else "No jobs.")
        return
    _print_jobs(jobs)
    total = app.queue.count(state)
    if total > len(jobs):
        click.echo(f"(latest {len(jobs)} of {total} jobs; --limit 0 shows all)", err=True)


def print_jobs_json(app: AppContext, state: str | None, limit: int | None) -> None:
    """The `--json` listing: all jobs unless ``limit`` (users' scripts read the whole
    list), streamed so that 150,000 of them fit in a few megabytes of memory."""
    offset = app.queue.lease_offset()
    if limit:
        print_json([job_dict(j, lease_offset=offset) for j in app.queue.list_jobs(state, limit)])
    else:
        print_json_array(job_dict(j, lease_offset=offset) for j in app.queue.each_job(state))


def _print_jobs(jobs) -> None:
    stamp = now()
    rows = [
        [
            j.id,
            j.state,
            str(j.priority),
            f"{j.attempts}/{max(j.max_retries, 1)}",
            _when(j, stamp),
            relative(j.updated_at, stamp),
            one_line(j.command),
            one_line(j.last_error),
        ]
        for j in jobs
    ]
    print_table(
        ["ID", "STATE", "PRI", "TRIES", "RUN AT", "UPDATED", "COMMAND", "LAST ERROR"],
        rows,
        shrink=(7, 6, 0),
        styles={1: coloured_state},
    )


def _when(job, stamp: float) -> str:
    """The time that matters for the job's state: when it (re)runs, or ran."""
    waiting = next_run(job.state, job.run_at, stamp)
    if waiting is not None:
        return waiting
    if job.state == "processing" and job.started_at is not None:
        return f"started {relative(job.started_at, stamp)}"
    return "-"


@click.command()
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Print the job and its attempts as JSON.")
@click.option("--full", is_flag=True,
              help=f"Print all of the output (a terminal gets its last {SHOW_TAIL_LINES} lines "
                   "otherwise).")
@pass_app
def show(app: AppContext, job_id: str, as_json: bool, full: bool) -> None:
    """Show one job: every field, the attempt timeline, last error and output.

    On a terminal, control characters in the job's text are shown as symbols
    (ESC as ␛) and only the end of a long output is printed; into a pipe or
    with --json the text is exact and complete.
    """
    terminal = to_terminal()
    job = app.queue.get(job_id, output_tail=None if as_json or full or not terminal
                        else SHOW_TAIL_CHARS)
    attempts = app.queue.attempts(job_id, job)
    if as_json:
        data = job_dict(job, with_output=True, lease_offset=app.queue.lease_offset())
        data["attempt_history"] = [attempt_dict(a) for a in attempts]
        print_json(data)
        return
    stamp = now()
    state = coloured_state(job.state) if terminal else job.state
    if job.state == "failed":
        state += f" (retry {relative(job.run_at, stamp)})"
    elif job.state == "pending" and job.run_at > stamp:
        state += f" (scheduled, runs {relative(job.run_at, stamp)})"
    timeout = "config default" if job.timeout is None else (
        "none" if job.timeout == 0 else human_delta(job.timeout))
    fields = [
        ("id", job.id),
        ("command", shown(job.command)),
        ("state", state),
        ("priority", str(job.priority)),
        ("attempts", f"{job.attempts} of {max(job.max_retries, 1)}"),
        ("timeout", timeout),
        ("run at", to_local(job.run_at)),
        ("created", to_local(job.created_at)),
        ("updated", to_local(job.updated_at)),
        ("started", to_local(job.started_at)),
        ("finished", to_local(job.finished_at)),
        ("worker", job.worker_id or "-"),
        ("exit code", "-" if job.exit_code is None else str(job.exit_code)),
        ("last error", shown(job.last_error) or "-"),
    ]
    # color=True: click would strip what looks like colour codes from the job's own
    # text into a pipe, and piped output is byte-exact; our styles only go to a terminal.
    for name, value in fields:
        label = click.style(name.ljust(11), bold=True) if terminal else name.ljust(11)
        click.echo(f"{label} {value}", color=True)
    click.echo()
    if attempts:
        rows = [
            [
                str(a.number),
                to_local(a.started_at),
                human_delta(a.finished_at - a.started_at) if a.started_at else "-",
                "-" if a.exit_code is None else str(a.exit_code),
                one_line(a.error) if a.error else "ok",
                f"retry {relative(a.retry_at, a.finished_at).removeprefix('in ')} later"
                if a.retry_at else "",
            ]
            for a in attempts
        ]
        print_table(["#", "STARTED", "TOOK", "EXIT", "RESULT", "BACKOFF"], rows, shrink=(4,))
    else:
        click.echo("No attempts yet.")
    click.echo()
    if job.output:
        click.echo(click.style("Output:", bold=True))
        if hasattr(job, "output_bytes"):
            _print_output_tail(job.output, job.output_bytes)
        else:
            click.echo(shown(job.output.rstrip("\n")), color=True)
    else:
        click.echo("No output captured.")


def _print_output_tail(tail: str, total_bytes: int) -> None:
    """The last SHOW_TAIL_LINES lines of an output whose end is ``tail``, after a note
    of how much is left out: on a terminal a screenful of the end beats 60 MB."""
    start = 0
    if len(tail.encode()) < total_bytes and "\n" in tail:
        start = tail.index("\n") + 1  # the tail began mid-line: start at the next one
    lines = tail[start:].rstrip("\n").split("\n")
    for _ in range(len(lines) - SHOW_TAIL_LINES):
        start = tail.index("\n", start) + 1
    lines = lines[-SHOW_TAIL_LINES:]
    earlier = total_bytes - len(tail[start:].encode())
    if earlier > 0:
        click.echo(click.style(f"… {earlier:,} earlier bytes not shown; --full shows all",
                               dim=True))
    click.echo(visible("\n".join(lines)))


@click.command()
@click.argument("job_ids", nargs=-1, required=True)
@pass_app
def cancel(app: AppContext, job_ids: tuple[str, ...]) -> None:
    """Cancel pending, failed or running jobs (a running job is stopped by its worker).

    If any id is unknown or already finished, nothing is cancelled. Many ids are
    cancelled 500 at a time, each printed when its batch is committed.
    """
    app.queue.cancel(job_ids, on_chunk=lambda done: click.echo(
        "\n".join(f"Cancelled {job_id}" for job_id in done)))


@click.command()
@click.option("--completed", is_flag=True, help="Purge completed jobs.")
@click.option("--dead", is_flag=True, help="Purge dead jobs (empties the DLQ).")
@click.option("--cancelled", is_flag=True, help="Purge cancelled jobs.")
@click.option("--all", "purge_all", is_flag=True, help="Purge every finished job.")
@click.option("--older-than", help="Only jobs last updated longer ago than this (e.g. 7d, 12h).")
@click.option("--vacuum", is_flag=True,
              help="Then give the freed space back to the file system (rewrites the "
                   "database; other writers wait while it runs).")
@pass_app
def purge(app: AppContext, completed, dead, cancelled, purge_all, older_than, vacuum) -> None:
    """Delete finished jobs and their history (--vacuum alone: only give space back).

    Jobs are deleted 500 at a time, so workers and enqueues keep going meanwhile;
    if interrupted, running the command again deletes the rest. The database keeps
    its size (the space is reused) unless --vacuum is given: on SQLite that shrinks
    the file; on PostgreSQL it runs VACUUM, which makes the space reusable.
    """
    states = [s for s, on in (("completed", completed), ("dead", dead),
                              ("cancelled", cancelled)) if on or purge_all]
    if not states and not vacuum:
        raise click.UsageError("say what to purge: --completed, --dead, --cancelled or --all"
                               " (or just --vacuum)")
    if states:
        before = now() - parse_duration(older_than) if older_than is not None else None
        count = app.queue.purge(states, before)
        click.echo(f"Purged {count} job{'s' if count != 1 else ''}")
    if vacuum:
        size_before, size_after = app.queue.vacuum()
        click.echo(f"Database {_megabytes(size_before)} -> {_megabytes(size_after)}")


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"
