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
