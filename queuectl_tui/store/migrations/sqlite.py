"""The SQLite schema, frozen: each version's DDL as it was, never today's models.

Why frozen: the old ``_migrate_to_1`` called ``create_tables`` with the models
of the day, so a new database got every column at "version 1" and the first
step that added a column failed on it (the ``doorbell`` check in step 3 was the
work-around). Here every step is the text that version's queuectl ran, read
back from git history and from files made by that code (tests/data/sqlite).

- ``STEPS[n]`` brings a version n-1 file to version n: a tuple of statements,
  or a function where files of version n-1 may differ.
- ``CREATE`` makes a new, empty file at ``SCHEMA_VERSION`` directly: the
  current schema written out, not the steps replayed (replaying would create
  and drop ``job_lease`` and store ``doorbell`` unquoted; the test checks that
  both roads give the same tables, columns and indexes).
- ``apply`` runs one or the other inside the caller's write transaction.

A new version appends a step, adds it to ``CREATE`` and gets a fixture file;
an old step is never edited. Pure module: no import of the store (it imports
this), no Peewee, no sqlite3: it only needs something that executes SQL.

History (versions as shipped on main; see tests/data/sqlite/README.md):
1. first release (d84406e): four tables by Peewee, runnable/lease/state/created indexes;
2. (ebb2cac) the lease index dropped;
3. (8875ec8, indexes as of a000f05) application id, ``worker.doorbell``, sort indexes;
4. the sort indexes of every version-3 file made the same (version 3 shipped
   with three different sets).
5. named queues (``queue_control``), dependencies (``dependency``, ``job.waiting``,
   ``job.dependents``, the ``job_unblock`` trigger), where a job runs (``job.cwd``,
   ``job.env``), unique jobs (``job.unique_key``), schedules (``schedule``), and
   each failed attempt's output (``attempt.output``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

SCHEMA_VERSION = 5
# PRAGMA application_id of every queuectl database ("QCTL"): set by step 3 and CREATE.
APPLICATION_ID = 0x5143544C


class Cursor(Protocol):
    def fetchall(self) -> list[Any]: ...


# What ``apply`` is given: one statement in, a cursor out. Both
# ``sqlite3.Connection.execute`` and Peewee's ``SqliteDatabase.execute_sql`` fit.
Execute = Callable[[str], Cursor]
Step = tuple[str, ...] | Callable[[Execute], None]

# --- Version 1: the tables exactly as Peewee created them from the first models.
_JOB = (
    'CREATE TABLE "job" ("id" TEXT NOT NULL PRIMARY KEY, "command" TEXT NOT NULL,'
    ' "state" TEXT NOT NULL, "queue" TEXT NOT NULL, "priority" INTEGER NOT NULL,'
    ' "attempts" INTEGER NOT NULL, "max_retries" INTEGER NOT NULL, "timeout" REAL,'
    ' "run_at" REAL NOT NULL, "created_at" REAL NOT NULL, "updated_at" REAL NOT NULL,'
    ' "started_at" REAL, "finished_at" REAL, "worker_id" TEXT, "lease_expires_at" REAL,'
    ' "exit_code" INTEGER, "last_error" TEXT, "output" TEXT)'
)
_ATTEMPT = (
    'CREATE TABLE "attempt" ("id" INTEGER NOT NULL PRIMARY KEY, "job_id" TEXT NOT NULL,'
    ' "number" INTEGER NOT NULL, "worker_id" TEXT, "started_at" REAL,'
    ' "finished_at" REAL NOT NULL, "exit_code" INTEGER, "error" TEXT, "retry_at" REAL,'
    ' FOREIGN KEY ("job_id") REFERENCES "job" ("id") ON DELETE CASCADE)'
)
_ATTEMPT_JOB_ID = 'CREATE INDEX "attempt_job_id" ON "attempt" ("job_id")'
_SETTING = 'CREATE TABLE "setting" ("key" TEXT NOT NULL PRIMARY KEY, "value" TEXT NOT NULL)'
_WORKER_COLUMNS = (
    '"id" TEXT NOT NULL PRIMARY KEY, "pid" INTEGER NOT NULL, "hostname" TEXT NOT NULL,'
    ' "owner" TEXT NOT NULL, "state" TEXT NOT NULL, "started_at" REAL NOT NULL,'
    ' "heartbeat_at" REAL NOT NULL, "jobs_done" INTEGER NOT NULL,'
    ' "jobs_failed" INTEGER NOT NULL'
)
# The claim's index: its WHERE must stay textually the claim's (a partial index
# is used only when the query's WHERE implies it literally; see store).
_JOB_RUNNABLE = (
    "CREATE INDEX job_runnable ON job (priority DESC, run_at, created_at)"
    " WHERE state IN ('pending', 'failed')"
)
_JOB_STATE_CREATED = "CREATE INDEX job_state_created ON job (state, created_at)"
_JOB_CREATED = "CREATE INDEX job_created ON job (created_at)"

_TO_1: tuple[str, ...] = (
    _JOB, _ATTEMPT, _ATTEMPT_JOB_ID, _SETTING, f'CREATE TABLE "worker" ({_WORKER_COLUMNS})',
    _JOB_RUNNABLE,
    "CREATE INDEX job_lease ON job (lease_expires_at) WHERE state = 'processing'",
    _JOB_STATE_CREATED,
    _JOB_CREATED,
)

# --- Version 2: every claim, finish and renewal maintained the lease index, for
# a lookup the state index answers cheaply (only a handful of jobs run at once).
_TO_2: tuple[str, ...] = ("DROP INDEX IF EXISTS job_lease",)

# --- Version 3: the sorts the TUI offers (queue.SORT_COLUMNS), chosen against the
# hot path: an index whose columns a claim or a finish changes (state, attempts,
# updated_at) adds pages to every commit, and so to the WAL (8 such indexes
# tripled the WAL written per job). So:
# - the DLQ pane (state = 'dead', every sort): partial indexes; a row enters them
#   only when it dies, so they cost the hot path nothing. SQLite uses a partial
#   index for ``state = ?`` when the bound value matches (it re-prepares per value);
# - the Jobs pane without a state filter: priority and run_at (columns that do not
#   change while a job runs); created_at, state and id sorts use job_created,
#   job_state_created and the primary key;
# - not indexed: updated_at and attempts (every claim or finish changes them: an
#   index on updated_at alone added ~25% to the WAL per job), and sorts other than
#   created within a state other than dead: these sort the state's rows in a
#   temporary B-tree (see README). created_at is the tie-breaker JobQueue.page adds.
# "IF NOT EXISTS" as shipped; SQLite stores the text without it.
_SORT_INDEXES: tuple[str, ...] = (
    "CREATE INDEX IF NOT EXISTS job_priority ON job (priority, created_at)",
    "CREATE INDEX IF NOT EXISTS job_run_at ON job (run_at, created_at)",
    *(f"CREATE INDEX IF NOT EXISTS job_dead_{name} ON job (state, {column}, created_at)"
      " WHERE state = 'dead'"
      for name, column in (("updated", "updated_at"), ("priority", "priority"),
                           ("attempts", "attempts"), ("run_at", "run_at"), ("id", "id"))),
)


def _to_3(execute: Execute) -> None:
    """The application id marks the file as ours, ``doorbell`` holds each
    worker's wake-up address, the sort indexes keep the TUI's pages index-ordered.

    A function, as it shipped: it adds ``doorbell`` only where it is missing,
    because the old step 1 created tables from the current models. Every file
    committed at version 1 or 2 lacks it (the column came with version 3, and a
    new file went 0 -> 3 in one transaction), but the check is what ran.
    """
    execute(f"PRAGMA application_id = {APPLICATION_ID}")
    columns = {row[1] for row in execute("PRAGMA table_info(worker)").fetchall()}
    if "doorbell" not in columns:
        execute("ALTER TABLE worker ADD COLUMN doorbell TEXT")
    for statement in _SORT_INDEXES:
        execute(statement)


# --- Version 4: version 3 shipped with three sets of sort indexes (8875ec8's
# eight on updated_at, priority, attempts and run_at with and without state;
# 409db57's, without job_dead_id; a000f05's, step 3 above), and a file at
# version 3 keeps the set it was made with. The first set costs every claim
# and finish (the WAL per job); both early sets lack DLQ sort indexes. Every
# statement is idempotent, so one step serves all three.
_TO_4: tuple[str, ...] = (
    *(f"DROP INDEX IF EXISTS {name}"
      for name in ("job_state_updated", "job_updated", "job_state_priority",
                   "job_state_attempts", "job_attempts", "job_state_run_at")),
    *_SORT_INDEXES,
)

# --- Version 5: the workflow features (named queues with caps and pause,
# dependencies, cwd/env, unique jobs, schedules, each attempt's output).
#
# Dependencies: ``waiting`` counts a job's unmet ``dependency`` edges, and the
# claim's partial index holds only jobs with ``waiting = 0``, so a waiting job
# costs a claim nothing. An edge is met once, when its job first completes
# (``met``): a restarted dependency that completes again frees nobody twice.
# ``dependents`` counts the edges pointing at a job, so the trigger that meets
# them fires only for the rare job that has any, never for a plain ``true``.
_JOB_COLUMNS_5 = ('"cwd" TEXT', '"env" TEXT', '"waiting" INTEGER NOT NULL DEFAULT 0',
                  '"dependents" INTEGER NOT NULL DEFAULT 0', '"unique_key" TEXT')
_DEPENDENCY = (
    'CREATE TABLE "dependency" ("job_id" TEXT NOT NULL, "after_id" TEXT NOT NULL,'
    ' "met" INTEGER NOT NULL DEFAULT 0, PRIMARY KEY ("job_id", "after_id"),'
    ' FOREIGN KEY ("job_id") REFERENCES "job" ("id") ON DELETE CASCADE) WITHOUT ROWID'
)
_DEPENDENCY_AFTER = 'CREATE INDEX "dependency_after" ON "dependency" ("after_id", "met")'
# One row per queue that has a cap or is paused (a queue exists by its jobs).
_QUEUE_CONTROL = (
    'CREATE TABLE "queue_control" ("name" TEXT NOT NULL PRIMARY KEY,'
    ' "concurrency" INTEGER NOT NULL DEFAULT 0, "paused" INTEGER NOT NULL DEFAULT 0)'
)
_SCHEDULE = (
    'CREATE TABLE "schedule" ("name" TEXT NOT NULL PRIMARY KEY, "cron" TEXT NOT NULL,'
    ' "command" TEXT NOT NULL, "queue" TEXT NOT NULL DEFAULT \'default\','
    ' "priority" INTEGER NOT NULL DEFAULT 0, "timeout" REAL, "max_retries" INTEGER,'
    ' "tz" TEXT, "cwd" TEXT, "env" TEXT, "paused" INTEGER NOT NULL DEFAULT 0,'
    ' "next_at" REAL NOT NULL, "last_at" REAL, "last_job_id" TEXT,'
    ' "created_at" REAL NOT NULL, "updated_at" REAL NOT NULL)'
)
_JOB_RUNNABLE_5 = (
    "CREATE INDEX job_runnable ON job (priority DESC, run_at, created_at)"
    " WHERE state IN ('pending', 'failed') AND waiting = 0"
)
# At most one live job per key: a job leaves the index when it finishes.
_JOB_UNIQUE_KEY = (
    "CREATE UNIQUE INDEX job_unique_key ON job (unique_key)"
    " WHERE unique_key IS NOT NULL AND state IN ('pending', 'failed', 'processing')"
)
_JOB_UNBLOCK = (
    "CREATE TRIGGER job_unblock AFTER UPDATE OF state ON job"
    " WHEN NEW.state = 'completed' AND OLD.state <> 'completed' AND NEW.dependents > 0"
    " BEGIN"
    " UPDATE job SET waiting = waiting - 1 WHERE id IN"
    " (SELECT job_id FROM dependency WHERE after_id = NEW.id AND met = 0);"
    " UPDATE dependency SET met = 1 WHERE after_id = NEW.id AND met = 0;"
    " END"
)
_TO_5: tuple[str, ...] = (
    *(f'ALTER TABLE "job" ADD COLUMN {column}' for column in _JOB_COLUMNS_5),
    'ALTER TABLE "attempt" ADD COLUMN "output" TEXT',
    _DEPENDENCY, _DEPENDENCY_AFTER, _QUEUE_CONTROL, _SCHEDULE,
    "DROP INDEX job_runnable", _JOB_RUNNABLE_5, _JOB_UNIQUE_KEY, _JOB_UNBLOCK,
)

STEPS: dict[int, Step] = {1: _TO_1, 2: _TO_2, 3: _to_3, 4: _TO_4, 5: _TO_5}

# A new database at SCHEMA_VERSION, in one go (same order as a file made by the
# shipped version 3, so sqlite_master lists the same objects in the same order).
CREATE: tuple[str, ...] = (
    f"PRAGMA application_id = {APPLICATION_ID}",
    _JOB[:-1] + "".join(f", {column}" for column in _JOB_COLUMNS_5) + ")",
    _ATTEMPT.replace(' "retry_at" REAL,', ' "retry_at" REAL, "output" TEXT,'),
    _ATTEMPT_JOB_ID, _SETTING,
    f'CREATE TABLE "worker" ({_WORKER_COLUMNS}, "doorbell" TEXT)',
    _JOB_STATE_CREATED, _JOB_CREATED,
    *_SORT_INDEXES,
    _DEPENDENCY, _DEPENDENCY_AFTER, _QUEUE_CONTROL, _SCHEDULE,
    _JOB_RUNNABLE_5, _JOB_UNIQUE_KEY, _JOB_UNBLOCK,
)


def run_step(execute: Execute, step: Step) -> None:
    """One step (or ``CREATE``), with no version bookkeeping: ``apply`` does that."""
    if callable(step):
        step(execute)
    else:
        for statement in step:
            execute(statement)


def apply(execute: Execute, current: int) -> None:
    """Bring a file at version ``current`` (0: empty) to ``SCHEMA_VERSION`` and
    set ``PRAGMA user_version``.

    ``execute`` runs one statement (``conn.execute``, ``db.execute_sql``). The
    caller holds the write transaction (``BEGIN IMMEDIATE``) and reads
    ``current`` inside it: another process may have upgraded the file just
    before, and SQLite's DDL and both pragmas are transactional, so a step
    either happens whole or not at all. A file newer than this code is the
    caller's to refuse with its message (it knows the path); here it is a
    ValueError, since running older steps on it would damage it.
    """
    if current < 0 or current > SCHEMA_VERSION:
        raise ValueError(f"schema {current}: this queuectl knows 0 to {SCHEMA_VERSION}")
    if current == SCHEMA_VERSION:
        return
    if current == 0:
        run_step(execute, CREATE)
    else:
        for version in range(current + 1, SCHEMA_VERSION + 1):
            run_step(execute, STEPS[version])
    execute(f"PRAGMA user_version = {int(SCHEMA_VERSION)}")
