"""The SQLite backend: one file on one machine.

Opening the file (and refusing what is not ours), the pragmas, the schema and
its upgrades, BEGIN IMMEDIATE, "database is locked" and full-disk handling, the
WAL's upkeep, the doorbell wake-ups and the fixed statements of the worker's
hot path. Leases and heartbeats are readings of this boot's monotonic clock
(``timeutil.lease_clock``): one machine, one clock.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Sequence

import peewee
from peewee import SqliteDatabase

from queuectl_tui import files
from queuectl_tui.errors import StoreError
from queuectl_tui.host import hostname
from queuectl_tui.store.base import ClaimedRow, LeaseRow, NewJob, Outcome, Waiter
from queuectl_tui.store.migrations import sqlite as migrations
from queuectl_tui.store.sql import SqlStorage, database_proxy
from queuectl_tui.timeutil import boot_id, lease_clock, now

# The schema is frozen in migrations/sqlite.py (one step per version, written out as
# it shipped, never taken from the models). APPLICATION_ID ("QCTL") is how a file is
# recognised as ours before anything is written (see _inspect).
SCHEMA_VERSION = migrations.SCHEMA_VERSION
APPLICATION_ID = migrations.APPLICATION_ID
# Tables a queuectl database of version 1 or 2 (before the application id) has.
QUEUECTL_TABLES = frozenset({"job", "attempt", "worker", "setting"})
# How long a statement waits for another process's lock before "database is locked".
BUSY_TIMEOUT_SECONDS = float(os.environ.get("QUEUECTL_BUSY_TIMEOUT", "30"))

# The indexes are in migrations/sqlite.py. The claim's ORDER BY must match
# job_runnable exactly, and the query must spell the same literal IN list: SQLite
# only uses a partial index when the query's WHERE implies the index's WHERE
# textually, and a bound parameter does not. The hot queries also name their
# index (INDEXED BY): without statistics the planner prefers job_state_created
# for the claim and sorts in a temporary B-tree.

# Largest WAL file kept after a checkpoint resets it (SQLite truncates it to this),
# and the size past which a worker forces a checkpoint (``checkpoint_if_large``).
# Workers look once a second, so the WAL peaks at this plus a second's writing
# (~20 MB at 1,000 jobs/s): about 30 MB measured with 8 and with 32 workers.
JOURNAL_SIZE_LIMIT = 4 * 1024 * 1024
WAL_CHECKPOINT_BYTES = int(os.environ.get("QUEUECTL_WAL_CHECKPOINT_BYTES", 8 * 1024 * 1024))
# A forced checkpoint waits this long for readers to leave the WAL (writers wait
# meanwhile), tries for at most CHECKPOINT_BUDGET seconds, and after failing
# leaves the WAL alone for CHECKPOINT_BACKOFF seconds (in this process).
CHECKPOINT_WAIT_MS = 100
CHECKPOINT_BUDGET = 0.3
CHECKPOINT_BACKOFF = 1.0
_next_checkpoint = 0.0
# SQLite's automatic checkpoint comes every 1000 pages (4 MB) of WAL. On a nearly
# full disk that is more than the free space: the WAL would never be reset and
# would fill any space freed. So it comes sooner, after a quarter of the free space.
AUTOCHECKPOINT_PAGES = 1000
MIN_AUTOCHECKPOINT_PAGES = 8


def open_database(path: str | os.PathLike[str], allow_shared: bool | None = None,
                  create: bool = True) -> SqliteDatabase:
    """Open (creating on first use, unless not ``create``) the database at ``path``
    and bind the models to it.

    Raises ``StoreError`` for anything that is not a queuectl database: a file
    that is not SQLite, one of another program, one written by a newer
    queuectl, a non-regular file (``/dev/null``), a dangling symlink, or (unless
    ``allow_shared``, default ``$QUEUECTL_ALLOW_SHARED``) a file or folder other
    users can write, except a sticky folder like ``/tmp`` where our SQLite side
    files are claimed first. Such a file is refused before a byte of it is written.
    """
    given = os.path.abspath(os.path.expanduser(os.fspath(path)))
    if allow_shared is None:
        allow_shared = files.allow_shared_from_env()
    path = files.resolve_database_path(given)
    if not create and not os.path.exists(path):
        raise StoreError(f"the database file {path} is gone; waiting for it")
    files.check_regular(path)
    if path != given:  # whoever can write the link's folder can swap the link
        files.check_private(given, allow_shared)
    sticky = files.check_private(path, allow_shared)
    try:
        files.create_private_file(path)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise StoreError(f"database or disk is full: {path}") from None
        raise StoreError(f"cannot create database {path}: {exc.strerror}") from None
    if sticky:  # /tmp and the like: our -wal/-shm exist before SQLite looks for them
        files.claim_sidecars(path)
    try:
        version = _inspect(path)
    except sqlite3.DatabaseError as exc:
        raise StoreError(describe_error(exc, path, "cannot open " + path)) from None
    db = SqliteDatabase(
        path,
        # synchronous=NORMAL: in WAL mode, no fsync per commit (see README: a power
        # loss may lose the last commits, never consistency). mmap: reading pages
        # another process just wrote costs no read() calls. journal_size_limit: a
        # WAL that a busy moment grew is cut back when a checkpoint resets it.
        pragmas=[("synchronous", "NORMAL"), ("foreign_keys", 1), ("mmap_size", 268435456),
                 ("journal_size_limit", JOURNAL_SIZE_LIMIT)],
        timeout=BUSY_TIMEOUT_SECONDS,
        lock_type="IMMEDIATE",  # every write transaction takes the lock up front
    )
    try:
        db.connect()
        database_proxy.initialize(db)
        # WAL first: a process killed while creating the schema then leaves an
        # uncommitted WAL, not a hot rollback journal that a read-only look at
        # the file (``_inspect``) could not roll back.
        if db.execute_sql("PRAGMA journal_mode").fetchone()[0] != "wal":
            db.execute_sql("PRAGMA journal_mode = WAL")
        if sticky:  # a sidecar swapped in between the claim and SQLite's open
            files.claim_sidecars(path, create=False)
        if version != SCHEMA_VERSION:
            _upgrade(db, path)
        fit_checkpoints_to_free_space(db)
    except (peewee.DatabaseError, sqlite3.DatabaseError) as exc:
        db.close()
        raise StoreError(describe_error(exc, path, "cannot open " + path)) from None
    except StoreError:
        db.close()
        raise
    return db

def _inspect(path: str) -> int:
    """Decide, through a read-only connection, whether ``path`` is ours; returns its
    schema version (0: empty, to be created).

    Ours: the queuectl application id; or (written before version 3) no
    application id, version 1 or 2 and exactly our tables; or an empty file.
    Anything else is another program's, and is refused before we write.
    """
    uri = "file:" + urllib.parse.quote(path) + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_SECONDS)
    objects = 0
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if app_id == APPLICATION_ID and version >= 3:
            tables = QUEUECTL_TABLES  # the usual case: no need to read the schema
        else:
            tables = {name for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND name NOT LIKE 'sqlite_%'")}
            objects = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    finally:
        conn.close()
    if app_id == APPLICATION_ID:
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{path} was written by a newer queuectl (schema {version}, this one "
                f"knows {SCHEMA_VERSION}); upgrade queuectl"
            )
        return version
    if app_id == 0 and version == 0 and objects == 0:
        return 0  # an empty database: nothing in it to damage
    if app_id == 0 and version in (1, 2) and tables == QUEUECTL_TABLES:
        return version  # queuectl before version 3 (no application id yet)
    what = [f"application_id {app_id:#x}"] if app_id else []
    what.append(f"user_version {version}")
    what.append("tables: " + (", ".join(sorted(tables)[:5]) or "none"))
    raise StoreError(f"{path} is a SQLite database of another program ({'; '.join(what)});"
                     " refusing to touch it")


def _upgrade(db: SqliteDatabase, path: str) -> None:
    """Create or upgrade the schema (migrations/sqlite.py); safe when several
    processes race to do it."""
    with db.atomic():
        # Re-read under the write lock: another process may have just done it.
        current = db.execute_sql("PRAGMA user_version").fetchone()[0]
        if current > SCHEMA_VERSION:  # a newer queuectl got there first
            raise StoreError(
                f"{path} was written by a newer queuectl (schema {current}, this one "
                f"knows {SCHEMA_VERSION}); upgrade queuectl"
            )
        migrations.apply(db.execute_sql, current)


# --- Errors: what a failed statement means for the user ------------------------

_MASKING = ("cannot rollback - no transaction is active",
            "cannot commit - no transaction is active")


def root_error(exc: BaseException) -> BaseException:
    """The error that started it: when SQLite rolled a transaction back by itself
    (disk full, I/O error), ``atomic()``'s own rollback then fails with "cannot
    rollback - no transaction is active", which would hide the real cause."""
    seen = set()
    while str(exc) in _MASKING and exc.__context__ is not None and id(exc) not in seen:
        seen.add(id(exc))
        exc = exc.__context__
    return exc


