"""Moving a queue: `queuectl export` and `queuectl import` (``transfer.py``).

What a user observes: after export and import the new database holds the same
jobs (ids, states, attempts, history, output, times to the bit) and settings;
running jobs come back pending, their interrupted run not charged; a taken id,
a bad line or a file cut short refuses the whole import and changes nothing.

Every database here comes from the ``make_db`` fixture, on the test's backend
(``[sqlite]``/``[postgres]``, see conftest); a SQLite -> PostgreSQL -> SQLite round
trip through the CLI moves a queue across. Models are bound to the last queue
opened: open one queue at a time.
"""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from queuectl_tui import transfer
from queuectl_tui.config import SETTINGS
from queuectl_tui.errors import Conflict, InvalidInput
from queuectl_tui.jobspec import JobSpec
from queuectl_tui.queue import JobQueue
from queuectl_tui.store import Attempt, Job, Setting
from tests.conftest import Target, is_postgres, wait_for
from tests.pg import drop_database, fresh_database

pytestmark = pytest.mark.backends

WORKER = "testhost-1-1"
# Job text that must come back byte for byte: unicode, Rich/Textual markup, terminal
# escape sequences, characters that str.splitlines() would cut a line at.
ODD_TEXT = ("héllo ☃ 日本語 🎉 [bold red]not markup[/] \x1b[31mred\x1b[0m \x1b]0;title\x07"
            " a\u2028b\u0085c\rd")
HUGE_OUTPUT = ("line ☃ \x1b[2J [b]x[/b]\n" * 150_000)  # ~3.6 MB


@pytest.fixture
def make_db(backend: Target, tmp_path) -> Iterator[Callable[[str], str]]:
    """Databases under test, by name, on the test's backend: returns what
    ``JobQueue.open`` and ``queuectl --db`` take. On PostgreSQL the first name is
    the test's (emptied) database and each further name a fresh one, dropped
    after the test."""
    made: dict[str, str] = {}

    def make(name: str) -> str:
        if name not in made:
            if not is_postgres(backend):
                made[name] = str(tmp_path / f"{name}.db")
            else:
                made[name] = fresh_database("transfer") if made else str(backend)
        return made[name]

    yield make
    if is_postgres(backend):
        for url in list(made.values())[1:]:
            drop_database(url)


@contextmanager
def opened(location: str) -> Iterator[JobQueue]:
    queue = JobQueue.open(location)
    try:
        yield queue
    finally:
        queue.close()


def queuectl(location: str, *args: str, input: bytes | None = None,
             check: bool = True) -> subprocess.CompletedProcess:
    """The real command against ``location``."""
    env = dict(os.environ)
    env.pop("QUEUECTL_DEBUG", None)
    result = subprocess.run([sys.executable, "-m", "queuectl_tui", "--db", location, *args],
                            input=input, capture_output=True, env=env, timeout=120)
    result.out = result.stdout.decode("utf-8", errors="replace")
    result.err = result.stderr.decode("utf-8", errors="replace")
    if check and result.returncode != 0:
        pytest.fail(f"queuectl {' '.join(args)} exited {result.returncode}: {result.err}")
    return result


def rows(location: str) -> dict:
    """Every job, attempt and setting row, through the models (any backend): compare
    a database before and after, or one with another. Attempt ids are left out
    (a new database numbers them itself)."""
    with opened(location):
        return {
            "jobs": {job["id"]: job for job in Job.select().dicts()},
            "attempts": [tuple(row[1:]) for row in
                         Attempt.select().order_by(Attempt.job, Attempt.id).tuples()],
            "settings": dict(Setting.select(Setting.key, Setting.value).tuples()),
        }


def export_bytes(queue: JobQueue, **options) -> bytes:
    buffer = io.BytesIO()
    transfer.write_jsonl(transfer.export_records(queue, **options), buffer)
    return buffer.getvalue()


def import_bytes(queue: JobQueue, data: bytes, **options) -> transfer.ImportCounts:
    return transfer.import_records(queue, transfer.read_jsonl(io.BytesIO(data)), **options)


def run_once(queue: JobQueue, job_id: str, error: str | None = None, output: str = "",
             exit_code: int | None = 0) -> str | None:
    """Claim ``job_id`` (it must be the best runnable job) and record one run."""
    claimed = queue.claim(WORKER, 60)
    assert claimed is not None and claimed.id == job_id
    state, _ = queue.finish(claimed, WORKER, exit_code, error, output, queue.config())
    return state


