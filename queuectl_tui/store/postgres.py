"""The PostgreSQL backend: workers on many machines sharing one database.

The driver is psycopg 3, behind the optional extra ``queuectl-tui[postgres]``.
queuectl imports Peewee with psycopg blocked, so that the SQLite path never
pays for importing the driver (~100 ms); this module imports psycopg when a
PostgreSQL URL is opened and fills in the names Peewee left None (``_load_driver``).

Time and skew. Every time that one host compares with another host's — a job's
``run_at`` (enqueue "now", retry backoff), a lease's expiry, a heartbeat, a
suspect mark — is computed inside the statement from the server's clock
(``now()``: the start of the statement's transaction, one instant for a whole
finish-and-claim), and every comparison with "now" is made there too. A host's
own clock is never written where another host reads it, so hosts whose clocks
disagree cannot steal each other's leases or hold back each other's retries;
only the server's clock matters, and it moves forward by NTP slewing like any
clock (a step of the server's clock shifts every lease by the same amount,
which at worst makes recovery early or late by the step). ``now()`` and
``clock()`` read that clock (a query; off the hot path); ``clock_epoch()`` is
None because the server's epoch clock does not restart with a host.

Reconnection. A dropped connection (server restart, ``pg_terminate_backend``,
network) fails the statement that finds it; the next operation outside a
transaction finds the connection closed and opens a new one, so a worker's
existing back-off loop carries on by itself.

Wake-ups. ``wake()`` sends ``NOTIFY queuectl_<database id>`` (delivered at commit
when sent inside a transaction); each worker's ``waiter()`` holds its own
autocommit connection that LISTENs, and ``wait`` selects on that socket and the
worker's signal fd. Polling stays the fallback when a notification is lost.
"""

from __future__ import annotations

import functools
import os
import select
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, NamedTuple

import peewee

from queuectl_tui.errors import StoreError
from queuectl_tui.store import POSTGRES_EXTRA_HINT
from queuectl_tui.store.base import ClaimedRow, LeaseRow, NewJob, Outcome, Waiter, WorkerRow
from queuectl_tui.store.migrations import postgres as migrations
from queuectl_tui.store.sql import SqlStorage, database_proxy

psycopg: Any = None  # the driver module, once ``_load_driver`` ran

SCHEMES = ("postgresql", "postgres")
DEFAULT_PORT = 5432
CONNECT_TIMEOUT = int(os.environ.get("QUEUECTL_PG_CONNECT_TIMEOUT", "10"))
APPLICATION_NAME = "queuectl"
# TCP keepalives: a server (or network) that vanished without closing the
# connection is noticed in about idle + interval * count seconds, instead of a
# statement (or a LISTEN) waiting on a dead socket for the kernel's two hours.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5,
              "keepalives_count": 3}
DATABASE_ID_KEY = "database_id"
# At most one "wakeup" per interval (as doorbell.MIN_RING_INTERVAL): a flood of
# NOTIFYs cannot turn into a storm of claim queries.
MIN_WAKE_INTERVAL = 0.01
# The LISTEN connection's reconnect back-off (seconds), doubled per failure, and
# its connect timeout: a reconnect happens inside ``wait``, which must not stop
# watching the worker's signal fd for long when the server is unreachable
# (libpq's smallest timeout is 2 s). At most a second between tries: an idle
# worker learns that the server is back from this connection (its first wait
# after a reconnect returns "wakeup", which also ends the worker's own back-off
# sleep), so this bounds how late it picks up work after an outage of any length;
# a refused try costs the server nothing.
LISTEN_BACKOFF = (0.05, 1.0)
LISTEN_CONNECT_TIMEOUT = 2
# SQLSTATEs worth retrying at once: lock_not_available, serialization_failure,
# deadlock_detected (a transaction lost a race; the next try succeeds).
BUSY_SQLSTATES = frozenset({"55P03", "40001", "40P01"})
DISK_FULL_SQLSTATE = "53100"


def _load_driver() -> Any:
    """Import psycopg and hand it to Peewee, which was imported without it.

    Peewee looks for psycopg once, when it is imported, and leaves ``psycopg``,
    ``TransactionStatus``, ``Json_pg3``/``Jsonb_pg3`` and the adapter's
    transaction-status constants None when the import failed (or was blocked, as
    queuectl does to keep the SQLite path fast). Filling them in afterwards is
    exactly the state Peewee would have reached had psycopg been importable."""
    global psycopg
    if psycopg is not None:
        return psycopg
    try:
        import psycopg as driver
        from psycopg.pq import TransactionStatus
        from psycopg.types.json import Json, Jsonb
    except ImportError:
        raise StoreError(POSTGRES_EXTRA_HINT) from None
    if peewee.psycopg is None:
        peewee.psycopg = driver
        peewee.TransactionStatus = TransactionStatus
        peewee.Json_pg3 = Json
        peewee.Jsonb_pg3 = Jsonb
    adapter = peewee.Psycopg3Adapter
    if adapter.txn_idle is None:
        adapter.txn_idle = TransactionStatus.IDLE
        adapter.txn_inerror = TransactionStatus.INERROR
        adapter.txn_unknown = TransactionStatus.UNKNOWN
    psycopg = driver
    return driver


# --- URLs -----------------------------------------------------------------------

