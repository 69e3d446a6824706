"""The queue's figures (metrics.py), their Prometheus text, and `queuectl metrics`."""

from __future__ import annotations

import subprocess
import sys

import pytest
from prometheus_client.parser import text_string_to_metric_families

from queuectl_tui import metrics
from queuectl_tui.config import Config
from queuectl_tui.jobspec import JobSpec
from queuectl_tui.timeutil import now
from queuectl_tui.web.exposition import render

pytestmark = pytest.mark.backends

WORKER = "test-host-1-abc"
HOSTILE_QUEUE = 'q"[b]\\x'


def run_one(queue, ok: bool) -> None:
    claimed = queue.claim(WORKER, 30)
    assert claimed is not None
    if ok:
        queue.complete(claimed, WORKER, 0, "done")
    else:
        queue.fail(claimed, WORKER, 1, "exit 1 [markup]", "\033[2J", Config(backoff_base=60))


def families(text: str) -> dict:
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_counts_per_queue_and_state_with_a_hostile_queue_name(queue):
    queue.enqueue([JobSpec(command="true", id="a"), JobSpec(command="true", id="b"),
                   JobSpec(command="true", id="c", queue=HOSTILE_QUEUE)])
    snap = metrics.collect(queue)
    assert snap.jobs[("default", "pending")] == 2
    assert snap.jobs[(HOSTILE_QUEUE, "pending")] == 1
    assert snap.jobs[(HOSTILE_QUEUE, "dead")] == 0  # every state of every queue is there
    parsed = families(render(snap).decode())
    samples = {(s.labels["queue"], s.labels["state"]): s.value
               for s in parsed["queuectl_jobs"].samples}
    assert samples[(HOSTILE_QUEUE, "pending")] == 1  # the label survived escaping
    assert samples[("default", "pending")] == 2


def test_since_counters_count_only_what_happened_after_the_start(queue):
    queue.enqueue([JobSpec(command="true", id=f"j{n}", max_retries=1) for n in range(4)])
    run_one(queue, ok=True)
    run_one(queue, ok=False)  # dead (max_retries 1) before the start
    start = now()
    run_one(queue, ok=True)
    run_one(queue, ok=False)
    snap = metrics.collect(queue, since=start)
    assert (snap.completed_since, snap.dead_since, snap.failed_attempts_since) == (1, 1, 1)
    everything = metrics.collect(queue)
    assert (everything.completed_since, everything.dead_since,
            everything.failed_attempts_since) == (2, 2, 2)
    assert snap.per_state()["completed"] == 2  # the gauges count the whole database


def test_oldest_runnable_age_and_pickup_latency(queue):
    assert metrics.collect(queue).oldest_runnable_age == 0
    stamp = now()
    queue.enqueue([JobSpec(command="true", id="waited", run_at=stamp - 60),
                   JobSpec(command="true", id="later", run_at=stamp + 3600)])
    snap = metrics.collect(queue)
    assert 59 <= snap.oldest_runnable_age < 70  # the future job does not count
    run_one(queue, ok=True)  # "waited" is picked up 60 s after it became runnable
    snap = metrics.collect(queue)
    assert snap.pickup_count == 1
    assert 59 <= snap.pickup_seconds < 70
    assert snap.oldest_runnable_age == 0
    parsed = families(render(snap).decode())
    summary = {s.name: s.value for s in parsed["queuectl_pickup_latency_seconds"].samples}
    assert summary["queuectl_pickup_latency_seconds_count"] == 1


def test_queuectl_metrics_prints_what_status_counts(fast_cli, queue):
    queue.enqueue([JobSpec(command="true", id="one"), JobSpec(command="false", id="two",
                                                             max_retries=1)])
    run_one(queue, ok=True)
    run_one(queue, ok=False)
    result = fast_cli("metrics")
    parsed = families(result.out)
    by_state: dict[str, float] = {}
    for sample in parsed["queuectl_jobs"].samples:
        by_state[sample.labels["state"]] = by_state.get(sample.labels["state"], 0) + sample.value
    status = fast_cli.json("status", "--json")
    assert by_state == {state: float(n) for state, n in status["jobs"].items()}
    assert parsed["queuectl_jobs_completed"].samples[0].value == 1
    later = families(fast_cli("metrics", "--since", str(now() + 10)).out)
    assert later["queuectl_jobs_completed"].samples[0].value == 0


@pytest.mark.backends("sqlite")  # about the missing extra, not the database
def test_queuectl_metrics_without_the_extra_names_it(db_path):
    code = ("import sys; sys.modules['prometheus_client'] = None; "
            "from queuectl_tui.cli import main; main(['--db', sys.argv[1], 'metrics'])")
    result = subprocess.run([sys.executable, "-c", code, str(db_path)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: queuectl metrics needs prometheus_client; install the web extra: "
        "pip install 'queuectl-tui[web]'")


@pytest.mark.backends("sqlite")  # refused before the database is read
@pytest.mark.parametrize("bad", ["-1", "soon"])
def test_queuectl_metrics_bad_since_is_one_line(fast_cli, bad):
    result = fast_cli("metrics", "--since", bad, check=False)
    assert result.returncode == 2
    assert len(result.err.strip().splitlines()) == 1