def is_disk_full(exc: BaseException) -> bool:
    """SQLITE_FULL (or ENOSPC) anywhere in the error's chain."""
    seen = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if getattr(current, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
            return True
        if "database or disk is full" in str(current):
            return True
        if isinstance(current, OSError) and current.errno == errno.ENOSPC:
            return True
        current = current.__cause__ or current.__context__
    return False


def describe_error(exc: BaseException, path: str | None = None,
                   prefix: str = "database error") -> str:
    """One line for the user: "database or disk is full: PATH" for a full disk,
    else the root cause (never the masking rollback error)."""
    if path is None:
        path = bound_path()
    if is_disk_full(exc) or (_is_io_error(exc) and _no_free_space(path)):
        return f"database or disk is full: {path}"
    return f"{prefix}: {root_error(exc)}"


def _is_io_error(exc: BaseException) -> bool:
    # Creating the -shm file on a full disk fails as "disk I/O error", not SQLITE_FULL.
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None and exc.args and isinstance(exc.args[0], sqlite3.Error):
        code = getattr(exc.args[0], "sqlite_errorcode", None)  # Peewee's wrapper
    return code is not None and code & 0xFF == sqlite3.SQLITE_IOERR


def _no_free_space(path: str | None) -> bool:
    try:
        return os.statvfs(os.path.dirname(path or "") or ".").f_bavail == 0
    except OSError:
        return False


def bound_path() -> str | None:
    """The file of the database the models are bound to (None before ``open_store``)."""
    db = database_proxy.obj
    return getattr(db, "database", None) if isinstance(db, SqliteDatabase) else None


def relieve_full_disk(db: SqliteDatabase | None = None) -> None:
    """After a write failed on a full disk: move the WAL's pages into the database
    and truncate the WAL, so that freeing space (or this alone) lets the next
    write through. Without it the WAL, never reaching the auto-checkpoint size,
    stays as large as the free space allows and fills any space freed."""
    db = db or database_proxy.obj
    if not isinstance(db, SqliteDatabase):
        return
    try:
        db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        fit_checkpoints_to_free_space(db)
    except (peewee.DatabaseError, sqlite3.Error):
        pass


def fit_checkpoints_to_free_space(db: SqliteDatabase) -> None:
    """Set the automatic checkpoint to a quarter of the disk's free space (at most
    SQLite's 1000 pages), so a WAL is reset and reused before it can fill the disk."""
    try:
        fs = os.statvfs(os.path.dirname(db.database) or ".")
    except OSError:
        return
    page_size = 4096
    pages = fs.f_bavail * fs.f_frsize // page_size // 4
    pages = max(MIN_AUTOCHECKPOINT_PAGES, min(AUTOCHECKPOINT_PAGES, pages))
    db.connection().execute(f"PRAGMA wal_autocheckpoint = {int(pages)}")


def _wal_size(db: SqliteDatabase) -> int:
    try:
        return os.stat(db.database + "-wal").st_size
    except OSError:
        return 0


def checkpoint_if_large(db: SqliteDatabase, limit: int = WAL_CHECKPOINT_BYTES) -> bool:
    """Checkpoint and truncate the WAL once it is past ``limit`` bytes.

    SQLite's automatic checkpoint is passive, and a WAL is only reset once no
    reader is inside it: with many workers one always is, so the WAL grew without
    bound (150-355 MB after 20,000 jobs with 8 workers, never given back). A
    TRUNCATE checkpoint holds off new writers, waits for the readers to leave,
    and empties the file. Writers wait meanwhile, so the wait is short
    (CHECKPOINT_WAIT_MS a try, CHECKPOINT_BUDGET in all), and after a failure
    (a long read, such as a big listing, pins the WAL) this process leaves the
    WAL alone for CHECKPOINT_BACKOFF seconds. Another process's passive
    checkpoint makes a try fail at once (SQLite does not wait for that lock),
    hence the tries. Workers call this from their housekeeping; while the WAL
    is small it costs a stat() and a statvfs(). Returns True if it truncated.
    """
    global _next_checkpoint
    fit_checkpoints_to_free_space(db)
    if _wal_size(db) <= limit:
        return False
    started = time.monotonic()
    if started < _next_checkpoint:
        return False
    conn = db.connection()
    (previous,) = conn.execute("PRAGMA busy_timeout").fetchone()
    conn.execute(f"PRAGMA busy_timeout = {CHECKPOINT_WAIT_MS}")
    try:
        tries = 0
        while time.monotonic() - started < CHECKPOINT_BUDGET:
            (busy, _, _) = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if not busy:
                return True
            tries += 1
            time.sleep(0.001 * tries)
            if _wal_size(db) <= limit:  # another worker did it meanwhile
                return False
        _next_checkpoint = time.monotonic() + CHECKPOINT_BACKOFF
        return False
    except sqlite3.Error:
        return False
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(previous)}")


