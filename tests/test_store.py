"""The store: file creation and permissions, refusal of foreign files, schema, query plans."""

from __future__ import annotations

import sqlite3
import stat

import peewee
import pytest

from queuectl_tui import store
from queuectl_tui.errors import StoreError
from queuectl_tui.queue import JobQueue


def test_database_is_created_private_with_parent_folders(tmp_path):
    path = tmp_path / "a" / "b" / "queue.db"
    JobQueue.open(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION


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
        conn.execute(f"PRAGMA user_version = {store.SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer queuectl"):
        JobQueue.open(path)


def test_older_schema_is_upgraded_in_place(tmp_path, monkeypatch):
    """A file written by this version opens in a later one that adds a migration."""
    path = tmp_path / "old.db"
    queue = JobQueue.open(path)
    from queuectl_tui.jobspec import JobSpec

    queue.enqueue([JobSpec(command="echo kept", id="old-job")])
    queue.close()

    def add_note_column(db):
        db.execute_sql("ALTER TABLE job ADD COLUMN note TEXT")

    monkeypatch.setattr(store, "SCHEMA_VERSION", store.SCHEMA_VERSION + 1)
    monkeypatch.setitem(store.MIGRATIONS, store.SCHEMA_VERSION, add_note_column)
    upgraded = JobQueue.open(path)
    assert upgraded.get("old-job").command == "echo kept"
    upgraded.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
        columns = [row[1] for row in conn.execute("PRAGMA table_info(job)")]
    assert "note" in columns
    JobQueue.open(path).close()  # opening again does not re-run the migration


def _plan(path, sql, params):
    with sqlite3.connect(path) as conn:
        return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params)]


def test_claim_query_is_an_index_search_without_temporary_btree(tmp_path):
    path = tmp_path / "plan.db"
    JobQueue.open(path).close()
    plan = _plan(path, store.CLAIM_SQL, ("w", 0.0, 1.0))
    text = " | ".join(plan)
    assert "job_runnable" in text, text
    assert "TEMP B-TREE" not in text, text
    assert not any(step.startswith("SCAN job") and "INDEX" not in step for step in plan), text


def test_lease_recovery_query_is_an_index_search_on_running_jobs(tmp_path):
    path = tmp_path / "plan.db"
    JobQueue.open(path).close()
    for sql in (store.EXPIRED_SQL, store.ANY_EXPIRED_SQL):
        text = " | ".join(_plan(path, sql, (0.0,)))
        assert "SEARCH job USING INDEX job_state_created (state=?)" in text, text


def test_a_version_1_database_is_upgraded_and_keeps_its_jobs(tmp_path):
    """A file written by the first release (schema 1, with its lease index)."""
    path = tmp_path / "v1.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
    db = peewee.SqliteDatabase(str(path))
    store._unbound.initialize(db)
    store._migrate_to_1(db)
    db.execute_sql("CREATE INDEX job_lease ON job (lease_expires_at)"
                   " WHERE state = 'processing'")
    db.execute_sql("PRAGMA user_version = 1")
    db.execute_sql("INSERT INTO job (id, command, state, queue, priority, attempts,"
                   " max_retries, run_at, created_at, updated_at) VALUES"
                   " ('kept', 'echo old', 'pending', 'default', 0, 0, 3, 0, 0, 0)")
    db.close()
    queue = JobQueue.open(path)
    assert queue.get("kept").command == "echo old"
    queue.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master"
                                              " WHERE type = 'index'")}
    assert "job_lease" not in indexes and "job_runnable" in indexes


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
