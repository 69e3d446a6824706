"""The SQLite store: Peewee models, opening the file, the schema and its upgrades.

Everything that knows SQL lives here. The models serve the admin commands and
the TUI; the per-job hot path (claim, complete, fail, lease renewal) uses the
fixed statements at the bottom of this module, because building those queries
through the ORM costs ~40x more than executing them (design: "Measured facts").
"""

from __future__ import annotations

import os
import sqlite3
import sys

import peewee
from peewee import (
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    SqliteDatabase,
    TextField,
)

from queuectl_tui.errors import StoreError

SCHEMA_VERSION = 2
# How long a statement waits for another process's lock before "database is locked".
BUSY_TIMEOUT_SECONDS = float(os.environ.get("QUEUECTL_BUSY_TIMEOUT", "30"))
STATES = ("pending", "processing", "completed", "failed", "dead", "cancelled")
FINISHED_STATES = ("completed", "dead", "cancelled")

# Models are bound to a database when a store is opened (see ``open_store``).
_unbound = peewee.DatabaseProxy()


class BaseModel(Model):
    class Meta:
        database = _unbound
        legacy_table_names = False


class Job(BaseModel):
    """A shell command to run, and everything known about its runs so far."""

    id = TextField(primary_key=True)
    command = TextField()
    state = TextField(default="pending")
    queue = TextField(default="default")
    priority = IntegerField(default=0)
    attempts = IntegerField(default=0)
    max_retries = IntegerField(default=3)
    timeout = FloatField(null=True)  # null = the job_timeout setting
    run_at = FloatField()  # earliest start: scheduling and backoff both use it
    created_at = FloatField()
    updated_at = FloatField()
    started_at = FloatField(null=True)
    finished_at = FloatField(null=True)
    worker_id = TextField(null=True)
    lease_expires_at = FloatField(null=True)
    exit_code = IntegerField(null=True)
    last_error = TextField(null=True)
    output = TextField(null=True)


class Attempt(BaseModel):
    """One execution of a job: the timeline the detail views show."""

    job = ForeignKeyField(Job, backref="attempt_rows", on_delete="CASCADE")
    number = IntegerField()
    worker_id = TextField(null=True)
    started_at = FloatField(null=True)
    finished_at = FloatField()
    exit_code = IntegerField(null=True)
    error = TextField(null=True)
    retry_at = FloatField(null=True)  # when the job was rescheduled to, after a failure


class Worker(BaseModel):
    """A live worker process, registered so any shell can list and stop it."""

    id = TextField(primary_key=True)
    pid = IntegerField()
    hostname = TextField()
    owner = TextField(default="cli")  # "cli" or "tui:<pid>": who embeds it
    state = TextField(default="running")  # running / stopping
    started_at = FloatField()
    heartbeat_at = FloatField()
    jobs_done = IntegerField(default=0)
    jobs_failed = IntegerField(default=0)


class Setting(BaseModel):
    """One configuration value, stored as text and validated by ``config``."""

    key = TextField(primary_key=True)
    value = TextField()


MODELS = (Job, Attempt, Worker, Setting)

# The claim's ORDER BY must match job_runnable exactly, and the query must spell
# the same literal IN list: SQLite only uses a partial index when the query's
# WHERE implies the index's WHERE textually, and a bound parameter does not.
# The hot queries also name their index (INDEXED BY): without statistics the
# planner prefers job_state_created for the claim and sorts in a temporary B-tree.
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS job_runnable ON job (priority DESC, run_at, created_at)"
    " WHERE state IN ('pending', 'failed')",
    "CREATE INDEX IF NOT EXISTS job_state_created ON job (state, created_at)",
    "CREATE INDEX IF NOT EXISTS job_created ON job (created_at)",
)


def _migrate_to_1(db: SqliteDatabase) -> None:
    db.create_tables(MODELS, safe=True)
    for statement in _INDEXES:
        db.execute_sql(statement)


def _migrate_to_2(db: SqliteDatabase) -> None:
    # Version 1 kept a partial index on running jobs' leases. Every claim, finish
    # and lease renewal had to maintain it, for a lookup that the state index
    # already answers cheaply (only a handful of jobs are ever running).
    db.execute_sql("DROP INDEX IF EXISTS job_lease")


# version -> function that brings a database from version-1 to version.
MIGRATIONS = {1: _migrate_to_1, 2: _migrate_to_2}


def default_path() -> str:
    """The per-user database: ``$QUEUECTL_DB`` is handled by the CLI, not here.

    On Linux the XDG rule is applied directly (what platformdirs computes, and
    a test checks they agree): importing platformdirs costs ~8 ms, a sixth of
    a `queuectl status`.
    """
    if sys.platform == "linux":
        base = os.environ.get("XDG_DATA_HOME", "").strip() or os.path.expanduser(
            "~/.local/share"
        )
        return os.path.join(base, "queuectl", "queuectl.db")
    import platformdirs

    return os.path.join(platformdirs.user_data_dir("queuectl", appauthor=False), "queuectl.db")


