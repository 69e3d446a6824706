"""The layers hold: import-linter's contracts in pyproject.toml (domain and store
free of UI libraries, the CLI free of Textual, the TUI free of the CLI and of SQL)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

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