def seed(location: str) -> None:
    """A queue with a job in every state, attempt history, odd text, huge output,
    settings, and one job running (left claimed). Claims take the best runnable
    job, so each job is enqueued just before it runs; those meant to wait have
    a lower priority or a later run_at."""
    with opened(location) as queue:
        for key, value in {"max_retries": 2, "backoff_base": 1.5, "backoff_max": 0,
                           "poll_interval": 0.05, "output_limit": 1000}.items():
            queue.set_config(key, value)
        queue.prepare_worker()  # as a worker does first: stamps the boot (see queue.py)
        later = time.time() + 3600

        def add(job_id: str, command: str = "true", **fields) -> None:
            queue.enqueue([JobSpec(command=command, id=job_id, **fields)])

        add("big", f"printf {ODD_TEXT!r}")
        run_once(queue, "big", output=HUGE_OUTPUT + ODD_TEXT)
        add("flaky")
        run_once(queue, "flaky", error="exit code 1", output=ODD_TEXT, exit_code=1)
        run_once(queue, "flaky", output="ok")
        add("doomed", max_retries=2)
        run_once(queue, "doomed", error=f"exit code 3: {ODD_TEXT}", exit_code=3)
        assert run_once(queue, "doomed", error="timed out", exit_code=None) == "dead"
        add("retried", priority=-100, max_retries=1)
        assert run_once(queue, "retried", error="exit code 1", exit_code=1) == "dead"
        queue.retry_dead(["retried"])  # pending again, attempts reset, history kept
        add("failing", priority=-50, max_retries=5)
        assert run_once(queue, "failing", error="exit code 2", output="partial", exit_code=2) \
            == "failed"
        add("running", "sleep 100")
        assert queue.claim(WORKER, 60).id == "running"
        add("stopped", run_at=later)
        queue.cancel(["stopped"])
        add("scheduled", ODD_TEXT, priority=7, timeout=12.5,
            run_at=later, queue="other", max_retries=9)
        assert {state for state, n in queue.counts().items() if n} == {
            "pending", "processing", "completed", "failed", "dead", "cancelled"}


# --- the round trip ----------------------------------------------------------------

def test_round_trip_keeps_ids_states_attempts_history_output_and_settings(make_db):
    source, target = make_db("source"), make_db("target")
    seed(source)
    before = rows(source)
    with opened(source) as queue:
        source_config = queue.config()
        data = export_bytes(queue, force=True)
    with opened(target) as queue:
        counts = import_bytes(queue, data)
    after = rows(target)

    assert counts.jobs == len(before["jobs"]) == 8
    assert counts.attempts == len(before["attempts"]) == 5
    assert counts.requeued == 1
    assert counts.by_state == {"pending": 3, "processing": 0, "completed": 2, "failed": 1,
                               "dead": 1, "cancelled": 1}
    # Every job as it was, to the bit (floats compared exactly), output included ...
    running = before["jobs"].pop("running")
    moved = after["jobs"].pop("running")
    assert after["jobs"] == before["jobs"]
    assert after["jobs"]["big"]["output"] == HUGE_OUTPUT + ODD_TEXT
    assert after["jobs"]["scheduled"]["command"] == ODD_TEXT
    # ... except the running one: pending again, its interrupted run not charged.
    assert running["state"] == "processing" and running["attempts"] == 1
    assert moved == dict(running, state="pending", attempts=0, worker_id=None,
                         started_at=None, lease_expires_at=None)
    assert after["attempts"] == before["attempts"]
    # The settings, and only them: not the source's identity or boot stamp.
    assert "database_id" in before["settings"]
    if not is_postgres(source):  # PostgreSQL's lease clock (the server's) has no boot
        assert "lease_boot" in before["settings"]
    # (A new PostgreSQL database has its own identity from the start; SQLite's
    # comes with its first worker.)
    assert set(after["settings"]) - {"database_id"} == set(SETTINGS)
    with opened(target) as queue:
        assert queue.config() == source_config
        assert queue.database_id() != before["settings"]["database_id"]
        # What `show` reads back: the same timeline as on the old database.
        assert [a.error for a in queue.attempts("doomed")] == [f"exit code 3: {ODD_TEXT}",
                                                               "timed out"]
        again = export_bytes(queue)
    # Exported again, the new database writes the same file (bar the time of export).
    first, second = data.split(b"\n"), again.split(b"\n")
    assert [json.loads(x) for x in first[1:-1] if b'"running"' not in x] == \
        [json.loads(x) for x in second[1:-1] if b'"running"' not in x]
    assert json.loads(first[0])["settings"] == json.loads(second[0])["settings"]


