"""The layers hold: import-linter's contracts in pyproject.toml (domain and store
free of UI libraries, the CLI free of Textual, the TUI free of the CLI and of SQL)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) \
        or shutil.which("lint-imports")
    assert lint, "import-linter is not installed (pip install -e '.[test]')"
    result = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_job_states_come_from_the_domain():
    """The faces list states (filters, counts) without importing the store."""
    from queuectl_tui import queue, store

    assert queue.STATES == store.STATES
    assert queue.STATES == ("pending", "processing", "completed", "failed", "dead", "cancelled")
    assert queue.FINISHED_STATES == ("completed", "dead", "cancelled")


def test_the_sqlite_path_never_loads_a_postgresql_driver(tmp_path):
    """Peewee imports psycopg at its own import when it is installed (~100 ms):
    the package hides it, so neither importing the CLI nor a `queuectl status`
    on a SQLite file loads a driver (the start-up figure stays as it was)."""
    check = ("import sys; {body}; "
             "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
             "('psycopg', 'psycopg2', 'psycopg2cffi')); "
             "print('loaded:', loaded); sys.exit(1 if loaded else 0)")
    result = subprocess.run([sys.executable, "-c", check.format(body="import queuectl_tui.cli")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    status = ("from queuectl_tui.cli import cli; "
              "cli.main(args=['--db', sys.argv[1], 'status', '--json'], "
              "prog_name='queuectl', standalone_mode=False)")
    result = subprocess.run([sys.executable, "-c", check.format(body=status),
                             str(tmp_path / "queue.db")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"jobs"' in result.stdout and "loaded: []" in result.stdout


def test_the_domain_worker_and_registry_hold_no_sql():
    """SQL lives only in queuectl_tui/store/: the modules above it say no SELECT,
    UPDATE, PRAGMA or BEGIN of their own."""
    import re

    pattern = re.compile(r"""["'](SELECT|UPDATE|INSERT|DELETE|PRAGMA|BEGIN|COMMIT)\b""")
    for name in ("queue.py", "worker.py", "registry.py", "metrics.py"):
        text = (ROOT / "queuectl_tui" / name).read_text()
        assert not pattern.search(text), f"{name}: {pattern.search(text).group(0)}"


def test_a_postgresql_url_without_the_driver_names_the_extra(tmp_path):
    """Where psycopg is not installed, a PostgreSQL URL is one line that says how to
    get it (no traceback, exit 1); a path still opens SQLite."""
    from queuectl_tui import store

    assert store.is_database_url("postgresql://u@h/db")
    assert store.is_database_url("postgres://u@h/db")
    assert not store.is_database_url(str(tmp_path / "postgresql.db"))
    if not (ROOT / "queuectl_tui" / "store" / "postgres.py").exists():
        pytest.skip("store/postgres.py is not on this branch yet")
    hide = ("import sys; sys.modules['psycopg'] = None; "  # import psycopg -> ModuleNotFoundError
            "sys.argv[0] = 'queuectl'; from queuectl_tui.cli import main; main(sys.argv[1:])")
    result = subprocess.run(
        [sys.executable, "-c", hide, "--db", "postgresql://nobody:secret@127.0.0.1:1/x",
         "status"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines() == [
        "Error: PostgreSQL support needs the driver: pip install 'queuectl-tui[postgres]'"]
    assert "secret" not in result.stdout + result.stderr
