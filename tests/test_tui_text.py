"""Job and user text is shown literally everywhere in the TUI: never parsed as Rich
markup (which crashed the app on `[/var/lib]` and silently ate `[a-z]`), and never
passed to the terminal as control sequences (issue 8, defects 1 and 2)."""

from __future__ import annotations

import pytest

from queuectl_tui import registry
from queuectl_tui.jobspec import JobSpec
from queuectl_tui.queue import JobQueue
from tests.conftest import until
from tests.test_tui_panes import app_under_pilot, keys, make_dead, screen_name, shows

SIZE = (160, 40)
ESCAPES = "\033]0;pwned\007\033[2J"
SHOWN_ESCAPES = "␛]0;pwned␇␛[2J"
COMMANDS = {  # id -> command; each must be shown as written
    "[/b]": 'echo "[/INFO] done"',
    "grep-job": 'grep -E "[a-z]+" f',
    "array-job": "echo ${a[@]}",
    "info-job": 'echo "[info] x"',
    "naive-job": "echo naïve ✓ 日本",
}

pytestmark = pytest.mark.tui(size=SIZE)  # the `tui` fixture's app


@pytest.fixture
def hostile(db_path):
    queue = JobQueue.open(db_path)
    make_dead(queue, [JobSpec(command="printf '\\133/var/lib] missing\\n' >&2; exit 1",
                              id="[/var/lib]")],
              error="[/var/lib] missing", output="[/var/lib] missing\n")
    make_dead(queue, [JobSpec(command=f"printf '{ESCAPES}'", id="esc-job")],
              error=f"exit 1 {ESCAPES}", output=f"before {ESCAPES} after ✓\n[/b] [red]x\n")
    queue.enqueue([JobSpec(command=command, id=job_id) for job_id, command in COMMANDS.items()])
    queue.close()
    return db_path


def assert_no_raw_controls(text: str) -> None:
    assert "\x1b" not in text and "\x07" not in text, "a raw control character on screen"


async def test_job_text_is_literal_in_the_jobs_pane(hostile, tui):
    app, pilot = tui
    await until(pilot, lambda: len(keys(app, "#jobs-table")) == 7, message="rows")
    text = await shows(pilot, *COMMANDS, *COMMANDS.values(), "[/var/lib]",
                       "[/var/lib] missing", SHOWN_ESCAPES)
    assert_no_raw_controls(text)
    assert app.is_running


async def test_job_text_is_literal_in_the_dlq_and_the_detail(hostile, tui):
    app, pilot = tui
    await pilot.press("2")
    await until(pilot, lambda: sorted(keys(app, "#dlq-table")) == ["[/var/lib]", "esc-job"],
                message="the DLQ")
    text = await shows(pilot, "[/var/lib]", "[/var/lib] missing", SHOWN_ESCAPES)
    assert_no_raw_controls(text)
    table = app.query_one("#dlq-table")
    table.move_cursor(row=table.keys.index("esc-job"))
    await pilot.press("enter")
    await until(pilot, lambda: screen_name(app) == "JobDetailScreen", message="detail")
    text = await shows(pilot, f"before {SHOWN_ESCAPES} after ✓", "[/b] [red]x",
                       f"exit 1 {SHOWN_ESCAPES}", "test-worker")
    assert_no_raw_controls(text)
    await pilot.press("escape")
    table.move_cursor(row=table.keys.index("[/var/lib]"))
    await pilot.press("enter")
    await until(pilot, lambda: screen_name(app) == "JobDetailScreen", message="detail")
    await shows(pilot, "Job        [/var/lib]", "printf '\\133/var/lib] missing\\n'",
                "[/var/lib] missing")
    assert app.is_running


async def test_dialogs_and_toasts_show_ids_literally(hostile):
    # Explicit: the toasts are checked, so notifications are shown (no fixture option).
    async with app_under_pilot(hostile, SIZE, notifications=True) as (app, pilot):
        await pilot.press("2")
        await until(pilot, lambda: len(keys(app, "#dlq-table")) == 2, message="the DLQ")
        table = app.query_one("#dlq-table")
        table.move_cursor(row=table.keys.index("[/var/lib]"))
        await pilot.press("x")
        await until(pilot, lambda: screen_name(app) == "ConfirmScreen", message="dialog")
        await shows(pilot, "Delete job [/var/lib] and its history?")
        await pilot.press("n")
        await pilot.press("y")  # copy the id
        await shows(pilot, "Copied [/var/lib]")
        await pilot.press("r")
        await until(pilot, lambda: app.queue.get("[/var/lib]").state == "pending",
                    message="the retry")
        await shows(pilot, "Retrying [/var/lib]")
        assert app.is_running


