"""The panes and screens, driven through Textual's pilot with real keys on a real
database: the DLQ pages like the Jobs pane, dialogs are safe, navigation keys,
marks, and the 80x24 layout."""

from __future__ import annotations

import io
import time
from contextlib import asynccontextmanager

import pytest
from rich.console import Console
from rich.text import Text

from queuectl_tui.config import Config
from queuectl_tui.jobspec import JobSpec
from queuectl_tui.queue import JobQueue
from queuectl_tui.store import Job
from queuectl_tui.tui import make_app
from tests.conftest import TuiOptions, until

WIDE = (140, 40)
SMALL = (80, 24)

pytestmark = pytest.mark.tui(size=WIDE)  # the `tui` fixture's app; a test's own mark wins


# --- helpers (shared with test_tui_text.py) ---------------------------------------


@asynccontextmanager
async def app_under_pilot(db_path, size=WIDE, *, notifications: bool = False, **app_options):
    """``(app, pilot)`` as the ``tui`` fixture gives them, for the few tests that need
    what it has no option for: notifications shown, or the app's clock."""
    app = make_app(str(db_path), workers=0, **app_options)
    app.refresh_seconds = TuiOptions(db_path).refresh
    async with app.run_test(size=size, notifications=notifications) as pilot:
        await until(pilot, lambda: app.last_snapshot is not None, message="the first snapshot")
        yield app, pilot