def test_the_file_is_a_header_then_one_line_per_job_with_exact_epoch_times(make_db):
    source = make_db("source")
    seed(source)
    with opened(source) as queue:
        lines = export_bytes(queue, states=["failed", "dead"]).split(b"\n")
        stored = {job.id: job for job in Job.select()}
    assert lines[-1] == b""  # every line ends with a newline
    header = json.loads(lines[0])
    assert header["format"] == "queuectl-export" and header["version"] == 1
    assert header["exported_at"].endswith("Z") and header["jobs"] == 2
    assert header["settings"]["max_retries"] == 2 and "database_id" not in header["settings"]
    jobs = [json.loads(line) for line in lines[1:-1]]
    assert [j["id"] for j in jobs] == ["failing", "doomed"]  # state by state, as asked
    doomed = jobs[1]
    assert set(doomed) == {*transfer.JOB_FIELDS, "attempts_history"}
    assert doomed["created_at"] == stored["doomed"].created_at  # the same float
    assert [a["error"] for a in doomed["attempts_history"]] == [
        f"exit code 3: {ODD_TEXT}", "timed out"]
    assert b"\x1b" not in b"".join(lines)  # escapes are JSON-escaped, never raw


# --- running jobs --------------------------------------------------------------------

def test_export_is_refused_while_jobs_run_unless_forced(make_db):
    source = make_db("source")
    seed(source)
    refused = queuectl(source, "export", check=False)
    assert refused.returncode == 1 and refused.stdout == b""
    assert refused.err.startswith("Error: 1 job is running: stop the workers first")
    assert refused.err.count("\n") == 1
    # A selection without running jobs needs no force; --force exports them as they are.
    assert queuectl(source, "export", "--state", "dead").out.count("\n") == 2
    forced = queuectl(source, "export", "--force").out.split("\n")  # not splitlines(): U+2028
    assert forced.pop() == ""
    assert json.loads(forced[0])["jobs"] == 8 == len(forced) - 1
    running = [json.loads(line) for line in forced if '"id": "running"' in line]
    assert running[0]["state"] == "processing" and running[0]["worker_id"] == WORKER


# --- all or nothing ------------------------------------------------------------------

def many_jobs(count: int, prefix: str = "m") -> bytes:
    """An export of ``count`` pending jobs (more than one batch)."""
    header = {"format": "queuectl-export", "version": 1, "exported_at": "x", "jobs": count,
              "settings": {"max_retries": 9}}
    jobs = [{"id": f"{prefix}{n:05d}", "command": f"echo {n}", "state": "pending",
             "run_at": 1.5, "created_at": 1000.0 + n, "updated_at": 1.5} for n in range(count)]
    return b"".join(json.dumps(x).encode() + b"\n" for x in [header, *jobs])


def test_a_taken_id_refuses_the_whole_import_and_changes_nothing(make_db):
    target = make_db("target")
    count = transfer.BATCH_JOBS * 2 + 7
    with opened(target) as queue:
        queue.enqueue([JobSpec(command="true", id=f"m{count - 3:05d}")])  # in the last batch
        queue.set_config("max_retries", 4)
    before = rows(target)
    with opened(target) as queue, pytest.raises(Conflict) as refused:
        import_bytes(queue, many_jobs(count))
    assert str(refused.value) == (f"line {count - 1}: job id 'm{count - 3:05d}' already exists"
                                  " (in the database or earlier in the file); nothing was"
                                  " imported")
    assert rows(target) == before  # earlier batches and the settings rolled back


def test_an_id_twice_in_the_file_refuses_the_import(make_db):
    target = make_db("target")
    data = many_jobs(3)
    lines = data.split(b"\n")
    before = rows(target)
    with opened(target) as queue, pytest.raises(Conflict, match="line 5: job id 'm00001'"):
        import_bytes(queue, b"\n".join([*lines[:4], lines[2], *lines[4:]]).replace(
            b'"jobs": 3', b'"jobs": 4'))
    # Across batches too (found as "already exists": the earlier batch is inserted).
    twice = many_jobs(transfer.BATCH_JOBS + 1).rstrip(b"\n").split(b"\n")
    twice[-1] = twice[1]
    with opened(target) as queue, pytest.raises(Conflict, match=f"line {len(twice)}: job id"):
        import_bytes(queue, b"\n".join(twice) + b"\n")
    assert rows(target) == before


