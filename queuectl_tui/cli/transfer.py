"""Moving a queue: `queuectl export` and `queuectl import` (see ``transfer.py``)."""

from __future__ import annotations

import itertools
import os
import tempfile
from pathlib import Path

import click

from queuectl_tui.cli import AppContext, pass_app
from queuectl_tui.cli.output import print_json
from queuectl_tui.errors import InvalidInput
from queuectl_tui.store import STATES


@click.command("export")
@click.option("--state", "states", multiple=True,
              type=click.Choice(STATES, case_sensitive=False),
              help="Only jobs in this state (repeat for several; default: every job).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file (readable only by you) instead of standard output.")
@click.option("--force", is_flag=True,
              help="Export even while jobs run: they are exported as they are, and an"
                   " import puts them back to pending, so they run again.")
@pass_app
def export_jobs(app: AppContext, states: tuple[str, ...], output: Path | None,
                force: bool) -> None:
    """Write the queue as JSON Lines: a header with the settings, then every job
    with its attempt history and output, ids and times exact.

    To move a queue, stop its workers, then: queuectl export -o queue.jsonl, and
    queuectl --db NEW import queue.jsonl. Refused while jobs run unless --force.
    """
    from queuectl_tui import registry
    from queuectl_tui.transfer import export_records, write_jsonl

    # Before the export's read snapshot opens: the listing sweeps dead workers' rows.
    workers = len(registry.live_workers(app.queue.storage, app.queue.config().lease_seconds))
    records = export_records(app.queue, [s.lower() for s in states] or None, force=force)
    header = next(records)  # a refusal comes here, before a byte is written anywhere
    records = itertools.chain([header], records)
    if workers:
        click.echo(f"Warning: {workers} worker{'s are' if workers != 1 else ' is'} running on"
                   " this database; what they do from now on is not in the export (stop"
                   " them before moving a queue: queuectl worker stop)", err=True)
    if output is None:
        stream = click.get_binary_stream("stdout")
        count = write_jsonl(records, stream)
        stream.flush()
    else:
        count = _write_file(output, records)
    where = "" if output is None else f" to {output}"
    click.echo(f"Exported {count} job{'s' if count != 1 else ''}{where}", err=True)


def _write_file(path: Path, records) -> int:
    """Write beside ``path`` and rename at the end: a failed export leaves no partial
    file behind, and the file is private (0600) from its first byte, as the
    database is (job commands and outputs may hold secrets)."""
    from queuectl_tui.transfer import write_jsonl

    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".partial")
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb", buffering=1 << 20) as stream:
            count = write_jsonl(records, stream)
        os.replace(temporary, path)
    except OSError as exc:
        os.unlink(temporary)
        raise InvalidInput(f"cannot write {path}: {exc.strerror}") from None
    except BaseException:
        os.unlink(temporary)
        raise
    return count


@click.command("import")
@click.argument("file")
@click.option("--no-settings", is_flag=True,
              help="Keep this database's settings (default: take the file's).")
@click.option("--json", "as_json", is_flag=True, help="Print what was imported as JSON.")
@pass_app
def import_jobs(app: AppContext, file: str, no_settings: bool, as_json: bool) -> None:
    """Add the jobs of an export (FILE, or - for standard input) to this queue,
    keeping their ids, states, attempts, history and output, and take its settings.

    All or nothing: if any id is already taken, or a line is not valid, nothing is
    imported. Jobs that were running when exported are put back to pending.
    """
    from queuectl_tui.transfer import import_records, read_jsonl

    if file == "-":
        counts = import_records(app.queue, read_jsonl(click.get_binary_stream("stdin")),
                                apply_settings=not no_settings)
    else:
        try:
            stream = open(file, "rb")  # noqa: SIM115 (closed below, errors reported first)
        except OSError as exc:
            raise InvalidInput(f"cannot read {file}: {exc.strerror}") from None
        with stream:
            counts = import_records(app.queue, read_jsonl(stream),
                                    apply_settings=not no_settings)
    if as_json:
        print_json({"imported": counts.jobs, "by_state": counts.by_state,
                    "attempts": counts.attempts, "requeued": counts.requeued,
                    "settings": counts.settings})
        return
    states = ", ".join(f"{n} {state}" for state, n in counts.by_state.items() if n)
    parts = [f"Imported {counts.jobs} job{'s' if counts.jobs != 1 else ''}"
             + (f" ({states})" if states else "")]
    if counts.attempts:
        parts.append(f"{counts.attempts} earlier attempt{'s' if counts.attempts != 1 else ''}")
    parts.append(f"{len(counts.settings)} settings" if counts.settings else "settings unchanged")
    click.echo(", ".join(parts))
    if counts.requeued:
        click.echo(f"{counts.requeued} job{'s' if counts.requeued != 1 else ''} running when"
                   " exported put back to pending (to run again)")