def _create_private_file(path: str) -> None:
    """Make the file (and missing parents) readable by its owner only."""
    os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def open_store(path: str | os.PathLike[str]) -> SqliteDatabase:
    """Open (creating on first use) the database at ``path`` and bind the models.

    Raises ``StoreError`` for a file that is not a SQLite database, belongs to
    another program, or was written by a newer queuectl; such a file is left
    exactly as it was.
    """
    path = os.path.abspath(os.path.expanduser(os.fspath(path)))
    if os.path.isdir(path):
        raise StoreError(f"{path} is a directory, not a database file")
    try:
        _create_private_file(path)
    except OSError as exc:
        raise StoreError(f"cannot create database {path}: {exc.strerror}") from None
    db = SqliteDatabase(
        path,
        # synchronous=NORMAL: in WAL mode, no fsync per commit (see README: a power
        # loss may lose the last commits, never consistency). mmap: reading pages
        # another process just wrote costs no read() calls.
        pragmas=[("synchronous", "NORMAL"), ("foreign_keys", 1), ("mmap_size", 268435456)],
        timeout=BUSY_TIMEOUT_SECONDS,
        lock_type="IMMEDIATE",  # every write transaction takes the lock up front
    )
    try:
        db.connect()
        _unbound.initialize(db)
        version = db.execute_sql("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            _upgrade(db, path, version)
        if db.execute_sql("PRAGMA journal_mode").fetchone()[0] != "wal":
            db.execute_sql("PRAGMA journal_mode = WAL")
    except (peewee.DatabaseError, sqlite3.DatabaseError) as exc:
        db.close()
        raise StoreError(f"cannot open {path}: {exc}") from None
    except StoreError:
        db.close()
        raise
    return db


def _upgrade(db: SqliteDatabase, path: str, version: int) -> None:
    """Create or upgrade the schema; safe when several processes race to do it."""
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} was written by a newer queuectl (schema {version}, this one "
            f"knows {SCHEMA_VERSION}); upgrade queuectl"
        )
    if version == 0:
        foreign = set(db.get_tables()) - {m._meta.table_name for m in MODELS}
        if foreign:
            raise StoreError(
                f"{path} is a SQLite database of another program "
                f"(tables: {', '.join(sorted(foreign)[:5])}); refusing to touch it"
            )
    with db.atomic():
        # Re-read under the write lock: another process may have just done it.
        current = db.execute_sql("PRAGMA user_version").fetchone()[0]
        for target in range(current + 1, SCHEMA_VERSION + 1):
            MIGRATIONS[target](db)
            db.execute_sql(f"PRAGMA user_version = {int(target)}")


# --- The hot path: fixed statements, executed through the Peewee database. ---

CLAIM_SQL = (
    "UPDATE job SET state = 'processing', attempts = attempts + 1, worker_id = ?1,"
    " started_at = ?2, updated_at = ?2, finished_at = NULL, lease_expires_at = ?3"
    " WHERE id = (SELECT id FROM job INDEXED BY job_runnable"
    " WHERE state IN ('pending', 'failed') AND run_at <= ?2"
    " ORDER BY priority DESC, run_at, created_at LIMIT 1)"
    " RETURNING id, command, attempts, max_retries, timeout"
)

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
    " error, retry_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
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

# The database's identity: a random id kept in a reserved ``setting`` row (not a
# config key: ``config`` neither lists nor accepts it), created by the first worker.
# Job processes carry it (QUEUECTL_DB_ID), so a take-back kills only this
# database's strays, never a job with the same id in another queue.
DATABASE_ID_KEY = "database_id"
ENSURE_DATABASE_ID_SQL = "INSERT OR IGNORE INTO setting (key, value) VALUES (?, ?)"
SETTING_SQL = "SELECT value FROM setting WHERE key = ?"
SET_SETTING_SQL = "INSERT OR REPLACE INTO setting (key, value) VALUES (?, ?)"

# The boot whose monotonic clock the leases and heartbeats were read from (another
# reserved ``setting`` row): readings of an earlier boot mean nothing now.
LEASE_BOOT_KEY = "lease_boot"
ANY_RUNNING_SQL = (
    "SELECT 1 FROM job INDEXED BY job_state_created WHERE state = 'processing' LIMIT 1"
)
ANY_WORKER_SQL = "SELECT 1 FROM worker LIMIT 1"
FORGET_WORKERS_SQL = "DELETE FROM worker"

BULK_INSERT_SQL = (
    "INSERT INTO job (id, command, state, queue, priority, attempts, max_retries, timeout,"
    " run_at, created_at, updated_at) VALUES (?, ?, 'pending', ?, ?, 0, ?, ?, ?, ?, ?)"
)
