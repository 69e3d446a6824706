"""The domain module: each state change, in process, against a real database (both backends)."""

from __future__ import annotations

import pytest

from queuectl_tui.config import Config
from queuectl_tui.errors import Conflict, InvalidInput, NotFound
from queuectl_tui.jobspec import JobSpec
from queuectl_tui.store import Attempt, Job
from queuectl_tui.timeutil import lease_clock, to_wall
from tests.conftest import is_postgres, wait_for

pytestmark = pytest.mark.backends


def spec(command="true", **fields) -> JobSpec:
    return JobSpec(command=command, **fields)


def test_enqueue_uses_config_max_retries_and_generates_ids(queue):
    queue.set_config("max-retries", "5")
    ids = queue.enqueue([spec(), spec(id="mine", max_retries=1)])
    assert ids[1] == "mine" and len(ids[0]) == 16
    assert queue.get(ids[0]).max_retries == 5
    assert queue.get("mine").max_retries == 1
    assert queue.get("mine").state == "pending"


def test_bulk_enqueue_is_all_or_nothing(queue):
    queue.enqueue([spec(id="taken")])
    with pytest.raises(Conflict, match="'taken' already exists"):
        queue.enqueue([spec(id="a"), spec(id="b"), spec(id="taken")])
    with pytest.raises(Conflict, match="appears twice"):
        queue.enqueue([spec(id="c"), spec(id="c")])
    assert queue.count() == 1


def test_claim_takes_highest_priority_then_earliest_run_at(queue):
    queue.enqueue([spec(id="low", priority=-1), spec(id="mid"), spec(id="high", priority=9),
                   spec(id="mid2")])
    order = [queue.claim("w", 30).id for _ in range(4)]
    assert order == ["high", "mid", "mid2", "low"]
    assert queue.claim("w", 30) is None


def test_claim_skips_jobs_scheduled_in_the_future(queue):
    from queuectl_tui.timeutil import now

    queue.enqueue([spec(id="later", run_at=now() + 60, priority=100), spec(id="now")])
    assert queue.claim("w", 30).id == "now"
    assert queue.claim("w", 30) is None


def test_claim_marks_processing_and_counts_the_attempt(queue):
    queue.enqueue([spec(id="j")])
    claimed = queue.claim("worker-1", 30)
    job = queue.get("j")
    assert (job.state, job.attempts, job.worker_id) == ("processing", 1, "worker-1")
    # The lease is a reading of the storage's lease clock (SQLite: this boot's
    # monotonic clock; PostgreSQL: the server's), shown as wall time by its offset.
    assert job.lease_expires_at == pytest.approx(queue.storage.clock() + 30, abs=1)
    wall = job.lease_expires_at + queue.lease_offset()
    assert wall == pytest.approx(claimed.started_at + 30, abs=1)
    if not is_postgres(queue.storage.url):
        assert job.lease_expires_at == pytest.approx(lease_clock() + 30, abs=1)
        assert to_wall(job.lease_expires_at) == pytest.approx(wall, abs=0.1)


def test_failures_back_off_exponentially_then_go_dead(queue):
    config = Config(backoff_base=2, backoff_max=3600)
    queue.enqueue([spec(id="j", max_retries=3)])
    delays = []
    for expected_state in ("failed", "failed", "dead"):
        job = queue.get("j")
        if job.state == "failed":  # make it runnable now
            Job.update(run_at=0).where(Job.id == "j").execute()
        claimed = queue.claim("w", 30)
        state = queue.fail(claimed, "w", 1, "exit code 1", "", config)
        assert state == expected_state
        job = queue.get("j")
        if state == "failed":
            delays.append(round(job.run_at - job.finished_at, 3))
    assert delays == [2.0, 4.0]
    job = queue.get("j")
    assert (job.state, job.attempts, job.last_error) == ("dead", 3, "exit code 1")
    retries = [a.retry_at is not None for a in Attempt.select().order_by(Attempt.id)]
    assert retries == [True, True, False]


def test_backoff_is_capped_by_backoff_max():
    assert Config(backoff_base=10, backoff_max=60).backoff_delay(5) == 60
    assert Config(backoff_base=1000, backoff_max=5).backoff_delay(10**6) == 5


def test_max_retries_zero_still_runs_once(queue):
    queue.enqueue([spec(id="j", max_retries=0)])
    claimed = queue.claim("w", 30)
    assert claimed is not None
    assert queue.fail(claimed, "w", 1, "boom", "", Config()) == "dead"


def test_complete_records_output_and_an_attempt(queue):
    queue.enqueue([spec(id="j")])
    claimed = queue.claim("w", 30)
    assert queue.complete(claimed, "w", 0, "hello\n")
    job = queue.get("j")
    assert (job.state, job.exit_code, job.output) == ("completed", 0, "hello\n")
    assert [(a.number, a.exit_code) for a in queue.attempts("j")] == [(1, 0)]