class PgUrl(NamedTuple):
    """A parsed ``postgresql://user[:password]@host[:port]/dbname[?options]``."""

    user: str | None
    password: str | None
    host: str
    port: int
    dbname: str
    query: str  # the options, as given

    @property
    def conninfo(self) -> str:
        """What psycopg connects with (the password included)."""
        return self.render(mask=False)

    @property
    def where(self) -> str:
        """host:port/db, for error messages."""
        return f"{self.host or 'localhost'}:{self.port}/{self.dbname}"

    def render(self, mask: bool = True) -> str:
        auth = ""
        if self.user is not None:
            auth = urllib.parse.quote(self.user, safe="")
            if self.password is not None:
                auth += ":" + ("***" if mask else urllib.parse.quote(self.password, safe=""))
            auth += "@"
        query = self.query
        if mask and query:
            pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
            query = urllib.parse.urlencode(
                [(k, "***" if k.lower() == "password" else v) for k, v in pairs], safe="*")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return (f"postgresql://{auth}{host}:{self.port}/{urllib.parse.quote(self.dbname)}"
                + (f"?{query}" if query else ""))

    def secrets(self) -> list[str]:
        """Strings that must never be shown: the password, raw and URL-quoted."""
        found = [self.password] if self.password else []
        for key, value in urllib.parse.parse_qsl(self.query, keep_blank_values=True):
            if key.lower() == "password" and value:
                found.append(value)
        return [variant for secret in found
                for variant in {secret, urllib.parse.quote(secret, safe="")}]


def is_postgres_url(target: object) -> bool:
    """True for a ``postgresql://`` or ``postgres://`` URL (anything else is a path)."""
    text = os.fspath(target) if isinstance(target, os.PathLike) else target
    return isinstance(text, str) and text.split("://", 1)[0].lower() in SCHEMES \
        and "://" in text


def parse_url(url: str) -> PgUrl:
    """Parse a PostgreSQL URL; StoreError (with no password in it) when it is not one."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port or DEFAULT_PORT
    except ValueError:
        parsed = None
    else:
        parsed = parts
    if parsed is None or parsed.scheme.lower() not in SCHEMES:
        raise StoreError("not a PostgreSQL URL (expected postgresql://user[:password]"
                         "@host[:port]/dbname)")
    dbname = urllib.parse.unquote(parsed.path.lstrip("/"))
    if not dbname or "/" in dbname:
        raise StoreError("PostgreSQL URL without a database name (expected postgresql://"
                         "user[:password]@host[:port]/dbname)")
    unquote = urllib.parse.unquote
    return PgUrl(
        user=unquote(parsed.username) if parsed.username is not None else None,
        password=unquote(parsed.password) if parsed.password is not None else None,
        host=parsed.hostname or "",
        port=port,
        dbname=dbname,
        query=parsed.query,
    )


def mask_url(url: str, mask: bool = True) -> str:
    """The URL as shown to people: its password (in the authority or a
    ``password=`` option) as ``***``. Something that does not parse is shown
    as its scheme and ``...`` (it could hold anything)."""
    try:
        return parse_url(url).render(mask=mask)
    except StoreError:
        return url.split("://", 1)[0] + "://..." if mask else url


# --- Errors -----------------------------------------------------------------------

def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and what it wraps (Peewee wraps the driver's error)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend(arg for arg in current.args if isinstance(arg, BaseException))
        todo.extend((current.__cause__, current.__context__))


def _sqlstate(exc: BaseException) -> str | None:
    for current in _chain(exc):
        state = getattr(current, "sqlstate", None)
        if state:
            return state
    return None


def _first_line(exc: BaseException) -> str:
    """The driver's message, first line only (psycopg adds hints on later lines)."""
    for current in _chain(exc):
        text = str(current).strip()
        if text:
            return text.splitlines()[0].strip()
    return type(exc).__name__


def _connect_reason(exc: BaseException) -> str:
    """Why a connection failed, without libpq's repeated preamble."""
    line = _first_line(exc)
    if "failed: " in line:
        line = line.rsplit("failed: ", 1)[1]
    return line.replace("FATAL:  ", "").strip() or "connection failed"


# --- The Peewee database ------------------------------------------------------------

class _Database(peewee.PostgresqlDatabase):
    """Peewee's PostgreSQL database, reconnecting after the connection dropped.

    psycopg marks a connection whose server went away as closed; Peewee does not
    look, and would hand the dead connection out forever. Outside a transaction
    (never inside one: its work is lost, the caller must see the error) a closed
    connection is dropped and a new one opened on the next use."""

    # Statements run on every connection this database opens (a reconnect too):
    # PostgresStorage.for_worker puts the worker's hot-path settings here.
    session_sql: tuple[str, ...] = ()

    def _initialize_connection(self, conn) -> None:
        for sql in self.session_sql:
            conn.execute(sql)

    def _drop_if_broken(self) -> None:
        conn = self._state.conn
        if conn is not None and not self._state.closed and conn.closed \
                and not self.in_transaction():
            try:
                conn.close()
            except Exception:
                pass
            self._state.reset()

    def connection(self):
        self._drop_if_broken()
        return super().connection()

    def cursor(self, named_cursor=None):
        self._drop_if_broken()
        return super().cursor(named_cursor)


# --- The statements of the hot path (server clock: see the module docstring) --------

# The server's "now", epoch seconds. now(): the start of the transaction, so one
# finish-and-claim uses one instant; stable, so usable in an index condition.
NOW = "extract(epoch FROM now())::float8"

# One statement: the sub-select finds and locks the best runnable row, skipping
# rows other workers hold locked (SKIP LOCKED), through job_runnable in index
# order (no sort); the UPDATE takes it. Its parameters: the worker's id, the lease.
#
# A claim is always durable, even on a worker's connection (``for_worker``: commits
# that do not wait for the WAL flush): RETURNING, evaluated only for the row
# actually claimed, switches ``synchronous_commit`` back on for this transaction.
# A claim lost in a server crash would put its job back to pending while its
# worker runs it, and another worker could start it beside the first: that is the
# one loss we never trade for speed. A lost finish only makes a job run again
# later (at least once), so finishes that claim nothing stay asynchronous.
_DURABLE = "set_config('synchronous_commit', 'on', true)"


