"""The store: file creation and permissions, refusal of foreign files, schema, query plans."""

from __future__ import annotations

import sqlite3
import stat

import pytest

from queuectl_tui import store
from queuectl_tui.errors import StoreError
from queuectl_tui.queue import JobQueue
from queuectl_tui.store import sqlite as sqlite_store
from queuectl_tui.store.migrations import sqlite as migrations


def test_database_is_created_private_with_parent_folders(tmp_path):
    path = tmp_path / "a" / "b" / "queue.db"
    JobQueue.open(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == sqlite_store.SCHEMA_VERSION


def test_non_sqlite_file_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "notes.txt"
    content = b"these are my notes, not a database\n" * 200
    path.write_bytes(content)
    with pytest.raises(StoreError, match="not a database"):
        JobQueue.open(path)
    assert path.read_bytes() == content
    assert not (tmp_path / "notes.txt-wal").exists()


def test_sqlite_database_of_another_program_is_refused(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    before = path.read_bytes()
    with pytest.raises(StoreError, match="another program"):
        JobQueue.open(path)
    assert path.read_bytes() == before


def test_database_from_a_newer_queuectl_is_refused(tmp_path):
    path = tmp_path / "new.db"
    JobQueue.open(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {sqlite_store.SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer queuectl"):
        JobQueue.open(path)


def test_older_schema_is_upgraded_in_place(tmp_path, monkeypatch):
    """A file written by this version opens in a later one that adds a migration."""
    path = tmp_path / "old.db"
    queue = JobQueue.open(path)
    from queuectl_tui.jobspec import JobSpec

    queue.enqueue([JobSpec(command="echo kept", id="old-job")])
    queue.close()

    def add_note_column(execute):
        execute("ALTER TABLE job ADD COLUMN note TEXT")

    newer = migrations.SCHEMA_VERSION + 1
    monkeypatch.setattr(sqlite_store, "SCHEMA_VERSION", newer)
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", newer)
    monkeypatch.setitem(migrations.STEPS, newer, add_note_column)
    upgraded = JobQueue.open(path)
    assert upgraded.get("old-job").command == "echo kept"
    upgraded.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == newer
        columns = [row[1] for row in conn.execute("PRAGMA table_info(job)")]
    assert "note" in columns
    JobQueue.open(path).close()  # opening again does not re-run the migration


def _plan(path, sql, params):
    with sqlite3.connect(path) as conn:
        return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params)]


def test_claim_query_is_an_index_search_without_temporary_btree(tmp_path):
    path = tmp_path / "plan.db"
    JobQueue.open(path).close()
    plan = _plan(path, sqlite_store.CLAIM_SQL, ("w", 0.0, 1.0))
    text = " | ".join(plan)
    assert "job_runnable" in text, text
    assert "TEMP B-TREE" not in text, text
    assert not any(step.startswith("SCAN job") and "INDEX" not in step for step in plan), text


def test_lease_recovery_query_is_an_index_search_on_running_jobs(tmp_path):
    path = tmp_path / "plan.db"
    JobQueue.open(path).close()
    for sql in (sqlite_store.EXPIRED_SQL, sqlite_store.ANY_EXPIRED_SQL):
        text = " | ".join(_plan(path, sql, (0.0,)))
        assert "SEARCH job USING INDEX job_state_created (state=?)" in text, text


@pytest.mark.parametrize("xdg", [None, "/tmp/xdg-data"])
def test_default_path_is_the_platformdirs_user_data_dir(monkeypatch, xdg):
    import os

    import platformdirs

    if xdg is None:
        monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_DATA_HOME", xdg)
    expected = os.path.join(platformdirs.user_data_dir("queuectl", appauthor=False),
                            "queuectl.db")
    assert store.default_path() == expected


# --- issue 9, item 7: a foreign SQLite file is never modified -------------------


def _foreign_database(path, user_version: int, with_table: bool) -> None:
    """A rollback-journal SQLite file of another program (WAL never switched on)."""
    conn = sqlite3.connect(path)
    if with_table:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        conn.execute("INSERT INTO notes (body) VALUES ('keep me [b]as is[/b]')")
    conn.execute(f"PRAGMA user_version = {user_version}")
    conn.commit()
    conn.close()


# (An empty SQLite file, with no tables and user_version 0, holds nothing to protect:
# it is initialised like a new file.)
@pytest.mark.parametrize(("user_version", "with_table"),
                         [(0, True), (1, True), (1, False), (2, True), (2, False)])
def test_foreign_sqlite_file_is_refused_before_a_byte_is_written(tmp_path, user_version,
                                                                 with_table):
    path = tmp_path / "other.db"
    _foreign_database(path, user_version, with_table)
    before = path.read_bytes()
    assert before[18:20] == b"\x01\x01"  # rollback journal: WAL not switched on
    with pytest.raises(StoreError, match="another program"):
        JobQueue.open(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]  # no -wal/-journal


def test_file_of_another_program_with_our_table_names_is_refused(tmp_path):
    """Tables named like ours are not enough: another application id says no."""
    path = tmp_path / "lookalike.db"
    JobQueue.open(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA application_id = 1234")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="another program"):
        JobQueue.open(path)
    assert path.read_bytes() == before


def test_version_1_file_missing_our_tables_is_refused(tmp_path):
    path = tmp_path / "half.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE job (id TEXT PRIMARY KEY)")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="another program"):
        JobQueue.open(path)
    assert path.read_bytes() == before


def test_new_database_carries_the_queuectl_application_id(tmp_path):
    path = tmp_path / "new.db"
    JobQueue.open(path).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == sqlite_store.APPLICATION_ID
    conn.close()


def test_cli_refuses_a_foreign_file_in_one_line(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "other.db"
    _foreign_database(path, 2, True)
    before = path.read_bytes()
    result = subprocess.run([sys.executable, "-m", "queuectl_tui", "--db", str(path), "status"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "another program" in lines[0]
    assert path.read_bytes() == before


# The schema a version-2 queuectl wrote, frozen (the models have moved on since).
V2_SCHEMA = (
    'CREATE TABLE "job" ("id" TEXT NOT NULL PRIMARY KEY, "command" TEXT NOT NULL, "state" TEXT'
    ' NOT NULL, "queue" TEXT NOT NULL, "priority" INTEGER NOT NULL, "attempts" INTEGER NOT NULL,'
    ' "max_retries" INTEGER NOT NULL, "timeout" REAL, "run_at" REAL NOT NULL, "created_at" REAL'
    ' NOT NULL, "updated_at" REAL NOT NULL, "started_at" REAL, "finished_at" REAL, "worker_id"'
    ' TEXT, "lease_expires_at" REAL, "exit_code" INTEGER, "last_error" TEXT, "output" TEXT)',
    'CREATE TABLE "attempt" ("id" INTEGER NOT NULL PRIMARY KEY, "job_id" TEXT NOT NULL, "number"'
    ' INTEGER NOT NULL, "worker_id" TEXT, "started_at" REAL, "finished_at" REAL NOT NULL,'
    ' "exit_code" INTEGER, "error" TEXT, "retry_at" REAL, FOREIGN KEY ("job_id") REFERENCES'
    ' "job" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "attempt_job_id" ON "attempt" ("job_id")',
    'CREATE TABLE "setting" ("key" TEXT NOT NULL PRIMARY KEY, "value" TEXT NOT NULL)',
    'CREATE TABLE "worker" ("id" TEXT NOT NULL PRIMARY KEY, "pid" INTEGER NOT NULL, "hostname"'
    ' TEXT NOT NULL, "owner" TEXT NOT NULL, "state" TEXT NOT NULL, "started_at" REAL NOT NULL,'
    ' "heartbeat_at" REAL NOT NULL, "jobs_done" INTEGER NOT NULL, "jobs_failed" INTEGER'
    ' NOT NULL)',
    "CREATE INDEX job_runnable ON job (priority DESC, run_at, created_at)"
    " WHERE state IN ('pending', 'failed')",
    "CREATE INDEX job_state_created ON job (state, created_at)",
    "CREATE INDEX job_created ON job (created_at)",
)


def test_a_version_2_database_is_upgraded_to_3_and_keeps_everything(tmp_path):
    """A file written by the second release: no application id, no doorbell column,
    no sort indexes. It is recognised by its tables and gets all three."""
    path = tmp_path / "v2.db"
    conn = sqlite3.connect(path)
    for statement in V2_SCHEMA:
        conn.execute(statement)
    conn.execute("INSERT INTO job (id, command, state, queue, priority, attempts, max_retries,"
                 " run_at, created_at, updated_at) VALUES ('kept', 'echo \"[b]old[/b]\"',"
                 " 'dead', 'default', 5, 3, 3, 0, 0, 0)")
    conn.execute("INSERT INTO attempt (job_id, number, finished_at, exit_code, error)"
                 " VALUES ('kept', 3, 1, 1, 'boom')")
    conn.execute("INSERT INTO setting (key, value) VALUES ('max_retries', '7')")
    conn.execute("PRAGMA user_version = 2")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.commit()
    conn.close()
    queue = JobQueue.open(path)
    job = queue.get("kept")
    assert (job.command, job.state, job.priority) == ('echo "[b]old[/b]"', "dead", 5)
    assert [a.error for a in queue.attempts("kept")] == ["boom"]
    assert queue.config().max_retries == 7
    queue.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == sqlite_store.SCHEMA_VERSION
        assert conn.execute("PRAGMA application_id").fetchone()[0] == sqlite_store.APPLICATION_ID
        columns = [row[1] for row in conn.execute("PRAGMA table_info(worker)")]
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master"
                                              " WHERE type = 'index'")}
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    assert "doorbell" in columns
    assert {"job_dead_updated", "job_priority", "job_run_at"} <= indexes
    JobQueue.open(path).close()  # opening again does not re-run the migration


# --- issue 9, item 10: the TUI's pages are read in index order ------------------

# Sorts that stay unindexed on purpose (see store/migrations/sqlite.py): every claim or
# finish changes these columns, and an index on them grows the WAL of every job.
UNINDEXED = {(None, "updated"), (None, "attempts")}


def _page_plans(queue, state):
    """The query plan of every sort JobQueue.page offers, as the TUI runs it."""
    import logging

    from queuectl_tui.queue import SORT_COLUMNS

    captured = []

    class Capture(logging.Handler):
        def emit(self, record):
            captured.append(record.msg)

    logger = logging.getLogger("peewee")
    handler, level = Capture(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        for sort in SORT_COLUMNS:
            for descending in (True, False):
                captured.clear()
                queue.page(state, None, sort, descending, 0, 200)
                sql, params = captured[-1]
                plan = [row[3] for row in queue.db.execute_sql("EXPLAIN QUERY PLAN " + sql,
                                                               params)]
                yield sort, descending, " | ".join(plan)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.mark.parametrize("state", [None, "dead"], ids=["jobs-pane", "dlq-pane"])
def test_every_page_the_tui_shows_is_read_in_index_order(tmp_path, state):
    queue = JobQueue.open(tmp_path / "plan.db")
    try:
        for sort, descending, plan in _page_plans(queue, state):
            if (state, sort) in UNINDEXED:
                continue
            assert "TEMP B-TREE" not in plan, (state, sort, descending, plan)
            assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, (sort, plan)
    finally:
        queue.close()
