"""Shared fixtures: a temporary database, the real `queuectl` command, real workers.

Every test that starts processes cleans up after itself: supervisors are
stopped (then killed), and any worker still registered in the test's
database is killed by pid, so nothing outlives the test.

Backends: the ``backend`` fixture is the test's database target (a SQLite file
in ``tmp_path``, or a PostgreSQL URL), and ``db_path``, ``queue``, ``cli``,
``fast_cli`` and ``tui`` follow it. A module (or test) that runs on both says
so in one line, ``pytestmark = pytest.mark.backends``: its tests are then
parametrised ``[sqlite]``/``[postgres]`` (by ``pytest_generate_tests`` below, not
a fixture-level ``params``, so modules that have not opted in keep their test
ids, which name the TUI snapshots). ``@pytest.mark.sqlite_only`` keeps one test
of such a module on SQLite (file deletion, permissions, disk full, WAL, PRAGMAs).

PostgreSQL: one fresh database per test module on the server of
``QUEUECTL_TEST_PG`` (``tests/pg.py``), dropped at the module's end; each test
then starts from an empty schema (``DROP SCHEMA public CASCADE``: ~20 ms against
~200 ms for CREATE + DROP DATABASE), so the first open creates the tables, the
database identity row and the change sequence exactly as on a new database.
Without a server the PostgreSQL half skips with the reason in the summary.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from queuectl_tui.queue import JobQueue
from tests.pg import (
    SKIP_REASON,
    drop_database,
    fresh_database,
    pg_database,  # noqa: F401 (the fixture, for the backend fixture)
    pg_url,
)

# pytest-xdist's workers inherit COLUMNS=80 and LINES=24 from execnet: the CLI's
# tables and the TUIs under a pseudo-terminal would take that size instead of
# their terminal's. Every process a test starts sees what a plain pytest run has.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _name in ("COLUMNS", "LINES"):
        os.environ.pop(_name, None)

FAST_CONFIG = {"poll_interval": "0.05", "backoff_base": "1", "backoff_max": "1"}

BACKENDS = ("sqlite", "postgres")

# A database target: a SQLite file, or a PostgreSQL URL (a str).
Target = Path | str


def is_postgres(db: Target) -> bool:
    return str(db).startswith(("postgresql://", "postgres://"))


def _connect(db: Target):
    """A plain driver connection in autocommit (each statement its own transaction)."""
    if is_postgres(db):
        import psycopg

        return psycopg.connect(str(db), autocommit=True, connect_timeout=5)
    return sqlite3.connect(db, timeout=5, isolation_level=None)


def _sql(db: Target, sql: str, params) -> str:
    """Tests write SQLite's ``?`` placeholders; psycopg wants ``%s`` (and ``%%``)."""
    if is_postgres(db) and params:
        return sql.replace("%", "%%").replace("?", "%s")
    return sql


def _run(conn, db: Target, sql: str, params):
    if is_postgres(db):
        return conn.execute(_sql(db, sql, params), params or None)
    return conn.execute(sql, params or ())


def db_rows(db: Target, sql: str, params: tuple | None = None) -> list[tuple]:
    """Rows of ``sql`` read straight from the database: for a test's own
    observations, seeding and clean-up, never for the product's work."""
    conn = _connect(db)
    try:
        return [tuple(row) for row in _run(conn, db, sql, params).fetchall()]
    finally:
        conn.close()


def db_execute(db: Target, sql: str, params: tuple | None = None) -> None:
    conn = _connect(db)
    try:
        _run(conn, db, sql, params)
    finally:
        conn.close()


def db_executemany(db: Target, sql: str, rows: list[tuple]) -> None:
    """One transaction for all ``rows``."""
    conn = _connect(db)
    try:
        if is_postgres(db):
            with conn.transaction(), conn.cursor() as cursor:
                cursor.executemany(_sql(db, sql, True), rows)
        else:
            conn.execute("BEGIN")
            conn.executemany(sql, rows)
            conn.execute("COMMIT")
    finally:
        conn.close()


def _db_errors() -> tuple[type[BaseException], ...]:
    errors: tuple[type[BaseException], ...] = (sqlite3.Error, OSError)
    try:
        import psycopg
    except ImportError:
        return errors
    return (*errors, psycopg.Error)


