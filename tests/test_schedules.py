"""Recurring jobs (issue 13): the cron rules, the firing in the domain, and the
`queuectl schedule` commands as a user sees them, on both backends.

Time is controlled, never waited for: in process a ``ScheduleBook`` takes a
clock; the CLI reads the test hook ``QUEUECTL_SCHEDULE_CLOCK`` (a file holding
epoch seconds). The end-to-end tests with real workers on two hosts are in
``test_schedules_workers.py``.
"""

from __future__ import annotations

import json
import multiprocessing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from queuectl_tui.errors import Conflict, InvalidInput, NotFound
from queuectl_tui.queue import JobQueue, ReadOnly
from queuectl_tui.schedules import (
    CLOCK_ENV,
    ScheduleBook,
    check_cron,
    latest_at_or_before,
    next_after,
    occurrence_id,
    spec,
)
from tests.conftest import Target, db_rows, db_snapshot

pytestmark = pytest.mark.backends

T0 = datetime(2030, 1, 1, 0, 0, 30, tzinfo=UTC).timestamp()  # half a minute past midnight


def at(text: str, tz: str = "UTC") -> float:
    from zoneinfo import ZoneInfo

    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp()


def iso(moment: float, tz: str = "UTC") -> str:
    from zoneinfo import ZoneInfo

    return datetime.fromtimestamp(moment, ZoneInfo(tz)).isoformat()


