"""The app shell: failed thread workers, the refresh loop, the palette, the demo
database and the embedded workers' log (pilot tests on a real database)."""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import stat

import pytest

from queuectl_tui.errors import InvalidInput
from queuectl_tui.jobspec import JobSpec
from queuectl_tui.queue import JobQueue
from queuectl_tui.store import sqlite as sqlite_store
from queuectl_tui.tui import make_app
from tests.conftest import until


def status_text(app) -> str:
    return str(app.query_one("#status-line").render())


@pytest.fixture
def some_jobs(db_path):
    queue = JobQueue.open(db_path)
    queue.enqueue([JobSpec(command=f"echo {n}", id=f"job-{n}") for n in range(3)])
    queue.close()


async def test_a_failing_refresh_shows_the_error_literally_and_keeps_refreshing(
        some_jobs, tui, monkeypatch):
    """Any exception in the data worker (not only a database error) is shown in the
    status line, as typed, and the refresh goes on once the cause is gone."""
    app, pilot = tui
    from queuectl_tui.tui import app as app_module

    real_fetch = app_module.fetch

    def broken(queue, view):
        raise ValueError("[/b] not markup [red]")

    monkeypatch.setattr(app_module, "fetch", broken)
    # a new view: fetched at once, and fails
    app.change_view(jobs=dataclasses.replace(app.view.jobs, state="pending"))
    await until(pilot, lambda: "refresh failed: [/b] not markup [red]" in status_text(app),
                message="the error in the status line")
    monkeypatch.setattr(app_module, "fetch", real_fetch)
    await until(pilot, lambda: app.last_snapshot.view.jobs.state == "pending",
                message="the refresh to recover by itself")
    assert "refresh failed" not in status_text(app)


@pytest.fixture
def short_busy_timeout(monkeypatch):
    """QUEUECTL_BUSY_TIMEOUT=0.3 for connections opened from now on."""
    monkeypatch.setattr(sqlite_store, "BUSY_TIMEOUT_SECONDS", 0.3)