def wait_for(condition: Callable[[], object], timeout: float = 10.0, interval: float = 0.05,
             message: str = "condition"):
    """Poll ``condition`` until it returns something truthy; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


class Cli:
    """Runs the installed `queuectl` console script against one database."""

    def __init__(self, db: Target):
        self.db = db
        self.env = dict(os.environ, QUEUECTL_DB=str(db))
        self.env.pop("QUEUECTL_DEBUG", None)
        # Output as in a plain pipe: pytest-xdist's workers set COLUMNS=80.
        for name in ("COLUMNS", "LINES"):
            self.env.pop(name, None)
        self.procs: list[subprocess.Popen] = []

    def __call__(self, *args: str, input: str | bytes | None = None,
                 check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "-m", "queuectl_tui", *args],
            input=input.encode() if isinstance(input, str) else input,
            capture_output=True,
            env=self.env,
            timeout=60,
        )
        result.out = result.stdout.decode("utf-8", errors="replace")
        result.err = result.stderr.decode("utf-8", errors="replace")
        if check and result.returncode != 0:
            pytest.fail(f"queuectl {' '.join(args)} exited {result.returncode}: {result.err}")
        return result

    def json(self, *args: str):
        return json.loads(self(*args).out)

    def job(self, job_id: str) -> dict:
        return self.json("show", job_id, "--json")

    def state(self, job_id: str) -> str:
        return self.job(job_id)["state"]

    def start_workers(self, count: int = 1, *extra: str) -> subprocess.Popen:
        """`queuectl worker start --count N` in the foreground, as a child of the test."""
        proc = subprocess.Popen(
            [sys.executable, "-m", "queuectl_tui", "worker", "start", "--count", str(count),
             *extra],
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        self.procs.append(proc)
        wait_for(lambda: len(self.live_workers()) >= count or proc.poll() is not None,
                 message=f"{count} workers to register")
        assert proc.poll() is None, proc.stderr.read().decode()
        return proc

    def live_workers(self) -> list[dict]:
        return self.json("worker", "list", "--json")

    def cleanup(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            for stream in (proc.stdout, proc.stderr):
                if stream:
                    stream.close()
        kill_registered_workers(self.db)


def _alive(pid: int) -> bool:
    """Running (not gone, not a zombie waiting for its parent)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def kill_registered_workers(db: Target) -> None:
    """Stop every worker still registered in ``db`` (a test's last line of defence):
    ask through the database, as `worker stop` does, then kill what is left,
    detached supervisors included, so nothing is restarted behind our back.
    (Every worker of a test runs on this machine, so its pids are ours.)"""
    if not is_postgres(db) and not Path(db).exists():
        return

    def registered() -> list[int]:
        """Registered workers still alive (a killed worker's row stays behind:
        waiting for it to go would only cost the deadline)."""
        try:
            pids = [row[0] for row in db_rows(db, "SELECT pid FROM worker")]
        except _db_errors():
            return []
        return [pid for pid in pids if _alive(pid)]

    pids = registered()
    if not pids:
        return
    try:
        db_execute(db, "UPDATE worker SET state = 'stopping'")
    except _db_errors():
        pass
    deadline = time.monotonic() + 5
    while registered() and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in registered():
        parent = _parent_supervisor(pid)
        for victim in (parent, pid):
            if victim is None:
                continue
            try:
                os.kill(victim, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _parent_supervisor(pid: int) -> int | None:
    try:
        ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        cmdline = Path(f"/proc/{ppid}/cmdline").read_bytes()
    except (OSError, ValueError, IndexError):
        return None
    return ppid if b"queuectl_tui.supervisor" in cmdline else None


def pytest_generate_tests(metafunc) -> None:
    """``backends`` marker: run the test on both backends, or on those it names
    (``@pytest.mark.backends("sqlite")`` on one test of a module that opted in:
    a slow end-to-end test whose PostgreSQL side another test already covers).
    ``sqlite_only``: the test is about SQLite itself. Either way the id says
    ``[sqlite]``."""
    wanted = [name for name in ("backend", "module_backend") if name in metafunc.fixturenames]
    if not wanted:
        return
    marker = metafunc.definition.get_closest_marker("backends")
    if marker is None:
        return  # not opted in: `backend` is SQLite, test ids unchanged
    names = tuple(marker.args) or BACKENDS
    if metafunc.definition.get_closest_marker("sqlite_only") is not None:
        names = ("sqlite",)
    unknown = set(names) - set(BACKENDS)
    if unknown:
        raise pytest.UsageError(f"unknown backend {sorted(unknown)} in {metafunc.definition}")
    # One parameter for both fixtures; a module-scoped one keeps its database for
    # the module (pytest groups the tests by it).
    scope = "module" if "module_backend" in wanted else "function"
    metafunc.parametrize(wanted, [(name,) * len(wanted) for name in names], indirect=True,
                         ids=names, scope=scope)


def reset_pg_database(url: str) -> None:
    """An empty database again: end every other session on it (a test's leftover
    connection would otherwise hold a lock), then drop and recreate the schema."""
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                     " WHERE datname = current_database() AND pid <> pg_backend_pid()")
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture
def backend(request, tmp_path: Path) -> Target:
    """The test's database target: a file in ``tmp_path`` (SQLite) or the URL of
    this module's PostgreSQL database, emptied for this test."""
    name = getattr(request, "param", "sqlite")
    if name == "sqlite":
        return tmp_path / "queue.db"
    url = request.getfixturevalue("pg_database")
    reset_pg_database(url)
    return url


