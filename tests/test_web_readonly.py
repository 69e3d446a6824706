"""Read-only mode in the domain (`queuectl web --read-only`): a queue opened
read-only refuses every change with one error and leaves the database as it was."""

from __future__ import annotations

import pytest

from queuectl_tui.errors import QueueError
from queuectl_tui.jobspec import JobSpec
from queuectl_tui.queue import JobQueue, ReadOnly
from queuectl_tui.timeutil import now
from tests.conftest import db_snapshot

WORKER = "test-host-1-abc"


@pytest.fixture
def seeded(db_path):
    queue = JobQueue.open(db_path)
    queue.enqueue([JobSpec(command="echo '[b]x[/b]'", id="pending-1"),
                   JobSpec(command="false", id="dead-1", max_retries=1),
                   JobSpec(command="sleep 9", id="running-1")])
    for _ in range(2):
        claimed = queue.claim(WORKER, 30)
        if claimed.id == "dead-1":
            queue.fail(claimed, WORKER, 1, "exit 1", "", queue.config())
    queue.close()
    return db_path


CHANGES = {
    "set_config": lambda q: q.set_config("max_retries", "5"),
    "enqueue": lambda q: q.enqueue([JobSpec(command="true")]),
    "claim": lambda q: q.claim(WORKER, 30),
    "retry_dead": lambda q: q.retry_dead(["dead-1"]),
    "retry_all": lambda q: q.retry_dead(None),
    "cancel": lambda q: q.cancel(["pending-1"]),
    "delete": lambda q: q.delete(["pending-1"]),
    "purge": lambda q: q.purge(["dead"]),
    "vacuum": lambda q: q.vacuum(),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_every_change_is_refused_with_one_error(seeded, change):
    before = db_snapshot(seeded)
    queue = JobQueue.open(seeded, read_only=True)
    with pytest.raises(ReadOnly) as refused:
        CHANGES[change](queue)
    assert isinstance(refused.value, QueueError)  # the faces show it as one line
    assert str(refused.value) == "this queue is open read-only: nothing can be changed here"
    queue.close()
    assert db_snapshot(seeded) == before


def test_reads_work_and_recovery_is_left_to_others(seeded):
    writer = JobQueue.open(seeded)
    writer.db.execute_sql("UPDATE job SET lease_expires_at = ? WHERE state = 'processing'",
                          (now() - 100,))
    writer.close()
    before = db_snapshot(seeded)
    queue = JobQueue.open(seeded, read_only=True)
    assert queue.counts()["dead"] == 1
    assert queue.get("pending-1").command == "echo '[b]x[/b]'"
    assert [j.id for j in queue.page(state="dead")] == ["dead-1"]
    assert queue.recover_expired() == []
    assert db_snapshot(seeded) == before
    writer = JobQueue.open(seeded)
    writer.recover_expired()  # a writable queue does its part (a mark or a take-back)
    writer.close()
    assert db_snapshot(seeded) != before


# --- the TUI: read-only, and a browser tab's app ----------------------------------------


def offered_actions(app) -> set[str]:
    """The actions the footer offers now (``check_action`` decides)."""
    return {active.binding.action for active in app.screen.active_bindings.values()}


async def press_all(pilot, *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
        await pilot.pause(0.05)


async def test_a_read_only_app_offers_no_change_and_its_keys_change_nothing(seeded):
    from queuectl_tui.tui.commands import QueuectlCommands
    from tests.test_tui_panes import app_under_pilot, shows

    writer = JobQueue.open(seeded)
    writer.set_config("tui_workers", "2")  # a read-only app still starts none
    writer.close()
    before = db_snapshot(seeded)
    async with app_under_pilot(seeded, read_only=True) as (app, pilot):
        assert app.queue.read_only and app.embedded.wanted == 0
        assert "new_job" not in offered_actions(app)
        await press_all(pilot, "2")
        await shows(pilot, "dead-1")
        offered = offered_actions(app)
        assert not offered & {"retry", "retry_all", "delete"}
        assert {"search", "cycle_sort"} <= offered  # looking around still works
        await press_all(pilot, "R", "y", "r", "y", "x", "y", "n")
        assert len(app.screen_stack) == 1  # no dialog, no form opened
        await press_all(pilot, "1")
        assert not offered_actions(app) & {"cancel_job", "retry", "delete"}
        await press_all(pilot, "c", "y", "enter")  # enter opens the job: reading is fine
        assert not offered_actions(app) & {"cancel_job", "retry", "delete"}
        await press_all(pilot, "escape", "3")
        assert not offered_actions(app) & {"scale(1)", "scale(-1)", "toggle"}
        await press_all(pilot, "plus", "s", "4")
        assert "select_cursor" not in offered_actions(app)  # no "Edit" on the settings
        titles = {title for title, _, _ in QueuectlCommands(app.screen)._offered()}
        assert "Show DLQ" in titles
        assert not titles & {"New job", "Retry all dead jobs", "Delete the selected dead jobs",
                             "Cancel the selected job", "Add a worker"}
        # Whatever still reaches the domain is refused there.
        with pytest.raises(ReadOnly):
            app.queue.retry_dead(None)
    assert db_snapshot(seeded) == before


async def test_a_browser_tab_offers_no_embedded_workers_but_every_change(seeded):
    from tests.test_tui_panes import app_under_pilot, shows

    async with app_under_pilot(seeded, embed_workers=False) as (app, pilot):
        await press_all(pilot, "3")
        assert not offered_actions(app) & {"scale(1)", "scale(-1)", "toggle"}
        await press_all(pilot, "plus", "plus")
        assert app.embedded.wanted == 0
        await press_all(pilot, "2")
        await shows(pilot, "dead-1")
        assert {"retry", "retry_all", "delete"} <= offered_actions(app)
