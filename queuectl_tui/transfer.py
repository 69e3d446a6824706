"""Moving a queue: export every job (with its history) and the settings as JSON
Lines, and import such a file into another database, SQLite or PostgreSQL.

The file: a header line
``{"format": "queuectl-export", "version": 1, "exported_at": ISO, "jobs": N,
"settings": {...}}``, then one line per job with every column of ``Job`` (the
output included) and ``attempts_history``, the rows of its failed runs. Times
are epoch seconds as JSON floats: Python writes the shortest text that reads
back as the same float, so every timestamp survives the trip exactly (and the
claim order, which compares them, with it). ISO text is only in the header's
``exported_at``, for people; two spellings of one job time would only raise
the question of which one wins. ``jobs`` in the header lets an import notice a
file that was cut short at a line boundary (a full disk, an interrupted copy).

Running jobs do not move: their worker and lease belong to the old database
(on SQLite a lease is a reading of that machine's boot clock), and a result
recorded there after the export would never reach the new one. So an export
that would hold running jobs is refused unless forced, and an import puts any
running job it finds back to ``pending``, its interrupted run not charged (as
a worker's ``release`` does), so it runs again on the new database.

Both directions stay within the domain's rules: ids, commands and values are
checked as ``enqueue`` checks them, settings through ``config.SETTINGS``, and
an import is one transaction, refused as a whole on a taken id or a bad line,
as a bulk enqueue is. Only Peewee models here, no SQL text: the same code runs
on every backend.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from typing import IO, NamedTuple

import peewee

from queuectl_tui import jobspec
from queuectl_tui.config import SETTINGS, format_value, normalize_key
from queuectl_tui.errors import Conflict, InvalidInput
from queuectl_tui.queue import STATES, JobQueue, ReadOnly
from queuectl_tui.store import Attempt, Job
from queuectl_tui.timeutil import now, to_iso

FORMAT = "queuectl-export"
VERSION = 1

# Jobs per INSERT of an import, and per attempt lookup of an export: 500 rows of
# 18 columns are 9,000 bound values, under SQLite's 32,766 and PostgreSQL's 65,535.
BATCH_JOBS = 500
# ... or fewer, once the batch holds this many characters of job text (outputs
# can be megabytes each): what a batch keeps in memory stays bounded.
BATCH_CHARS = 8 * 1024 * 1024

JOB_FIELDS = tuple(field.name for field in Job._meta.sorted_fields)
ATTEMPT_FIELDS = ("number", "worker_id", "started_at", "finished_at", "exit_code", "error",
                  "retry_at", "output")
_REQUIRED = ("id", "command", "state", "run_at", "created_at", "updated_at")
_HEADER_FIELDS = frozenset({"format", "version", "exported_at", "jobs", "settings"})


class ImportCounts(NamedTuple):
    """What an import did."""

    jobs: int
    by_state: dict[str, int]  # every state, zero included, after running jobs were requeued
    attempts: int  # attempt rows (history of failed runs)
    requeued: int  # running jobs put back to pending
    settings: dict[str, int | float]  # the settings applied (empty: none, or --no-settings)


# --- where the transactions are (one place each: a one-line change per backend) ------

def _read_snapshot(queue: JobQueue) -> AbstractContextManager:
    """One consistent view for the whole export, without the write lock."""
    return queue.storage.snapshot()


def _write_transaction(queue: JobQueue) -> AbstractContextManager:
    """The import's one write transaction."""
    return queue.storage.write()


def _stream(queue: JobQueue, query: peewee.Query) -> Iterator:
    """Rows as they are read, never the whole result (a server-side cursor on
    PostgreSQL)."""
    return queue.storage.iterate(query)


# --- export --------------------------------------------------------------------------

def export_records(queue: JobQueue, states: Iterable[str] | None = None,
                   force: bool = False) -> Iterator[dict]:
    """The header, then one record per job (in ``states``, default all), oldest first
    (state by state, in the order given, when filtered).

    Read in one snapshot, so the jobs, their history and the header's count agree
    even if workers are busy meanwhile. Refused with ``Conflict`` (raised by the
    first ``next()``, before anything is produced) when running jobs would be
    exported, unless ``force``: see the module's docstring."""
    wanted = _check_states(states)
    with _read_snapshot(queue):
        selection = Job.select()
        if wanted is not None:
            selection = selection.where(Job.state.in_(wanted))
        running = (0 if wanted is not None and "processing" not in wanted
                   else Job.select().where(Job.state == "processing").count())
        if running and not force:
            raise Conflict(
                f"{running} job{'s are' if running != 1 else ' is'} running: stop the workers"
                " first (queuectl worker stop), or force it (running jobs are then"
                " exported as they are, and put back to pending when imported)")
        yield {
            "format": FORMAT,
            "version": VERSION,
            "exported_at": to_iso(now()),
            "jobs": selection.count(),
            "settings": dict(queue.config().items()),
        }
        # One state at a time when filtered: each is then read in the order of its
        # index (state, created_at), where ``state IN (...)`` would sort them all first.
        for state in wanted or [None]:
            query = Job.select(*[Job._meta.fields[name] for name in JOB_FIELDS])
            if state is not None:
                query = query.where(Job.state == state)
            batch: list[dict] = []
            size = 0
            for row in _stream(queue, query.order_by(Job.created_at).dicts()):
                batch.append(row)
                size += (len(row["output"] or "") + len(row["command"])
                         + len(row["last_error"] or ""))
                if len(batch) >= BATCH_JOBS or size >= BATCH_CHARS:
                    yield from _with_history(queue, batch)
                    batch, size = [], 0
            yield from _with_history(queue, batch)