@pytest.mark.parametrize(("change", "error"), [
    (lambda ls: ls.__setitem__(3, b'{"id": "m00002", "command": '),
     "line 4, column 29: invalid JSON: Expecting value"),
    (lambda ls: ls.__setitem__(2, ls[2].replace(b'"pending"', b'"finished"')),
     "line 3: state must be one of pending, processing, completed, failed, dead, cancelled,"
     " got 'finished'"),
    (lambda ls: ls.__setitem__(4, ls[4].replace(b'"command": "echo 3", ', b"")),
     "line 5: missing required field 'command'"),
    (lambda ls: ls.__setitem__(2, ls[2].replace(b'"run_at": 1.5', b'"run_at": "soon"')),
     "line 3: run_at must be a number, got 'soon'"),
    (lambda ls: ls.__setitem__(2, ls[2].replace(b'"run_at": 1.5', b'"run_at": NaN')),
     "line 3: invalid JSON: NaN is not a number JSON allows"),
    (lambda ls: ls.__setitem__(3, ls[3].replace(b'"id": "m00002"', b'"id": "a b"')),
     "line 4: id 'a b' must not contain spaces or control characters"),
    (lambda ls: ls.__setitem__(2, ls[2].replace(b"{", b'{"colour": 1, ', 1)),
     "line 3: unknown field 'colour'"),
    (lambda ls: ls.__setitem__(2, b"[1, 2]"), "line 3: expected a JSON object"),
    (lambda ls: ls.__setitem__(2, b"\xff\xfe"), "line 3: not valid UTF-8"),
    (lambda ls: ls.insert(3, b""), "line 4: empty line"),
    (lambda ls: ls.pop(4), "the file holds 4 of the 5 jobs its header announces: cut short?"
                           " nothing was imported"),
    (lambda ls: ls.__setitem__(0, ls[0].replace(b'"version": 1', b'"version": 2')),
     "line 1: export version 2 is not supported (this queuectl reads version 1);"
     " upgrade queuectl"),
    (lambda ls: ls.__setitem__(0, b'{"id": "x", "command": "true"}'),
     "line 1: not a queuectl export (no header with format 'queuectl-export')"),
    (lambda ls: ls.__setitem__(0, ls[0].replace(b'"max_retries": 9', b'"max_retries": -1')),
     "line 1: max-retries must be between 0 and 1000, got -1"),
    (lambda ls: ls.__setitem__(0, ls[0].replace(b'"max_retries"', b'"colour"')),
     "line 1: unknown config key 'colour' (known keys: max-retries, backoff-base,"
     " backoff-max, poll-interval, job-timeout, lease-seconds, output-limit, tui-workers)"),
    (lambda ls: ls.clear(), "the file is empty: not a queuectl export"),
], ids=["bad-json", "bad-state", "no-command", "text-time", "nan", "bad-id", "unknown-field",
        "array", "not-utf8", "blank-line", "cut-short", "newer-version", "no-header",
        "bad-setting", "unknown-setting", "empty"])
def test_a_bad_line_is_named_and_nothing_is_imported(make_db, change, error):
    target = make_db("target")
    with opened(target) as queue:
        queue.enqueue([JobSpec(command="true", id="already")])
    before = rows(target)
    lines = many_jobs(5).split(b"\n")
    change(lines)
    with opened(target) as queue, pytest.raises(InvalidInput) as refused:
        import_bytes(queue, b"\n".join(lines))
    assert str(refused.value) == error
    assert rows(target) == before


def test_the_command_reports_a_bad_line_in_one_line_and_exits_1(make_db):
    target = make_db("target")
    lines = many_jobs(5).split(b"\n")
    lines[3] = lines[3].replace(b'"pending"', b'"finished"')
    result = queuectl(target, "import", "-", input=b"\n".join(lines), check=False)
    assert (result.returncode, result.stdout) == (1, b"")
    assert result.err == ("Error: line 4: state must be one of pending, processing, completed,"
                          " failed, dead, cancelled, got 'finished'\n")
    assert rows(target)["jobs"] == {}


def test_blank_lines_at_the_end_are_fine(make_db):
    target = make_db("target")
    with opened(target) as queue:
        assert import_bytes(queue, many_jobs(2) + b"\n \n").jobs == 2


# --- the commands ---------------------------------------------------------------------