def screen_text(app) -> str:
    """What the terminal shows now, as text (what export_screenshot draws)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False,
                      safe_box=False)
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens))
    return console.export_text()


async def shows(pilot, *texts: str, timeout: float = 10.0) -> str:
    """Wait until every one of ``texts`` is on screen; return the screen (shown when
    the wait fails)."""
    deadline = time.monotonic() + timeout
    while True:
        text = screen_text(pilot.app)
        if all(t in text for t in texts):
            return text
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {texts} on screen "
                        f"(screen {type(pilot.app.screen).__name__})\n{text}")
        await pilot.pause(0.05)


def screen_name(app) -> str:
    return type(app.screen).__name__


def keys(app, table: str) -> list[str]:
    return app.query_one(table).keys


def make_dead(queue: JobQueue, specs: list[JobSpec], error: str = "exit code 1",
              output: str = "") -> None:
    """Jobs that failed their only attempt: in the DLQ."""
    queue.enqueue([JobSpec(command=s.command, id=s.id, max_retries=1) for s in specs])
    for _ in specs:
        claimed = queue.claim("test-worker", 30)
        queue.fail(claimed, "test-worker", 1, error, output, Config())


def make_running(queue: JobQueue, job_id: str, command: str = "sleep 60") -> None:
    """A job claimed by a (fake) worker: ``processing``, nothing really runs."""
    queue.enqueue([JobSpec(command=command, id=job_id)])
    queue.prepare_worker()  # as a real worker does: its leases are readings of this boot
    claimed = queue.claim("test-worker", 300)
    assert claimed.id == job_id


# --- the DLQ pages, searches and sorts like the Jobs pane (defect 5) ----------------


@pytest.fixture
def many_dead(db_path):
    queue = JobQueue.open(db_path)
    make_dead(queue, [JobSpec(command=f"false {n}", id=f"dead-{n:03d}") for n in range(305)])
    queue.close()
    return db_path


@pytest.mark.backends  # paging, search, sort: both backends
async def test_dlq_pages_through_every_dead_job(many_dead, tui):
    app, pilot = tui
    await pilot.press("2")
    dlq = "#dlq-table"
    await until(pilot, lambda: len(keys(app, dlq)) == 200, message="the first page")
    seen = set(keys(app, dlq))
    await shows(pilot, "rows 1–200 of 305", "page 1/2")
    await pilot.press("right_square_bracket")
    await until(pilot, lambda: len(keys(app, dlq)) == 105, message="the second page")
    seen |= set(keys(app, dlq))
    await shows(pilot, "rows 201–305 of 305", "page 2/2")
    assert len(seen) == 305  # every dead job is reachable, none twice
    await pilot.press("right_square_bracket")  # no third page
    await pilot.pause(0.3)
    assert len(keys(app, dlq)) == 105
    await pilot.press("left_square_bracket")
    await until(pilot, lambda: len(keys(app, dlq)) == 200, message="back to page 1")


@pytest.mark.backends  # paging, search, sort: both backends
async def test_dlq_search_and_sort(many_dead, tui):
    app, pilot = tui
    await pilot.press("2")
    dlq = "#dlq-table"
    await until(pilot, lambda: len(keys(app, dlq)) == 200, message="the DLQ")
    await pilot.press("slash", *"dead-30")
    await until(pilot, lambda: sorted(keys(app, dlq)) == [f"dead-30{n}" for n in range(5)],
                message="the search hits")
    await shows(pilot, "rows 1–5 of 5", "matching 'dead-30'")
    await pilot.press("escape")
    await until(pilot, lambda: len(keys(app, dlq)) == 200, message="search cleared")
    # o cycles the sort to "created"; O reverses it: oldest first.
    await pilot.press("o")
    await shows(pilot, "sorted by created ↓", "Created ↓")
    await pilot.press("O")
    await until(pilot, lambda: keys(app, dlq)[:2] == ["dead-000", "dead-001"],
                message="oldest first")
    await shows(pilot, "sorted by created ↑", "Created ↑")


@pytest.fixture
def many_dead_and_three_pending(many_dead):
    queue = JobQueue.open(many_dead)
    queue.enqueue([JobSpec(command="true", id=f"job-{n}") for n in range(3)])
    queue.close()
    return many_dead


@pytest.mark.backends  # paging, search, sort: both backends
async def test_jobs_and_dlq_keep_their_own_page(many_dead_and_three_pending, tui):
    app, pilot = tui
    await until(pilot, lambda: len(keys(app, "#jobs-table")) == 200, message="jobs")
    await pilot.press("f")  # pending only
    await until(pilot, lambda: sorted(keys(app, "#jobs-table"))
                == ["job-0", "job-1", "job-2"], message="the pending jobs")
    await pilot.press("2", "right_square_bracket")
    await until(pilot, lambda: len(keys(app, "#dlq-table")) == 105, message="page 2")
    await pilot.press("1")
    await until(pilot, lambda: app.last_snapshot.view == app.view
                and app.view.pane == "jobs", message="the jobs pane again")
    assert sorted(keys(app, "#jobs-table")) == ["job-0", "job-1", "job-2"]
    await pilot.press("2")
    await until(pilot, lambda: app.last_snapshot.view == app.view
                and app.view.pane == "dlq", message="the DLQ again")
    assert len(keys(app, "#dlq-table")) == 105


# --- cancel asks first for a running job or several (defect 6) --------------------


@pytest.fixture
def mixed(db_path):
    queue = JobQueue.open(db_path)
    queue.enqueue([JobSpec(command="true", id=f"wait-{n}", run_at=time.time() + 3600)
                   for n in range(3)])
    make_running(queue, "busy")
    # newest first: busy is the first row; make it so by its creation time
    Job.update(created_at=time.time() + 10).where(Job.id == "busy").execute()
    queue.close()
    return db_path


async def test_c_on_a_running_job_asks_first(mixed, tui):
    app, pilot = tui
    await until(pilot, lambda: keys(app, "#jobs-table")[:1] == ["busy"],
                message="the running job first")
    await pilot.press("c")
    await until(pilot, lambda: screen_name(app) == "ConfirmScreen", message="the question")
    text = await shows(pilot, "Cancel job busy? It is running")
    assert "enter: Keep (highlighted)" in text
    await pilot.press("enter")  # the safe button is focused: nothing happens
    await until(pilot, lambda: screen_name(app) != "ConfirmScreen", message="closed")
    await pilot.pause(0.3)
    assert app.queue.get("busy").state == "processing"
    await pilot.press("c")
    await until(pilot, lambda: screen_name(app) == "ConfirmScreen",
                message="the question again")
    await pilot.press("y")
    await until(pilot, lambda: app.queue.get("busy").state == "cancelled",
                message="the cancel")
    await shows(pilot, "cancelled 1")


async def test_c_on_one_waiting_job_cancels_at_once(mixed, tui):
    app, pilot = tui
    await until(pilot, lambda: len(keys(app, "#jobs-table")) == 4, message="rows")
    await pilot.press("j")
    victim = app.query_one("#jobs-table").selected_key
    assert victim.startswith("wait-")
    await pilot.press("c")
    await until(pilot, lambda: app.queue.get(victim).state == "cancelled",
                message="the cancel")
    assert screen_name(app) != "ConfirmScreen"


async def test_space_marks_and_c_asks_before_cancelling_several(mixed, tui):
    app, pilot = tui
    await until(pilot, lambda: len(keys(app, "#jobs-table")) == 4, message="rows")
    await pilot.press("j", "space", "space")  # marks the 2nd and 3rd rows
    marked = set(keys(app, "#jobs-table")[1:3])
    assert app.query_one("JobsPane").marked == marked
    await shows(pilot, "2 marked", "●")
    await pilot.press("c")
    await until(pilot, lambda: screen_name(app) == "ConfirmScreen", message="the question")
    await shows(pilot, "Cancel 2 jobs?")
    await pilot.press("n")
    await pilot.pause(0.3)
    assert {app.queue.get(j).state for j in marked} == {"pending"}
    await pilot.press("c", "y")
    await until(pilot, lambda: {app.queue.get(j).state for j in marked}
                == {"cancelled"}, message="both cancelled")
    remaining = set(keys(app, "#jobs-table")) - marked
    assert {app.queue.get(j).state for j in remaining} == {"pending", "processing"}


# --- confirm dialogs (defect 7) -----------------------------------------------------


@pytest.fixture
def three_dead(db_path):
    queue = JobQueue.open(db_path)
    make_dead(queue, [JobSpec(command="false", id=f"dead-{c}") for c in "abc"])
    queue.close()
    return db_path


async def test_delete_dialog_starts_on_the_safe_button_and_enter_presses_the_focused_one(
        three_dead, tui):
    app, pilot = tui
    await pilot.press("2")
    await until(pilot, lambda: len(keys(app, "#dlq-table")) == 3, message="the DLQ")
    victim = app.query_one("#dlq-table").selected_key
    await pilot.press("x")
    await until(pilot, lambda: screen_name(app) == "ConfirmScreen", message="dialog")
    dialog = app.screen
    assert app.focused is dialog.query_one("#no")  # the safe choice
    await shows(pilot, f"Delete job {victim} and its history?",
                "enter: Cancel (highlighted)")
    await pilot.press("enter")
    await until(pilot, lambda: screen_name(app) != "ConfirmScreen", message="closed")
    assert app.queue.get(victim).state == "dead"
    # Escape declines too.
    await pilot.press("x")
    await until(pilot, lambda: screen_name(app) == "ConfirmScreen", message="dialog")
    await pilot.press("escape")
    await until(pilot, lambda: screen_name(app) != "ConfirmScreen", message="closed")
    assert app.queue.get(victim).state == "dead"
    # Move to the Delete button: enter presses it.
    await pilot.press("x")
    await until(pilot, lambda: screen_name(app) == "ConfirmScreen", message="dialog")
    await pilot.press("left")
    assert app.focused is app.screen.query_one("#yes")
    await pilot.press("enter")
    await until(pilot, lambda: app.queue.count("dead") == 2, message="the delete")


async def test_the_focused_dialog_button_looks_different(three_dead, tui):
    """The button enter would press has an accent border; it moves with the focus."""
    app, pilot = tui
    await pilot.press("2")
    await until(pilot, lambda: len(keys(app, "#dlq-table")) == 3, message="the DLQ")
    await pilot.press("x")
    await until(pilot, lambda: screen_name(app) == "ConfirmScreen", message="dialog")
    no = app.screen.query_one("#no")
    await until(pilot, lambda: no.has_focus, message="the safe button focused")
    focused_border = no.styles.border_top[1]
    app.screen.query_one("#yes").focus()
    await until(pilot, lambda: not no.has_focus
                and no.styles.border_top[1] != focused_border,
                message="the border to follow the focus")
    await pilot.press("escape")


async def test_delete_of_several_says_their_history(three_dead, tui):
    app, pilot = tui
    await pilot.press("2")
    await until(pilot, lambda: len(keys(app, "#dlq-table")) == 3, message="the DLQ")
    await pilot.press("space", "space", "x")
    await until(pilot, lambda: screen_name(app) == "ConfirmScreen", message="dialog")
    text = await shows(pilot, "Delete 2 jobs and their history?")
    assert "its history" not in text
    await pilot.press("y")
    await until(pilot, lambda: app.queue.count("dead") == 1, message="the delete")


# --- the detail screen: digits close it and switch (defect 8) -----------------------


async def test_digits_in_the_detail_close_it_and_switch_panes(three_dead, tui):
    app, pilot = tui
    await until(pilot, lambda: len(keys(app, "#jobs-table")) == 3, message="rows")
    await pilot.press("enter")
    await until(pilot, lambda: screen_name(app) == "JobDetailScreen", message="detail")
    footer = screen_text(app).splitlines()[-1]
    assert "Jobs" not in footer and "DLQ" not in footer  # no digits offered
    assert "Back" in footer
    await pilot.press("3")
    await until(pilot, lambda: screen_name(app) != "JobDetailScreen",
                message="the detail to close")
    assert app.query_one("TabbedContent").active == "workers"
    await shows(pilot, "embedded (target 0)")


# --- navigation keys ----------------------------------------------------------------


@pytest.fixture
def ten_jobs(db_path):
    queue = JobQueue.open(db_path)
    for n in range(10):  # one by one: created_at orders them, newest first
        queue.enqueue([JobSpec(command=f"echo {n}", id=f"job-{n}")])
    queue.close()
    return db_path


async def test_j_k_g_G_home_end_move_the_cursor(ten_jobs, tui):
    app, pilot = tui
    table = app.query_one("#jobs-table")
    await until(pilot, lambda: len(table.keys) == 10, message="rows")
    assert table.selected_key == "job-9"
    await pilot.press("j", "j")
    assert table.selected_key == "job-7"
    await pilot.press("k")
    assert table.selected_key == "job-8"
    await pilot.press("G")
    assert table.selected_key == "job-0"
    await pilot.press("g")
    assert table.selected_key == "job-9"
    await pilot.press("end")
    assert table.selected_key == "job-0"
    await pilot.press("home")
    assert table.selected_key == "job-9"


@pytest.fixture
def three_dead_and_one_waiting(three_dead):
    queue = JobQueue.open(three_dead)
    queue.enqueue([JobSpec(command="true", id="waiting")])
    queue.close()
    return three_dead


async def test_f_and_F_cycle_the_state_filter_both_ways(three_dead_and_one_waiting, tui):
    app, pilot = tui
    table = app.query_one("#jobs-table")
    await until(pilot, lambda: len(table.keys) == 4, message="rows")
    await pilot.press("F")  # backwards from "all": the last state, cancelled
    await shows(pilot, "Filter: cancelled")
    await until(pilot, lambda: table.keys == [], message="no cancelled jobs")
    await shows(pilot, "No cancelled jobs")
    await pilot.press("F")
    await until(pilot, lambda: sorted(table.keys) == ["dead-a", "dead-b", "dead-c"],
                message="dead jobs")
    await pilot.press("f", "f")  # cancelled, then all again
    await until(pilot, lambda: len(table.keys) == 4, message="all rows")
    await pilot.press("f")
    await until(pilot, lambda: table.keys == ["waiting"], message="pending only")


@pytest.mark.backends  # paging, search, sort: both backends
async def test_sort_arrow_and_created_column(ten_jobs, tui):
    app, pilot = tui
    table = app.query_one("#jobs-table")
    await until(pilot, lambda: len(table.keys) == 10, message="rows")
    labels = [str(c.label) for c in table.columns.values()]
    assert "Created ↓" in labels
    await pilot.press("O")
    await until(pilot, lambda: table.keys[0] == "job-0", message="oldest first")
    assert "Created ↑" in [str(c.label) for c in table.columns.values()]
    await pilot.press("o")  # next sort column: updated
    await until(pilot, lambda: "Updated ↓" in [str(c.label) for c in table.columns.values()],
                message="the arrow on Updated")
    assert "Created" in [str(c.label) for c in table.columns.values()]


async def test_a_running_job_shows_when_it_started(db_path):
    # Explicit: the app's clock is fixed at the seeding's moment (no fixture option).
    queue = JobQueue.open(db_path)
    make_running(queue, "busy")
    stamp = time.time()
    Job.update(started_at=stamp - 17).where(Job.id == "busy").execute()
    queue.close()
    async with app_under_pilot(db_path, clock=lambda: stamp) as (app, pilot):
        await shows(pilot, "started 17s ago")
        await pilot.press("enter")
        await until(pilot, lambda: screen_name(app) == "JobDetailScreen", message="detail")
        await shows(pilot, "processing  (started 17s ago)")


async def test_y_copies_the_selected_job_id(ten_jobs):
    # Explicit: the toast is checked, so notifications are shown (no fixture option).
    async with app_under_pilot(ten_jobs, notifications=True) as (app, pilot):
        table = app.query_one("#jobs-table")
        await until(pilot, lambda: len(table.keys) == 10, message="rows")
        await pilot.press("j", "y")
        assert app.clipboard == "job-8"
        await shows(pilot, "Copied job-8")
        await pilot.press("enter")
        await until(pilot, lambda: screen_name(app) == "JobDetailScreen", message="detail")
        app.copy_to_clipboard("")
        await pilot.press("y")
        assert app.clipboard == "job-8"


async def test_an_empty_queue_says_how_to_enqueue(tui):
    _, pilot = tui
    await shows(pilot, "No jobs yet. Press n to enqueue one")
    await pilot.press("2")
    await shows(pilot, "The DLQ is empty")


async def test_space_marks_in_the_jobs_pane_and_x_deletes_the_marked(ten_jobs, tui):
    app, pilot = tui
    table = app.query_one("#jobs-table")
    await until(pilot, lambda: len(table.keys) == 10, message="rows")
    await pilot.press("space", "j", "space")  # marks job-9, skips job-8, marks job-7
    marked = {"job-9", "job-7"}
    assert app.query_one("JobsPane").marked == marked
    await pilot.press("k", "space")  # unmarks job-7 again, then marks it back
    assert app.query_one("JobsPane").marked == {"job-9"}
    await pilot.press("k", "space")
    assert app.query_one("JobsPane").marked == marked
    await pilot.press("x")
    await until(pilot, lambda: screen_name(app) == "ConfirmScreen", message="dialog")
    await pilot.press("y")
    await until(pilot, lambda: not any(j in table.keys for j in marked),
                message="the marked jobs gone")
    assert app.queue.count() == 10 - len(marked)


async def test_r_in_the_jobs_pane_retries_the_selected_dead_job(three_dead, tui):
    app, pilot = tui
    table = app.query_one("#jobs-table")
    await until(pilot, lambda: len(table.keys) == 3, message="rows")
    job = table.selected_key
    await pilot.press("r")
    await until(pilot, lambda: app.queue.get(job).state == "pending", message="the retry")


@pytest.mark.tui(size=(120, 60))
async def test_help_lists_the_navigation_keys(tui):
    app, pilot = tui
    await pilot.press("question_mark")
    await until(pilot, lambda: screen_name(app) == "HelpScreen", message="help")
    await shows(pilot, "j / k", "next / previous row", "g / G", "first / last row",
                "f / F", "filter by state: next / previous",
                "copy the job's id", "mark / unmark")


def test_bindings_have_ids_and_tooltips():
    from queuectl_tui.tui.screens.confirm import ConfirmScreen
    from queuectl_tui.tui.screens.help import HelpScreen
    from queuectl_tui.tui.screens.job_detail import JobDetailScreen
    from queuectl_tui.tui.screens.new_job import NewJobScreen
    from queuectl_tui.tui.widgets.config_pane import ConfigPane, SettingInput
    from queuectl_tui.tui.widgets.dlq_pane import DlqPane
    from queuectl_tui.tui.widgets.job_table_pane import JobTablePane
    from queuectl_tui.tui.widgets.jobs_pane import JobsPane
    from queuectl_tui.tui.widgets.live_table import JobTable, LiveTable, SettingsTable
    from queuectl_tui.tui.widgets.workers_pane import WorkersPane

    for owner in (ConfirmScreen, HelpScreen, JobDetailScreen, NewJobScreen, ConfigPane,
                  SettingInput, DlqPane,
                  JobTablePane, JobsPane, JobTable, LiveTable, SettingsTable, WorkersPane):
        for binding in owner.BINDINGS:
            assert binding.id and binding.tooltip, (owner.__name__, binding.key)


# --- 80x24 (defect 9) ----------------------------------------------------------------


@pytest.mark.tui(size=SMALL)
async def test_the_new_job_form_scrolls_at_80x24_and_shows_its_error(tui):
    app, pilot = tui
    await pilot.press("n")
    await until(pilot, lambda: screen_name(app) == "NewJobScreen", message="the form")
    await pilot.press(*"echo small")
    app.screen.query_one("#field-priority").focus()
    await pilot.press(*"abc", "ctrl+s")
    await shows(pilot, "priority must be a whole number, got 'abc'")
    assert app.queue.count() == 0
    for reachable in ("#field-when", "#submit", "#cancel"):  # tab gets there
        widget = app.screen.query_one(reachable)
        widget.focus()
        await until(pilot, lambda widget=widget: widget.region.y >= 0
                    and widget.region.bottom <= 24, message=f"{reachable} in view")
    await shows(pilot, "Enqueue (ctrl+s)", "Cancel (esc)")
    for _ in "abc":
        app.screen.query_one("#field-priority").action_delete_left()
    await pilot.press("ctrl+s")
    await until(pilot, lambda: app.queue.count() == 1, message="the job")


@pytest.mark.tui(size=SMALL)
async def test_the_footer_keeps_help_and_quit_at_80_columns(three_dead, tui):
    app, pilot = tui
    await until(pilot, lambda: len(keys(app, "#jobs-table")) == 3, message="rows")

    def footer() -> str:
        return screen_text(app).splitlines()[-1]

    for key, pane in (("1", "jobs"), ("2", "dlq"), ("3", "workers"), ("4", "config")):
        await pilot.press(key)
        await until(pilot, lambda pane=pane: app.view.pane == pane and "? Help" in footer()
                    and "q Quit" in footer(), message=f"help and quit on {pane}")
    await pilot.press("1")
    await until(pilot, lambda: "Open" in footer() and "Filter" in footer(),
                message="the Jobs keys in the footer")


@pytest.fixture
def external_worker(db_path):
    from queuectl_tui import registry

    queue = JobQueue.open(db_path)
    queue.prepare_worker()  # this boot: the row is not an earlier boot's leftover
    registry.register(queue.storage, "somehost-4242-beef", "elsewhere")
    queue.close()
    return db_path


@pytest.mark.tui(size=SMALL)
async def test_the_workers_pane_keeps_its_key_columns_at_80_columns(external_worker, tui):
    app, pilot = tui
    await pilot.press("3")
    table = app.query_one("#workers-table")
    await until(pilot, lambda: table.keys == ["somehost-4242-beef"], message="the worker")
    labels = [str(c.label) for c in table.columns.values()]
    for label in ("Worker", "State", "Current job", "Done", "Heartbeat", "Kind"):
        assert label in labels
    assert table.virtual_size.width <= 80
    await shows(pilot, "somehost-4242-beef", "external")


@pytest.mark.tui(size=SMALL)
async def test_narrow_jobs_pane_drops_columns_instead_of_scrolling(three_dead, tui):
    app, pilot = tui
    table = app.query_one("#jobs-table")
    await until(pilot, lambda: len(table.keys) == 3, message="rows")
    labels = [str(column.label) for column in table.columns.values()]
    assert labels == [" ", "ID", "State", "Tries", "Run at", "Command"]
    assert table.virtual_size.width <= 80
    await pilot.resize_terminal(150, 30)
    await until(pilot, lambda: len(table.columns) == 10, timeout=3,
                message="the wide layout at once")


# --- smaller ones (defect 10) -----------------------------------------------------------


@pytest.mark.tui(size=(120, 30))
async def test_enter_is_in_the_footer_and_editing_a_setting_keeps_a_footer(tui):
    app, pilot = tui
    await pilot.press("4")
    await until(pilot, lambda: "max_retries" in keys(app, "#config-table"),
                message="the settings")
    assert "enter Edit" in screen_text(app).splitlines()[-1].replace("⏎", "enter")
    await pilot.press("enter")

    def footer() -> str:
        return screen_text(app).splitlines()[-1].replace("⏎", "enter")

    await until(pilot, lambda: "Save" in footer() and "esc Cancel edit" in footer(),
                message="the editing keys in the footer")
    await pilot.press("escape")
    await until(pilot, lambda: "Cancel edit" not in footer() and footer().strip(),
                message="a footer without the editing keys")


async def test_toasts_do_not_cover_the_status_line(three_dead):
    # Explicit: a toast is needed, so notifications are shown (no fixture option).
    async with app_under_pilot(three_dead, notifications=True) as (app, pilot):
        await until(pilot, lambda: len(keys(app, "#jobs-table")) == 3, message="rows")
        await pilot.press("y")
        await until(pilot, lambda: len(app.screen.query("Toast")) == 1, message="toast")
        await pilot.pause(0.3)
        toast = app.screen.query_one("Toast")
        status = app.query_one("#status-line")
        pane_status = app.query_one("#jobs-status")
        assert toast.region.bottom <= pane_status.region.y
        assert not toast.region.overlaps(status.region)


# --- a frame drawn before the table measures its new rows (flaky cut columns) ------


async def test_cells_drawn_before_the_table_measures_them_are_not_left_cut():
    """Under load the screen can be drawn between ``sync`` and the table's idle
    pass that widens its columns: the cells then drawn at the header's width must
    not stay on screen once the columns are wide enough (they were cut to "bu",
    "proce" for good when nothing changed afterwards)."""
    # Explicit: a bare App holding one LiveTable, not the queuectl app.
    from textual.app import App

    from queuectl_tui.tui.widgets.live_table import LiveTable

    class TableApp(App):
        def compose(self):
            yield LiveTable([("id", "ID"), ("state", "State")])

    app = TableApp()
    async with app.run_test(size=(60, 10)) as pilot:
        table = app.query_one(LiveTable)
        table.sync([("busy", (Text("busy"), "processing"))])
        table.render_line(1)  # a frame drawn before the table's idle pass
        await shows(pilot, "busy", "processing", timeout=3.0)