def _with_history(queue: JobQueue, jobs: list[dict]) -> Iterator[dict]:
    """The jobs with their attempt rows: one lookup per batch, not one per job."""
    if not jobs:
        return
    history: dict[str, list[dict]] = {}
    query = (Attempt.select(Attempt.job, *[Attempt._meta.fields[n] for n in ATTEMPT_FIELDS])
             .where(Attempt.job.in_([job["id"] for job in jobs]))
             .order_by(Attempt.job, Attempt.id).dicts())
    for row in _stream(queue, query):
        history.setdefault(row.pop("job"), []).append(row)
    for job in jobs:
        job["attempts_history"] = history.get(job["id"], [])
        yield job


def write_jsonl(records: Iterable[dict], stream: IO[bytes]) -> int:
    """Write ``records`` as JSON Lines (UTF-8, as is: control characters are escaped
    by JSON itself); returns how many job lines were written."""
    lines = 0
    for record in records:
        stream.write(json.dumps(record, ensure_ascii=False, allow_nan=False).encode() + b"\n")
        lines += 1
    return max(lines - 1, 0)  # the header is no job


# --- import --------------------------------------------------------------------------

def read_jsonl(lines: Iterable[bytes]) -> Iterator[dict]:
    """Decode JSON Lines: one object per line, line N refused with its number.

    Split on ``\\n`` only (a job's text may hold U+2028 and friends, which
    ``str.splitlines`` would cut). Blank lines at the very end are allowed (an
    editor's habit); elsewhere a blank line is an error, as it is in JSON Lines."""
    blank_since = None
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            blank_since = blank_since or number
            continue
        if blank_since is not None:
            raise InvalidInput(f"line {blank_since}: empty line")
        try:
            text = raw.decode("utf-8").removesuffix("\n").removesuffix("\r")
        except UnicodeDecodeError:
            raise InvalidInput(f"line {number}: not valid UTF-8") from None
        try:
            record = json.loads(text, parse_constant=_no_constant)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"line {number}, column {exc.colno}: invalid JSON: {exc.msg}"
                               ) from None
        except RecursionError:
            raise InvalidInput(f"line {number}: invalid JSON: nested too deeply") from None
        except ValueError as exc:
            raise InvalidInput(f"line {number}: invalid JSON: {exc}") from None
        if not isinstance(record, dict):
            raise InvalidInput(f"line {number}: expected a JSON object")
        yield record
    if blank_since == 1:
        raise InvalidInput("the file is empty: not a queuectl export")


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def import_records(queue: JobQueue, records: Iterable[dict],
                   apply_settings: bool = True) -> ImportCounts:
    """Insert every job of an export (records as ``read_jsonl`` gives them, header
    first), or none: one transaction, in batches. A taken id, a bad record or a
    header that is not ours refuses the whole import and changes nothing; errors
    name the line (the header is line 1). The workers are woken at the end."""
    if queue.read_only:
        raise ReadOnly("this queue is open read-only: nothing can be changed here")
    items = iter(records)
    header = next(items, None)
    if header is None:
        raise InvalidInput("the file is empty: not a queuectl export")
    settings = _check_header(header)
    by_state = dict.fromkeys(STATES, 0)
    attempts = requeued = 0
    with _write_transaction(queue):
        if apply_settings:
            for key, value in settings.items():
                queue.set_config(key, value)
        batch: list[tuple[int, dict, list[dict]]] = []
        size = 0
        number = 1
        for number, record in enumerate(items, start=2):
            try:
                job, history = _check_job(record)
            except InvalidInput as exc:
                raise InvalidInput(f"line {number}: {exc}") from None
            requeued += job.pop("_requeued")
            by_state[job["state"]] += 1
            batch.append((number, job, history))
            size += len(job["output"] or "") + len(job["command"]) + len(job["last_error"] or "")
            if len(batch) >= BATCH_JOBS or size >= BATCH_CHARS:
                attempts += _insert(queue, batch)
                batch, size = [], 0
        attempts += _insert(queue, batch)
        total = number - 1
        expected = header.get("jobs")
        if expected is not None and expected != total:
            raise InvalidInput(f"the file holds {total} of the {expected} jobs its header"
                               " announces: cut short? nothing was imported")
    queue.wake_workers()
    return ImportCounts(total, by_state, attempts, requeued,
                        settings if apply_settings else {})


