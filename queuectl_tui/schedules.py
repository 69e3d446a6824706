"""Recurring jobs: cron schedules that the running workers fire.

A schedule is a row of the ``schedule`` table: a cron expression, a time zone,
the job it enqueues, and ``next_at``, the epoch second of its next occurrence.
There is no scheduler process. Every worker, in its housekeeping (about once a
second, and exactly when the earliest schedule comes due), asks the database
for the earliest ``next_at``; when one is due, it fires it in one transaction:

    UPDATE schedule SET next_at = <next>, last_at = ..., last_job_id = ...
     WHERE name = ? AND next_at = <the value it read> AND paused = 0
    INSERT INTO job (id = 'NAME@<occurrence>', ...)   -- only if the update matched

The update is fenced on the ``next_at`` it read, so of many workers on many
hosts that see the same occurrence due, exactly one matches (SQLite: one writer
at a time; PostgreSQL: the others wait for the row lock, then find ``next_at``
moved and match nothing), and only that one inserts the job. The job's id is
the schedule's name and the occurrence (``nightly@2026-01-31T02:30Z``), a
primary key: a second insert of one occurrence could not commit either.

Missed occurrences (every worker was down) fire once, not once each: the job
stands for the latest occurrence that was missed, and ``next_at`` is computed
from now (DECISIONS.md says why). A paused schedule fires nothing; resuming
computes ``next_at`` from now, so it does not fire at once for the time it was
paused.

Cron expressions are the standard 5 fields or the crontab(5) shorthands
(``@hourly`` ... ``@yearly``), evaluated by cronsim (Debian cron's semantics,
including at DST changes) in the schedule's zone (zoneinfo). Times are the
database's: the server's clock on PostgreSQL (``Storage.now``), so hosts whose
clocks disagree fire at the same instant.

Test hook: ``QUEUECTL_SCHEDULE_CLOCK=FILE`` makes schedule evaluation (and
nothing else: not leases, ``run_at`` or timestamps) read "now" as the epoch
seconds written in FILE, read afresh at every evaluation, so a test advances a
running fleet's schedule clock minute by minute without waiting minutes.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, NamedTuple

import peewee

from queuectl_tui.errors import Conflict, InvalidInput, NotFound
from queuectl_tui.jobspec import (
    MAX_RETRIES_RANGE,
    PRIORITY_RANGE,
    check_command,
    check_cwd,
    check_env,
    check_int,
    check_queue,
    check_timeout,
)
from queuectl_tui.store import Job, Schedule
from queuectl_tui.store.base import NewJob
from queuectl_tui.timeutil import to_iso

if TYPE_CHECKING:
    from queuectl_tui.queue import JobQueue

CLOCK_ENV = "QUEUECTL_SCHEDULE_CLOCK"

# crontab(5)'s shorthands, as Debian's cron defines them. @reboot has no meaning
# for a queue (whose reboot?) and is refused.
SHORTHANDS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MAX_CRON_LENGTH = 200
# Names become part of job ids (NAME@2026-01-31T02:30Z) and are typed in shells:
# letters, digits, '.', '_', '-', starting with a letter or digit.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_OCCURRENCE_FORMAT = "%Y-%m-%dT%H:%MZ"  # cron occurrences are whole minutes


# --- cron expressions and zones -------------------------------------------------


def check_name(value: object) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        shown = value if isinstance(value, str) else type(value).__name__
        raise InvalidInput(
            f"schedule name {shown!r} must be 1 to 64 letters, digits, '.', '_' or '-',"
            " starting with a letter or digit")
    return value


def check_zone(value: object) -> str:
    """An IANA zone name that this machine's zone database knows (``Europe/Paris``)."""
    if not isinstance(value, str) or not value or "\x00" in value or len(value) > 100:
        raise InvalidInput(f"time zone {value!r} is not a zone name such as Europe/Paris")
    try:
        zone(value)
    except InvalidInput:
        raise InvalidInput(f"unknown time zone {value!r} (use an IANA name such as "
                           "Europe/Paris, America/New_York or UTC)") from None
    return value


