"""The TUI, driven through Textual's pilot: real keys, a real database, real workers."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from queuectl_tui.config import Config
from queuectl_tui.jobspec import JobSpec
from queuectl_tui.queue import JobQueue
from tests.conftest import until


def make_dead(queue: JobQueue, *ids: str) -> None:
    queue.enqueue([JobSpec(command="false", id=job_id, max_retries=1) for job_id in ids])
    for _ in ids:
        claimed = queue.claim("test-worker", 30)
        queue.fail(claimed, "test-worker", 1, "exit code 1", "", Config())


def table_keys(app, selector: str) -> list[str]:
    return app.query_one(selector).keys


@pytest.fixture
def seeded(db_path):
    queue = JobQueue.open(db_path)
    make_dead(queue, "dead-a", "dead-b", "dead-c")
    queue.enqueue([JobSpec(command=f"echo {n}", id=f"job-{n}") for n in range(3)])
    queue.close()
    return db_path


async def test_number_keys_switch_panes(seeded, tui):
    app, pilot = tui
    await until(pilot, lambda: len(table_keys(app, "#jobs-table")) == 6, message="jobs")
    for key, pane in (("2", "dlq"), ("3", "workers"), ("4", "config"), ("1", "jobs")):
        await pilot.press(key)
        assert app.query_one("TabbedContent").active == pane
        assert app.view.pane == pane
    await pilot.press("2")
    await until(pilot, lambda: sorted(table_keys(app, "#dlq-table"))
                == ["dead-a", "dead-b", "dead-c"], message="the DLQ rows")
    await pilot.press("4")
    await until(pilot, lambda: "max_retries" in table_keys(app, "#config-table"),
                message="the settings")


async def test_dlq_r_retries_the_selected_job(seeded, tui):
    app, pilot = tui
    await pilot.press("2")
    await until(pilot, lambda: len(table_keys(app, "#dlq-table")) == 3, message="DLQ")
    selected = app.query_one("#dlq-table").selected_key
    await pilot.press("r")
    await until(pilot, lambda: selected not in table_keys(app, "#dlq-table"),
                message="the retried job to leave the DLQ")
    job = app.queue.get(selected)
    assert (job.state, job.attempts) == ("pending", 0)
    assert len(table_keys(app, "#dlq-table")) == 2


async def test_dlq_space_marks_several_for_r(seeded, tui):
    app, pilot = tui
    await pilot.press("2")
    await until(pilot, lambda: len(table_keys(app, "#dlq-table")) == 3, message="DLQ")
    first, second, third = table_keys(app, "#dlq-table")
    await pilot.press("space", "space")  # marks the first two (cursor moves down)
    assert app.query_one("DlqPane").marked == {first, second}
    await pilot.press("r")
    await until(pilot, lambda: table_keys(app, "#dlq-table") == [third],
                message="the two marked jobs to be retried")
    assert {app.queue.get(first).state, app.queue.get(second).state} == {"pending"}
    assert app.queue.get(third).state == "dead"


@pytest.mark.backends  # reads the data: both backends
async def test_dlq_shift_r_retries_all_after_confirmation(seeded, tui):
    app, pilot = tui
    await pilot.press("2")
    await until(pilot, lambda: len(table_keys(app, "#dlq-table")) == 3, message="DLQ")
    await pilot.press("R")
    await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen",
                message="the confirmation")
    assert "Retry all 3 dead jobs?" in str(app.screen.query_one(".dialog-title").render())
    await pilot.press("n")
    await until(pilot, lambda: type(app.screen).__name__ != "ConfirmScreen",
                message="the dialog to close")
    assert app.queue.counts()["dead"] == 3  # declined: nothing changed
    await pilot.press("R")
    await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen",
                message="the confirmation")
    await pilot.press("y")
    await until(pilot, lambda: app.queue.counts()["dead"] == 0, message="retry all")
    await until(pilot, lambda: table_keys(app, "#dlq-table") == [],
                message="the DLQ table to empty")


async def test_dlq_x_deletes_after_confirmation(seeded, tui):
    app, pilot = tui
    await pilot.press("2")
    await until(pilot, lambda: len(table_keys(app, "#dlq-table")) == 3, message="DLQ")
    victim = app.query_one("#dlq-table").selected_key
    await pilot.press("x")
    await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen",
                message="the confirmation")
    await pilot.press("y")
    await until(pilot, lambda: victim not in table_keys(app, "#dlq-table"),
                message="the deleted row to vanish")
    assert app.queue.count("dead") == 2
    with pytest.raises(Exception, match="no job"):
        app.queue.get(victim)


async def test_new_job_form_refuses_a_bad_value_then_enqueues(db_path, tui):
    app, pilot = tui
    await pilot.press("n")
    await until(pilot, lambda: type(app.screen).__name__ == "NewJobScreen",
                message="the form")
    await pilot.press(*"echo from the form")
    await pilot.click("#field-id")
    await pilot.press(*"form-job")
    await pilot.click("#field-priority")
    await pilot.press(*"high")
    await pilot.press("ctrl+s")
    await until(pilot, lambda: "priority must be a whole number"
                in str(app.screen.query_one("#new-job-error").render()), message="the error")
    assert app.queue.count() == 0
    for _ in "high":
        await pilot.press("backspace")
    await pilot.press("7", "ctrl+s")
    await until(pilot, lambda: type(app.screen).__name__ != "NewJobScreen",
                message="the form to close")
    job = app.queue.get("form-job")
    assert (job.command, job.priority, job.state) == ("echo from the form", 7,
                                                       "pending")
    await until(pilot, lambda: "form-job" in table_keys(app, "#jobs-table"),
                message="the new job in the table")


async def test_config_edit_refuses_a_bad_value_and_saves_a_good_one(db_path, tui):
    app, pilot = tui
    await pilot.press("4")
    await until(pilot, lambda: "max_retries" in table_keys(app, "#config-table"),
                message="the settings")
    assert app.query_one("#config-table").selected_key == "max_retries"
    await pilot.press("enter")
    editor = app.query_one("#config-input")
    assert editor.has_focus and editor.value == "3"
    editor.value = "-1"
    await pilot.press("enter")
    await until(pilot, lambda: "must be between 0 and 1000"
                in str(app.query_one("#config-error").render()), message="the error")
    assert app.queue.config().max_retries == 3
    editor.value = "7"
    await pilot.press("enter")
    await until(pilot, lambda: app.queue.config().max_retries == 7,
                message="the setting to be saved")
    await until(pilot, lambda: app.query_one("#config-table").get_row("max_retries")[1]
                == "7", message="the table to show it")


async def test_plus_and_minus_start_and_stop_real_embedded_workers(db_path, tui):
    from queuectl_tui import registry

    app, pilot = tui

    def embedded():
        return [w for w in registry.live_workers(app.queue.storage, 15) if w.owner == app.owner]

    await pilot.press("3")
    await pilot.press("plus")
    await until(pilot, lambda: len(embedded()) == 1, message="one embedded worker")
    await pilot.press("plus")
    await until(pilot, lambda: len(embedded()) == 2, message="two embedded workers")
    pids = [w.pid for w in embedded()]
    await until(pilot, lambda: len(table_keys(app, "#workers-table")) == 2,
                message="the workers table")
    await pilot.press("minus")
    await until(pilot, lambda: len(embedded()) == 1, message="back to one worker")
    app.queue.enqueue([JobSpec(command="echo worked", id="via-tui-worker")])
    await until(pilot, lambda: app.queue.get("via-tui-worker").state == "completed",
                message="the embedded worker to run a job")
    await pilot.press("q")
    await until(pilot, lambda: not app.is_running, message="the app to exit")
    for pid in pids:
        assert not _alive(pid), f"worker {pid} outlived the app"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def flaky(db_path):
    queue = JobQueue.open(db_path)
    queue.enqueue([JobSpec(command="flaky-thing --now", id="flaky", max_retries=2)])
    config = Config(backoff_base=2)
    for _ in range(2):
        claimed = queue.claim("w", 30)
        queue.fail(claimed, "w", 127, "command not found: flaky-thing", "sh: not found\n",
                   config)
        from queuectl_tui.store import Job

        Job.update(run_at=0).where(Job.id == "flaky").execute()
    queue.close()


@pytest.mark.backends  # reads the data: both backends
@pytest.mark.tui(size=(120, 40))
async def test_job_detail_shows_the_attempt_timeline(flaky, tui):
    app, pilot = tui
    await until(pilot, lambda: table_keys(app, "#jobs-table") == ["flaky"],
                message="the job row")
    await pilot.press("enter")
    await until(pilot, lambda: type(app.screen).__name__ == "JobDetailScreen",
                message="the detail screen")
    attempts = app.screen.query_one("#detail-attempts")
    await until(pilot, lambda: attempts.row_count == 2, message="two attempts")
    first = attempts.get_row_at(0)
    assert first[0] == "1" and first[3] == "127"
    assert "command not found: flaky-thing" in str(first[4])
    assert first[5] == "retry after 2.0s"
    assert "command not found" in str(app.screen.query_one("#detail-error").render())
    assert "sh: not found" in str(app.screen.query_one("#detail-output").render())
    await pilot.press("escape")
    assert type(app.screen).__name__ != "JobDetailScreen"


@pytest.mark.backends  # reads the data: both backends
async def test_jobs_enqueued_by_another_process_appear_without_moving_the_cursor(
        seeded, cli, tui):
    app, pilot = tui
    table = app.query_one("#jobs-table")
    await until(pilot, lambda: len(table.keys) == 6, message="the first rows")
    await pilot.press("down", "down")
    selected = table.selected_key
    subprocess.run(
        [sys.executable, "-m", "queuectl_tui", "--db", str(seeded), "enqueue",
         '{"id":"from-outside","command":"true"}'], check=True, capture_output=True)
    await until(pilot, lambda: "from-outside" in table.keys, timeout=5,
                message="the job enqueued by the CLI")
    assert table.selected_key == selected
    assert table.keys[0] == "from-outside"  # newest first


@pytest.mark.backends  # reads the data: both backends
async def test_filter_and_search_narrow_the_jobs_table(seeded, tui):
    app, pilot = tui
    table = app.query_one("#jobs-table")
    await until(pilot, lambda: len(table.keys) == 6, message="all rows")
    await pilot.press("f")  # pending
    await until(pilot, lambda: sorted(table.keys) == ["job-0", "job-1", "job-2"],
                message="pending jobs only")
    await pilot.press("f", "f", "f", "f", "f", "f")  # around to "all" again
    await until(pilot, lambda: len(table.keys) == 6, message="all rows again")
    await pilot.press("slash", *"dead-b")
    await until(pilot, lambda: table.keys == ["dead-b"], message="the search hit")
    await pilot.press("escape")
    await until(pilot, lambda: len(table.keys) == 6, message="search cleared")


@pytest.mark.tui(size=(120, 40))
async def test_help_screen_lists_the_keys(db_path, tui):
    app, pilot = tui
    await pilot.press("question_mark")
    await until(pilot, lambda: type(app.screen).__name__ == "HelpScreen",
                message="help")
    await pilot.press("escape")
    assert type(app.screen).__name__ != "HelpScreen"


@pytest.fixture
def long_job(db_path):
    queue = JobQueue.open(db_path)
    queue.set_config("poll_interval", "0.05")
    queue.enqueue([JobSpec(command="sleep 30", id="long")])
    queue.close()


@pytest.mark.tui(workers=1)
async def test_quitting_with_a_running_job_offers_to_stop_it_and_puts_it_back(
        db_path, long_job, tui):
    app, pilot = tui
    await until(pilot, lambda: app.busy_embedded_workers() == 1, timeout=15,
                message="the embedded worker to run the job")
    pids = app.embedded.pids
    await pilot.press("q")
    await until(pilot, lambda: type(app.screen).__name__ == "QuitScreen",
                message="the quit question")
    assert "1 job is running" in str(app.screen.query_one(".dialog-title").render())
    await pilot.press("s")
    await until(pilot, lambda: not app.is_running, timeout=15, message="the app to exit")
    job = app.queue.get("long")
    assert (job.state, job.attempts) == ("pending", 0)
    assert not any(_alive(pid) for pid in pids)


async def test_a_locked_database_shows_a_status_and_the_screen_stays_live(seeded, tui,
                                                                         monkeypatch):
    """Another process holds the write lock while the app needs to write (it has an
    expired lease to take back): the app says so and stays responsive."""
    import sqlite3

    from queuectl_tui.tui import app as app_module

    monkeypatch.setattr(app_module, "SLOW_FETCH_SECONDS", 0.3)  # the status sooner
    app, pilot = tui
    app.queue.set_config("lease_seconds", "1")  # a grace of 0.5 s, not 3 s
    await until(pilot, lambda: len(table_keys(app, "#jobs-table")) == 6, message="rows")
    locker = sqlite3.connect(seeded, isolation_level=None, timeout=10)
    locker.execute("BEGIN IMMEDIATE")
    locker.execute(
        "INSERT INTO job (id, command, state, queue, priority, attempts, max_retries,"
        " run_at, created_at, updated_at, worker_id, lease_expires_at)"
        " VALUES ('orphaned', 'true', 'processing', 'default', 0, 1, 3, 0, 0, 0,"
        " 'ghost-host-1-beef', 1)")
    locker.execute("COMMIT")
    locker.execute("BEGIN IMMEDIATE")
    locker.execute("UPDATE setting SET value = value")
    status = app.query_one("#status-line")
    try:
        await until(pilot, lambda: "waiting for the database" in str(status.render()),
                    timeout=8, message="the locked-database status")
        await pilot.press("2")  # the event loop is not blocked
        await until(pilot, lambda: app.query_one("TabbedContent").active == "dlq",
                    timeout=2, message="the pane switch while the database is locked")
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    await until(pilot, lambda: "waiting" not in str(status.render())
                and sorted(table_keys(app, "#dlq-table")) == ["dead-a", "dead-b",
                                                              "dead-c"],
                timeout=10, message="recovery once the lock is gone")
    # Taken back after its grace (see JobQueue.recover_expired).
    await until(pilot, lambda: app.queue.get("orphaned").state == "failed",
                timeout=10, message="the orphaned job to be taken back")


@pytest.mark.tui(size=(80, 24))
async def test_narrow_terminal_drops_columns_instead_of_scrolling(seeded, tui):
    app, pilot = tui
    table = app.query_one("#jobs-table")
    await until(pilot, lambda: len(table.keys) == 6, message="rows")
    labels = [str(column.label) for column in table.columns.values()]
    assert labels == [" ", "ID", "State", "Tries", "Run at", "Command"]  # " ": the mark
    assert table.virtual_size.width <= 80
    selected = table.selected_key
    await pilot.resize_terminal(130, 30)
    await until(pilot, lambda: len(table.columns) == 9, timeout=3,
                message="the wide layout at once")
    assert table.selected_key == selected


async def test_command_palette_runs_actions_even_from_the_job_detail(seeded, tui):
    app, pilot = tui
    await until(pilot, lambda: len(table_keys(app, "#jobs-table")) == 6, message="rows")
    await pilot.press("enter")
    await until(pilot, lambda: type(app.screen).__name__ == "JobDetailScreen",
                message="the detail screen")
    await pilot.press("ctrl+p")
    await until(pilot, lambda: type(app.screen).__name__ == "CommandPalette",
                message="the palette")
    await pilot.press(*"retry all dead", "enter")
    await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen",
                message="the retry-all confirmation")
    await pilot.press("y")
    await until(pilot, lambda: app.queue.counts()["dead"] == 0, message="retry all")
    assert app.query_one("TabbedContent").active == "dlq"