def _claim_sql(worker: str, lease: str) -> str:
    return (
        f"UPDATE job SET state = 'processing', attempts = attempts + 1, worker_id = {worker},"
        f" started_at = {NOW}, updated_at = {NOW}, finished_at = NULL,"
        f" lease_expires_at = {NOW} + {lease}::float8"
        f" WHERE id = (SELECT id FROM job WHERE state IN ('pending', 'failed')"
        f" AND waiting = 0 AND run_at <= {NOW} ORDER BY priority DESC, run_at, created_at"
        f" LIMIT 1 FOR UPDATE SKIP LOCKED)"
        f" RETURNING id, command, attempts, max_retries, timeout, started_at, cwd, env,"
        f" queue, {_DURABLE} AS durable"
    )


CLAIM_SQL = _claim_sql("%s", "%s")

# Every write by a worker to its job is fenced by (worker_id, attempts, state),
# as on SQLite: a late write after the job was taken back or cancelled changes nothing.
_FENCE = " WHERE id = %s AND worker_id = %s AND attempts = %s AND state = 'processing'"

# The output comes as str, or as bytes/bytearray of valid UTF-8 (runner._Tail.text),
# sent as bytea and turned into text by the server (no str of it built here).
_OUT_TEXT = "%s"
_OUT_BYTES = "convert_from(%s, 'UTF8')"