# --- The hot path: fixed statements, run on Peewee's sqlite3 connection. ---

CLAIM_SQL = (
    "UPDATE job SET state = 'processing', attempts = attempts + 1, worker_id = ?1,"
    " started_at = ?2, updated_at = ?2, finished_at = NULL, lease_expires_at = ?3"
    " WHERE id = (SELECT id FROM job INDEXED BY job_runnable"
    " WHERE state IN ('pending', 'failed') AND waiting = 0 AND run_at <= ?2"
    " ORDER BY priority DESC, run_at, created_at LIMIT 1)"
    " RETURNING id, command, attempts, max_retries, timeout, cwd, env, queue"
)


def _claimed(row: tuple, stamp: float) -> ClaimedRow:
    job_id, command, attempts, max_retries, timeout, cwd, env, queue = row
    return ClaimedRow(job_id, command, attempts, max_retries, timeout, stamp, cwd, env, queue)

# Every write by a worker to its job is fenced by (worker_id, attempts, state):
# if the lease was lost and the job taken back, or the job was cancelled, the
# late write changes nothing.
_FENCE = " WHERE id = ? AND worker_id = ? AND attempts = ? AND state = 'processing'"

# The output may come as valid UTF-8 bytes (large output: see runner._Tail.text);
# CAST stores them as TEXT without a str of the whole of it ever being built.
COMPLETE_SQL = (
    "UPDATE job SET state = 'completed', finished_at = ?, updated_at = ?, exit_code = ?,"
    " output = CAST(? AS TEXT), last_error = NULL, lease_expires_at = NULL" + _FENCE
)

