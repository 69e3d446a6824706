"""End to end with real worker processes: the seed READMEs' scenarios and the design's
worker promises. Jobs leave side effects in files, so the tests count what really ran."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.conftest import is_postgres, wait_for

# Both backends; a slow end-to-end test about this host's processes (signals,
# process groups, the supervisor) runs on SQLite alone, as marked.
pytestmark = pytest.mark.backends


def record(log: Path, tag: str = "$QUEUECTL_JOB_ID", sleep: float = 0) -> str:
    """A command that appends 'id start-time end-time' to ``log``."""
    nap = f"sleep {sleep}; " if sleep else ""
    return (f's=$(date +%s.%N); {nap}echo "{tag} $s $(date +%s.%N)" >> {log}')


def read_log(log: Path) -> list[tuple[str, float, float]]:
    if not log.exists():
        return []
    rows = []
    for line in log.read_text().splitlines():
        tag, start, end = line.split()
        rows.append((tag, float(start), float(end)))
    return rows


def enqueue(cli, job_id: str, command: str, *options: str) -> None:
    cli("enqueue", json.dumps({"id": job_id, "command": command}), *options)


def wait_state(cli, job_id: str, state: str, timeout: float = 15):
    return wait_for(lambda: cli.job(job_id)["state"] == state and cli.job(job_id),
                    timeout=timeout, message=f"job {job_id} to be {state}")


def children_of(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def is_running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_basic_job_completes(fast_cli):
    enqueue(fast_cli, "job1", "echo Hello World")
    fast_cli.start_workers(1)
    job = wait_state(fast_cli, "job1", "completed")
    assert job["attempts"] == 1 and job["exit_code"] == 0
    assert job["output"] == "Hello World\n"
    assert [a["exit_code"] for a in job["attempt_history"]] == [0]


def test_failing_job_retries_with_growing_delays_then_lands_in_the_dlq(fast_cli):
    fast_cli("config", "set", "backoff-base", "1.5")
    fast_cli("config", "set", "backoff-max", "60")
    fast_cli("enqueue", '{"id":"bad","command":"not_a_real_command","max_retries":3}')
    fast_cli.start_workers(1)
    job = wait_state(fast_cli, "bad", "dead", timeout=20)
    assert job["attempts"] == 3
    assert job["last_error"].startswith("command not found")
    history = job["attempt_history"]
    assert [a["number"] for a in history] == [1, 2, 3]
    from queuectl_tui.timeutil import parse_when

    gaps = [parse_when(history[i + 1]["started_at"]) - parse_when(history[i]["finished_at"])
            for i in range(2)]
    assert gaps[0] >= 1.5 - 0.01 and gaps[1] >= 2.25 - 0.01, gaps
    assert gaps[1] > gaps[0]
    dead = fast_cli.json("dlq", "list", "--json")
    assert [j["id"] for j in dead] == ["bad"]


def test_three_workers_run_thirty_jobs_once_each_in_parallel(fast_cli, tmp_path):
    log = tmp_path / "runs.log"
    lines = "\n".join(json.dumps({"id": f"job{n}", "command": record(log, sleep=0.2)})
                      for n in range(30))
    fast_cli("enqueue", "-", input=lines)
    fast_cli.start_workers(3)
    wait_for(lambda: fast_cli.json("status", "--json")["jobs"]["completed"] == 30,
             timeout=30, message="30 completed jobs")
    runs = read_log(log)
    assert sorted(tag for tag, _, _ in runs) == sorted(f"job{n}" for n in range(30))
    # Parallel: at some moment three jobs were running at once.
    most = max(sum(1 for _, s, e in runs if s <= start < e) for _, start, _ in runs)
    assert most == 3
    owners = {fast_cli.job(f"job{n}")["worker_id"] for n in range(30)}
    assert len(owners) == 3


@pytest.mark.backends("sqlite")  # the job's process group, on this host
def test_timeout_kills_the_command_and_its_children(fast_cli, tmp_path):
    pidfile = tmp_path / "child.pid"
    fast_cli("enqueue", json.dumps({
        "id": "slow", "command": f"sleep 60 & echo $! > {pidfile}; sleep 60",
        "timeout": 1, "max_retries": 1,
    }))
    fast_cli.start_workers(1)
    job = wait_state(fast_cli, "slow", "dead", timeout=15)
    assert job["last_error"] == "timed out after 1.0s"
    child = int(pidfile.read_text())
    wait_for(lambda: not is_running(child), timeout=5, message="the background sleep to die")


def test_higher_priority_runs_first(fast_cli, tmp_path):
    log = tmp_path / "order.log"
    for job_id, priority in (("low", -5), ("normal", 0), ("urgent", 10), ("high", 5)):
        enqueue(fast_cli, job_id, record(log), "--priority", str(priority))
    fast_cli.start_workers(1)
    wait_for(lambda: len(read_log(log)) == 4, message="4 jobs to run")
    assert [tag for tag, _, _ in read_log(log)] == ["urgent", "high", "normal", "low"]


def test_scheduled_job_waits_for_its_time(fast_cli, tmp_path):
    log = tmp_path / "when.log"
    fast_cli.start_workers(1)
    enqueue(fast_cli, "later", record(log), "--delay", "1.5")
    enqueue(fast_cli, "now", record(log))
    run_at = wait_for(lambda: fast_cli.job("later")["run_at"], message="run_at")
    wait_for(lambda: len(read_log(log)) == 2, timeout=10, message="both jobs to run")
    runs = dict((tag, start) for tag, start, _ in read_log(log))
    from queuectl_tui.timeutil import parse_when

    assert runs["now"] < runs["later"]
    assert runs["later"] >= parse_when(run_at)


@pytest.mark.backends("sqlite")  # PostgreSQL: covered by the basic and lease tests
def test_jobs_survive_a_worker_restart(fast_cli, tmp_path):
    log = tmp_path / "runs.log"
    lines = "\n".join(json.dumps({"id": f"p{n}", "command": record(log, sleep=0.3)})
                      for n in range(6))
    fast_cli("enqueue", "-", input=lines)
    supervisor = fast_cli.start_workers(1)
    wait_for(lambda: len(read_log(log)) >= 1, message="a first job to finish")
    fast_cli("worker", "stop")
    assert supervisor.wait(timeout=10) == 0
    counts = fast_cli.json("status", "--json")["jobs"]
    assert counts["pending"] >= 1 and counts["processing"] == 0
    fast_cli.start_workers(1)
    wait_for(lambda: fast_cli.json("status", "--json")["jobs"]["completed"] == 6,
             timeout=15, message="all jobs to complete after restart")
    assert sorted(tag for tag, _, _ in read_log(log)) == [f"p{n}" for n in range(6)]


def test_graceful_stop_lets_the_running_job_finish(fast_cli):
    graceful_stop(fast_cli, "worker stop")  # through the database: every host's workers


@pytest.mark.backends("sqlite")  # a signal reaches this host's supervisor, whatever the db
@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT"])
def test_graceful_stop_by_signal_lets_the_running_job_finish(fast_cli, how):
    graceful_stop(fast_cli, how)


def graceful_stop(fast_cli, how: str) -> None:
    enqueue(fast_cli, "running", "sleep 2; echo finished")  # seen running on a busy machine
    supervisor = fast_cli.start_workers(1)
    wait_state(fast_cli, "running", "processing")
    if how == "worker stop":
        result = fast_cli("worker", "stop")
        assert "Stopped 1 worker" in result.out
    else:
        supervisor.send_signal(getattr(signal, how))
    assert supervisor.wait(timeout=15) == 0
    job = fast_cli.job("running")
    assert (job["state"], job["output"], job["attempts"]) == ("completed", "finished\n", 1)
    assert fast_cli.live_workers() == []


def test_second_signal_stops_the_job_and_puts_it_back_uncharged(fast_cli):
    enqueue(fast_cli, "long", "sleep 60")
    supervisor = fast_cli.start_workers(1)
    wait_state(fast_cli, "long", "processing")
    supervisor.send_signal(signal.SIGTERM)
    wait_for(lambda: fast_cli.live_workers()[0]["state"] == "running", timeout=2,
             message="first signal delivered")
    supervisor.send_signal(signal.SIGTERM)
    supervisor.wait(timeout=15)
    job = fast_cli.job("long")
    assert (job["state"], job["attempts"], job["worker_id"]) == ("pending", 0, None)
    assert job["attempt_history"] == []


def test_killed_workers_job_is_taken_back_after_its_lease(fast_cli):
    fast_cli("config", "set", "lease-seconds", "1")
    # The first run outlasts any busy machine's CLI calls (a run that finished before
    # the kill would be recorded as it is: attempts 1); the retry is quick.
    enqueue(fast_cli, "victim",
            '[ "$QUEUECTL_ATTEMPT" = 1 ] && sleep 60; echo survived')
    fast_cli.start_workers(1)
    running = wait_state(fast_cli, "victim", "processing")
    (worker,) = [w for w in fast_cli.live_workers() if w["id"] == running["worker_id"]]
    os.kill(worker["pid"], signal.SIGKILL)
    job = wait_state(fast_cli, "victim", "completed", timeout=20)
    assert job["attempts"] == 2
    first, second = job["attempt_history"]
    assert "lease expired" in first["error"] and second["exit_code"] == 0
    assert fast_cli.json("status", "--json")["jobs"]["processing"] == 0


@pytest.mark.backends("sqlite")  # this host's process tree
def test_killed_workers_job_processes_die_with_it(fast_cli, tmp_path):
    """The job of a SIGKILLed worker does not keep running beside its retry."""
    pidfile = tmp_path / "pids"
    enqueue(fast_cli, "orphan", f"sleep 60 & echo $! >> {pidfile}; echo $$ >> {pidfile}; wait")
    fast_cli.start_workers(1)
    wait_for(lambda: pidfile.exists() and len(pidfile.read_text().split()) == 2,
             message="the job to start its processes")
    (worker,) = fast_cli.live_workers()
    os.kill(worker["pid"], signal.SIGKILL)
    pids = [int(p) for p in pidfile.read_text().split()]
    wait_for(lambda: not any(is_running(p) for p in pids), timeout=5,
             message="the dead worker's job processes to be killed")
    fast_cli("cancel", "orphan")


@pytest.mark.backends("sqlite")  # this host's process tree
def test_job_of_a_worker_killed_with_its_supervisor_is_stopped_before_its_retry(
        fast_cli, tmp_path):
    """kill -9 of the supervisor and the worker orphans the job to init; whoever
    takes the job back (here: `status`) kills what is left of that run first."""
    fast_cli("config", "set", "lease-seconds", "1")
    pidfile = tmp_path / "pids"
    enqueue(fast_cli, "stray", f"sleep 60 & echo $! >> {pidfile}; echo $$ >> {pidfile}; wait")
    supervisor = fast_cli.start_workers(1)
    wait_for(lambda: pidfile.exists() and len(pidfile.read_text().split()) == 2,
             message="the job to start its processes")
    (worker,) = fast_cli.live_workers()
    os.kill(supervisor.pid, signal.SIGKILL)
    os.kill(worker["pid"], signal.SIGKILL)
    supervisor.wait()
    pids = [int(p) for p in pidfile.read_text().split()]
    assert all(is_running(p) for p in pids)
    wait_for(lambda: fast_cli.json("status", "--json")["jobs"]["processing"] == 0, timeout=10,
             message="the expired lease to be taken back")
    wait_for(lambda: not any(is_running(p) for p in pids), timeout=5,
             message="the lost run's processes to be killed")
    job = fast_cli.job("stray")
    assert job["attempts"] == 1 and "lease expired" in job["last_error"]


def test_dlq_retry_runs_the_job_again_with_attempts_reset(fast_cli, tmp_path):
    flag = tmp_path / "ready"
    enqueue(fast_cli, "flaky", f"test -f {flag}", "--max-retries", "1")
    fast_cli.start_workers(1)
    wait_state(fast_cli, "flaky", "dead")
    flag.touch()
    assert fast_cli("dlq", "retry", "flaky").out == "Retrying flaky\n"
    job = wait_state(fast_cli, "flaky", "completed")
    assert job["attempts"] == 1
    assert [a["exit_code"] for a in job["attempt_history"]] == [1, 0]


def test_cancel_stops_a_running_job(fast_cli):
    enqueue(fast_cli, "doomed", "sleep 60")
    fast_cli.start_workers(1)
    wait_state(fast_cli, "doomed", "processing")
    fast_cli("cancel", "doomed")
    wait_for(lambda: fast_cli.live_workers()[0]["current_job"] is None, timeout=10,
             message="the worker to let go of the job")
    assert fast_cli.state("doomed") == "cancelled"


@pytest.mark.backends("sqlite")  # the binary-output test covers the limit on PostgreSQL
def test_output_is_bounded_to_its_tail(fast_cli):
    fast_cli("config", "set", "output-limit", "1000")
    enqueue(fast_cli, "chatty", "yes 0123456789 | head -c 1000000; echo THE-END")
    fast_cli.start_workers(1)
    job = wait_state(fast_cli, "chatty", "completed")
    assert job["output"].endswith("THE-END\n")
    assert len(job["output"].encode()) < 1100
    assert "earlier bytes dropped" in job["output"]


@pytest.mark.backends("sqlite")  # the supervisor's process handling
def test_supervisor_runs_exactly_count_workers_and_exits_zero(fast_cli):
    supervisor = fast_cli.start_workers(3)
    wait_for(lambda: len(children_of(supervisor.pid)) == 3, message="3 children")
    workers = fast_cli.live_workers()
    assert sorted(w["pid"] for w in workers) == sorted(children_of(supervisor.pid))
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(timeout=10) == 0


def test_detached_workers_and_stop_from_another_shell(fast_cli):
    result = fast_cli("worker", "start", "--count", "2", "--detach")
    assert "Started 2 workers in the background" in result.out
    pids = [w["pid"] for w in fast_cli.live_workers()]
    assert len(pids) == 2
    enqueue(fast_cli, "bg", "echo background")
    wait_state(fast_cli, "bg", "completed")
    assert "Stopped 2 workers." in fast_cli("worker", "stop").out
    wait_for(lambda: not any(is_running(p) for p in pids), message="workers to exit")
    assert "No workers are running." in fast_cli("worker", "list").out


def test_binary_output_is_stored_within_the_limit_in_utf8_bytes(fast_cli, backend):
    """output_limit counts the stored text's UTF-8 bytes: invalid bytes decoded as
    U+FFFD (3 bytes each) must not take it past the limit; the tail is kept.
    (PostgreSQL's text cannot hold NUL: it is stored as U+FFFD there.)"""
    nul = "\ufffd" if is_postgres(backend) else "\x00"
    fast_cli("config", "set", "output-limit", "3000")
    enqueue(fast_cli, "binary", "head -c 200000 /dev/urandom; printf '\\377\\376\\033[2J\\000';"
            " echo; echo THE-END")
    fast_cli.start_workers(1)
    job = wait_state(fast_cli, "binary", "completed")
    assert len(job["output"].encode("utf-8")) <= 3000
    assert job["output"].endswith(f"\ufffd\ufffd\x1b[2J{nul}\nTHE-END\n")
    assert "earlier bytes dropped" in job["output"]


@pytest.mark.backends("sqlite")  # the worker's log, not the database
def test_worker_log_lines_show_control_characters_instead_of_sending_them(fast_cli):
    """A failing job's last line (escape sequences, NUL, BEL) reaches the worker's
    log line, on the terminal of a foreground `worker start`: made visible, one line."""
    enqueue(fast_cli, "hostile",
            "printf '[b]x[/b] \\033]0;pwned\\007\\033[2J\\000end\\r\\n'; exit 3",
            "--max-retries", "1")
    supervisor = fast_cli.start_workers(1)
    wait_state(fast_cli, "hostile", "dead")
    supervisor.send_signal(signal.SIGTERM)
    supervisor.wait(timeout=15)
    log = supervisor.stderr.read()
    (line,) = [x for x in log.split(b"\n") if b"job hostile: failed" in x]
    assert not any(byte in line for byte in (b"\x1b", b"\x00", b"\x07", b"\r"))
    assert "[b]x[/b] ␛]0;pwned␇␛[2J␀end" in line.decode()