def test_expired_lease_is_taken_back_as_a_failed_attempt(queue):
    queue.enqueue([spec(id="j")])
    queue.set_config("lease_seconds", 1)  # a suspect lease gets half a lease of grace
    queue.prepare_worker()  # as a worker does: leases are this boot's from now on
    claimed = queue.claim("dead-worker", lease_seconds=-1)  # already expired
    assert queue.recover_expired() == []  # marked suspect first
    assert queue.get("j").state == "processing"
    assert wait_for(queue.recover_expired, timeout=5, message="the grace to pass") == ["j"]
    job = queue.get("j")
    assert job.state == "failed" and job.attempts == 1
    assert "lease expired" in job.last_error
    # The dead worker's late result is fenced off: it changes nothing.
    assert not queue.complete(claimed, "dead-worker", 0, "late")
    assert queue.get("j").state == "failed"
    assert len(queue.attempts("j")) == 1


def test_release_puts_job_back_without_charging_an_attempt(queue):
    queue.enqueue([spec(id="j")])
    claimed = queue.claim("w", 30)
    assert queue.release(claimed, "w")
    job = queue.get("j")
    assert (job.state, job.attempts, job.worker_id) == ("pending", 0, None)


def test_lease_renewal_fails_once_the_job_is_cancelled(queue):
    queue.enqueue([spec(id="j")])
    claimed = queue.claim("w", 30)
    assert queue.renew_lease(claimed, "w", 30)
    queue.cancel(["j"])
    assert not queue.renew_lease(claimed, "w", 30)
    assert not queue.complete(claimed, "w", 0, "")
    assert queue.get("j").state == "cancelled"


def test_dlq_retry_resets_attempts_and_refuses_bad_ids(queue):
    queue.enqueue([spec(id="d1", max_retries=1), spec(id="d2", max_retries=1),
                   spec(id="alive")])
    for _ in range(2):
        queue.fail(queue.claim("w", 30), "w", 1, "boom", "", Config())
    assert {queue.get("d1").state, queue.get("d2").state} == {"dead"}
    with pytest.raises(Conflict, match="'alive' is pending"):
        queue.retry_dead(["d1", "alive"])
    with pytest.raises(NotFound):
        queue.retry_dead(["d1", "nope"])
    assert queue.get("d1").state == "dead"  # refused calls changed nothing
    assert queue.retry_dead(["d1"]) == ["d1"]
    job = queue.get("d1")
    assert (job.state, job.attempts) == ("pending", 0)
    assert queue.retry_dead(None) == ["d2"]


def test_cancel_and_delete_check_states(queue):
    queue.enqueue([spec(id="p"), spec(id="c")])
    queue.complete(queue.claim("w", 30), "w", 0, "")
    done = "p" if queue.get("p").state == "completed" else "c"
    other = "c" if done == "p" else "p"
    with pytest.raises(Conflict, match="completed"):
        queue.cancel([other, done])
    assert queue.get(other).state == "pending"
    assert queue.cancel([other]) == [other]
    assert queue.delete([done]) == [done]
    with pytest.raises(NotFound):
        queue.get(done)


def test_purge_deletes_only_finished_jobs(queue):
    queue.enqueue([spec(id="a"), spec(id="b")])
    queue.complete(queue.claim("w", 30), "w", 0, "")
    assert queue.purge(["completed"]) == 1
    assert queue.count() == 1
    with pytest.raises(InvalidInput):
        queue.purge(["pending"])


def test_counts_cover_every_state(queue):
    queue.enqueue([spec(), spec()])
    counts = queue.counts()
    assert counts["pending"] == 2 and counts["dead"] == 0 and len(counts) == 6


def test_config_defaults_match_setting_definitions():
    from queuectl_tui.config import SETTINGS

    assert {k: v for k, v in Config().items()} == {k: s.default for k, s in SETTINGS.items()}


@pytest.mark.parametrize("key,value", [
    ("max_retries", "-1"), ("max_retries", "2.5"), ("max_retries", "many"),
    ("backoff_base", "0"), ("poll_interval", "nan"), ("lease_seconds", "inf"),
])
def test_bad_config_values_are_refused(queue, key, value):
    with pytest.raises(InvalidInput):
        queue.set_config(key, value)
    assert queue.config() == Config()


def test_get_with_output_tail_reads_only_the_end_and_the_whole_size(queue):
    queue.enqueue([spec(id="chatty"), spec(id="quiet")])
    output = "é" * 10 + "\n" + "end ✓\n"
    queue.complete(queue.claim("w", 30), "w", 0, output)
    job = queue.get("chatty", output_tail=6)
    assert (job.output, job.output_bytes) == ("end ✓\n", len(output.encode()))
    assert queue.get("chatty", output_tail=10_000).output == output
    assert queue.get("chatty").output == output and not hasattr(queue.get("chatty"),
                                                                "output_bytes")
    quiet = queue.get("quiet", output_tail=6)
    assert (quiet.output, quiet.output_bytes) == (None, None)
    with pytest.raises(NotFound):
        queue.get("nope", output_tail=6)


def test_each_job_streams_jobs_in_creation_order_without_output(queue):
    queue.enqueue([spec(id=f"j{n}") for n in range(5)])
    queue.complete(queue.claim("w", 30), "w", 0, "big output")
    rows = list(queue.each_job())
    assert [r.id for r in rows] == [f"j{n}" for n in range(5)]
    assert not hasattr(rows[0], "output")
    assert [r.id for r in queue.each_job("completed")] == ["j0"]