def _insert(queue: JobQueue, batch: list[tuple[int, dict, list[dict]]]) -> int:
    """One batch of jobs and their attempt rows, after checking that no id is taken
    (in the database, by an earlier batch, or twice in this one). Returns the number
    of attempt rows. Checked before inserting, not caught from the insert: on
    PostgreSQL a failed statement aborts the transaction, and the check names the id."""
    if not batch:
        return 0
    lines: dict[str, int] = {}
    for number, job, _ in batch:
        if job["id"] in lines:
            raise Conflict(f"line {number}: job id {job['id']!r} appears twice in the file;"
                           " nothing was imported")
        lines[job["id"]] = number
    taken = [job_id for (job_id,) in
             Job.select(Job.id).where(Job.id.in_(list(lines))).tuples()]
    if taken:
        first = min(taken, key=lines.__getitem__)
        raise Conflict(f"line {lines[first]}: job id {first!r} already exists (in the database"
                       " or earlier in the file); nothing was imported")
    _insert_rows(queue, Job, JOB_FIELDS, [job for _, job, _ in batch])
    attempts = [dict(attempt, job=job["id"]) for _, job, history in batch for attempt in history]
    _insert_rows(queue, Attempt, ("job", *ATTEMPT_FIELDS), attempts)
    return len(attempts)


def _insert_rows(queue: JobQueue, model: type[peewee.Model], names: tuple[str, ...],
                 rows: list[dict]) -> None:
    """Insert ``rows`` with the model's one-row INSERT, as Peewee writes it for this
    database's dialect, executed once per row by the driver (executemany). Building
    a many-row INSERT through the ORM instead cost 4 of the 5 seconds an import of
    20,000 jobs took."""
    if not rows:
        return
    fields = [model._meta.fields[name] for name in names]
    statement, _ = model.insert_many([(None,) * len(fields)], fields=fields).returning().sql()
    values = [tuple(row[name] for name in names) for row in rows]
    storage = queue.storage
    if not storage.text_holds_nul:  # PostgreSQL: a NUL in an output or error becomes U+FFFD
        values = [tuple(storage.storable_text(v) if isinstance(v, str) else v for v in row)
                  for row in values]
    queue.db.cursor().executemany(statement, values)


def _check_header(header: dict) -> dict[str, int | float]:
    """The header's settings, validated; refuses a file that is not ours or is newer."""
    if header.get("format") != FORMAT:
        raise InvalidInput(f"line 1: not a queuectl export (no header with format {FORMAT!r})")
    version = header.get("version")
    if version != VERSION:
        raise InvalidInput(f"line 1: export version {version!r} is not supported (this"
                           f" queuectl reads version {VERSION}); upgrade queuectl")
    unknown = sorted(set(header) - _HEADER_FIELDS)
    if unknown:
        raise InvalidInput(f"line 1: unknown header field {unknown[0]!r}")
    jobs = header.get("jobs")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 0):
        raise InvalidInput("line 1: jobs must be a whole number")
    raw = header.get("settings") or {}
    if not isinstance(raw, dict):
        raise InvalidInput("line 1: settings must be a JSON object")
    settings: dict[str, int | float] = {}
    for key, value in raw.items():
        try:
            name = normalize_key(key)
            settings[name] = SETTINGS[name].parse(value)
        except InvalidInput as exc:
            raise InvalidInput(f"line 1: {exc}") from None
    return settings