async def test_new_job_form_shows_a_locked_database_instead_of_hanging(
        db_path, short_busy_timeout, tui):
    app, pilot = tui
    await pilot.press("n")
    await until(pilot, lambda: type(app.screen).__name__ == "NewJobScreen", message="the form")
    await pilot.press(*"echo hi")
    locker = sqlite3.connect(db_path, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        await pilot.press("ctrl+s")
        error = app.screen.query_one("#new-job-error")
        await until(pilot, lambda: "database is locked" in str(error.render()), timeout=5,
                    message="the error on the form")
        assert type(app.screen).__name__ == "NewJobScreen"  # still open, text kept
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert app.queue.count() == 0
    await pilot.press("ctrl+s")  # the lock is gone: now it works
    await until(pilot, lambda: type(app.screen).__name__ != "NewJobScreen",
                message="the form to close")
    assert [j.command for j in app.queue.list_jobs()] == ["echo hi"]


async def test_an_idle_app_does_not_count_the_jobs_again_until_something_changes(
        some_jobs, tui):
    """Issue 9 item 10: with nothing committed, a tick costs one PRAGMA, not a count
    of every job; a commit from anywhere brings the full refresh back."""
    app, pilot = tui
    queue = app.queue
    calls = {"counts": 0, "version": 0}
    real_counts, real_version = queue.counts, queue.data_version

    def counts():
        calls["counts"] += 1
        return real_counts()

    def data_version():
        calls["version"] += 1
        return real_version()

    queue.counts, queue.data_version = counts, data_version
    await until(pilot, lambda: calls["version"] >= 3, message="three refresh ticks")
    assert calls["counts"] == 0
    other = JobQueue.open(app.db_path)
    other.enqueue([JobSpec(command="true", id="from-elsewhere")])
    other.close()
    await until(pilot, lambda: "from-elsewhere" in app.query_one("#jobs-table").keys,
                message="the new job after the next tick")
    assert calls["counts"] >= 1


async def test_the_palette_offers_one_quit_ours(tui):
    app, _ = tui
    from queuectl_tui.tui.commands import QueuectlCommands

    titles = [title for title, _, _ in QueuectlCommands(app.screen)._commands()]
    system = [command.title for command in app.get_system_commands(app.screen)]
    assert "Quit" in titles
    assert "Quit" not in system  # Textual's quit-at-once is gone


async def test_palette_commands_work_from_a_dialog(some_jobs, tui):
    """A pane command chosen while a dialog is up closes it and acts on the pane."""
    app, pilot = tui
    await pilot.press("n")
    await until(pilot, lambda: type(app.screen).__name__ == "NewJobScreen", message="the form")
    await pilot.press("ctrl+p")
    await until(pilot, lambda: type(app.screen).__name__ == "CommandPalette",
                message="the palette")
    await pilot.press(*"filter jobs by state", "enter")
    await until(pilot, lambda: app.view.jobs.state == "pending", message="the filter")
    assert type(app.screen).__name__ == "Screen"
    assert app.query_one("TabbedContent").active == "jobs"


def test_demo_data_never_goes_to_a_database_with_jobs(db_path, some_jobs):
    before = JobQueue.open(db_path)
    ids = sorted(j.id for j in before.list_jobs())
    before.close()
    with pytest.raises(InvalidInput, match="demo jobs go only to a new, empty database"):
        make_app(str(db_path), demo=True)
    after = JobQueue.open(db_path)
    assert sorted(j.id for j in after.list_jobs()) == ids
    after.close()


async def test_no_worker_log_without_embedded_workers(db_path, tui):
    app, pilot = tui
    log = f"{app.db_path}.tui-workers.log"
    await pilot.pause(0.3)
    assert not os.path.exists(log)
    await pilot.press("3", "plus")
    await until(pilot, lambda: os.path.exists(log), message="the log, once a worker starts")
    assert stat.S_IMODE(os.stat(log).st_mode) == 0o600
    await pilot.press("minus")


def test_the_worker_log_is_private_rotated_and_never_a_symlink(tmp_path):
    """The embedded workers' log is opened by ``files.open_log``, like every log."""
    from queuectl_tui.errors import StoreError
    from queuectl_tui.files import MAX_LOG_BYTES
    from queuectl_tui.tui.embedded import EmbeddedWorkers

    db = tmp_path / "q.db"
    JobQueue.open(db).close()
    path = tmp_path / "q.db.tui-workers.log"
    with open(path, "wb") as handle:
        handle.truncate(MAX_LOG_BYTES + 1)
    workers = EmbeddedWorkers(str(db), owner="test-log")
    try:
        assert workers.scale(1) == 1
    finally:
        workers.shutdown()
    assert (tmp_path / "q.db.tui-workers.log.1").stat().st_size == MAX_LOG_BYTES + 1
    assert path.stat().st_size < MAX_LOG_BYTES
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    target = tmp_path / "someone-elses-file"
    link = tmp_path / "link.log"
    link.symlink_to(target)
    workers = EmbeddedWorkers(str(db), owner="test-log", log_path=str(link))
    try:
        with pytest.raises(StoreError, match="symbolic link"):
            workers.scale(1)
        assert workers.pids == []
    finally:
        workers.shutdown()
    assert not target.exists()


def test_a_snapshot_arriving_after_the_screens_are_gone_is_ignored(tmp_path):
    """A refresh thread can finish while the app shuts down: its snapshot then
    finds no StatsBar; it must be dropped, not end the exit in NoMatches."""
    import asyncio

    async def scenario():
        app = make_app(str(tmp_path / "q.db"), workers=0)
        async with app.run_test(size=(120, 30)) as pilot:
            await until(pilot, lambda: app.last_snapshot is not None, message="a snapshot")
            snapshot = app.last_snapshot
        assert not app.screen_stack  # shut down: what a late message finds
        app.on_queuectl_app_snapshot_ready(app.SnapshotReady(snapshot, 0.0))

    asyncio.run(scenario())


async def test_a_worker_log_that_cannot_be_opened_leaves_a_working_monitor(db_path, tmp_path):
    """The embedded workers' log is refused (a symlink someone planted): the app
    says why and goes on without workers instead of crashing."""
    from queuectl_tui.tui import make_app

    target = tmp_path / "elsewhere.log"
    os.symlink(target, f"{db_path}.tui-workers.log")
    app = make_app(str(db_path), workers=1)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await until(pilot, lambda: app.last_snapshot is not None, message="the first snapshot")
        await until(pilot, lambda: any("Embedded workers not started" in n.message
                                       for n in app._notifications),
                    message="the refusal in a toast")
        assert app.is_running and app.embedded.pids == []
        await pilot.press("3", "plus")
        await until(pilot, lambda: sum("Embedded workers not started" in n.message
                                       for n in app._notifications) >= 2,
                    message="the refusal again for +")
        assert app.is_running and app.embedded.pids == []
    assert not target.exists()