FAIL_SQL = (
    "UPDATE job SET state = ?, run_at = ?, finished_at = ?, updated_at = ?, exit_code = ?,"
    " output = CAST(? AS TEXT), last_error = ?, lease_expires_at = NULL" + _FENCE
)

# Taking back a job whose lease ran out happens in two steps (see
# ``JobQueue.recover_expired``): first the lease is marked suspect, stored negated
# as -(deadline of a grace period); a worker that is alive but could not write
# (disk full) renews it, which clears the mark. Only a suspect lease whose grace has
# passed is taken back. Both steps are fenced like a worker's write, and on the exact
# lease value seen, so a renewal in between wins.
SUSPECT_SQL = "UPDATE job SET lease_expires_at = ?" + _FENCE + " AND lease_expires_at = ?"

RECOVER_SQL = FAIL_SQL + " AND lease_expires_at = ?"

RELEASE_SQL = (
    "UPDATE job SET state = 'pending', attempts = attempts - 1, worker_id = NULL,"
    " started_at = NULL, lease_expires_at = NULL, updated_at = ?" + _FENCE
)

RENEW_SQL = "UPDATE job SET lease_expires_at = ?" + _FENCE

ATTEMPT_SQL = (
    "INSERT INTO attempt (job_id, number, worker_id, started_at, finished_at, exit_code,"
    " error, retry_at, output) VALUES (?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS TEXT))"
)