def zone(name: str | None) -> tzinfo:
    """The zone a schedule is evaluated in (UTC for a row without one)."""
    if name is None or name in ("UTC", "Etc/UTC"):
        return UTC  # cronsim's plain path; needs no zone database
    from zoneinfo import ZoneInfo

    try:
        return ZoneInfo(name)
    except Exception:  # ZoneInfoNotFoundError, ValueError for a bad key, ...
        raise InvalidInput(f"unknown time zone {name!r}") from None


def local_zone_name() -> str:
    """This machine's IANA zone name, for a schedule added without ``--tz``: the
    name is recorded, so every host evaluates the schedule in the zone of the
    person who added it, whatever the hosts' own zones are."""
    candidates = []
    tz = os.environ.get("TZ", "").strip().lstrip(":")
    if tz:
        candidates.append(tz)
    try:
        target = os.path.realpath("/etc/localtime")
        if "/zoneinfo/" in target:
            candidates.append(target.split("/zoneinfo/", 1)[1])
    except OSError:
        pass
    try:
        with open("/etc/timezone") as handle:
            candidates.append(handle.read().strip())
    except OSError:
        pass
    for name in candidates:
        try:
            return check_zone(name)
        except InvalidInput:
            continue
    return "UTC"


def expand(cron: str) -> str:
    """The 5-field expression a stored cron text stands for."""
    return SHORTHANDS.get(cron.lower(), cron)


def check_cron(value: object, tz: str | None = None) -> str:
    """A cron expression as stored: whitespace normalised, a shorthand lower-cased.
    Refuses anything but 5 fields (cronsim also takes a seconds field; cron does
    not) and an expression that never fires."""
    if not isinstance(value, str) or "\x00" in value:
        raise InvalidInput("the cron expression must be text such as '*/5 * * * *'")
    cron = " ".join(value.split())
    if not cron or len(cron) > MAX_CRON_LENGTH:
        raise InvalidInput(f"the cron expression must be 1 to {MAX_CRON_LENGTH} characters")
    if cron.startswith("@"):
        if cron.lower() == "@reboot":
            raise InvalidInput("@reboot is not a schedule a queue can keep; use a time"
                               " (e.g. @daily or '0 3 * * *')")
        if cron.lower() not in SHORTHANDS:
            raise InvalidInput(f"unknown cron shorthand {cron!r}; use one of "
                               f"{', '.join(SHORTHANDS)}")
        return cron.lower()
    fields = cron.split(" ")
    if len(fields) != 5:
        raise InvalidInput(
            f"cron expression {cron!r} has {len(fields)} field{'s' if len(fields) != 1 else ''};"
            " it needs 5: minute hour day-of-month month day-of-week (e.g. '30 2 * * *')")
    try:
        next_after(cron, tz, datetime.now(UTC).timestamp())
    except InvalidInput as exc:
        raise InvalidInput(f"cron expression {cron!r}: {exc}") from None
    return cron


def _cronsim(cron: str, tz: str | None, moment: float, reverse: bool = False):
    from cronsim import CronSim, CronSimError

    when = datetime.fromtimestamp(moment, zone(tz))
    try:
        return CronSim(expand(cron), when, reverse=reverse)
    except CronSimError as exc:
        raise InvalidInput(str(exc).rstrip(".").lower() or "not a cron expression") from None
    except (ValueError, TypeError, IndexError, KeyError):
        raise InvalidInput("not a cron expression") from None


def next_after(cron: str, tz: str | None, moment: float) -> float:
    """The first occurrence strictly after ``moment`` (epoch seconds)."""
    try:
        return next(_cronsim(cron, tz, moment)).timestamp()
    except StopIteration:
        raise InvalidInput("it never fires (no occurrence within 50 years)") from None


def latest_at_or_before(cron: str, tz: str | None, moment: float) -> float | None:
    """The last occurrence at or before ``moment``, or None."""
    # cronsim steps back before its first look unless the start has a fraction
    # of a second (which it drops instead): a microsecond makes it inclusive.
    start = datetime.fromtimestamp(moment, UTC)
    start = start.replace(microsecond=start.microsecond or 1).timestamp()
    try:
        return next(_cronsim(cron, tz, start, reverse=True)).timestamp()
    except StopIteration:
        return None


