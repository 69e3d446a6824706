"""Frozen SQLite migrations: a new file and every older file end with one schema.

The fixtures in tests/data/sqlite were written by the queuectl of each version
(see the README there): the steps are checked against what that code really
made, and opening each file through today's ``JobQueue.open`` must keep every
job, attempt and setting. ``apply`` is tested on plain sqlite3 connections, so
these tests hold whichever opener calls it.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from queuectl_tui.queue import JobQueue
from queuectl_tui.store.migrations import sqlite as migrations

FIXTURES = Path(__file__).parent / "data" / "sqlite"
# Every file a shipped queuectl wrote (see tests/data/sqlite/README.md); the
# version-3 ones with the first index sets (8875ec8, then 409db57 until
# a000f05 added job_dead_id), which step 4 brings to the same indexes.
SHIPPED = ("1", "2", "3", "4")
EARLY_3 = ("3-8875ec8", "3-409db57")
OLD_VERSIONS = SHIPPED + EARLY_3
ALL_VERSIONS = OLD_VERSIONS
JOB_IDS = {"dead-one", "retrying", "done", "running", "later", "never", "waiting"}
TABLES = ("job", "attempt", "setting", "worker")
# Columns added by later steps (version 3: doorbell; 5: the workflow features).
LATER_COLUMNS = {("worker", "doorbell"), ("attempt", "output"),
                 *(("job", name) for name in ("cwd", "env", "waiting", "dependents", "unique_key"))}


def _copy(version: str, to: Path) -> Path:
    shutil.copyfile(FIXTURES / f"v{version}.db", to)
    return to


def _connect(path: Path) -> sqlite3.Connection:
    """Autocommit mode: the test, like the store, writes its own BEGIN/COMMIT."""
    return sqlite3.connect(path, isolation_level=None)


def _normalise(sql: str | None) -> str | None:
    """Peewee quotes names, the shipped step 3 added ``doorbell`` unquoted, and
    SQLite stores what it was given: compare the statements without quotes."""
    if sql is None:
        return None
    return re.sub(r"\s+", " ", sql.replace('"', "")).strip()


def schema(conn: sqlite3.Connection) -> dict:
    """Everything SQLite knows about the tables and indexes, order-independent."""
    objects = sorted(
        (kind, name, table, _normalise(sql))
        for kind, name, table, sql in conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master"))
    detail = {}
    for table in sorted(name for kind, name, _, _ in objects if kind == "table"):
        detail[table] = {
            "columns": conn.execute(f"PRAGMA table_xinfo({table})").fetchall(),
            "foreign_keys": conn.execute(f"PRAGMA foreign_key_list({table})").fetchall(),
            "indexes": {
                row[1]: (row[2:], conn.execute(f"PRAGMA index_xinfo({row[1]})").fetchall())
                for row in conn.execute(f"PRAGMA index_list({table})")
            },
        }
    header = [conn.execute(f"PRAGMA {name}").fetchone()[0]
              for name in ("user_version", "application_id")]
    return {"objects": objects, "tables": detail, "header": header}


def _rows(conn: sqlite3.Connection) -> dict[str, list[tuple]]:
    """Every row of every table, in the columns version 1 already had."""
    rows = {}
    for table in TABLES:
        columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")
                   if (table, row[1]) not in LATER_COLUMNS]
        rows[table] = conn.execute(
            f"SELECT {', '.join(columns)} FROM {table} ORDER BY 1").fetchall()
    return rows


def _apply(conn: sqlite3.Connection) -> None:
    """What the opener does: the version read and the steps run under one write lock."""
    conn.execute("BEGIN IMMEDIATE")
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    migrations.apply(conn.execute, current)
    conn.execute("COMMIT")


@pytest.fixture(scope="module")
def created(tmp_path_factory) -> dict:
    """The schema ``CREATE`` gives an empty file."""
    path = tmp_path_factory.mktemp("created") / "new.db"
    conn = _connect(path)
    _apply(conn)
    result = schema(conn)
    conn.close()
    return result


def test_create_is_todays_new_database(tmp_path, created):
    """The frozen DDL makes what the store makes for a new file today."""
    path = tmp_path / "today.db"
    JobQueue.open(path).close()
    conn = _connect(path)
    assert schema(conn) == created
    conn.close()
    assert created["header"] == [migrations.SCHEMA_VERSION, migrations.APPLICATION_ID]


def test_create_is_the_shipped_version_4_file_upgraded(tmp_path, created):
    """A new file and a file of the last shipped version upgraded by step 5 have
    the same tables, columns, indexes and trigger: ``CREATE`` writes out what
    the steps do."""
    conn = _connect(_copy("4", tmp_path / "v4.db"))
    assert schema(conn)["header"] == [4, migrations.APPLICATION_ID]
    _apply(conn)
    assert schema(conn) == created
    conn.close()


@pytest.mark.parametrize("version", SHIPPED)
def test_steps_from_empty_rebuild_each_shipped_version(tmp_path, version):
    """Steps 1..n on an empty file give the tables and indexes that version n's
    own code wrote: the steps are frozen as they shipped."""
    conn = _connect(tmp_path / "steps.db")
    conn.execute("BEGIN IMMEDIATE")
    for step in range(1, int(version[0]) + 1):
        migrations.run_step(conn.execute, migrations.STEPS[step])
    conn.execute(f"PRAGMA user_version = {version}")
    conn.execute("COMMIT")
    shipped = _connect(_copy(version, tmp_path / "shipped.db"))
    assert schema(conn) == schema(shipped)
    conn.close()
    shipped.close()


@pytest.mark.parametrize("version", OLD_VERSIONS)
def test_apply_upgrades_an_old_file_to_the_created_schema_keeping_every_row(
        tmp_path, created, version):
    conn = _connect(_copy(version, tmp_path / "old.db"))
    before = _rows(conn)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == int(version[0])
    _apply(conn)
    assert schema(conn) == created
    assert _rows(conn) == before
    assert {job_id for (job_id, *_) in before["job"]} == JOB_IDS
    assert conn.execute("SELECT DISTINCT doorbell FROM worker").fetchall() == [(None,)]
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()


def test_a_version_1_file_that_already_has_the_doorbell_column_upgrades(tmp_path, created):
    """No shipped file was like this (see ``_to_3``), but step 3 tolerates it as it did."""
    conn = _connect(_copy("1", tmp_path / "v1.db"))
    conn.execute('ALTER TABLE worker ADD COLUMN "doorbell" TEXT')
    _apply(conn)
    assert schema(conn) == created
    conn.close()


def test_apply_writes_only_in_the_callers_transaction(tmp_path):
    """A rolled-back upgrade leaves the file as it was: apply neither commits nor begins."""
    conn = _connect(_copy("1", tmp_path / "v1.db"))
    before = schema(conn)
    conn.execute("BEGIN IMMEDIATE")
    migrations.apply(conn.execute, 1)
    assert conn.in_transaction
    conn.execute("ROLLBACK")
    assert schema(conn) == before
    conn.close()


def test_apply_at_the_current_version_does_nothing_and_refuses_newer(tmp_path, created):
    conn = _connect(_copy("3", tmp_path / "v3.db"))
    _apply(conn)
    statements: list[str] = []

    def execute(sql: str):
        statements.append(sql)
        return conn.execute(sql)

    migrations.apply(execute, migrations.SCHEMA_VERSION)
    assert statements == []
    with pytest.raises(ValueError, match=f"knows 0 to {migrations.SCHEMA_VERSION}"):
        migrations.apply(execute, migrations.SCHEMA_VERSION + 1)
    assert statements == []
    conn.close()


# --- Through the application: what a user who upgrades queuectl sees ----------


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_old_file_opens_and_keeps_its_jobs_attempts_and_settings(
        cli, db_path, created, version):
    """`queuectl list` and `show` on a file of each version: upgraded on first open,
    every job, attempt and setting still there (the details read in-process)."""
    _copy(version, db_path)
    listed = {job["id"]: job for job in cli.json("list", "--json")}
    assert set(listed) == JOB_IDS
    states = {job_id: job["state"] for job_id, job in listed.items()}
    # "running" was running when the file was written, under another boot: its
    # lease means nothing now, so the first reader takes it back as a failed try.
    assert states == {"dead-one": "dead", "retrying": "failed", "done": "completed",
                      "running": "failed", "later": "pending", "never": "cancelled",
                      "waiting": "pending"}
    assert "earlier boot" in listed["running"]["last_error"]
    assert (listed["later"]["priority"], listed["never"]["queue"]) == (7, "other")
    shown = cli("show", "dead-one").out
    assert "dead" in shown and "exit code 3" in shown and "boom" in shown
    assert cli("config", "get", "max-retries").out.strip() == "2"

    queue = JobQueue.open(db_path)  # opening again changes nothing (checked below)
    try:
        assert [(a.number, a.exit_code, a.error) for a in queue.attempts("dead-one")] == [
            (1, 3, "exit code 3")]
        [retry] = queue.attempts("retrying")
        assert (retry.error, retry.retry_at is not None) == ("exit code 1", True)
        done = queue.get("done")
        assert (done.command, done.output, done.priority, done.exit_code) == (
            'echo "[b]héllo[/b]"', "[b]héllo[/b]\n", 3, 0)
        assert queue.attempts("done")[-1].exit_code == 0
        config = queue.config()
        assert (config.max_retries, config.backoff_max) == (2, 600)
    finally:
        queue.close()
    conn = _connect(db_path)
    assert schema(conn) == created
    conn.close()


def test_a_first_release_completed_job_shows_its_run_once(cli, db_path):
    _copy("1", db_path)
    assert len(cli.job("done")["attempt_history"]) == 1


def test_a_file_from_a_newer_queuectl_is_refused_in_one_line(cli, db_path):
    _copy("3", db_path)
    conn = _connect(db_path)
    conn.execute(f"PRAGMA user_version = {migrations.SCHEMA_VERSION + 1}")
    conn.close()
    before = db_path.read_bytes()
    result = cli("list", check=False)
    assert result.returncode == 1 and result.out == ""
    assert result.err.splitlines() == [
        f"Error: {db_path} was written by a newer queuectl (schema"
        f" {migrations.SCHEMA_VERSION + 1}, this one knows {migrations.SCHEMA_VERSION});"
        " upgrade queuectl"]
    assert db_path.read_bytes() == before