# A negative (suspect) lease is below any clock reading: these find both kinds.
EXPIRED_SQL = (
    "SELECT id, attempts, max_retries, worker_id, started_at, lease_expires_at FROM job"
    " INDEXED BY job_state_created"
    " WHERE state = 'processing' AND lease_expires_at < ?"
)

ANY_EXPIRED_SQL = (
    "SELECT 1 FROM job INDEXED BY job_state_created"
    " WHERE state = 'processing' AND lease_expires_at < ? LIMIT 1"
)

ANY_RUNNING_SQL = (
    "SELECT 1 FROM job INDEXED BY job_state_created WHERE state = 'processing' LIMIT 1"
)
ANY_WORKER_SQL = "SELECT 1 FROM worker LIMIT 1"

BULK_INSERT_SQL = (
    "INSERT INTO job (id, command, state, queue, priority, attempts, max_retries, timeout,"
    " run_at, created_at, updated_at, cwd, env)"
    " VALUES (?, ?, 'pending', ?, ?, 0, ?, ?, ?, ?, ?, ?, ?)"
)

HEARTBEAT_SQL = (
    "UPDATE worker SET heartbeat_at = ?, jobs_done = ?, jobs_failed = ? WHERE id = ?"
    " RETURNING state"
)

DOORBELLS_SQL = "SELECT doorbell FROM worker WHERE hostname = ? AND doorbell IS NOT NULL"


def _file_identity(path: str) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


class DoorbellWaiter(Waiter):
    """A worker's doorbell (see doorbell.py) as the storage's ``Waiter``."""

    def __init__(self) -> None:
        from queuectl_tui.doorbell import Doorbell

        self.doorbell = Doorbell()
        self.name = self.doorbell.name

    def wait(self, seconds: float, wake_fd: int | None = None) -> str:
        result = self.doorbell.wait(seconds, wake_fd)
        return "wakeup" if result == "ring" else result

    def close(self) -> None:
        self.doorbell.close()


