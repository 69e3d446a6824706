"""The schema-5 store pieces under the workflow features, on both backends:
dependencies keep a job out of the claim until they complete (once), a unique
key admits one live job, and a claimed job carries its cwd, env and queue."""

from __future__ import annotations

import pytest

from queuectl_tui.errors import InvalidInput, NotFound
from queuectl_tui.jobspec import JobSpec
from queuectl_tui.store import Dependency, Job

pytestmark = pytest.mark.backends

WORKER = "w1"


def _run(queue, expected: str | None) -> None:
    """Claim one job, check which, complete it."""
    job = queue.claim(WORKER, 30.0)
    assert (job.id if job else None) == expected
    if job is not None:
        assert queue.complete(job, WORKER, 0, "")


def _waiting(job_id: str) -> int:
    return Job.get_by_id(job_id).waiting


def test_a_chain_runs_in_order_and_a_dead_dependency_blocks_until_it_completes(queue):
    queue.enqueue([JobSpec("false", id="a", max_retries=1)])
    queue.enqueue([JobSpec("true", id="b", after=("a",)),
                   JobSpec("true", id="c", after=("b",))])
    assert (_waiting("b"), _waiting("c")) == (1, 1)
    job = queue.claim(WORKER, 30.0)
    assert job.id == "a"
    assert queue.fail(job, WORKER, 1, "exit code 1", "", queue.config()) == "dead"
    assert queue.claim(WORKER, 30.0) is None  # b waits for a dead job
    queue.retry_dead(["a"])
    _run(queue, "a")
    assert _waiting("b") == 0
    _run(queue, "b")
    _run(queue, "c")
    _run(queue, None)
    assert Dependency.select().where(Dependency.met == 0).count() == 0


def test_a_dependency_met_once_frees_its_dependents_once(queue):
    """A restarted dependency that completes again must not count for another
    edge of the same dependent."""
    queue.enqueue([JobSpec("true", id="x"), JobSpec("true", id="y", run_at=4102444800.0)])
    queue.enqueue([JobSpec("true", id="d", after=("x", "y"))])
    assert _waiting("d") == 2
    _run(queue, "x")
    assert _waiting("d") == 1
    Job.update(state="pending", attempts=0).where(Job.id == "x").execute()
    _run(queue, "x")
    assert _waiting("d") == 1
    _run(queue, None)  # y is not due, d still waits for it


def test_after_a_completed_job_waits_for_nothing_and_unknown_ids_add_nothing(queue):
    queue.enqueue([JobSpec("true", id="done")])
    _run(queue, "done")
    queue.enqueue([JobSpec("true", id="next", after=("done",))])
    assert _waiting("next") == 0
    before = Job.select().count()
    with pytest.raises(NotFound, match="'nope'"):
        queue.enqueue([JobSpec("true", id="x1"), JobSpec("true", id="x2", after=("done", "nope"))])
    with pytest.raises(InvalidInput, match="itself"):
        queue.enqueue([JobSpec("true", id="self", after=("self",))])
    assert Job.select().count() == before
    assert Job.get_by_id("done").dependents == 1


def test_a_unique_key_admits_one_live_job(queue):
    assert queue.enqueue([JobSpec("true", id="u1", unique_key="k")]) == ["u1"]
    assert queue.enqueue([JobSpec("true", id="u2", unique_key="k")]) == ["u1"]
    assert not Job.select().where(Job.id == "u2").exists()
    _run(queue, "u1")  # finished: the key is free again
    assert queue.enqueue([JobSpec("true", id="u3", unique_key="k")]) == ["u3"]


def test_a_claim_carries_cwd_env_and_queue(queue):
    queue.enqueue([JobSpec("pwd", id="here", cwd="/tmp", env={"A": "1 [b]x[/b]"},
                           queue="q1")])
    job = queue.claim(WORKER, 30.0)
    assert (job.cwd, job.env, job.queue) == ("/tmp", '{"A": "1 [b]x[/b]"}', "q1")