def describe(cron: str) -> str:
    """In words, for people: 'At 02:30 every day' (cronsim's explanation)."""
    try:
        return _cronsim(cron, None, 0.0).explain()
    except Exception:  # a description is never worth an error
        return cron


def occurrence_id(name: str, occurrence: float) -> str:
    """The job id of one occurrence: the same on every worker that fires it."""
    return f"{name}@{datetime.fromtimestamp(occurrence, UTC).strftime(_OCCURRENCE_FORMAT)}"


# --- the clock ------------------------------------------------------------------


def clock_from_environment() -> Callable[[], float] | None:
    """The test hook (see the module's docstring), or None: the database's clock."""
    path = os.environ.get(CLOCK_ENV)
    if not path:
        return None

    def read() -> float:
        try:
            with open(path) as handle:
                return float(handle.read().strip())
        except (OSError, ValueError):
            raise InvalidInput(f"{CLOCK_ENV}: cannot read epoch seconds from {path}") from None

    return read


# --- what the faces get ---------------------------------------------------------


@dataclass(frozen=True)
class ScheduleSpec:
    """A validated schedule, ready to add (see ``ScheduleBook.add``)."""

    name: str
    cron: str
    command: str
    queue: str = "default"
    priority: int = 0
    timeout: float | None = None
    max_retries: int | None = None  # None: the max_retries setting when it fires
    tz: str = "UTC"
    cwd: str | None = None
    env: dict[str, str] | None = None


def spec(name: object, cron: object, command: object, *, queue: object = "default",
         priority: object = 0, timeout: object = None, max_retries: object = None,
         tz: object = None, cwd: object = None, env: object = None) -> ScheduleSpec:
    """Validate what a face was given, with the same words as a job's checks."""
    zone_name = local_zone_name() if tz is None else check_zone(tz)
    return ScheduleSpec(
        name=check_name(name),
        cron=check_cron(cron, zone_name),
        command=check_command(command),
        queue=check_queue(queue),
        priority=check_int("priority", priority, PRIORITY_RANGE),
        timeout=None if timeout is None else check_timeout(timeout),
        max_retries=None if max_retries is None else check_int(
            "max_retries", max_retries, MAX_RETRIES_RANGE),
        tz=zone_name,
        cwd=None if cwd is None else check_cwd(cwd),
        env=None if env is None else check_env(env),
    )


@dataclass(frozen=True)
class ScheduleInfo:
    """One schedule as the faces show it (``schedule list``, the TUI's pane)."""

    name: str
    cron: str
    description: str  # the cron expression in words
    tz: str
    command: str
    queue: str
    priority: int
    timeout: float | None
    max_retries: int | None
    cwd: str | None
    env: dict[str, str] | None
    paused: bool
    next_at: float | None  # None while paused
    last_at: float | None  # the occurrence last fired (or when it was run by hand)
    last_job_id: str | None
    last_state: str | None  # that job's state now; None if it was purged
    created_at: float
    updated_at: float


class Fired(NamedTuple):
    """One occurrence a worker fired, and the job it enqueued. ``missed_since``:
    when occurrences were missed (no worker ran), the first of them; the job
    stands for all of them."""

    name: str
    job_id: str
    occurrence: float
    missed_since: float | None

    def line(self) -> str:
        """What the worker's log says of it."""
        missed = "" if self.missed_since is None else (
            f" (for every run due since {to_iso(self.missed_since)}: they were missed)")
        return f"schedule {self.name}: enqueued job {self.job_id}{missed}"


# --- the book -------------------------------------------------------------------