class SqliteStorage(SqlStorage):
    """One SQLite file. The hot-path methods run their fixed statements on
    Peewee's own sqlite3 connection: the ORM's wrapper would cost more than the
    statements themselves."""

    kind = "sqlite"
    # Peewee wraps the driver's errors; the hot path calls the driver directly.
    errors = (peewee.DatabaseError, sqlite3.Error, StoreError)
    integrity_errors = (peewee.IntegrityError, sqlite3.IntegrityError)

    def __init__(self, path: str | os.PathLike[str], allow_shared: bool | None = None,
                 create: bool = True):
        self.db = open_database(path, allow_shared, create)
        self.path: str = self.db.database
        self.busy_timeout = BUSY_TIMEOUT_SECONDS
        self._identity = _file_identity(self.path)
        self._version_conn: sqlite3.Connection | None = None
        self._version_lock = threading.Lock()

    # --- identity and lifetime -------------------------------------------------

    @property
    def location(self) -> str:
        return self.path

    @property
    def url(self) -> str:
        return self.path

    def close(self) -> None:
        if self._version_conn is not None:
            self._version_conn.close()
            self._version_conn = None
        self.db.close()

    def still_there(self) -> bool:
        """The worker's check that the file at the path is still the one it opened."""
        return _file_identity(self.path) == self._identity

    def for_worker(self) -> None:
        """No busy timeout on a worker's connection: SQLite's own busy handler sleeps
        whole milliseconds (1, 2, 5, 10 ...) when two workers collide, which on a
        busy queue costs more than the transaction itself; the worker retries a
        collision itself after tens of microseconds (``Worker._while_locked``)."""
        self.db.execute_sql("PRAGMA busy_timeout = 0")

    # --- transactions ----------------------------------------------------------

    def write(self):
        return self.db.atomic()  # BEGIN IMMEDIATE: the database's lock_type

    def snapshot(self):
        return self.db.atomic("DEFERRED")  # one snapshot, no write lock

    def is_busy(self, exc: BaseException) -> bool:
        if not isinstance(exc, peewee.OperationalError | sqlite3.OperationalError):
            return False
        text = str(exc)
        return "locked" in text or "busy" in text

    def is_disk_full(self, exc: BaseException) -> bool:
        return is_disk_full(exc)

    def describe_error(self, exc: BaseException, prefix: str = "database error") -> str:
        return describe_error(exc, self.path, prefix)

    def after_error(self, exc: BaseException) -> None:
        if is_disk_full(exc):
            relieve_full_disk(self.db)  # so that freeing space is enough to go on

    # --- clocks ----------------------------------------------------------------

    def now(self) -> float:
        return now()

    def clock(self) -> float:
        return lease_clock()

    def clock_epoch(self) -> str | None:
        return boot_id()

    def output_tail_columns(self, column: peewee.Field, tail: int) -> tuple:
        # A negative start counts from the end; a BLOB's length is in bytes.
        return (peewee.fn.substr(column, -tail).alias("output"),
                peewee.fn.length(column.cast("BLOB")).coerce(False).alias("output_bytes"))

    # --- enqueue ---------------------------------------------------------------

    def insert_jobs(self, rows: Sequence[NewJob]) -> dict[str, str]:
        # run_at None: now, the enqueue's own stamp (updated_at), on this one clock.
        rows = [row if isinstance(row, NewJob) else NewJob(*row) for row in rows]
        rows = [row if row.run_at is not None else row._replace(run_at=row.updated_at)
                for row in rows]
        with self.db.atomic():
            if any(row.after or row.unique_key is not None for row in rows):
                return self._insert_each(rows)
            self.db.cursor().executemany(BULK_INSERT_SQL, [row[:11] for row in rows])
        return {}

    # --- the worker's hot path -------------------------------------------------

    def claim(self, worker_id: str, lease_seconds: float) -> ClaimedRow | None:
        """One UPDATE ... RETURNING: SQLite runs it under its single write lock, so
        the sub-select and the update see the same snapshot and no other worker
        can pick the same row in between."""
        stamp = now()
        rows = self.db.connection().execute(
            CLAIM_SQL, (worker_id, stamp, lease_clock() + lease_seconds)
        ).fetchall()  # to the end: the change commits when the statement finishes
        return _claimed(rows[0], stamp) if rows else None

    def finish(self, job: ClaimedRow, worker_id: str, outcome: Outcome,
               claim_lease: float | None) -> tuple[bool, float, ClaimedRow | None]:
        """One write transaction per job instead of two: on the hot path the commit
        is the largest cost after spawning the command."""
        stamp = now()
        error = outcome.error
        if outcome.state == "completed":
            retry_at = None
            statement = COMPLETE_SQL
            params = (stamp, stamp, outcome.exit_code, outcome.output, job.id, worker_id,
                      job.attempts)
        else:
            retry_at = None if outcome.retry_delay is None else stamp + outcome.retry_delay
            statement = FAIL_SQL
            params = (outcome.state, retry_at or stamp, stamp, stamp, outcome.exit_code,
                      outcome.output, error, job.id, worker_id, job.attempts)
        conn = self.db.connection()
        following = None
        conn.execute("BEGIN IMMEDIATE")
        try:
            recorded = conn.execute(statement, params).rowcount == 1
            if recorded and error is not None:
                # Failed runs get an attempt row; a successful run is recorded on the
                # job row itself (worker, start, finish, exit code) and ``attempts``
                # adds it to the timeline. Under contention the extra row, with its
                # foreign-key check, cost ~40% of a job's database time.
                conn.execute(ATTEMPT_SQL, (job.id, job.attempts, worker_id, job.started_at,
                                           stamp, outcome.exit_code, error, retry_at,
                                           outcome.output))
            if claim_lease is not None:
                rows = conn.execute(CLAIM_SQL,
                                    (worker_id, stamp, lease_clock() + claim_lease)).fetchall()
                if rows:
                    following = _claimed(rows[0], stamp)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return recorded, stamp, following

    def release(self, job: ClaimedRow, worker_id: str) -> bool:
        cursor = self.db.execute_sql(RELEASE_SQL, (now(), job.id, worker_id, job.attempts))
        return cursor.rowcount == 1

    def renew(self, job: ClaimedRow, worker_id: str, lease_seconds: float) -> bool:
        cursor = self.db.execute_sql(
            RENEW_SQL, (lease_clock() + lease_seconds, job.id, worker_id, job.attempts))
        return cursor.rowcount == 1

    # --- lease recovery --------------------------------------------------------

    def any_expired(self) -> bool:
        return self.db.execute_sql(ANY_EXPIRED_SQL, (lease_clock(),)).fetchone() is not None

    def expired(self, everything: bool = False) -> list[LeaseRow]:
        limit = float("inf") if everything else lease_clock()
        return [LeaseRow(*row) for row in self.db.execute_sql(EXPIRED_SQL, (limit,))]

    def mark_suspect(self, row: LeaseRow, grace_seconds: float) -> None:
        self.db.execute_sql(SUSPECT_SQL, (-(lease_clock() + grace_seconds), row.id,
                                          row.worker_id, row.attempts, row.lease_expires_at))

    def take_back(self, row: LeaseRow, state: str, retry_delay: float | None,
                  error: str) -> bool:
        stamp = now()
        retry_at = None if retry_delay is None else stamp + retry_delay
        with self.db.atomic():
            cursor = self.db.execute_sql(
                RECOVER_SQL,
                (state, retry_at or stamp, stamp, stamp, None, None, error,
                 row.id, row.worker_id, row.attempts, row.lease_expires_at),
            )
            if cursor.rowcount != 1:
                return False  # renewed, or recovered meanwhile by another process
            self.db.execute_sql(ATTEMPT_SQL, (row.id, row.attempts, row.worker_id,
                                              row.started_at, stamp, None, error, retry_at,
                                              None))
        return True

    def anything_running(self) -> bool:
        return any(self.db.execute_sql(sql).fetchone()
                   for sql in (ANY_RUNNING_SQL, ANY_WORKER_SQL))

    # --- workers ---------------------------------------------------------------

    def heartbeat(self, worker_id: str, jobs_done: int, jobs_failed: int) -> str | None:
        rows = self.db.execute_sql(
            HEARTBEAT_SQL, (lease_clock(), jobs_done, jobs_failed, worker_id)).fetchall()
        return rows[0][0] if rows else None

    # --- wake-ups --------------------------------------------------------------

    def wake(self) -> None:
        """Ring the idle workers on this machine (the doorbell reaches no other)."""
        from queuectl_tui import doorbell

        if not doorbell.SUPPORTED:
            return
        names = [name for (name,) in self.db.execute_sql(DOORBELLS_SQL, (hostname(),))]
        doorbell.ring(names)

    def waiter(self) -> Waiter:
        return DoorbellWaiter()

    # --- maintenance and change detection --------------------------------------

    def maintain(self) -> None:
        checkpoint_if_large(self.db)  # keep the WAL bounded (issue 9, item 8)

    def vacuum(self) -> tuple[int, int]:
        """VACUUM rewrites the whole file and holds the write lock while it runs."""
        before = self.size()
        self.db.execute_sql("VACUUM")
        # In WAL mode the rewritten pages go to the WAL first: fold them back in.
        self.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return before, self.size()

    def size(self) -> int:
        pages = self.db.execute_sql("PRAGMA page_count").fetchone()[0]
        return pages * self.db.execute_sql("PRAGMA page_size").fetchone()[0]

    def data_version(self) -> int:
        """SQLite's ``PRAGMA data_version`` is per connection (and blind to that
        connection's own commits), so it is read on one connection kept only for
        this, whichever thread asks, and that connection never writes."""
        with self._version_lock:
            if self._version_conn is None:
                self._version_conn = sqlite3.connect(
                    self.path, check_same_thread=False, isolation_level=None)
            return self._version_conn.execute("PRAGMA data_version").fetchone()[0]