ATTEMPT_SQL = (
    "INSERT INTO attempt (job_id, number, worker_id, started_at, finished_at, exit_code,"
    " error, retry_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)

RELEASE_SQL = (
    "UPDATE job SET state = 'pending', attempts = attempts - 1, worker_id = NULL,"
    f" started_at = NULL, lease_expires_at = NULL, updated_at = {NOW}" + _FENCE
)

# A worker's running jobs other than the one it holds: claims whose answer was lost.
LOST_CLAIMS_SQL = (
    "UPDATE job SET state = 'pending', attempts = attempts - 1, worker_id = NULL,"
    f" started_at = NULL, lease_expires_at = NULL, updated_at = {NOW}"
    " WHERE worker_id = %s AND state = 'processing' AND id IS DISTINCT FROM %s"
)


@functools.cache
def finish_sql(failed: bool, out_bytes: bool, give_back: bool, claim: bool) -> str:
    """Finish-and-claim-next as ONE statement (autocommit: one transaction, one
    commit, one round trip instead of BEGIN, record, claim, COMMIT).

    Data-modifying CTEs: ``done`` records the run, fenced on (id, worker,
    attempts, processing); ``tried`` adds the attempt row of a failed run (only
    if ``done`` recorded it); ``lost`` gives back the claims whose answer was lost
    (see ``_give_back_lost_claims``); ``next`` claims the next job. Every CTE runs
    to completion whether or not the final SELECT reads it, all in one snapshot
    and at one ``now()``. In that snapshot the finished job is still
    'processing', so ``next`` cannot pick it, not even a failed job retried at
    once (run_at = now): it waits for the next claim, as it did when the claim
    was a second statement; the rows ``lost`` gives back wait likewise. No two
    CTEs touch one row (done: this job; lost: the worker's other running jobs;
    next: pending/failed rows). The answer is one row: the finish stamp (None
    when the run was not ours to record), the statement's now, and the next
    job's columns (None when nothing was claimed). Named parameters: id, worker,
    attempts, exit_code, output; failed: state, delay, error, started_at; claim:
    lease."""
    output = "convert_from(%(output)s, 'UTF8')" if out_bytes else "%(output)s"
    fence = ("WHERE id = %(id)s AND worker_id = %(worker)s AND attempts = %(attempts)s"
             " AND state = 'processing'")
    if failed:
        ctes = [
            f"done AS (UPDATE job SET state = %(state)s,"
            f" run_at = {NOW} + coalesce(%(delay)s::float8, 0), finished_at = {NOW},"
            f" updated_at = {NOW}, exit_code = %(exit_code)s, output = {output},"
            f" last_error = %(error)s, lease_expires_at = NULL {fence}"
            " RETURNING finished_at, run_at)",
            "tried AS (INSERT INTO attempt (job_id, number, worker_id, started_at,"
            " finished_at, exit_code, error, retry_at, output) SELECT %(id)s, %(attempts)s,"
            " %(worker)s, %(started_at)s, finished_at, %(exit_code)s, %(error)s,"
            f" CASE WHEN %(delay)s::float8 IS NULL THEN NULL ELSE run_at END, {output}"
            " FROM done)",
        ]
    else:
        ctes = [
            f"done AS (UPDATE job SET state = 'completed', finished_at = {NOW},"
            f" updated_at = {NOW}, exit_code = %(exit_code)s, output = {output},"
            f" last_error = NULL, lease_expires_at = NULL {fence} RETURNING finished_at)",
        ]
    if give_back:
        ctes.append(
            "lost AS (UPDATE job SET state = 'pending', attempts = attempts - 1,"
            f" worker_id = NULL, started_at = NULL, lease_expires_at = NULL,"
            f" updated_at = {NOW} WHERE worker_id = %(worker)s AND state = 'processing'"
            " AND id IS DISTINCT FROM %(id)s)")
    columns = ", ".join(["NULL"] * len(ClaimedRow._fields))
    source = ""
    if claim:
        ctes.append("next AS (" + _claim_sql("%(worker)s", "%(lease)s") + ")")
        columns = ", ".join(f"next.{field}" for field in ClaimedRow._fields)
        # (joined on ``durable`` so that the claim's RETURNING is surely evaluated)
        source = " LEFT JOIN next ON next.durable IS NOT NULL"
    return (f"WITH {', '.join(ctes)} SELECT (SELECT finished_at FROM done), {NOW},"
            f" {columns} FROM (VALUES (1)) AS one (x){source}")


# A record whose COMMIT reached the server but whose answer was lost: the job
# shows exactly this run's outcome under this worker (a take-back also leaves the
# worker's name, but no exit code and its own error).
RECORDED_SQL = (
    "SELECT finished_at, run_at FROM job WHERE id = %s AND worker_id = %s AND attempts = %s"
    " AND state = %s AND exit_code IS NOT DISTINCT FROM %s::int"
    " AND last_error IS NOT DISTINCT FROM %s::text"
)

RENEW_SQL = f"UPDATE job SET lease_expires_at = {NOW} + %s::float8" + _FENCE

# Suspect marks and take-backs, fenced on the exact lease value seen (as on SQLite).
SUSPECT_SQL = (f"UPDATE job SET lease_expires_at = -({NOW} + %s::float8)" + _FENCE
               + " AND lease_expires_at = %s")

RECOVER_SQL = (
    f"UPDATE job SET state = %s, run_at = {NOW} + coalesce(%s::float8, 0),"
    f" finished_at = {NOW}, updated_at = {NOW}, exit_code = NULL, output = NULL,"
    " last_error = %s, lease_expires_at = NULL" + _FENCE
    + " AND lease_expires_at = %s RETURNING finished_at, run_at"
)

# A negative (suspect) lease is below any clock reading: these find both kinds.
_EXPIRED = f"state = 'processing' AND lease_expires_at < {NOW}"
EXPIRED_SQL = ("SELECT id, attempts, max_retries, worker_id, started_at, lease_expires_at"
               f" FROM job WHERE {_EXPIRED}")
ALL_RUNNING_SQL = ("SELECT id, attempts, max_retries, worker_id, started_at,"
                   " lease_expires_at FROM job WHERE state = 'processing'"
                   " AND lease_expires_at IS NOT NULL")
ANY_EXPIRED_SQL = f"SELECT EXISTS (SELECT 1 FROM job WHERE {_EXPIRED})"
ANY_RUNNING_SQL = ("SELECT EXISTS (SELECT 1 FROM job WHERE state = 'processing')"
                   " OR EXISTS (SELECT 1 FROM worker)")

# Jobs go in as one statement per chunk of rows (arrays, one per column):
# twice as fast as a pipelined executemany, and one change-trigger call.
INSERT_JOBS_SQL = (
    "INSERT INTO job (id, command, state, queue, priority, attempts, max_retries, timeout,"
    " run_at, created_at, updated_at, cwd, env) SELECT id, command, 'pending', queue,"
    f" priority, 0, max_retries, timeout, coalesce(run_at, {NOW}), created_at, updated_at,"
    " cwd, env FROM unnest(%s::text[], %s::text[], %s::text[], %s::int[], %s::int[],"
    " %s::float8[], %s::float8[], %s::float8[], %s::float8[], %s::text[], %s::text[])"
    " AS t(id, command, queue, priority, max_retries, timeout, run_at, created_at, updated_at,"
    " cwd, env)"
)
INSERT_CHUNK = 10_000

CLOCK_SQL = "SELECT extract(epoch FROM clock_timestamp())::float8"
# What a worker asks about the schedules each second (ScheduleBook.fire_due).
SCHEDULE_HORIZON_SQL = ("SELECT (SELECT min(next_at) FROM schedule WHERE paused = 0),"
                        " extract(epoch FROM clock_timestamp())::float8")

SET_SETTING_SQL = ("INSERT INTO setting (key, value) VALUES (%s, %s)"
                   " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value")
ADD_SETTING_SQL = "INSERT INTO setting (key, value) VALUES (%s, %s) ON CONFLICT (key) DO NOTHING"

# A worker's row, replaced whole (as SQLite's INSERT OR REPLACE); the heartbeat
# is the server's clock, whatever the row says.
REGISTER_SQL = (
    "INSERT INTO worker (id, pid, hostname, owner, state, started_at, heartbeat_at,"
    f" jobs_done, jobs_failed, doorbell) VALUES (%s, %s, %s, %s, %s, %s, {NOW}, %s, %s, %s)"
    " ON CONFLICT (id) DO UPDATE SET pid = EXCLUDED.pid, hostname = EXCLUDED.hostname,"
    " owner = EXCLUDED.owner, state = EXCLUDED.state, started_at = EXCLUDED.started_at,"
    " heartbeat_at = EXCLUDED.heartbeat_at, jobs_done = EXCLUDED.jobs_done,"
    " jobs_failed = EXCLUDED.jobs_failed, doorbell = EXCLUDED.doorbell"
)
HEARTBEAT_SQL = (f"UPDATE worker SET heartbeat_at = {NOW}, jobs_done = %s, jobs_failed = %s"
                 " WHERE id = %s RETURNING state")
WORKERS_SQL = ("SELECT id, pid, hostname, owner, state, started_at, heartbeat_at, jobs_done,"
               " jobs_failed, doorbell FROM worker ORDER BY started_at, id")

# Moves whenever a statement changes a job, worker or setting row (see data_version).
DATA_VERSION_SQL = "SELECT last_value FROM queuectl_changes"


class PostgresStorage(SqlStorage):
    """One PostgreSQL database (see the module docstring for clocks and wake-ups).

    ``PostgresStorage(url)`` connects, creates or upgrades the schema and binds
    the models; StoreError (one line, no password) for a bad URL, a missing
    driver, an unreachable server, another program's database or a newer schema."""

    kind = "postgres"
    text_holds_nul = False

    def __init__(self, url: str):
        parsed = parse_url(url)
        driver = _load_driver()
        db = _Database(
            parsed.dbname, conninfo=parsed.conninfo, prefer_psycopg3=True,
            connect_timeout=CONNECT_TIMEOUT, application_name=APPLICATION_NAME, **KEEPALIVES,
        )
        where = f"PostgreSQL database {parsed.where}"
        try:
            db.connect()
        except (peewee.DatabaseError, peewee.InterfaceError, driver.Error) as exc:
            raise StoreError(_scrub(f"cannot connect to PostgreSQL at {parsed.where}: "
                                    f"{_connect_reason(exc)}", parsed)) from None
        try:
            conn = db.connection()
            version = migrations.read_version(conn, where)
            if version != migrations.SCHEMA_VERSION:
                migrations.check_version(version, where)
                migrations.upgrade(conn, where)
            row = conn.execute("SELECT value FROM setting WHERE key = %s",
                               (DATABASE_ID_KEY,)).fetchone()
        except (peewee.DatabaseError, peewee.InterfaceError, driver.Error) as exc:
            db.close()
            raise StoreError(_scrub(f"cannot open {where}: {_first_line(exc)}", parsed)) \
                from None
        except StoreError:
            db.close()
            raise
        self._parsed = parsed
        self.db = db
        self.database_id = row[0] if row else parsed.where
        # NOTIFY channels are per database already; the id also keeps apart two
        # queues in different schemas of one database.
        self.channel = "queuectl_" + "".join(c for c in self.database_id if c.isalnum())[:40]
        self.errors = (peewee.DatabaseError, peewee.InterfaceError, driver.Error, StoreError)
        self.integrity_errors = (peewee.IntegrityError, driver.errors.IntegrityError)
        # Workers whose last claim may have committed unseen (see claim).
        self._unsure: set[str] = set()
        # (worker, job, attempt) records whose try failed, maybe after committing.
        self._unsure_records: set[tuple[str, str, int]] = set()
        database_proxy.initialize(db)

    @classmethod
    def open(cls, url: str) -> PostgresStorage:
        """The same as ``PostgresStorage(url)`` (what scripts and older tests call)."""
        return cls(url)

    @property
    def location(self) -> str:
        return self._parsed.render(mask=True)

    @property
    def url(self) -> str:
        return self._parsed.conninfo

    def close(self) -> None:
        try:
            if self.db.in_transaction():
                return
            self.db.close()
        except (peewee.DatabaseError, peewee.InterfaceError, psycopg.Error):
            pass

    def still_there(self) -> bool:
        return True

    def for_worker(self) -> None:
        """A worker's connection commits without waiting for the WAL flush
        (``synchronous_commit = off``, on this connection only, and again on every
        reconnect); enqueue and the other commands keep durable commits.

        The durable COMMIT (an fsync on the server: 0.25-4 ms on a VM) was the
        largest cost of finish-and-claim; without the wait a worker doubles its
        jobs per second. It is the trade SQLite makes with ``synchronous=NORMAL``:
        a crash of any queuectl process loses nothing, and the database is never
        corrupted; a crash of the server (or its machine) loses the commits of
        its last ~0.6 s (3 x ``wal_writer_delay``). A lost finish leaves its job
        running under the dead lease: the recovery runs it again (at least once).
        A claim, though, is always durable (see ``_DURABLE``): a lost claim would
        put its job back to pending while its worker runs it, and another worker
        could start it beside the first."""
        self.db.session_sql = ("SET synchronous_commit = off",)
        if not self.db.is_closed():
            self._conn().execute(self.db.session_sql[0])

    def _conn(self):
        """The psycopg connection, reconnected if it dropped (outside a transaction)."""
        return self.db.connection()

    def _in_txn(self) -> bool:
        return self.db.in_transaction()

    @contextmanager
    def _txn(self):
        """A transaction for the hot path: plain BEGIN/COMMIT on the raw connection
        (Peewee's atomic() costs more than the statements), a savepoint inside
        a write() the caller holds."""
        if self._in_txn():
            with self.db.atomic():
                yield self.db.connection()
            return
        conn = self._conn()
        conn.execute("BEGIN")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            try:
                if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    conn.execute("ROLLBACK")
            except psycopg.Error:
                pass
            raise

    # --- transactions ----------------------------------------------------------

    def snapshot(self) -> AbstractContextManager:
        if self._in_txn():
            return self.db.atomic()
        # Peewee pastes the level into BEGIN TRANSACTION ISOLATION LEVEL ...
        return self.db.atomic(isolation_level="REPEATABLE READ READ ONLY")

    def is_busy(self, exc: BaseException) -> bool:
        return _sqlstate(exc) in BUSY_SQLSTATES

    def is_disk_full(self, exc: BaseException) -> bool:
        return _sqlstate(exc) == DISK_FULL_SQLSTATE

    def describe_error(self, exc: BaseException, prefix: str = "database error") -> str:
        if isinstance(exc, StoreError):
            return _scrub(str(exc), self._parsed)
        if self.is_disk_full(exc):
            return f"database or disk is full: {self.location}"
        line = _first_line(exc)
        if line.startswith(("connection failed", "connection to server")):
            # Reconnecting failed: the server is down or unreachable.
            return _scrub(f"cannot connect to PostgreSQL at {self._parsed.where}: "
                          f"{_connect_reason(exc)}", self._parsed)
        return _scrub(f"{prefix}: {line}", self._parsed)

    def after_error(self, exc: BaseException) -> None:
        """Drop a connection that the error left broken, so the next call reconnects."""
        self.db._drop_if_broken()

    # --- clocks ----------------------------------------------------------------

    def now(self) -> float:
        return self._conn().execute(CLOCK_SQL).fetchone()[0]

    def clock(self) -> float:
        return self.now()

    def clock_epoch(self) -> str | None:
        return None

    def schedule_horizon(self) -> tuple[float | None, float]:
        """The earliest due schedule and the server's clock in one round trip."""
        earliest, stamp = self._conn().execute(SCHEDULE_HORIZON_SQL).fetchone()
        return earliest, stamp

    # --- settings (its own connection: the models follow the store opened last) ---

    def settings(self) -> dict[str, str]:
        return dict(self._conn().execute("SELECT key, value FROM setting").fetchall())

    def setting(self, key: str) -> str | None:
        row = self._conn().execute("SELECT value FROM setting WHERE key = %s",
                                   (key,)).fetchone()
        return row[0] if row else None

    def set_setting(self, key: str, value: str) -> None:
        self._conn().execute(SET_SETTING_SQL, (key, value))

    def add_setting(self, key: str, value: str) -> None:
        self._conn().execute(ADD_SETTING_SQL, (key, value))

    # --- enqueue ---------------------------------------------------------------

    def insert_jobs(self, rows: Sequence[NewJob]) -> dict[str, str]:
        """All or none, in one transaction; run_at None: the server's now."""
        rows = [row if isinstance(row, NewJob) else NewJob(*row) for row in rows]
        if not rows:
            return {}
        if any(row.after or row.unique_key is not None for row in rows):
            rows = [row if row.run_at is not None else row._replace(run_at=row.updated_at)
                    for row in rows]  # updated_at: the server's clock (storage.now())
            with self.db.atomic():
                return self._insert_each(rows)
        with self._txn() as conn:
            for start in range(0, len(rows), INSERT_CHUNK):
                chunk = [row[:11] for row in rows[start:start + INSERT_CHUNK]]
                columns = [list(column) for column in zip(*chunk, strict=True)]
                conn.execute(INSERT_JOBS_SQL, columns)
        return {}

    # --- the worker's hot path -------------------------------------------------

    def claim(self, worker_id: str, lease_seconds: float) -> ClaimedRow | None:
        if worker_id in self._unsure:
            with self._txn() as conn:
                self._give_back_lost_claims(conn, worker_id, None)
                row = conn.execute(CLAIM_SQL, (worker_id, lease_seconds)).fetchone()
            self._unsure.discard(worker_id)
        else:
            try:
                row = self._conn().execute(CLAIM_SQL, (worker_id, lease_seconds)).fetchone()
            except BaseException:
                self._unsure.add(worker_id)
                raise
        return ClaimedRow(*row[:len(ClaimedRow._fields)]) if row else None

    def _give_back_lost_claims(self, conn, worker_id: str, keep: str | None) -> None:
        """After a claim whose answer was lost (the connection dropped after the
        server committed it, before the result arrived), the job is running
        under this worker's name with nobody running it. Only this worker
        (one job at a time) could have claimed under its id, so every running
        job of its name other than ``keep`` (the one it holds) is such a job:
        it goes back uncharged, instead of waiting a lease and costing an attempt."""
        conn.execute(LOST_CLAIMS_SQL, (worker_id, keep))

    def finish(self, job: ClaimedRow, worker_id: str, outcome: Outcome,
               claim_lease: float | None) -> tuple[bool, float, ClaimedRow | None]:
        key = (worker_id, job.id, job.attempts)
        try:
            result = self._finish(job, worker_id, outcome, claim_lease)
        except BaseException:
            self._unsure_records.add(key)  # the record may have committed
            if claim_lease is not None:  # and the claim with it
                self._unsure.add(worker_id)
            raise
        self._unsure_records.discard(key)
        self._unsure.discard(worker_id)
        return result

    def _finish(self, job: ClaimedRow, worker_id: str, outcome: Outcome,
                claim_lease: float | None) -> tuple[bool, float, ClaimedRow | None]:
        """One statement (``finish_sql``), autocommit: the record, the attempt row
        and the next claim commit together, in one round trip."""
        output, out = _storable_output(outcome.output)
        if outcome.error is not None and "\x00" in outcome.error:
            outcome = outcome._replace(error=outcome.error.replace("\x00", "\ufffd"))
        failed = outcome.state != "completed"
        params: dict[str, object] = {"id": job.id, "worker": worker_id,
                                     "attempts": job.attempts,
                                     "exit_code": outcome.exit_code, "output": output}
        if failed:
            params.update(state=outcome.state, delay=outcome.retry_delay,
                          error=outcome.error, started_at=job.started_at)
        if claim_lease is not None:
            params["lease"] = claim_lease
        sql = finish_sql(failed, out == _OUT_BYTES, worker_id in self._unsure,
                         claim_lease is not None)
        conn = self._conn()
        row = conn.execute(sql, params).fetchone()
        following = ClaimedRow(*row[2:]) if row[2] is not None else None
        recorded, stamp = row[0] is not None, row[1]
        if not recorded and (worker_id, job.id, job.attempts) in self._unsure_records:
            # The last try's COMMIT went through and only its answer was lost (the
            # connection dropped in between): that record stands, and is reported
            # as recorded rather than as "no longer this worker's".
            earlier = conn.execute(RECORDED_SQL, (job.id, worker_id, job.attempts,
                                                  outcome.state, outcome.exit_code,
                                                  outcome.error)).fetchone()
            if earlier is not None:
                recorded, stamp = True, earlier[0]
        # Not ours any more: the stamp is still the statement's instant.
        return recorded, stamp, following

    def release(self, job: ClaimedRow, worker_id: str) -> bool:
        cursor = self._conn().execute(RELEASE_SQL, (job.id, worker_id, job.attempts))
        return cursor.rowcount == 1

    def renew(self, job: ClaimedRow, worker_id: str, lease_seconds: float) -> bool:
        cursor = self._conn().execute(RENEW_SQL,
                                      (lease_seconds, job.id, worker_id, job.attempts))
        return cursor.rowcount == 1

    # --- lease recovery --------------------------------------------------------

    def any_expired(self) -> bool:
        return bool(self._conn().execute(ANY_EXPIRED_SQL).fetchone()[0])

    def expired(self, everything: bool = False) -> list[LeaseRow]:
        sql = ALL_RUNNING_SQL if everything else EXPIRED_SQL
        return [LeaseRow(*row) for row in self._conn().execute(sql).fetchall()]

    def mark_suspect(self, row: LeaseRow, grace_seconds: float) -> None:
        self._conn().execute(SUSPECT_SQL, (grace_seconds, row.id, row.worker_id,
                                           row.attempts, row.lease_expires_at))

    def take_back(self, row: LeaseRow, state: str, retry_delay: float | None,
                  error: str) -> bool:
        with self._txn() as conn:
            found = conn.execute(RECOVER_SQL, (state, retry_delay, error, row.id,
                                               row.worker_id, row.attempts,
                                               row.lease_expires_at)).fetchone()
            if found is None:
                return False  # renewed, or taken back meanwhile by another process
            conn.execute(ATTEMPT_SQL, (row.id, row.attempts, row.worker_id, row.started_at,
                                       found[0], None, error,
                                       found[1] if retry_delay is not None else None))
        return True

    def anything_running(self) -> bool:
        return bool(self._conn().execute(ANY_RUNNING_SQL).fetchone()[0])

    # --- workers ---------------------------------------------------------------

    def register_worker(self, row: WorkerRow) -> None:
        self._conn().execute(REGISTER_SQL, (row.id, row.pid, row.hostname, row.owner,
                                            row.state, row.started_at, row.jobs_done,
                                            row.jobs_failed, row.wakeup))

    def heartbeat(self, worker_id: str, jobs_done: int, jobs_failed: int) -> str | None:
        row = self._conn().execute(HEARTBEAT_SQL,
                                   (jobs_done, jobs_failed, worker_id)).fetchone()
        return row[0] if row else None

    def workers(self) -> list[WorkerRow]:
        return [WorkerRow(*row) for row in self._conn().execute(WORKERS_SQL).fetchall()]

    def delete_workers(self, ids: Sequence[str] | None) -> None:
        if ids is None:
            self._conn().execute("DELETE FROM worker")
        elif ids:
            self._conn().execute("DELETE FROM worker WHERE id = ANY(%s)", (list(ids),))

    def request_stop(self, worker_ids: Sequence[str] | None = None,
                     host: str | None = None) -> int:
        sql = "UPDATE worker SET state = 'stopping' WHERE state = 'running'"
        params: list[object] = []
        if worker_ids is not None:
            sql += " AND id = ANY(%s)"
            params.append(list(worker_ids))
        if host is not None:
            sql += " AND hostname = %s"
            params.append(host)
        return self._conn().execute(sql, params).rowcount

    # --- wake-ups --------------------------------------------------------------

    def wake(self) -> None:
        """NOTIFY the listening workers (inside a transaction: delivered at commit).
        Best effort: polling covers a lost notification."""
        try:
            self._conn().execute(f'NOTIFY "{self.channel}"')
        except self.errors:
            pass

    def waiter(self) -> PgWaiter:
        return PgWaiter(self._parsed.conninfo, self.channel)

    # --- maintenance and change detection --------------------------------------

    def vacuum(self) -> tuple[int, int]:
        """VACUUM cannot run inside a transaction: ours is autocommit between them."""
        if self._in_txn():
            raise StoreError("cannot vacuum inside a transaction")
        before = self.size()
        self._conn().execute("VACUUM job, attempt")
        return before, self.size()

    def size(self) -> int:
        return int(self._conn().execute(
            "SELECT pg_database_size(current_database())").fetchone()[0])

    def data_version(self) -> int:
        """The number of changing statements so far (sequence ``queuectl_changes``,
        drawn by triggers on job, worker and setting: see the migration).

        Why not the alternatives: a counter row bumped by triggers would make
        every claim and finish wait for the others' row lock, serializing the
        workers; ``pg_current_snapshot()`` costs the hot path nothing but moves
        with any write in any database on the server, so a TUI on a shared server
        would recount a million rows every tick; the statistics views are
        flushed up to seconds late. A sequence never waits, and the triggers
        measured no difference in claim+finish time (~0.7 ms a job, noise ±10%).
        The price: the number moves when the statement runs, just before its
        commit, so a reader that recounts in that instant sees the old rows; the
        next change (at the latest the next worker heartbeat) moves it again."""
        return int(self._conn().execute(DATA_VERSION_SQL).fetchone()[0])

    def iterate(self, query: peewee.Query) -> Iterator:
        """Stream a big query through a server-side cursor, 2,000 rows a fetch
        (a plain cursor makes libpq load the whole result first)."""
        sql, params = query.sql()
        conn = self._conn()
        in_txn = conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
        cursor = conn.cursor(name="queuectl_" + uuid.uuid4().hex, withhold=not in_txn)
        try:
            cursor.execute(sql, params)
            yield from query._get_cursor_wrapper(_Batched(cursor)).iterator()
        finally:
            try:
                cursor.close()
            except psycopg.Error:
                pass


class _Batched:
    """A server-side cursor as Peewee's cursor wrapper reads it (fetchone), fetched
    in batches: psycopg's own fetchone on a named cursor is a round trip per row."""

    BATCH = 2000

    def __init__(self, cursor):
        self._cursor = cursor
        self._rows: list = []
        self._done = False
        self.description = cursor.description

    def fetchone(self):
        if not self._rows and not self._done:
            self._rows = self._cursor.fetchmany(self.BATCH)
            self._rows.reverse()
            self._done = not self._rows
        return self._rows.pop() if self._rows else None

    def fetchmany(self, size: int = BATCH):
        rows = []
        while len(rows) < size and (row := self.fetchone()) is not None:
            rows.append(row)
        return rows

    def fetchall(self):
        return list(iter(self.fetchone, None))

    def close(self) -> None:
        self._cursor.close()


def _storable_output(output: str | bytes | bytearray | None) -> tuple[object, str]:
    """The output as the statement takes it. PostgreSQL's text cannot hold NUL, which
    a command may print: it is stored as U+FFFD (the SQLite path keeps it)."""
    if isinstance(output, (bytes, bytearray)):
        if b"\x00" in output:
            output = bytes(output).replace(b"\x00", "\ufffd".encode())
        return output, _OUT_BYTES
    if output is not None and "\x00" in output:
        output = output.replace("\x00", "\ufffd")
    return output, _OUT_TEXT


def _scrub(text: str, parsed: PgUrl) -> str:
    """One line, with every form of the password replaced by ***."""
    for secret in sorted(parsed.secrets(), key=len, reverse=True):
        text = text.replace(secret, "***")
    return " ".join(text.split("\n"))


# --- LISTEN ----------------------------------------------------------------------

class PgWaiter(Waiter):
    """A worker's LISTEN connection (its own, autocommit).

    ``wait`` selects on that connection's socket and ``wake_fd``, consumes the
    notifications that arrived, and returns "wakeup" at most once per
    MIN_WAKE_INTERVAL. If the connection drops, it is reopened with back-off
    inside ``wait`` (which never raises); the first wait after a reconnect
    returns "wakeup", since notifications may have been missed meanwhile."""

    name = None

    def __init__(self, conninfo: str, channel: str):
        self._conninfo = conninfo
        self._channel = channel
        self._conn: Any = None
        self._retry_at = 0.0
        self._backoff = LISTEN_BACKOFF[0]
        self._last_wake = -MIN_WAKE_INTERVAL
        self._owed = False  # a wake-up not yet returned (reconnected, or too soon)
        self._connect()
        self._owed = False  # nothing was missed before the first connection

    def _connect(self) -> bool:
        try:
            conn = psycopg.connect(self._conninfo, autocommit=True,
                                   connect_timeout=LISTEN_CONNECT_TIMEOUT,
                                   application_name=APPLICATION_NAME + " listen",
                                   **KEEPALIVES)
            conn.execute(f'LISTEN "{self._channel}"')
        except psycopg.Error:
            self._conn = None
            self._back_off()
            return False
        self._conn = conn
        self._backoff = LISTEN_BACKOFF[0]
        self._owed = True
        return True

    def _back_off(self) -> None:
        self._retry_at = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, LISTEN_BACKOFF[1])

    def _drop(self) -> None:
        self.close()
        self._back_off()

    def _drain(self, read: bool) -> bool:
        """Consume what arrived; True if a notification was among it."""
        pgconn = self._conn.pgconn
        if read:
            pgconn.consume_input()
        got = False
        while pgconn.notifies() is not None:
            got = True
        return got

    @property
    def connected(self) -> bool:
        return self._conn is not None

    def wait(self, seconds: float, wake_fd: int | None = None) -> str:
        deadline = time.monotonic() + seconds
        while True:
            now = time.monotonic()
            if self._conn is None and now >= self._retry_at:
                self._connect()
            if self._conn is not None and not self._owed:
                try:
                    self._owed = self._drain(read=False)
                except Exception:
                    self._drop()
            if self._owed and now >= self._last_wake + MIN_WAKE_INTERVAL:
                self._owed = False
                self._last_wake = now
                return "wakeup"
            if now >= deadline:
                return "timeout"
            until = deadline
            if self._owed:
                until = min(until, self._last_wake + MIN_WAKE_INTERVAL)
            if self._conn is None:
                until = min(until, self._retry_at)
            fds = [] if wake_fd is None else [wake_fd]
            listening = self._conn is not None and not self._owed
            if listening:
                fds.append(self._conn.pgconn.socket)
            try:
                readable, _, _ = select.select(fds, [], [], max(until - now, 0.0))
            except (OSError, ValueError):  # the socket went away under us
                self._drop()
                continue
            if wake_fd is not None and wake_fd in readable:
                return "signal"
            if listening and self._conn.pgconn.socket in readable:
                try:
                    self._owed = self._drain(read=True)
                except Exception:  # the server went away: reconnect with back-off
                    self._drop()

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
            self._conn = None


