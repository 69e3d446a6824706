"""Recurring jobs fired by real workers on two "hosts" (issue 13, "done means").

Each host is a ``queuectl worker start`` process tree with its own
``QUEUECTL_HOSTNAME`` (``tests/multihost.py``), all on one database (SQLite or
PostgreSQL). Nobody waits for minutes: every process reads the schedule clock
from the file named by ``QUEUECTL_SCHEDULE_CLOCK`` (a test hook that moves
schedule evaluation only), and the test advances it minute by minute.

"Nothing more fired" is checked, not hoped for: after each step the test waits
until every worker has run a whole housekeeping (which ends by firing what is
due) that began after the step, seen as its heartbeat moving twice.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from queuectl_tui.queue import JobQueue
from queuectl_tui.schedules import CLOCK_ENV, occurrence_id
from tests.conftest import FAST_CONFIG, db_rows, wait_for
from tests.multihost import Host, queuectl

pytestmark = pytest.mark.backends

T0 = datetime(2030, 1, 1, 0, 0, 30, tzinfo=UTC).timestamp()  # half a minute past midnight


def minute(n: int) -> str:
    """The job id of the ``every`` schedule's occurrence at 00:0n."""
    return occurrence_id("every", T0 + 30 + 60 * (n - 1))


@pytest.fixture
def target(backend, monkeypatch, tmp_path: Path) -> str:
    """The shared database, fast settings, and the schedule clock at T0 for every
    process this test starts (hosts and CLI calls inherit the environment)."""
    target = str(backend)
    queue = JobQueue.open(target)
    for key, value in FAST_CONFIG.items():
        queue.set_config(key, value)
    queue.close()
    monkeypatch.setenv(CLOCK_ENV, str(tmp_path / "clock"))
    monkeypatch.setenv("TZ", "UTC")
    set_clock(T0)
    return target


def set_clock(moment: float) -> None:
    """Move the schedule clock of every process (atomically: never half a file)."""
    path = Path(os.environ[CLOCK_ENV])
    path.with_suffix(".new").write_text(repr(moment))
    path.with_suffix(".new").replace(path)


@pytest.fixture
def hosts(tmp_path: Path):
    started: list[Host] = []

    def start(name: str, target: str, count: int) -> Host:
        host = Host(name, target, count, tmp_path).start()
        started.append(host)
        return host

    yield start
    for host in started:
        host.stop()


def live_workers(target: str) -> Counter:
    listed = json.loads(queuectl(target, "worker", "list", "--json").stdout)
    return Counter(w["hostname"] for w in listed)


def wait_for_workers(target: str, expected: dict[str, int], *started: Host) -> None:
    def ready() -> bool:
        for host in started:
            assert host.proc.poll() is None, f"{host.name} exited:\n{host.log()}"
        return live_workers(target) == Counter(expected)

    wait_for(ready, timeout=30, interval=0.1, message=f"workers {expected}")


def jobs(target: str) -> list[tuple[str, str, int]]:
    """(id, state, attempts) of every job, in creation order."""
    return [tuple(row) for row in db_rows(
        target, "SELECT id, state, attempts FROM job ORDER BY created_at, id")]


def every_worker_looked_again(target: str, count: int) -> None:
    """Wait until each of the ``count`` workers has run a whole housekeeping that
    began after this call (the firing is its last step): its heartbeat moved
    twice."""
    for _ in range(2):
        before = dict(db_rows(target, "SELECT id, heartbeat_at FROM worker"))
        assert len(before) == count, before

        def moved(before=before) -> bool:
            now = dict(db_rows(target, "SELECT id, heartbeat_at FROM worker"))
            return all(now.get(worker) not in (None, beat) for worker, beat in before.items())

        wait_for(moved, timeout=15, message="every worker's next housekeeping")


def fired_lines(*started: Host) -> list[str]:
    return [line for host in started for line in host.log().splitlines()
            if "schedule every: enqueued job" in line]


