"""Snapshot tests of the main panes: layout regressions show up as SVG diffs.

The app is built deterministically: a fixed database path, a frozen clock for
the domain and the display, UTC, and the demo's fixed job ids. Update the
snapshots only after looking at the report: `pytest --snapshot-update`.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

FROZEN = 1_795_000_000.0  # 2026-11-18T09:46:40Z
SIZE = (120, 34)
SNAPSHOT_DB = Path("/tmp/queuectl-snapshot-tests/demo.db")


@pytest.fixture
def frozen_app(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    for module in ("queuectl_tui.store.sqlite", "queuectl_tui.demo"):
        monkeypatch.setattr(f"{module}.now", lambda: FROZEN)
    shutil.rmtree(SNAPSHOT_DB.parent, ignore_errors=True)
    from queuectl_tui.tui import make_app

    app = make_app(str(SNAPSHOT_DB), workers=0, demo=True, clock=lambda: FROZEN)
    app.demo = False  # no producer: nothing may change between runs
    yield app
    shutil.rmtree(SNAPSHOT_DB.parent, ignore_errors=True)


async def _loaded(pilot) -> None:
    app = pilot.app
    deadline = time.monotonic() + 10
    while (app.last_snapshot is None or app.last_snapshot.view != app.view) \
            and time.monotonic() < deadline:
        await pilot.pause(0.05)
    await pilot.pause(0.1)


@pytest.mark.parametrize("key,pane", [("1", "jobs"), ("2", "dlq"), ("3", "workers"),
                                      ("4", "config")])
def test_pane_snapshot(frozen_app, snap_compare, key, pane):
    async def run_before(pilot) -> None:
        await pilot.press(key)
        await _loaded(pilot)
        assert pilot.app.view.pane == pane

    assert snap_compare(frozen_app, terminal_size=SIZE, run_before=run_before)


def test_job_detail_snapshot(frozen_app, snap_compare):
    async def run_before(pilot) -> None:
        await pilot.press("2")
        await _loaded(pilot)
        await pilot.press("enter")
        deadline = time.monotonic() + 10
        while pilot.app.screen.query("#detail-attempts").first().row_count == 0 \
                and time.monotonic() < deadline:
            await pilot.pause(0.05)
        await pilot.pause(0.1)

    assert snap_compare(frozen_app, terminal_size=SIZE, run_before=run_before)


def test_small_terminal_snapshot(frozen_app, snap_compare):
    """80x24: the columns that fit, and a footer that keeps ? and q."""

    async def run_before(pilot) -> None:
        await _loaded(pilot)

    assert snap_compare(frozen_app, terminal_size=(80, 24), run_before=run_before)


def test_new_job_form_at_80x24_snapshot(frozen_app, snap_compare):
    """The form scrolls to its error line and keeps its buttons reachable."""

    async def run_before(pilot) -> None:
        await _loaded(pilot)
        await pilot.press("n")
        await pilot.press(*"echo [brackets] stay")
        pilot.app.screen.query_one("#field-priority").focus()
        await pilot.press(*"abc", "ctrl+s")
        await pilot.pause(0.3)

    assert snap_compare(frozen_app, terminal_size=(80, 24), run_before=run_before)