async def test_markup_typed_into_the_search_is_searched_for_literally(hostile, tui):
    app, pilot = tui
    table = app.query_one("#jobs-table")
    await until(pilot, lambda: len(table.keys) == 7, message="rows")
    await pilot.press("slash", *"[/]")
    await shows(pilot, "matching '[/]'", "No job matches '[/]'")
    assert table.keys == []
    await pilot.press("escape", "slash", *"[/b")
    await until(pilot, lambda: table.keys == ["[/b]"], message="the [/b] job")
    await shows(pilot, "matching '[/b'")
    assert app.is_running


async def test_markup_typed_into_a_setting_is_refused_literally(tui):
    app, pilot = tui
    await pilot.press("4")
    await until(pilot, lambda: "max_retries" in keys(app, "#config-table"),
                message="the settings")
    await pilot.press("enter")
    editor = app.query_one("#config-input")
    editor.value = ""
    await pilot.press(*"[/]", "enter")
    await shows(pilot, "must be a number, got '[/]'")
    assert app.queue.config().max_retries == 3
    assert app.is_running


async def test_markup_in_new_job_fields(db_path):
    # Explicit: the "Enqueued" toast is checked, so notifications are shown.
    async with app_under_pilot(db_path, SIZE, notifications=True) as (app, pilot):
        await pilot.press("n")
        await until(pilot, lambda: screen_name(app) == "NewJobScreen", message="form")
        await pilot.press(*'echo "[/INFO] done"')
        app.screen.query_one("#field-priority").focus()
        await pilot.press(*"[/b]", "ctrl+s")
        await shows(pilot, "priority must be a whole number, got '[/b]'")
        field = app.screen.query_one("#field-priority")
        field.value = ""
        app.screen.query_one("#field-id").focus()
        await pilot.press(*"[/x]", "ctrl+s")
        await until(pilot, lambda: screen_name(app) != "NewJobScreen", message="enqueued")
        assert app.queue.get("[/x]").command == 'echo "[/INFO] done"'
        await shows(pilot, "Enqueued [/x]", 'echo "[/INFO] done"')
        assert app.is_running


async def test_status_lines_show_a_database_path_with_brackets_literally(tmp_path, monkeypatch):
    """The status line names the database, also while a fetch waits for it: a
    folder named ``[/b]x`` is shown as written (as markup it crashed the app)."""
    # Explicit: the database is not the fixture's `db_path`, and the fetch is
    # patched before the app starts.
    import threading

    from queuectl_tui.tui import app as app_module

    folder = tmp_path / "[/b]x"
    folder.mkdir(parents=True)  # "[" holding "b]x": the path reads [/b]x
    db = folder / "q.db"
    release = threading.Event()
    real_fetch = app_module.fetch

    def slow_fetch(queue, view):
        if view.pane == "dlq":  # the fetch a pane switch asks for waits for the test
            release.wait(10)
        return real_fetch(queue, view)

    monkeypatch.setattr(app_module, "fetch", slow_fetch)
    monkeypatch.setattr(app_module, "SLOW_FETCH_SECONDS", 0.2)

    async with app_under_pilot(db, SIZE) as (app, pilot):
        try:
            await shows(pilot, "[/b]x/q.db")
            await pilot.press("2")
            await shows(pilot, "waiting for the database", "[/b]x/q.db")
        finally:
            release.set()
        await until(pilot, lambda: "waiting" not in str(
            app.query_one("#status-line").render()), message="the status back")
        assert app.is_running


@pytest.fixture
def hostile_worker(db_path):
    queue = JobQueue.open(db_path)
    queue.prepare_worker()  # this boot: the row is not an earlier boot's leftover
    registry.register(queue.storage, "[/w]-4242-beef", "[b]elsewhere")
    queue.close()
    return db_path


async def test_worker_text_is_literal_in_the_workers_pane(hostile_worker, tui):
    app, pilot = tui
    await pilot.press("3")
    await shows(pilot, "[/w]-4242-beef", "external")
    assert app.is_running