def test_export_pipe_import_through_real_processes(make_db):
    """`queuectl export | queuectl --db NEW import -`, as a user moves a queue."""
    source, target = make_db("source"), make_db("target")
    seed(source)
    env = {k: v for k, v in os.environ.items() if k != "QUEUECTL_DEBUG"}
    command = [sys.executable, "-m", "queuectl_tui", "--db"]
    exporter = subprocess.Popen([*command, source, "export", "--force"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    importer = subprocess.run([*command, target, "import", "-"], stdin=exporter.stdout,
                              capture_output=True, env=env, timeout=120)
    exporter.stdout.close()
    assert exporter.wait(timeout=60) == 0
    assert exporter.stderr.read() == b"Exported 8 jobs\n"
    exporter.stderr.close()
    assert importer.returncode == 0, importer.stderr
    assert importer.stdout.decode() == (
        "Imported 8 jobs (3 pending, 2 completed, 1 failed, 1 dead, 1 cancelled),"
        " 5 earlier attempts, 8 settings\n"
        "1 job running when exported put back to pending (to run again)\n")
    show = json.loads(queuectl(target, "show", "big", "--json").out)
    assert show["output"] == HUGE_OUTPUT + ODD_TEXT
    assert [a["number"] for a in json.loads(queuectl(target, "show", "flaky", "--json").out)
            ["attempt_history"]] == [1, 2]
    assert queuectl(target, "config", "get", "max-retries").out == "2\n"


@pytest.mark.backends("postgres")
def test_a_queue_moves_from_sqlite_to_postgresql_and_back_through_the_cli(
        make_db, tmp_path):
    """What a user outgrowing one machine does, and undoes: `export` from the SQLite
    file, `import` into PostgreSQL, and the same back into a new SQLite file.
    Every job (bar the running one, put back to pending), attempt and setting
    arrives unchanged both ways, times to the bit."""
    sqlite_source, sqlite_back = str(tmp_path / "source.db"), str(tmp_path / "back.db")
    postgres = make_db("postgres")
    seed(sqlite_source)
    there, back = tmp_path / "there.jsonl", tmp_path / "back.jsonl"
    assert queuectl(sqlite_source, "export", "--force", "-o", str(there)).err.startswith(
        "Exported 8 jobs to ")
    imported = queuectl(postgres, "import", str(there))
    assert imported.out.startswith("Imported 8 jobs (3 pending, 2 completed, 1 failed,")
    assert queuectl(postgres, "export", "-o", str(back)).err.startswith("Exported 8 jobs to ")
    queuectl(sqlite_back, "import", str(back))

    source, on_postgres, returned = rows(sqlite_source), rows(postgres), rows(sqlite_back)
    running = source["jobs"].pop("running")
    assert on_postgres["jobs"].pop("running") == returned["jobs"].pop("running") == dict(
        running, state="pending", attempts=0, worker_id=None, started_at=None,
        lease_expires_at=None)
    assert on_postgres["jobs"] == returned["jobs"] == source["jobs"]
    assert on_postgres["jobs"]["big"]["output"] == HUGE_OUTPUT + ODD_TEXT
    assert on_postgres["attempts"] == returned["attempts"] == source["attempts"]
    def moved(settings: dict) -> dict:
        """The settings that move (not a database's identity or boot stamp)."""
        return {key: value for key, value in settings.items() if key in SETTINGS}

    assert moved(on_postgres["settings"]) == moved(returned["settings"])
    assert set(moved(on_postgres["settings"])) == set(SETTINGS)
    assert on_postgres["settings"]["database_id"] != source["settings"]["database_id"]
    configs = []
    for location in (sqlite_source, postgres, sqlite_back):
        with opened(location) as queue:
            configs.append(queue.config())
    assert configs[0] == configs[1] == configs[2]
    shown = json.loads(queuectl(postgres, "show", "doomed", "--json").out)
    assert [a["error"] for a in shown["attempt_history"]] == [f"exit code 3: {ODD_TEXT}",
                                                              "timed out"]


def test_export_to_a_file_state_filter_no_settings_and_json(make_db, tmp_path):
    source, target = make_db("source"), make_db("target")
    seed(source)
    path = tmp_path / "dlq.jsonl"
    result = queuectl(source, "export", "--state", "dead", "--state", "CANCELLED", "-o",
                      str(path))
    assert result.stdout == b"" and result.err == f"Exported 2 jobs to {path}\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # commands and outputs may be secret
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
    queuectl(target, "config", "set", "max-retries", "6")
    summary = json.loads(queuectl(target, "import", str(path), "--no-settings", "--json").out)
    assert summary == {"imported": 2, "by_state": {
        "pending": 0, "processing": 0, "completed": 0, "failed": 0, "dead": 1, "cancelled": 1},
        "attempts": 2, "requeued": 0, "settings": {}}
    assert queuectl(target, "config", "get", "max-retries").out == "6\n"
    assert [j["id"] for j in json.loads(queuectl(target, "list", "--json").out)] == [
        "doomed", "stopped"]
    # Imported again: refused as a whole, one line, exit 1.
    again = queuectl(target, "import", str(path), check=False)
    assert again.returncode == 1
    assert again.err == ("Error: line 2: job id 'doomed' already exists (in the database or"
                         " earlier in the file); nothing was imported\n")
    missing = queuectl(target, "import", str(tmp_path / "nope.jsonl"), check=False)
    assert (missing.returncode, missing.err) == (
        1, f"Error: cannot read {tmp_path / 'nope.jsonl'}: No such file or directory\n")


def test_export_warns_while_workers_are_registered(make_db):
    """Idle workers keep taking jobs after the export: the user is told to stop them."""
    from queuectl_tui import registry

    source = make_db("source")
    with opened(source) as queue:
        queue.enqueue([JobSpec(command="true", id="one")])
        queue.prepare_worker()
        # This (live) process stands in for a worker.
        registry.register(queue.storage, "testhost-2-1", "cli")
    result = queuectl(source, "export")
    assert result.err == ("Warning: 1 worker is running on this database; what they do from"
                          " now on is not in the export (stop them before moving a queue:"
                          " queuectl worker stop)\nExported 1 job\n")
    assert result.out.count("\n") == 2


def test_an_idle_worker_starts_an_imported_job_at_once(make_db):
    """The import wakes the idle workers: they start its jobs within milliseconds,
    where polling (capped by a worker's housekeeping, about a second) would take
    half a second on average. The median of 5 imports tells the two apart."""
    target = make_db("target")
    queuectl(target, "config", "set", "poll-interval", "60")
    env = {k: v for k, v in os.environ.items() if k != "QUEUECTL_DEBUG"}
    worker = subprocess.Popen([sys.executable, "-m", "queuectl_tui", "--db", target, "worker",
                               "start"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: json.loads(queuectl(target, "worker", "list", "--json").out),
                 message="the worker to register")
        delays = []
        with opened(target) as queue:
            for n in range(5):
                import_bytes(queue, many_jobs(1, prefix=f"w{n}"), apply_settings=False)
                imported = time.time()
                started = wait_for(lambda n=n: queue.get(f"w{n}00000").started_at,
                                   message="the worker to start the imported job")
                delays.append(started - imported)
        delays.sort()
        print(f"\nimported job started after {', '.join(f'{d * 1000:.0f}' for d in delays)} ms")
        assert delays[2] < 0.2
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def test_export_into_a_closed_pipe_prints_no_traceback(make_db):
    source = make_db("source")
    with opened(source) as queue:
        queue.enqueue([JobSpec(command="x" * 100_000, id=f"j{n}") for n in range(30)])
    env = {k: v for k, v in os.environ.items() if k != "QUEUECTL_DEBUG"}
    result = subprocess.run(
        f"{sys.executable} -m queuectl_tui --db {source} export | head -c 10",
        shell=True, capture_output=True, env=env, timeout=60)
    assert result.stdout == b'{"format":'
    assert result.stderr == b""


def test_twenty_thousand_jobs_export_and_import_in_batches(make_db, tmp_path):
    """Streamed both ways (one batch of rows in memory at a time); prints the time."""
    source, target = make_db("source"), make_db("target")
    count = 20_000
    with opened(source) as queue:
        queue.enqueue([JobSpec(command=f"echo {n}", id=f"j{n:06d}") for n in range(count)])
    path = tmp_path / "big.jsonl"
    started = time.perf_counter()
    with opened(source) as queue, path.open("wb") as stream:
        assert transfer.write_jsonl(transfer.export_records(queue), stream) == count
    exported = time.perf_counter() - started
    started = time.perf_counter()
    with opened(target) as queue, path.open("rb") as stream:
        counts = transfer.import_records(queue, transfer.read_jsonl(stream))
    imported = time.perf_counter() - started
    print(f"\n{count} jobs: export {exported:.2f} s, import {imported:.2f} s,"
          f" {path.stat().st_size / 1e6:.1f} MB")
    assert counts.jobs == count and counts.by_state["pending"] == count
    with opened(target) as queue:
        assert queue.count() == count
    assert exported < 30 and imported < 30
