"""The storage interface: what the domain, the worker and the registry ask of a database.

One class per backend implements it (``sqlite.SqliteStorage``,
``postgres.PostgresStorage``); ``sql.SqlStorage`` holds what both share. The
domain (``queue.py``), the worker and the registry call only these methods and
the Peewee models (``sql.Job`` and friends, bound to ``self.db``): they hold no
SQL text, import no driver, and cannot tell the backends apart.

Why methods and not statements: the hot path differs per dialect in more than
spelling. On PostgreSQL every time that another host compares (run_at, leases,
heartbeats) is taken from the server's clock inside the statement, so a host
whose clock is off cannot steal or starve work; on SQLite (one machine) the
leases are readings of this boot's monotonic clock, passed in as parameters.
So the storage, not the domain, stamps the times of the hot path.

Times: ``now()`` is wall-clock epoch seconds of the clock all hosts share (the
local clock on SQLite, the server's on PostgreSQL); ``clock()`` is a reading of
the lease clock that leases and heartbeats are stored in (SQLite:
``timeutil.lease_clock``; PostgreSQL: the server's epoch seconds, same as
``now()``). ``clock_epoch()`` names that clock's era (the boot on SQLite; None
on PostgreSQL, whose clock does not restart): leases stored under another
era mean nothing now (see ``JobQueue.prepare_worker``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import NamedTuple

import peewee


class ClaimedRow(NamedTuple):
    """What a claim returns: just what the worker needs to run and record the job."""

    id: str
    command: str
    attempts: int
    max_retries: int
    timeout: float | None
    started_at: float
    cwd: str | None = None  # where to run it (None: the worker's folder)
    env: str | None = None  # JSON object of variables for this job, or None
    queue: str = "default"


class NewJob(NamedTuple):
    """One job for ``insert_jobs``. ``run_at`` None: the storage's now.

    ``after``: ids of jobs that must complete first (existing jobs, or earlier
    rows of the same call); ``unique_key``: skip this row while a live job
    (pending, failed or running) holds the same key."""

    id: str
    command: str
    queue: str
    priority: int
    max_retries: int
    timeout: float | None
    run_at: float | None
    created_at: float
    updated_at: float
    cwd: str | None = None
    env: str | None = None  # JSON text
    unique_key: str | None = None
    after: tuple[str, ...] = ()


class Outcome(NamedTuple):
    """A finished run, as the domain decided it (``queue._after_failure``).

    ``state``: completed, failed or dead. ``retry_delay``: for failed, seconds
    from now (the storage's ``now()``) until it may run again; None otherwise."""

    state: str
    exit_code: int | None
    error: str | None
    output: str | bytearray  # bytearray: valid UTF-8 (runner._Tail.text)
    retry_delay: float | None


class LeaseRow(NamedTuple):
    """A running job whose lease has run out (or, with ``everything``, any running job)."""

    id: str
    attempts: int
    max_retries: int
    worker_id: str | None
    started_at: float | None
    lease_expires_at: float  # negative: marked suspect, -(end of its grace)


class WorkerRow(NamedTuple):
    id: str
    pid: int
    hostname: str
    owner: str
    state: str
    started_at: float
    heartbeat_at: float  # a ``clock()`` reading
    jobs_done: int
    jobs_failed: int
    wakeup: str | None  # the worker's wake-up address (SQLite doorbell), or None


class Waiter:
    """A worker's end of the wake-ups: blocks until new work may be runnable.

    ``name`` goes into the worker's row (None: nothing to record)."""

    name: str | None = None

    def wait(self, seconds: float, wake_fd: int | None = None) -> str:
        """Sleep up to ``seconds``; return "timeout", "wakeup" (new work) or
        "signal" (``wake_fd`` became readable)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class Storage:
    """One open database. ``db`` is the Peewee database the models are bound to."""

    kind: str  # "sqlite" or "postgres"
    db: peewee.Database
    # Exceptions that mean "the database refused or is unavailable", which a
    # worker backs off from and a face reports in one line.
    errors: tuple[type[BaseException], ...]
    integrity_errors: tuple[type[BaseException], ...]
    # How long a worker keeps retrying a busy (``is_busy``) operation at once
    # before it treats it as an outage and backs off.
    busy_timeout: float = 30.0
    # Whether a text column can hold NUL (PostgreSQL's cannot): where it cannot,
    # text that comes from outside (a job's output, an import) is stored with
    # U+FFFD in place of each NUL (``storable_text``).
    text_holds_nul: bool = True

    # --- identity and lifetime -------------------------------------------------

    @property
    def location(self) -> str:
        """Where the data is, for people: a path, or a URL with its password masked."""
        raise NotImplementedError

    @property
    def url(self) -> str:
        """What reopens this database (a path, or the URL with its password):
        what a supervisor passes to the worker processes it starts."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def still_there(self) -> bool:
        """False when the database was removed or replaced under us (SQLite: the file
        at the path is another one); the worker then waits and reopens."""
        return True

    def for_worker(self) -> None:
        """Called once by a worker process on its storage (and after a reopen):
        tune the connection for the hot path (SQLite: no busy timeout; the worker
        retries a busy operation itself, see ``worker.Worker._while_locked``)."""

    def storable_text(self, text: str) -> str:
        """``text`` as this database can store it (see ``text_holds_nul``)."""
        if self.text_holds_nul or "\x00" not in text:
            return text
        return text.replace("\x00", "\ufffd")

    # --- transactions ----------------------------------------------------------

    def write(self) -> AbstractContextManager:
        """A write transaction (SQLite: BEGIN IMMEDIATE). Nested calls are savepoints."""
        raise NotImplementedError

    def snapshot(self) -> AbstractContextManager:
        """A read-only transaction: several reads that see one state."""
        raise NotImplementedError

    def is_busy(self, exc: BaseException) -> bool:
        """True for lock contention that is worth retrying at once (SQLite "locked")."""
        return False

    def is_disk_full(self, exc: BaseException) -> bool:
        return False

    def describe_error(self, exc: BaseException, prefix: str = "database error") -> str:
        """One line for the user, with no password in it."""
        raise NotImplementedError

    def after_error(self, exc: BaseException) -> None:
        """Called after a write failed (SQLite: relieve a full disk)."""

    # --- clocks ----------------------------------------------------------------

    def now(self) -> float:
        raise NotImplementedError

    def clock(self) -> float:
        raise NotImplementedError

    def clock_epoch(self) -> str | None:
        return None

    # --- settings (config keys and reserved rows) ------------------------------

    def settings(self) -> dict[str, str]:
        raise NotImplementedError

    def setting(self, key: str) -> str | None:
        raise NotImplementedError

    def set_setting(self, key: str, value: str) -> None:
        raise NotImplementedError

    def add_setting(self, key: str, value: str) -> None:
        """Insert unless the key exists (first writer wins)."""
        raise NotImplementedError

    # --- enqueue ---------------------------------------------------------------

    def insert_jobs(self, rows: Sequence[NewJob]) -> dict[str, str]:
        """Insert pending jobs, all or none (raises one of ``integrity_errors`` on a
        taken id, ``NotFound`` for an unknown ``after`` id).

        A row whose ``unique_key`` a live job holds is skipped, not an error: the
        answer maps each skipped row's id to the id of the job holding its key.
        A row with ``after`` waits (``Job.waiting``) for those of its dependencies
        that have not completed; each dependency's ``dependents`` is raised in the
        same transaction, which also locks it against a finish in flight (see
        the PostgreSQL migration, version 2)."""
        raise NotImplementedError

    # --- the worker's hot path -------------------------------------------------

    def claim(self, worker_id: str, lease_seconds: float) -> ClaimedRow | None:
        """Take the best runnable job in one statement (or None)."""
        raise NotImplementedError

    def finish(self, job: ClaimedRow, worker_id: str, outcome: Outcome,
               claim_lease: float | None) -> tuple[bool, float, ClaimedRow | None]:
        """Record a run fenced on (worker, attempts, processing), with an attempt row
        for a failed one, and (if ``claim_lease``) claim the next job, in one
        transaction. Returns (recorded, the finish stamp, next job or None)."""
        raise NotImplementedError

    def release(self, job: ClaimedRow, worker_id: str) -> bool:
        """Put a running job back, attempt not charged (fenced)."""
        raise NotImplementedError

    def renew(self, job: ClaimedRow, worker_id: str, lease_seconds: float) -> bool:
        raise NotImplementedError

    # --- lease recovery --------------------------------------------------------

    def any_expired(self) -> bool:
        raise NotImplementedError

    def expired(self, everything: bool = False) -> list[LeaseRow]:
        raise NotImplementedError

    def mark_suspect(self, row: LeaseRow, grace_seconds: float) -> None:
        """Store the lease as -(clock() + grace), fenced on the lease value seen."""
        raise NotImplementedError

    def take_back(self, row: LeaseRow, state: str, retry_delay: float | None,
                  error: str) -> bool:
        """Record a lost run as failed (or dead) with its attempt row, fenced on
        the lease value seen; False if it was renewed or taken back meanwhile."""
        raise NotImplementedError

    def anything_running(self) -> bool:
        """Any running job or registered worker (cheap)."""
        raise NotImplementedError

    # --- schedules -------------------------------------------------------------

    def schedule_horizon(self) -> tuple[float | None, float]:
        """The earliest ``next_at`` of an unpaused schedule (None: there is none)
        and ``now()``, in one round trip: what every worker asks about once a
        second, so it must cost next to nothing when nothing is due."""
        raise NotImplementedError

    # --- workers ---------------------------------------------------------------

    def register_worker(self, row: WorkerRow) -> None:
        raise NotImplementedError

    def heartbeat(self, worker_id: str, jobs_done: int, jobs_failed: int) -> str | None:
        """Renew the heartbeat; returns the row's state, or None if the row is gone."""
        raise NotImplementedError

    def workers(self) -> list[WorkerRow]:
        raise NotImplementedError

    def delete_workers(self, ids: Sequence[str] | None) -> None:
        """Remove the given rows (None: every row)."""
        raise NotImplementedError

    def request_stop(self, worker_ids: Sequence[str] | None = None,
                     host: str | None = None) -> int:
        raise NotImplementedError

    # --- wake-ups --------------------------------------------------------------

    def wake(self) -> None:
        """Tell idle workers that new work is committed (best effort)."""
        raise NotImplementedError

    def waiter(self) -> Waiter:
        """A worker's wake-up end (SQLite: a doorbell; PostgreSQL: LISTEN)."""
        raise NotImplementedError

    # --- maintenance and change detection --------------------------------------

    def maintain(self) -> None:
        """A worker's periodic upkeep (SQLite: keep the WAL bounded)."""

    def vacuum(self) -> tuple[int, int]:
        """Give deleted rows' space back; returns the size in bytes before and after."""
        raise NotImplementedError

    def size(self) -> int:
        raise NotImplementedError

    def data_version(self) -> int:
        """A number that changes whenever anyone commits: the TUI's cheap check."""
        raise NotImplementedError

    def output_tail_columns(self, column: peewee.Field, tail: int) -> tuple:
        """Two select expressions for a text column: its last ``tail`` characters
        aliased "output", and its whole size in bytes aliased "output_bytes" (what
        `queuectl show` reads of a large output, computed in the database)."""
        raise NotImplementedError

    def iterate(self, query: peewee.Query) -> Iterator:
        """Stream a big query's rows without loading them all."""
        return iter(query.iterator())
