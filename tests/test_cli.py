"""The CLI contract, through the real `queuectl` command (no workers needed)."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import db_snapshot

pytestmark = pytest.mark.backends

TIMESTAMP_FIELDS = ("run_at", "created_at", "updated_at")


@pytest.mark.backends("sqlite")  # no database involved
def test_bare_queuectl_without_a_terminal_prints_help(cli):
    result = cli()
    assert result.out.startswith("Usage: queuectl")
    assert "enqueue" in result.out and "worker" in result.out


@pytest.mark.backends("sqlite")  # no database involved
def test_tui_without_a_terminal_says_so(cli):
    result = cli("tui", check=False)
    assert result.returncode == 1
    assert result.err == "Error: the TUI needs a terminal; for scripts use the subcommands " \
        "(queuectl --help)\n"


@pytest.mark.backends("sqlite")  # no database involved
def test_version(cli):
    result = cli("--version")
    assert result.out.startswith("queuectl, version ")


def test_status_does_not_import_textual_or_rich(db_path):
    code = (
        "import sys; from queuectl_tui.cli import main\n"
        "try:\n    main(['--db', sys.argv[1], 'status'])\n"
        "except SystemExit: pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')))"
    )
    result = subprocess.run([sys.executable, "-c", code, str(db_path)], capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_enqueue_json_string_prints_the_id(cli):
    assert cli("enqueue", '{"id":"job1","command":"echo Hello World"}').out == "job1\n"
    job = cli.job("job1")
    assert job["command"] == "echo Hello World"
    assert (job["state"], job["attempts"], job["max_retries"]) == ("pending", 0, 3)


def test_enqueue_without_id_generates_one(cli):
    job_id = cli("enqueue", '{"command":"true"}').out.strip()
    assert len(job_id) == 16
    assert cli.state(job_id) == "pending"


def test_enqueue_from_file_argument_and_f_option(cli, tmp_path):
    (tmp_path / "job.json").write_text('{"id":"from-file","command":"echo file"}')
    (tmp_path / "other.json").write_text('{"id":"from-f","command":"echo f"}')
    assert cli("enqueue", str(tmp_path / "job.json")).out == "from-file\n"
    assert cli("enqueue", "-f", str(tmp_path / "other.json")).out == "from-f\n"
    assert cli("enqueue", "--file", str(tmp_path / "other.json"), check=False).returncode == 1


def test_enqueue_bare_json_file_name_in_current_directory(cli, tmp_path):
    (tmp_path / "job.json").write_text('{"id":"cwd-job","command":"true"}')
    result = subprocess.run([sys.executable, "-m", "queuectl_tui", "enqueue", "job.json"],
                            cwd=tmp_path, env=cli.env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "cwd-job\n"


@pytest.mark.parametrize("payload", [
    '[{"id":"a","command":"true"},{"id":"b","command":"true"},{"id":"c","command":"true"}]',
    '{"id":"a","command":"true"}\n{"id":"b","command":"true"}\n\n{"id":"c","command":"true"}\n',
])
def test_bulk_enqueue_from_stdin(cli, payload):
    assert cli("enqueue", "-", input=payload).out.split() == ["a", "b", "c"]
    assert [j["id"] for j in cli.json("list", "--json")] == ["a", "b", "c"]


def test_enqueue_options_override_json(cli):
    cli("enqueue", '{"id":"o","command":"true","priority":1}', "--priority", "7",
        "--timeout", "30s", "--max-retries", "6", "--delay", "60")
    job = cli.job("o")
    assert (job["priority"], job["timeout"], job["max_retries"]) == (7, 30.0, 6)
    assert job["run_at"] > job["created_at"]
    cli("enqueue", "-c", "echo direct", "--id", "direct", "--run-at", "2099-01-01T00:00:00Z")
    assert cli.job("direct")["run_at"] == "2099-01-01T00:00:00.000Z"


def test_run_at_without_zone_is_local_time(cli):
    cli("enqueue", '{"id":"t","command":"true"}', "--run-at", "2099-06-01T12:00:00")
    from datetime import datetime

    expected = datetime(2099, 6, 1, 12, 0).astimezone().timestamp()
    from queuectl_tui.timeutil import parse_when

    assert parse_when(cli.job("t")["run_at"]) == expected


def test_ids_and_commands_round_trip_unchanged(cli):
    long_command = "echo " + "x" * 20_000
    jobs = {
        "job-with_dots.and-dashes_1": "echo \"double\" 'single' `tick` $HOME \\ back",
        "unicode-ü-✓": "echo héllo wörld ✓ 日本語",
        "long": long_command,
    }
    for job_id, command in jobs.items():
        cli("enqueue", json.dumps({"id": job_id, "command": command}))
    for job_id, command in jobs.items():
        assert cli.job(job_id)["command"] == command


def test_twenty_parallel_enqueues_on_a_fresh_database_all_succeed(cli):
    def enqueue(n):
        return cli("enqueue", json.dumps({"id": f"par-{n}", "command": "true"}), check=False)

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(enqueue, range(20)))
    assert [r.returncode for r in results] == [0] * 20, [r.err for r in results if r.returncode]
    assert len(cli.json("list", "--json")) == 20


def test_list_json_is_one_line_and_empty_array_when_empty(cli):
    assert cli("list", "--json").out == "[]\n"
    assert cli("list", "--state", "dead", "--json").out == "[]\n"
    cli("enqueue", '{"id":"j","command":"true"}')
    out = cli("list", "--state", "pending", "--json").out
    assert out.count("\n") == 1
    (job,) = json.loads(out)
    assert job["next_retry_at"] is None
    for field in TIMESTAMP_FIELDS:
        assert job[field].endswith("Z")


def test_list_table_and_limit(cli):
    for n in range(5):
        cli("enqueue", json.dumps({"id": f"job{n}", "command": f"echo {n}"}))
    out = cli("list", "--limit", "2").out
    assert "job3" in out and "job4" in out and "job0" not in out
    assert "ID" in out.splitlines()[0]
    assert "No completed jobs." in cli("list", "--state", "completed").out


def test_status_json_shape(cli):
    cli("enqueue", '{"id":"j","command":"true"}')
    status = cli.json("status", "--json")
    assert status["jobs"] == {"pending": 1, "processing": 0, "completed": 0, "failed": 0,
                              "dead": 0, "cancelled": 0}
    assert status["workers"] == []
    assert status["config"]["max_retries"] == 3


def test_status_human_output(cli):
    out = cli("status").out
    assert "pending" in out and "Workers: 0 live" in out and "max_retries=3" in out


def test_config_get_and_set_with_dashes_and_underscores(cli):
    assert cli("config", "set", "max-retries", "5").returncode == 0
    assert cli("config", "get", "max_retries").out == "5\n"
    cli("config", "set", "backoff_base", "3")
    assert cli("config", "get", "backoff-base").out == "3\n"
    cli("config", "set", "poll-interval", "0.5")
    lines = cli("config", "get").out.splitlines()
    assert lines == [
        "max_retries = 5", "backoff_base = 3", "backoff_max = 3600", "poll_interval = 0.5",
        "job_timeout = 0", "lease_seconds = 15", "output_limit = 65536", "tui_workers = 2",
    ]
    assert cli("config", "get").out == cli("config", "get").out


def test_show_prints_fields_and_attempts(cli):
    cli("enqueue", '{"id":"s","command":"echo shown"}')
    out = cli("show", "s").out
    assert "echo shown" in out and "pending" in out and "No attempts yet." in out


def test_cancel_and_purge(cli):
    cli("enqueue", '{"id":"c","command":"true"}')
    assert cli("cancel", "c").out == "Cancelled c\n"
    assert cli.state("c") == "cancelled"
    assert cli("purge", "--cancelled").out == "Purged 1 job\n"
    assert cli.json("list", "--json") == []


# --- bad input: one line on stderr, exit status, database unchanged ----------

BAD_ENQUEUES = [
    (["enqueue", '{"id":"x","command":"true"'], 1, "invalid JSON"),
    (["enqueue", '{"id":"x"}'], 1, "missing required field 'command'"),
    (["enqueue", '{"command":""}'], 1, "command must not be empty"),
    (["enqueue", '{"command":42}'], 1, "command must be a string"),
    (["enqueue", '{"command":"true","priority":"high"}'], 1, "priority must be a whole number"),
    (["enqueue", '{"command":"true","priority":1.5}'], 1, "priority must be a whole number"),
    (["enqueue", '{"command":"true","max_retries":-1}'], 1, "max_retries must be between"),
    (["enqueue", '{"command":"true","max_retries":true}'], 1, "max_retries must be a whole"),
    (["enqueue", '{"command":"true","timeout":"soon"}'], 1, "not a duration"),
    (["enqueue", '{"command":"true","run_at":"tomorrow"}'], 1, "not an ISO 8601"),
    (["enqueue", '{"command":"true","id":"has space"}'], 1, "must not contain spaces"),
    (["enqueue", '{"id":"dup","command":"true"}'], 1, "'dup' already exists"),
    (["enqueue", '["not an object"]'], 1, "must be a JSON object"),
    (["enqueue", "[]"], 1, "holds no jobs"),
    (["enqueue", "echo hi"], 1, "JOB must be a JSON object"),
    (["enqueue", "missing.json"], 1, "no such file"),
    (["enqueue", "--priority", "x", '{"command":"true"}'], 2, "is not a valid integer"),
    (["enqueue"], 2, "missing JOB"),
    (["enqueue", '{"command":"true"}', "--run-at", "2030-01-01", "--delay", "5"], 2,
     "either --run-at or --delay"),
    (["config", "set", "max-retries", "many"], 1, "must be a number"),
    (["config", "set", "max-retries", "-3"], 1, "must be between"),
    (["config", "set", "backoff_base", "0"], 1, "must be between"),
    (["config", "set", "colour", "blue"], 1, "unknown config key"),
    (["config", "get", "colour"], 1, "unknown config key"),
    (["show", "nope"], 1, "no job with id 'nope'"),
    (["cancel", "dup", "nope"], 1, "no job with id 'nope'"),
    (["dlq", "retry", "nope"], 1, "no job with id 'nope'"),
    (["dlq", "retry", "dup"], 1, "'dup' is pending"),
    (["dlq", "retry"], 2, "give job ids or --all"),
    (["purge"], 2, "say what to purge"),
    (["list", "--state", "sleeping"], 2, "Invalid value for '--state'"),
    (["frobnicate"], 2, "No such command"),
]


# The refusals that the database decides (a taken or unknown id, a state): both
# backends. The rest are refused before the database is written: SQLite alone.
REACH_THE_DATABASE = {"enqueue {\"id\":\"dup\",\"command\":\"true\"}", "show nope",
                      "cancel dup nope", "dlq retry nope", "dlq retry dup"}
BY_THE_DATABASE = [case for case in BAD_ENQUEUES if " ".join(case[0]) in REACH_THE_DATABASE]
BEFORE_THE_DATABASE = [case for case in BAD_ENQUEUES if case not in BY_THE_DATABASE]


@pytest.mark.parametrize("args,code,message", BY_THE_DATABASE,
                         ids=[" ".join(a)[:50] for a, _, _ in BY_THE_DATABASE])
def test_refusal_by_the_database_gives_one_line_error_and_changes_nothing(
        cli, db_path, args, code, message):
    refused_in_one_line_and_nothing_changed(cli, db_path, args, code, message)


@pytest.mark.backends("sqlite")  # refused before the database is written
@pytest.mark.parametrize("args,code,message", BEFORE_THE_DATABASE,
                         ids=[" ".join(a)[:50] for a, _, _ in BEFORE_THE_DATABASE])
def test_bad_input_gives_one_line_error_and_changes_nothing(cli, db_path, args, code, message):
    refused_in_one_line_and_nothing_changed(cli, db_path, args, code, message)


def refused_in_one_line_and_nothing_changed(cli, db_path, args, code, message) -> None:
    cli("enqueue", '{"id":"dup","command":"true"}')
    before = db_snapshot(db_path)
    result = cli(*args, check=False)
    assert result.returncode == code, result.err
    assert result.out == ""
    assert result.err.count("\n") == 1 and result.err.startswith("Error: "), result.err
    assert message in result.err
    assert "Traceback" not in result.err
    assert db_snapshot(db_path) == before


def test_bulk_batch_with_one_bad_line_enqueues_nothing(cli, db_path):
    cli("status")
    before = db_snapshot(db_path)
    payload = '{"id":"ok1","command":"true"}\n{"id":"ok2"}\n{"id":"ok3","command":"true"}\n'
    result = cli("enqueue", "-", input=payload, check=False)
    assert result.returncode == 1
    assert result.err == "Error: job 2: missing required field 'command'\n"
    broken = '{"id":"ok1","command":"true"}\n{"id":"ok2",\n'
    result = cli("enqueue", "-", input=broken, check=False)
    assert result.returncode == 1 and "line 2: invalid JSON" in result.err
    assert db_snapshot(db_path) == before


def test_non_utf8_stdin_is_refused(cli):
    result = cli("enqueue", "-", input=b'{"command":"echo \xff\xfe"}', check=False)
    assert result.returncode == 1
    assert result.err == "Error: standard input is not valid UTF-8 text\n"


@pytest.mark.sqlite_only
def test_not_a_database_is_refused_with_a_clear_message(cli, tmp_path):
    """SQLite only: a file that is not a database."""
    bogus = tmp_path / "bogus.db"
    bogus.write_text("hello, I am a text file\n" * 100)
    before = bogus.read_bytes()
    result = cli("--db", str(bogus), "status", check=False)
    assert result.returncode == 1
    assert result.err.startswith("Error: cannot open") and "not a database" in result.err
    assert result.err.count("\n") == 1
    assert bogus.read_bytes() == before
