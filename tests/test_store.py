"""The store: file creation and permissions, refusal of foreign files, schema, query plans."""

from __future__ import annotations

import sqlite3
import stat

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


def test_lease_recovery_query_uses_its_partial_index(tmp_path):
    path = tmp_path / "plan.db"
    JobQueue.open(path).close()
    text = " | ".join(_plan(path, store.EXPIRED_SQL, (0.0,)))
    assert "job_lease" in text, text


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