def _check_job(record: dict) -> tuple[dict, list[dict]]:
    """One job record as the row to insert (and its attempt rows), checked as enqueue
    checks a job. A running job comes back as pending with its run not charged."""
    unknown = [key for key in record if key not in JOB_FIELDS and key != "attempts_history"]
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]!r}")
    for name in _REQUIRED:
        if record.get(name) is None:
            raise InvalidInput(f"missing required field {name!r}")
    state = record["state"]
    if state not in STATES:
        raise InvalidInput(f"state must be one of {', '.join(STATES)}, got {state!r}")
    job = {
        "id": jobspec.check_id(record["id"]),
        "command": jobspec.check_command(record["command"]),
        "state": state,
        "queue": jobspec.check_queue(record.get("queue", "default")),
        "priority": jobspec.check_int("priority", record.get("priority", 0),
                                      jobspec.PRIORITY_RANGE),
        "attempts": _whole("attempts", record.get("attempts", 0)),
        "max_retries": jobspec.check_int("max_retries", record.get("max_retries", 3),
                                         jobspec.MAX_RETRIES_RANGE),
        "timeout": _maybe(record, "timeout", _seconds),
        "run_at": _time("run_at", record["run_at"]),
        "created_at": _time("created_at", record["created_at"]),
        "updated_at": _time("updated_at", record["updated_at"]),
        "started_at": _maybe(record, "started_at", _time),
        "finished_at": _maybe(record, "finished_at", _time),
        "worker_id": _maybe(record, "worker_id", _text),
        # A lease is a reading of the old database's lease clock: meaningless here.
        "lease_expires_at": None,
        "exit_code": _maybe(record, "exit_code", _exit_code),
        "last_error": _maybe(record, "last_error", _text),
        "output": _maybe(record, "output", _text),
        "cwd": _maybe(record, "cwd", lambda _, value: jobspec.check_cwd(value)),
        "env": _maybe(record, "env", _env_text),
        # Dependencies are not carried yet: an imported job waits for nothing.
        "waiting": 0,
        "dependents": 0,
        "unique_key": _maybe(record, "unique_key",
                             lambda _, value: jobspec.check_unique_key(value)),
        "_requeued": False,
    }
    if state == "processing":  # as ``release`` does: back in line, the run not charged
        job.update(state="pending", attempts=max(job["attempts"] - 1, 0), worker_id=None,
                   started_at=None, _requeued=True)
    history = record.get("attempts_history") or []
    if not isinstance(history, list):
        raise InvalidInput("attempts_history must be a JSON array")
    return job, [_check_attempt(index, item) for index, item in enumerate(history, start=1)]


def _env_text(name: str, value: object) -> str:
    """The env column as exported: JSON text of an object of strings."""
    try:
        document = json.loads(_text(name, value))
    except json.JSONDecodeError:
        raise InvalidInput("env must be JSON text of an object") from None
    return json.dumps(jobspec.check_env(document), ensure_ascii=False)


def _check_attempt(index: int, item: object) -> dict:
    where = f"attempts_history item {index}"
    if not isinstance(item, dict):
        raise InvalidInput(f"{where} must be a JSON object")
    unknown = [key for key in item if key not in ATTEMPT_FIELDS]
    if unknown:
        raise InvalidInput(f"{where}: unknown field {unknown[0]!r}")
    for name in ("number", "finished_at"):
        if item.get(name) is None:
            raise InvalidInput(f"{where}: missing required field {name!r}")
    try:
        return {
            "number": _whole("number", item["number"]),
            "worker_id": _maybe(item, "worker_id", _text),
            "started_at": _maybe(item, "started_at", _time),
            "finished_at": _time("finished_at", item["finished_at"]),
            "exit_code": _maybe(item, "exit_code", _exit_code),
            "error": _maybe(item, "error", _text),
            "retry_at": _maybe(item, "retry_at", _time),
            "output": _maybe(item, "output", _text),
        }
    except InvalidInput as exc:
        raise InvalidInput(f"{where}: {exc}") from None


def _maybe(record: dict, name: str, check):
    value = record.get(name)
    return None if value is None else check(name, value)


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise InvalidInput(f"{name} must be a finite number, got {value!r}")
    return value


def _time(name: str, value: object) -> float:
    """Epoch seconds (an int is taken as the same float)."""
    return float(_number(name, value))


def _seconds(name: str, value: object) -> float:
    seconds = _time(name, value)
    if not 0 <= seconds <= jobspec.MAX_TIMEOUT:
        raise InvalidInput(f"{name} must be between 0 and {format_value(jobspec.MAX_TIMEOUT)}"
                           f" seconds, got {format_value(seconds)}")
    return seconds


def _whole(name: str, value: object) -> int:
    return jobspec.check_int(name, value, (0, 1_000_000))


def _exit_code(name: str, value: object) -> int:
    return jobspec.check_int(name, value, (-(2**31), 2**31 - 1))


def _text(name: str, value: object) -> str:
    """Any string the store can hold (job output may contain any character)."""
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string, got {value!r}"[:200])
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{name} is not valid Unicode (lone surrogate)") from None
    return value


def _check_states(states: Iterable[str] | None) -> list[str] | None:
    if states is None:
        return None
    wanted = list(dict.fromkeys(states))
    for state in wanted:
        if state not in STATES:
            raise InvalidInput(f"state must be one of {', '.join(STATES)}, got {state!r}")
    return wanted or None
