"""DECISIONS.md names its code by symbol and scripts/decisions.py fills in the line
numbers: the suite fails when a number is stale or a named symbol is gone."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "decisions.py"

_spec = importlib.util.spec_from_file_location("decisions_tool", SCRIPT)
decisions = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = decisions  # dataclasses look their module up there
_spec.loader.exec_module(decisions)


def test_line_references_in_decisions_point_at_the_named_code():
    result = subprocess.run([sys.executable, str(SCRIPT), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, (
        "DECISIONS.md is out of date; refresh it with `python scripts/decisions.py`\n"
        + result.stderr
    )
    # Every answer points at code: the references did not silently stop matching.
    _, problems, count = decisions.refresh((ROOT / "DECISIONS.md").read_text(), ROOT)
    assert problems == []
    assert count >= 20


SOURCE = '''\
"""A module."""

LIMIT = 5

QUERY = (
    "SELECT 1"
    " FROM t"
)


class Box:
    def open(self):
        if self.ready:
            return 1
        value = compute(
            self, "first",
        )
        return value
'''


def _tree(tmp_path: Path, doc: str) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text(SOURCE)
    (tmp_path / "DECISIONS.md").write_text(doc)
    return tmp_path


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--root", str(tmp_path), *args],
                          capture_output=True, text=True)


def test_the_tool_fills_in_the_numbers_of_each_kind_of_reference(tmp_path):
    _tree(tmp_path, "See `pkg/mod.py::QUERY` and `pkg/mod.py::LIMIT` (line 99),\n"
                    "`pkg/mod.py::Box.open`, `pkg/mod.py::Box.open::first` and\n"
                    "`pkg/mod.py::Box.open::self.ready`.\n")
    assert _run(tmp_path, "--check").returncode == 1  # missing and wrong numbers
    assert _run(tmp_path).returncode == 0
    assert (tmp_path / "DECISIONS.md").read_text() == (
        "See `pkg/mod.py::QUERY` (lines 5-8) and `pkg/mod.py::LIMIT` (line 3),\n"
        # a text inside a statement shows the whole statement; in an if's header, its line
        "`pkg/mod.py::Box.open` (lines 12-18), `pkg/mod.py::Box.open::first` (lines 15-17) and\n"
        "`pkg/mod.py::Box.open::self.ready` (line 13).\n"
    )
    assert _run(tmp_path, "--check").returncode == 0


def test_code_that_moved_makes_the_check_fail_until_the_tool_is_run(tmp_path):
    _tree(tmp_path, "`pkg/mod.py::Box.open` (lines 12-18)\n")
    assert _run(tmp_path, "--check").returncode == 0
    (tmp_path / "pkg" / "mod.py").write_text("import os\n\n" + SOURCE)
    check = _run(tmp_path, "--check")
    assert check.returncode == 1
    assert "DECISIONS.md:1:" in check.stderr and "(lines 14-20)" in check.stderr
    assert (tmp_path / "DECISIONS.md").read_text() == "`pkg/mod.py::Box.open` (lines 12-18)\n"
    assert _run(tmp_path).returncode == 0
    assert _run(tmp_path, "--check").returncode == 0


def test_a_renamed_symbol_or_a_vanished_text_fails_loudly_and_is_left_alone(tmp_path):
    doc = ("`pkg/mod.py::Box.close` (line 3)\n`pkg/mod.py::Box.open::nowhere` (line 4)\n"
           "`pkg/gone.py::Box` (line 1)\n")
    _tree(tmp_path, doc)
    for args in (("--check",), ()):
        result = _run(tmp_path, *args)
        assert result.returncode == 1
        assert "DECISIONS.md:1: pkg/mod.py::Box.close: no 'close' there" in result.stderr
        assert "DECISIONS.md:2: pkg/mod.py::Box.open::nowhere: the text is not in" in (
            result.stderr)
        assert "DECISIONS.md:3: pkg/gone.py: no such file" in result.stderr
    assert (tmp_path / "DECISIONS.md").read_text() == doc