def test_every_minute_with_4_workers_on_2_hosts_fires_once_a_minute(target, hosts):
    """The issue's check: `* * * * *`, 4 workers on 2 hosts, N minutes -> N jobs,
    one per minute, none missing, none twice, each run once."""
    queuectl(target, "schedule", "add", "every", "* * * * *", "-c",
             'echo "$QUEUECTL_JOB_ID on ${QUEUECTL_HOSTNAME:-?}"')
    host_a = hosts("host-a", target, 2)
    host_b = hosts("host-b", target, 2)
    wait_for_workers(target, {"host-a": 2, "host-b": 2}, host_a, host_b)
    every_worker_looked_again(target, 4)
    assert jobs(target) == []  # 00:00:30: nothing is due yet

    minutes = 6
    for n in range(1, minutes + 1):
        set_clock(T0 + 60 * n)  # 00:0n:30
        wait_for(lambda n=n: len(jobs(target)) >= n, timeout=15, message=f"minute {n}")
        assert [job_id for job_id, _, _ in jobs(target)] == [minute(i) for i in range(1, n + 1)]
    every_worker_looked_again(target, 4)
    wait_for(lambda: all(state == "completed" for _, state, _ in jobs(target)), timeout=15,
             message="the jobs to complete")
    assert jobs(target) == [(minute(n), "completed", 1) for n in range(1, minutes + 1)]

    lines = fired_lines(host_a, host_b)
    assert len(lines) == minutes, lines  # one worker fired each minute, nobody else
    by_host = Counter("host-a" if line in host_a.log() else "host-b" for line in lines)
    print(f"\nfired by: {dict(by_host)}")
    listed = json.loads(queuectl(target, "schedule", "list", "--json").stdout)[0]
    assert listed["last_job_id"] == minute(minutes) and listed["last_state"] == "completed"
    assert listed["next_at"] == "2030-01-01T00:07:00.000Z"


def test_after_all_workers_were_down_the_missed_minutes_fire_once(target, hosts):
    queuectl(target, "schedule", "add", "every", "* * * * *", "-c", "true")
    first = hosts("host-a", target, 2)
    wait_for_workers(target, {"host-a": 2}, first)
    set_clock(T0 + 60)
    wait_for(lambda: len(jobs(target)) == 1, timeout=15, message="the 00:01 job")
    first.stop()
    assert first.proc.returncode == 0, first.log()
    assert live_workers(target) == Counter()

    set_clock(T0 + 6 * 60)  # 00:06:30: 00:02, 00:03, 00:04, 00:05, 00:06 pass unseen
    host_a = hosts("host-a2", target, 2)
    host_b = hosts("host-b", target, 2)
    wait_for_workers(target, {"host-a2": 2, "host-b": 2}, host_a, host_b)
    wait_for(lambda: len(jobs(target)) >= 2, timeout=15, message="the catch-up job")
    every_worker_looked_again(target, 4)
    assert [job_id for job_id, _, _ in jobs(target)] == [minute(1), minute(6)]  # once
    lines = fired_lines(host_a, host_b)
    assert len(lines) == 1 and lines[0].endswith(
        f"enqueued job {minute(6)} (for every run due since 2030-01-01T00:02:00.000Z:"
        " they were missed)"), lines
    listed = json.loads(queuectl(target, "schedule", "list", "--json").stdout)[0]
    assert listed["last_at"] == "2030-01-01T00:06:00.000Z"
    assert listed["next_at"] == "2030-01-01T00:07:00.000Z"  # from now on, as usual

    set_clock(T0 + 7 * 60)
    wait_for(lambda: len(jobs(target)) >= 3, timeout=15, message="the 00:07 job")
    every_worker_looked_again(target, 4)
    assert [job_id for job_id, _, _ in jobs(target)] == [minute(1), minute(6), minute(7)]


def test_a_paused_schedule_fires_nothing_and_run_now_enqueues_once(target, hosts):
    queuectl(target, "schedule", "add", "every", "* * * * *", "-c", "echo ran")
    queuectl(target, "schedule", "pause", "every")
    host = hosts("host-a", target, 2)
    wait_for_workers(target, {"host-a": 2}, host)
    for n in range(1, 4):
        set_clock(T0 + 60 * n)
        every_worker_looked_again(target, 2)
        assert jobs(target) == [], f"minute {n}"

    job_id = queuectl(target, "schedule", "run", "every").stdout.strip()
    wait_for(lambda: jobs(target) == [(job_id, "completed", 1)], timeout=15,
             message="the run-now job to complete")
    every_worker_looked_again(target, 2)
    assert jobs(target) == [(job_id, "completed", 1)]  # once, and the schedule still paused
    shown = json.loads(queuectl(target, "show", job_id, "--json").stdout)
    assert shown["output"] == "ran\n"
    listed = json.loads(queuectl(target, "schedule", "list", "--json").stdout)[0]
    assert (listed["paused"], listed["last_job_id"], listed["last_state"]) == \
        (True, job_id, "completed")

    out = queuectl(target, "schedule", "resume", "every").stdout
    assert out == "Resumed every; next run 2030-01-01 00:04 UTC (in 30s)\n"  # not 00:01
    set_clock(T0 + 4 * 60)
    wait_for(lambda: len(jobs(target)) == 2, timeout=15, message="the 00:04 job")
    assert jobs(target)[1][0] == minute(4)