# --- Pickup latency --------------------------------------------------------------

_PING_CHILD = r"""
import sys, time
from queuectl_tui.store.postgres import PostgresStorage
storage = PostgresStorage.open(sys.argv[1])
for line in sys.stdin:
    sent = time.time()
    storage.wake()
    print(repr(sent), flush=True)
"""


def measure_wakeup_latency(url: str, tries: int = 200) -> dict[str, float]:
    """Pickup latency of an idle waiter woken by ``wake()`` from another process:
    the time from just before the NOTIFY to ``wait`` returning, in ms.

    The other process sends on request through a pipe, after the waiter has gone
    idle; times are wall-clock readings on this one machine."""
    storage = PostgresStorage.open(url)
    waiter = storage.waiter()
    child = subprocess.Popen([sys.executable, "-c", _PING_CHILD, url], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    samples = []
    try:
        assert child.stdin is not None and child.stdout is not None
        while waiter.wait(0.05) != "timeout":  # start idle
            pass
        for _ in range(tries):
            child.stdin.write("go\n")
            child.stdin.flush()
            result = waiter.wait(5.0)
            woke = time.time()
            sent = float(child.stdout.readline())
            if result == "wakeup":
                samples.append((woke - sent) * 1000)
            time.sleep(MIN_WAKE_INTERVAL)  # not coalesced with the last one
    finally:
        if child.stdin:
            child.stdin.close()
        child.wait(10)
        waiter.close()
        storage.close()
    samples.sort()
    return {
        "tries": tries,
        "woken": len(samples),
        "p50_ms": statistics.median(samples) if samples else float("nan"),
        "p99_ms": samples[min(len(samples) - 1, int(len(samples) * 0.99))] if samples
        else float("nan"),
        "max_ms": samples[-1] if samples else float("nan"),
        "host": socket.gethostname(),
    }