class ScheduleBook:
    """The schedules of one database: every change to them, and the firing.

    ``clock``: the schedule clock (epoch seconds) for tests that drive it in the
    process; default: ``QUEUECTL_SCHEDULE_CLOCK`` if set, else the database's."""

    def __init__(self, queue: JobQueue, clock: Callable[[], float] | None = None):
        self.queue = queue
        self.storage = queue.storage
        self.clock = clock if clock is not None else clock_from_environment()

    def now(self) -> float:
        """The schedule clock: what next and last runs are measured against."""
        return self.clock() if self.clock is not None else self.storage.now()

    def _refuse_if_read_only(self) -> None:
        if self.queue.read_only:
            from queuectl_tui.queue import ReadOnly

            raise ReadOnly("this queue is open read-only: nothing can be changed here")

    # --- changes ---------------------------------------------------------------

    def add(self, new: ScheduleSpec) -> ScheduleInfo:
        """Add a schedule; its first run is its first occurrence after now. A
        taken name is refused (``Conflict``) and nothing changes."""
        self._refuse_if_read_only()
        stamp = self.storage.now()
        next_at = next_after(new.cron, new.tz, self.now())
        try:
            with self.storage.write():
                Schedule.insert(
                    name=new.name, cron=new.cron, command=new.command, queue=new.queue,
                    priority=new.priority, timeout=new.timeout, max_retries=new.max_retries,
                    tz=new.tz, cwd=new.cwd,
                    env=None if new.env is None else json.dumps(new.env, ensure_ascii=False),
                    paused=0, next_at=next_at, created_at=stamp, updated_at=stamp,
                ).execute()
        except self.storage.integrity_errors:
            raise Conflict(f"a schedule named {new.name!r} already exists") from None
        return self.get(new.name)

    def remove(self, name: str) -> None:
        """Remove a schedule; the jobs it enqueued stay."""
        self._refuse_if_read_only()
        with self.storage.write():
            if not Schedule.delete().where(Schedule.name == name).execute():
                raise NotFound(f"no schedule named {name!r}")

    def pause(self, name: str) -> bool:
        """Stop firing it. False if it was paused already."""
        self._refuse_if_read_only()
        with self.storage.write():
            self._row(name)
            return bool(Schedule.update(paused=1, updated_at=self.storage.now())
                        .where(Schedule.name == name, Schedule.paused == 0).execute())

    def resume(self, name: str) -> bool:
        """Fire it again, from its next occurrence after now (what it missed while
        paused is not made up). False if it was not paused."""
        self._refuse_if_read_only()
        with self.storage.write():
            row = self._row(name)
            if not row.paused:
                return False
            Schedule.update(paused=0, next_at=next_after(row.cron, row.tz, self.now()),
                            updated_at=self.storage.now()).where(
                Schedule.name == name).execute()
        return True  # the workers see the new next_at at their next tick (within a second)

    def run_now(self, name: str) -> str:
        """Enqueue the schedule's job once, now ("run now"), paused or not; its
        next run stays as it was. Returns the job's id."""
        self._refuse_if_read_only()
        stamp = self.storage.now()
        job_id = f"{name}@run-{os.urandom(4).hex()}"
        with self.storage.write():
            row = self._row(name)
            self._insert_job(row, job_id, stamp)
            Schedule.update(last_at=self.now(), last_job_id=job_id, updated_at=stamp).where(
                Schedule.name == name).execute()
        self.queue.wake_workers()
        return job_id

    # --- reading ---------------------------------------------------------------

    def list(self) -> list[ScheduleInfo]:
        """Every schedule by name, with its next run and its last job's state."""
        query = (Schedule.select(Schedule, Job.state.alias("last_state"))
                 .join(Job, peewee.JOIN.LEFT_OUTER, on=(Job.id == Schedule.last_job_id))
                 .order_by(Schedule.name))
        return [_info(row) for row in query.objects()]

    def get(self, name: str) -> ScheduleInfo:
        query = (Schedule.select(Schedule, Job.state.alias("last_state"))
                 .join(Job, peewee.JOIN.LEFT_OUTER, on=(Job.id == Schedule.last_job_id))
                 .where(Schedule.name == name))
        row = query.objects().first()
        if row is None:
            raise NotFound(f"no schedule named {name!r}")
        return _info(row)

    def _row(self, name: str) -> Schedule:
        row = Schedule.get_or_none(Schedule.name == name)
        if row is None:
            raise NotFound(f"no schedule named {name!r}")
        return row

    # --- firing (the workers) --------------------------------------------------

    def fire_due(self) -> tuple[list[Fired], list[str], float | None]:
        """Fire every schedule that is due, each occurrence exactly once across all
        workers (see the module's docstring). Returns what this call fired, the
        problems met (a schedule this machine cannot evaluate: it stays due, for a
        host that can), and the seconds until the earliest schedule is due next
        (None: none is; 0 or less: one is due that could not be fired here).

        Cheap when nothing is due: one query (``Storage.schedule_horizon``)."""
        if self.queue.read_only:
            return [], [], None
        earliest, stamp = self.storage.schedule_horizon()
        if earliest is None:
            return [], [], None
        try:
            now = self.clock() if self.clock is not None else stamp
        except InvalidInput as exc:  # the test hook's file: never worth a worker
            return [], [str(exc)], None
        if earliest > now:
            return [], [], earliest - now
        fired: list[Fired] = []
        problems: list[str] = []
        due = list(Schedule.select().where(Schedule.paused == 0, Schedule.next_at <= now)
                   .order_by(Schedule.next_at))
        for row in due:
            try:
                done = self._fire(row, now, stamp)
            except InvalidInput as exc:  # a zone or expression this host cannot read
                problems.append(f"schedule {row.name}: cannot be evaluated here ({exc})")
                continue
            if done is not None:
                fired.append(done)
        if fired:
            self.queue.wake_workers()
        earliest, later = self.storage.schedule_horizon()
        if earliest is None:
            return fired, problems, None
        return fired, problems, earliest - (now + later - stamp)  # the time spent firing

    def _fire(self, row: Schedule, now: float, stamp: float) -> Fired | None:
        """One due schedule: the fenced update and the job, in one transaction.
        None when another worker fired it first (or it was paused or changed)."""
        latest = latest_at_or_before(row.cron, row.tz, now)
        # The latest missed occurrence stands for all of them. (Never before
        # next_at: at a DST change cronsim's forward and backward walks can
        # disagree about a shifted occurrence.)
        occurrence = row.next_at if latest is None or latest < row.next_at else latest
        following = next_after(row.cron, row.tz, now)
        job_id = occurrence_id(row.name, occurrence)
        with self.storage.write():
            matched = Schedule.update(
                next_at=following, last_at=occurrence, last_job_id=job_id, updated_at=stamp,
            ).where(Schedule.name == row.name, Schedule.next_at == row.next_at,
                    Schedule.paused == 0).execute()
            if matched != 1:
                return None
            try:
                with self.storage.write():  # a savepoint: a taken id must not undo the fence
                    self._insert_job(row, job_id, stamp)
            except self.storage.integrity_errors:
                # A job already has this occurrence's id (an operator made one, or a
                # schedule of the same name fired it before being re-added): the
                # occurrence is accounted for; move on rather than retry forever.
                pass
        return Fired(row.name, job_id, occurrence,
                     row.next_at if occurrence != row.next_at else None)

    def _insert_job(self, row: Schedule, job_id: str, stamp: float) -> None:
        max_retries = row.max_retries
        if max_retries is None:
            max_retries = self.queue.config().max_retries
        self.storage.insert_jobs([NewJob(
            id=job_id, command=row.command, queue=row.queue, priority=row.priority,
            max_retries=max_retries, timeout=row.timeout, run_at=None,
            created_at=stamp, updated_at=stamp, cwd=row.cwd, env=row.env,
        )])


def _info(row: Schedule) -> ScheduleInfo:
    return ScheduleInfo(
        name=row.name, cron=row.cron, description=describe(row.cron), tz=row.tz or "UTC",
        command=row.command, queue=row.queue, priority=row.priority, timeout=row.timeout,
        max_retries=row.max_retries, cwd=row.cwd,
        env=None if row.env is None else json.loads(row.env),
        paused=bool(row.paused), next_at=None if row.paused else row.next_at,
        last_at=row.last_at, last_job_id=row.last_job_id,
        last_state=getattr(row, "last_state", None),
        created_at=row.created_at, updated_at=row.updated_at,
    )