@pytest.fixture(scope="module")
def module_backend(request, tmp_path_factory) -> Iterator[Target]:
    """A database for a whole module (one shared setup, e.g. jobs a worker ran once),
    on the backend of the test's parameter; on PostgreSQL its own database."""
    if getattr(request, "param", "sqlite") == "sqlite":
        yield tmp_path_factory.mktemp("module-db") / "queue.db"
        return
    if pg_url() is None:
        pytest.skip(SKIP_REASON)
    url = fresh_database("module")
    yield url
    drop_database(url)


@pytest.fixture
def other_db(backend: Target, tmp_path: Path) -> Iterator[Target]:
    """A second, empty database on the test's backend (for tests of two queues
    side by side): another file, or another database on the same server."""
    if not is_postgres(backend):
        yield tmp_path / "other.db"
        return
    url = fresh_database("other")
    yield url
    drop_database(url)


@pytest.fixture
def backend_name(backend: Target) -> str:
    return "postgres" if is_postgres(backend) else "sqlite"


@pytest.fixture
def db_path(backend: Target) -> Target:
    """The database target (named for its SQLite past: on PostgreSQL a URL)."""
    return backend


@pytest.fixture
def cli(db_path: Target):
    runner = Cli(db_path)
    yield runner
    runner.cleanup()


@pytest.fixture
def fast_cli(cli: Cli, db_path: Target) -> Cli:
    """The CLI on a database set up for quick tests: fast polling, 1 s backoff."""
    queue = JobQueue.open(db_path)
    for key, value in FAST_CONFIG.items():
        queue.set_config(key, value)
    queue.close()
    return cli


@pytest.fixture
def queue(db_path: Target):
    q = JobQueue.open(db_path)
    yield q
    q.close()


def db_snapshot(db: Target) -> list:
    """Every row of every table: compare before and after a refused command."""
    if is_postgres(db):
        tables = [r[0] for r in db_rows(db, "SELECT tablename FROM pg_tables"
                                        " WHERE schemaname = current_schema() ORDER BY 1")]
    else:
        tables = [r[0] for r in db_rows(
            db, "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
    return [(t, sorted(map(repr, db_rows(db, f'SELECT * FROM "{t}"')))) for t in tables]


# --- the TUI under Textual's pilot ---------------------------------------------------


@dataclass
class TuiOptions:
    """How the ``tui`` fixture builds the app; set per test with
    ``@pytest.mark.tui(workers=1, size=(80, 24))``."""

    db_path: Target
    workers: int = 0
    size: tuple[int, int] = (120, 36)
    # Seconds between refresh ticks: shorter than the app's 1 s, so a test that
    # waits for the next tick waits less (what a tick does is unchanged).
    refresh: float = 0.25


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers",
        "tui(workers=0, size=(120, 36), refresh=0.25): how the `tui` fixture builds the app")
    config.addinivalue_line(
        "markers", "backends(*names): run on both backends (SQLite and PostgreSQL), or on"
        " those named; see conftest")
    config.addinivalue_line(
        "markers", "sqlite_only: in a `backends` module, run on SQLite alone (say why)")


@pytest.fixture
def tui(request, db_path: Target):
    """``(app, pilot)``: the real app (``make_app``, as the CLI builds it) on the test's
    database, under Textual's pilot, with its first snapshot on screen. For
    ``async def`` tests (run by ``pytest_pyfunc_call`` below); the app is opened
    after every other fixture, so data they seed is there, and closed after the
    test, embedded workers included."""
    marker = request.node.get_closest_marker("tui")
    return TuiOptions(db_path, **(marker.kwargs if marker else {}))


async def until(pilot, condition: Callable[[], object], timeout: float = 10.0,
                message: str = "condition"):
    """Let the app run until ``condition()`` holds; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            app = pilot.app
            pytest.fail(f"timed out waiting for {message} (view {app.view}, last snapshot "
                        f"{app.last_snapshot and app.last_snapshot.view}, "
                        f"screen {type(app.screen).__name__})")
        await pilot.pause(0.05)
    return value


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Run ``async def`` tests in a fresh event loop (no plugin needed), opening the
    app for those that take the ``tui`` fixture."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(_run_async_test(pyfuncitem.obj, args))
    return True


async def _run_async_test(test, args: dict) -> None:
    options = args.get("tui")
    if not isinstance(options, TuiOptions):
        await test(**args)
        return
    from queuectl_tui.tui import make_app

    app = make_app(str(options.db_path), workers=options.workers)
    app.refresh_seconds = options.refresh
    async with app.run_test(size=options.size) as pilot:
        await until(pilot, lambda: app.last_snapshot is not None, message="the first snapshot")
        args["tui"] = (app, pilot)
        await test(**args)