class Clock:
    """A schedule clock a test moves by hand."""

    def __init__(self, now: float = T0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def book(queue: JobQueue, clock: Clock) -> ScheduleBook:
    return ScheduleBook(queue, clock=clock)


def job_ids(queue: JobQueue) -> list[str]:
    return [job.id for job in queue.list_jobs()]


# --- the cron rules (cronsim, zoneinfo) ------------------------------------------


@pytest.mark.sqlite_only  # no database involved
def test_five_fields_and_the_crontab_shorthands(backend):
    assert check_cron("  */15   9-17 * * MON-FRI ", "UTC") == "*/15 9-17 * * MON-FRI"
    start = at("2030-01-01T10:07:00")
    assert iso(next_after("*/15 9-17 * * MON-FRI", "UTC", start)) == "2030-01-01T10:15:00+00:00"
    expected = {
        "@hourly": "2030-01-01T11:00:00+00:00",
        "@daily": "2030-01-02T00:00:00+00:00",
        "@midnight": "2030-01-02T00:00:00+00:00",
        "@weekly": "2030-01-06T00:00:00+00:00",  # the next Sunday
        "@monthly": "2030-02-01T00:00:00+00:00",
        "@yearly": "2031-01-01T00:00:00+00:00",
        "@annually": "2031-01-01T00:00:00+00:00",
    }
    for shorthand, when in expected.items():
        assert check_cron(shorthand.upper(), "UTC") == shorthand
        assert iso(next_after(shorthand, "UTC", start)) == when, shorthand
    # In the schedule's zone: midnight in Tokyo is 15:00 UTC the day before.
    assert iso(next_after("@daily", "Asia/Tokyo", start)) == "2030-01-01T15:00:00+00:00"


@pytest.mark.sqlite_only
@pytest.mark.parametrize(("cron", "message"), [
    ("* * * *", "has 4 fields; it needs 5"),
    ("0 * * * * *", "has 6 fields"),  # cronsim reads a seconds field; cron does not
    ("61 * * * *", "bad minute"),
    ("* 24 * * *", "bad hour"),
    ("0 0 31 2 *", "bad day-of-month"),  # never fires
    ("*/0 * * * *", "bad minute"),
    ("@reboot", "@reboot is not a schedule"),
    ("@often", "unknown cron shorthand '@often'"),
    ("", "1 to 200 characters"),
    ("x" * 300, "1 to 200 characters"),
    ("* * * * \x00", "must be text"),
])
def test_bad_cron_expressions_say_why(backend, cron, message):
    with pytest.raises(InvalidInput, match=message.replace("*", r"\*").replace("(", r"\(")):
        check_cron(cron, "UTC")


@pytest.mark.sqlite_only
def test_dst_is_handled_as_debian_cron_does(backend):
    """cronsim's rules, which are Debian cron's: a time the clock skips runs just
    after the jump; a time it repeats runs once; an every-N-minutes schedule
    follows real time through both."""
    paris = "Europe/Paris"
    # 29 March 2026: 02:00 becomes 03:00. The 02:30 run comes at 03:00, once.
    spring = at("2026-03-28T12:00:00", paris)
    runs = [next_after("30 2 * * *", paris, spring)]
    runs.append(next_after("30 2 * * *", paris, runs[-1]))
    assert [iso(r, paris) for r in runs] == ["2026-03-29T03:00:00+02:00",
                                             "2026-03-30T02:30:00+02:00"]
    # 25 October 2026: 03:00 goes back to 02:00. The 02:30 run happens once.
    autumn = at("2026-10-24T12:00:00", paris)
    runs = [next_after("30 2 * * *", paris, autumn)]
    runs.append(next_after("30 2 * * *", paris, runs[-1]))
    assert [iso(r, paris) for r in runs] == ["2026-10-25T02:30:00+02:00",
                                             "2026-10-26T02:30:00+01:00"]
    # Every 30 minutes keeps its real-time rhythm through the repeated hour.
    moment, seen = at("2026-10-25T01:45:00", paris), []
    for _ in range(5):
        moment = next_after("*/30 * * * *", paris, moment)
        seen.append(iso(moment, paris))
    assert seen == ["2026-10-25T02:00:00+02:00", "2026-10-25T02:30:00+02:00",
                    "2026-10-25T02:00:00+01:00", "2026-10-25T02:30:00+01:00",
                    "2026-10-25T03:00:00+01:00"]
    assert seen == sorted(seen, key=datetime.fromisoformat)


@pytest.mark.sqlite_only
def test_the_latest_occurrence_includes_now(backend):
    assert latest_at_or_before("* * * * *", "UTC", at("2030-01-01T00:05:00")) == \
        at("2030-01-01T00:05:00")
    assert latest_at_or_before("* * * * *", "UTC", at("2030-01-01T00:05:59.5")) == \
        at("2030-01-01T00:05:00")
    assert latest_at_or_before("0 3 * * *", "UTC", at("2030-01-01T02:59:00")) == \
        at("2029-12-31T03:00:00")
    assert occurrence_id("nightly", at("2030-01-31T02:30:00")) == "nightly@2030-01-31T02:30Z"


# --- the domain ------------------------------------------------------------------


def test_each_occurrence_fires_once_and_missed_ones_fire_once_together(queue, book, clock):
    book.add(spec("every", "* * * * *", "true", tz="UTC"))
    assert book.get("every").next_at == at("2030-01-01T00:01:00")
    assert book.fire_due() == ([], [], 30.0)  # not due: one query, nothing written

    clock.advance(60)  # 00:01:30
    fired, problems, wait = book.fire_due()
    assert [f.job_id for f in fired] == ["every@2030-01-01T00:01Z"] and not problems
    assert fired[0].missed_since is None and wait == pytest.approx(30, abs=1)
    assert book.fire_due()[0] == []  # the same occurrence never twice

    clock.advance(5 * 60)  # 00:06:30: 00:02 ... 00:06 were missed
    fired, _, _ = book.fire_due()
    assert [f.job_id for f in fired] == ["every@2030-01-01T00:06Z"]
    assert fired[0].missed_since == at("2030-01-01T00:02:00")
    assert "for every run due since 2030-01-01T00:02:00.000Z" in fired[0].line()
    info = book.get("every")
    assert info.next_at == at("2030-01-01T00:07:00")  # from now, not from the past
    assert info.last_at == at("2030-01-01T00:06:00")
    assert info.last_job_id == "every@2030-01-01T00:06Z" and info.last_state == "pending"
    assert job_ids(queue) == ["every@2030-01-01T00:01Z", "every@2030-01-01T00:06Z"]

    job = queue.get("every@2030-01-01T00:06Z")
    assert (job.command, job.queue, job.state, job.max_retries) == ("true", "default",
                                                                     "pending", 3)


def test_the_job_carries_the_schedules_settings(queue, book, clock):
    queue.set_config("max_retries", 7)
    book.add(spec("report", "@hourly", "make report", queue="reports", priority=5,
                  timeout="90s", tz="Europe/Paris", cwd="/srv/reports",
                  env={"MODE": "full", "NOTE": "[b]ünï[/b]"}))
    book.add(spec("capped", "@hourly", "true", max_retries=0, tz="UTC"))
    clock.advance(3600)
    fired = sorted(f.job_id for f in book.fire_due()[0])
    assert fired == ["capped@2030-01-01T01:00Z", "report@2030-01-01T01:00Z"]
    job = queue.get("report@2030-01-01T01:00Z")
    assert (job.command, job.queue, job.priority, job.timeout, job.max_retries, job.cwd) == \
        ("make report", "reports", 5, 90.0, 7, "/srv/reports")
    assert json.loads(job.env) == {"MODE": "full", "NOTE": "[b]ünï[/b]"}
    assert queue.get("capped@2030-01-01T01:00Z").max_retries == 0


def test_pause_fires_nothing_and_resume_starts_from_now(queue, book, clock):
    book.add(spec("every", "* * * * *", "true", tz="UTC"))
    assert book.pause("every") is True
    assert book.pause("every") is False  # already: nothing changes
    assert book.get("every").paused and book.get("every").next_at is None
    for _ in range(3):
        clock.advance(60)
        assert book.fire_due() == ([], [], None)  # a paused schedule is not even due
    assert job_ids(queue) == []
    assert book.resume("every") is True
    assert book.resume("every") is False
    assert book.get("every").next_at == at("2030-01-01T00:04:00")  # not 00:01
    assert book.fire_due()[0] == []
    clock.advance(60)
    assert [f.job_id for f in book.fire_due()[0]] == ["every@2030-01-01T00:04Z"]


def test_run_now_enqueues_once_and_leaves_the_next_run(queue, book, clock):
    book.add(spec("every", "* * * * *", "echo now", tz="UTC"))
    first = book.run_now("every")
    second = book.run_now("every")
    assert first.startswith("every@run-") and second.startswith("every@run-")
    assert first != second and sorted(job_ids(queue)) == sorted([first, second])
    info = book.get("every")
    assert info.last_job_id == second and info.last_at == T0
    assert info.next_at == at("2030-01-01T00:01:00")
    book.pause("every")
    third = book.run_now("every")  # works on a paused schedule, which stays paused
    assert len(job_ids(queue)) == 3 and book.get("every").paused
    assert queue.get(third).command == "echo now"


def test_refusals_change_nothing(queue, book, db_path):
    book.add(spec("every", "* * * * *", "true", tz="UTC"))
    before = db_snapshot(db_path)
    with pytest.raises(Conflict, match="a schedule named 'every' already exists"):
        book.add(spec("every", "@daily", "false", tz="UTC"))
    for call in (book.pause, book.resume, book.remove, book.run_now, book.get):
        with pytest.raises(NotFound, match="no schedule named 'nope'"):
            call("nope")
    read_only = ScheduleBook(JobQueue(queue.storage, read_only=True))
    for call in (read_only.pause, read_only.resume, read_only.remove, read_only.run_now):
        with pytest.raises(ReadOnly):
            call("every")
    assert read_only.fire_due() == ([], [], None)
    assert db_snapshot(db_path) == before


def test_a_schedule_this_host_cannot_read_stays_due_for_others(queue, book, clock, db_path):
    """A zone another host knows but this one does not: reported, not fired, and
    not a crash; the other schedules fire as usual."""
    book.add(spec("good", "* * * * *", "true", tz="UTC"))
    book.add(spec("alien", "* * * * *", "true", tz="UTC"))
    from tests.conftest import db_execute

    db_execute(db_path, "UPDATE schedule SET tz = 'Mars/Olympus_Mons' WHERE name = 'alien'")
    clock.advance(60)
    fired, problems, wait = book.fire_due()
    assert [f.job_id for f in fired] == ["good@2030-01-01T00:01Z"]
    assert problems == ["schedule alien: cannot be evaluated here "
                        "(unknown time zone 'Mars/Olympus_Mons')"]
    assert wait is not None and wait <= 0  # still due: the worker retries at its next tick


def test_an_occurrence_whose_id_is_taken_is_not_retried_forever(queue, book, clock):
    from queuectl_tui.jobspec import JobSpec

    queue.enqueue([JobSpec(command="echo mine", id="every@2030-01-01T00:01Z")])
    book.add(spec("every", "* * * * *", "true", tz="UTC"))
    clock.advance(60)
    assert [f.job_id for f in book.fire_due()[0]] == ["every@2030-01-01T00:01Z"]
    assert book.get("every").next_at == at("2030-01-01T00:02:00")
    assert queue.get("every@2030-01-01T00:01Z").command == "echo mine"  # left alone


# --- many processes firing at the same instants ----------------------------------


def _racer(target: str, minutes: int, barrier, results) -> None:
    """One process of the race: at each simulated minute, all of them call
    fire_due at once (the barrier), each on its own connection."""
    queue = JobQueue.open(target)
    fired = 0
    for minute in range(1, minutes + 1):
        book = ScheduleBook(queue, clock=lambda m=minute: T0 + 60 * m)
        barrier.wait(timeout=60)
        fired += len(book.fire_due()[0])
    queue.close()
    results.put(fired)


def test_racing_processes_fire_each_occurrence_exactly_once(queue, book, db_path):
    """8 processes, 40 simulated minutes, every call at the same moment: the
    fenced update lets exactly one of them enqueue each occurrence."""
    book.add(spec("race", "* * * * *", "true", tz="UTC"))
    book.add(spec("half", "*/2 * * * *", "true", tz="UTC"))
    processes, minutes = 8, 40
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(processes), context.Queue()
    racers = [context.Process(target=_racer, args=(str(db_path), minutes, barrier, results))
              for _ in range(processes)]
    for racer in racers:
        racer.start()
    fired = [results.get(timeout=120) for _ in racers]
    for racer in racers:
        racer.join(30)
        assert racer.exitcode == 0
    expected = {occurrence_id("race", T0 + 30 + 60 * (m - 1)) for m in range(1, minutes + 1)}
    expected |= {occurrence_id("half", T0 + 30 + 60 * (m - 1))
                 for m in range(2, minutes + 1, 2)}
    ids = [row[0] for row in db_rows(db_path, "SELECT id FROM job")]
    assert sorted(ids) == sorted(expected)  # none missing, none twice
    assert sum(fired) == len(expected) == 60
    print(f"\nfired per process: {fired}")


# --- the CLI -----------------------------------------------------------------------


@pytest.fixture
def sched_cli(cli, tmp_path: Path):
    """The CLI with the schedule clock at 2030-01-01 00:00:30 UTC, in UTC, on a wide
    terminal (tables are not cut)."""
    clock_file = tmp_path / "clock"
    clock_file.write_text(str(T0))
    cli.env.update({CLOCK_ENV: str(clock_file), "TZ": "UTC", "COLUMNS": "200"})
    cli.clock_file = clock_file
    return cli


def test_cli_add_list_pause_resume_run_remove(sched_cli, tmp_path: Path):
    cli = sched_cli
    out = cli("schedule", "add", "every", "* * * * *", "-c", "echo tick").out
    assert out == ("Added schedule every: Every minute (UTC); "
                   "next run 2030-01-01 00:01 UTC (in 30s)\n")
    out = cli("schedule", "add", "nightly", "30 2 * * *", "-c", "tar czf /backup/x.tgz /srv",
              "--tz", "Europe/Paris", "--queue", "backups", "--priority", "3",
              "--timeout", "2h", "--max-retries", "1", "--cwd", "/srv",
              "-e", "LEVEL=9", "-e", "NOTE=a=b").out
    assert out == ("Added schedule nightly: At 02:30 every day (Europe/Paris); "
                   "next run 2030-01-01 02:30 CET (in 1h29m)\n")
    assert cli("schedule", "add", "weekly", "@weekly", "-c", "true").out.startswith(
        "Added schedule weekly: At 00:00 on Sunday (UTC); next run 2030-01-06 00:00 UTC")

    assert cli("schedule", "list").out.splitlines() == [
        "NAME     SCHEDULE    ZONE          NEXT RUN                         LAST RUN  LAST JOB"
        "  STATE  COMMAND",
        "every    * * * * *   UTC           2030-01-01 00:01 UTC (in 30s)    -         -"
        "         -      echo tick",
        "nightly  30 2 * * *  Europe/Paris  2030-01-01 02:30 CET (in 1h29m)  -         -"
        "         -      tar czf /backup/x.tgz /srv",
        "weekly   @weekly     UTC           2030-01-06 00:00 UTC (in 4d)     -         -"
        "         -      true",
    ]
    listed = {s["name"]: s for s in cli.json("schedule", "list", "--json")}
    nightly = listed["nightly"]
    assert {k: v for k, v in nightly.items() if k not in ("created_at", "updated_at")} == {
        "name": "nightly", "cron": "30 2 * * *", "description": "At 02:30 every day",
        "tz": "Europe/Paris", "command": "tar czf /backup/x.tgz /srv", "queue": "backups",
        "priority": 3, "timeout": 7200.0, "max_retries": 1, "cwd": "/srv",
        "env": {"LEVEL": "9", "NOTE": "a=b"}, "paused": False,
        "next_at": "2030-01-01T01:30:00.000Z", "last_at": None, "last_job_id": None,
        "last_state": None,
    }
    assert listed["every"]["cwd"] == str(Path.cwd())  # the caller's folder by default

    assert cli("schedule", "pause", "every").out == "Paused every\n"
    assert cli("schedule", "pause", "every").out == "every was already paused\n"
    job_id = cli("schedule", "run", "every").out.strip()
    assert job_id.startswith("every@run-")
    assert cli.job(job_id)["command"] == "echo tick"
    lines = cli("schedule", "list").out.splitlines()
    assert lines[1].split() == ["every", "*", "*", "*", "*", "*", "UTC", "paused", "now",
                                job_id, "pending", "echo", "tick"]
    assert cli.json("schedule", "list", "--json")[0]["next_at"] is None

    cli.clock_file.write_text(str(T0 + 120))  # 00:02:30
    assert cli("schedule", "resume", "every").out == \
        "Resumed every; next run 2030-01-01 00:03 UTC (in 30s)\n"
    assert cli("schedule", "resume", "every").out == "every is not paused\n"
    assert cli("schedule", "remove", "weekly").out == "Removed weekly\n"
    assert [s["name"] for s in cli.json("schedule", "list", "--json")] == ["every", "nightly"]
    assert len(cli.json("list", "--json")) == 1  # the run-now job: no worker, no firing


def test_cli_default_zone_is_the_callers_and_is_recorded(sched_cli):
    sched_cli.env["TZ"] = "America/New_York"
    out = sched_cli("schedule", "add", "morning", "0 9 * * 1-5", "-c", "true").out
    assert out == ("Added schedule morning: At 09:00 on Monday through Friday "
                   "(America/New_York); next run 2030-01-01 09:00 EST (in 13h59m)\n")
    sched_cli.env["TZ"] = "Asia/Tokyo"  # another host's zone changes nothing
    assert sched_cli.json("schedule", "list", "--json")[0]["next_at"] == \
        "2030-01-01T14:00:00.000Z"


@pytest.mark.parametrize(("args", "message"), [
    (("add", "every", "* * * * *", "-c", "false"), "a schedule named 'every' already exists"),
    (("add", "x", "* * * *", "-c", "true"), "has 4 fields; it needs 5"),
    (("add", "x", "61 * * * *", "-c", "true"), "cron expression '61 * * * *': bad minute"),
    (("add", "x", "@reboot", "-c", "true"), "@reboot is not a schedule"),
    (("add", "x", "* * * * *", "-c", "true", "--tz", "Mars/Olympus"),
     "unknown time zone 'Mars/Olympus'"),
    (("add", "x", "* * * * *", "-c", "true", "--tz", "../../etc/passwd"),
     "unknown time zone '../../etc/passwd'"),
    (("add", "bad name", "* * * * *", "-c", "true"), "schedule name 'bad name' must be"),
    (("add", "a@b", "* * * * *", "-c", "true"), "schedule name 'a@b' must be"),
    (("add", "-x", "* * * * *", "-c", "true"), "No such option '-x'"),
    (("add", "x" * 65, "* * * * *", "-c", "true"), "must be 1 to 64"),
    (("add", "x", "* * * * *", "-c", "   "), "command must not be empty"),
    (("add", "x", "* * * * *", "-c", "true", "--priority", "10000000"),
     "priority must be between"),
    (("add", "x", "* * * * *", "-c", "true", "--timeout", "soon"), "is not a duration"),
    (("add", "x", "* * * * *", "-c", "true", "-e", "NOEQUALS"), "--env takes NAME=VALUE"),
    (("add", "x", "* * * * *", "-c", "true", "-e", "1X=y"), "env name '1X' must be"),
    (("add", "x", "* * * * *"), "Missing option '-c' / '--command'"),
    (("pause", "nope"), "no schedule named 'nope'"),
    (("resume", "nope"), "no schedule named 'nope'"),
    (("remove", "nope"), "no schedule named 'nope'"),
    (("run", "nope"), "no schedule named 'nope'"),
])
def test_cli_refuses_bad_input_in_one_line_and_changes_nothing(sched_cli, db_path: Target,
                                                               args, message):
    sched_cli("schedule", "add", "every", "* * * * *", "-c", "true")
    before = db_snapshot(db_path)
    result = sched_cli("schedule", *args, check=False)
    assert result.returncode in (1, 2), result
    assert result.out == ""
    assert result.err.startswith("Error: ") and result.err.count("\n") == 1, result.err
    assert message in result.err, result.err
    assert "Traceback" not in result.err
    assert db_snapshot(db_path) == before


def test_cli_shows_hostile_text_as_text(sched_cli):
    command = "printf '\\033]0;pwned\\007'; echo [red]x[/red] ✓"
    sched_cli("schedule", "add", "hostile", "@daily", "-c", command + "\n\x1b[2J")
    line = sched_cli("schedule", "list").out.splitlines()[1]
    assert "\x1b" not in line and "␛[2J" in line and "[red]x[/red] ✓" in line
    assert sched_cli.json("schedule", "list", "--json")[0]["command"] == command + "\n\x1b[2J"
