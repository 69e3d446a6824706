"""`--db` (and `--allow-shared`) after the command name: `queuectl list --db x.db`
works as `queuectl --db x.db list`, for every command, and the one after wins.

The ``cli`` fixture's QUEUECTL_DB is the test's database; ``other_db`` is a second
one on the same backend, reached only through a `--db` after the command.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import Cli, db_snapshot, kill_registered_workers, wait_for

pytestmark = pytest.mark.backends


def _one_line_error(result: subprocess.CompletedProcess, code: int) -> str:
    assert result.returncode == code, (result.returncode, result.err)
    assert "Traceback" not in result.err
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.err
    return lines[0]


def test_db_after_the_command_targets_that_database(cli: Cli, other_db) -> None:
    other = str(other_db)
    assert cli("enqueue", "-c", "echo hi", "--id", "j1", "--db", other).out == "j1\n"
    assert [j["id"] for j in cli.json("list", "--db", other, "--json")] == ["j1"]
    assert cli.json("list", "--json") == []  # QUEUECTL_DB's database: untouched
    assert cli.json("status", "--json", "--db", other)["jobs"]["pending"] == 1
    assert cli.json("status", "--json")["jobs"]["pending"] == 0
    assert cli.json("show", "j1", "--db", other, "--json")["command"] == "echo hi"
    exported = [json.loads(line) for line in cli("export", "--db", other).out.splitlines()]
    assert [r["id"] for r in exported[1:]] == ["j1"]
    assert cli.json("dlq", "list", "--db", other, "--json") == []
    assert cli.json("worker", "list", "--db", other, "--json") == []

    assert cli("config", "set", "max_retries", "7", "--db", other).out == "max_retries = 7\n"
    assert cli("config", "get", "max_retries", "--db", other).out == "7\n"
    assert cli("config", "get", "max_retries").out == "3\n"
    cli("config", "set", "--db", other, "backoff_base", "3")  # before the arguments too
    assert cli.json("config", "get", "--json", "--db", other)["backoff_base"] == 3


def test_the_db_after_the_command_wins_over_the_one_before(cli: Cli, other_db) -> None:
    this, other = str(cli.db), str(other_db)
    cli("--db", this, "enqueue", "-c", "true", "--id", "late", "--db", other)
    assert cli.json("--db", this, "list", "--json", "--db", other)[0]["id"] == "late"
    assert cli.json("--db", other, "list", "--json", "--db", this) == []
    assert cli.json("--db", other, "dlq", "--db", this, "list", "--json") == []  # a group too


@pytest.mark.backends("sqlite")  # the PostgreSQL side: the commands above, same code
def test_worker_start_with_db_after_serves_that_database(cli: Cli, other_db,
                                                         request) -> None:
    other = str(other_db)
    request.addfinalizer(lambda: kill_registered_workers(other_db))
    cli("config", "set", "poll_interval", "0.05", "--db", other)
    cli("enqueue", "-c", "echo ran", "--id", "w1", "--db", other)
    proc = subprocess.Popen([sys.executable, "-m", "queuectl_tui", "worker", "start",
                             "--db", other, "--count", "2"],
                            env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    cli.procs.append(proc)  # stopped (then killed) by the fixture's clean-up
    wait_for(lambda: cli.json("show", "w1", "--json", "--db", other)["state"] == "completed",
             message="the job in the --db database to run")
    assert len(cli.json("worker", "list", "--json", "--db", other)) == 2
    assert cli.json("worker", "list", "--json") == []
    cli("worker", "stop", "--db", other, "--timeout", "20")
    assert proc.wait(timeout=20) == 0


def test_a_bad_db_after_the_command_is_one_line_and_changes_nothing(cli: Cli,
                                                                    tmp_path: Path) -> None:
    cli("enqueue", "-c", "true", "--id", "keep")
    before = db_snapshot(cli.db)
    line = _one_line_error(cli("enqueue", "-c", "true", "--db", str(tmp_path), check=False), 2)
    assert "'--db'" in line and "is a directory" in line
    assert "requires an argument" in _one_line_error(cli("list", "--db", check=False), 2)
    assert db_snapshot(cli.db) == before


@pytest.mark.backends("sqlite")  # the URL is the point; QUEUECTL_DB's database is not used
def test_a_password_in_a_db_after_the_command_stays_masked(cli: Cli) -> None:
    url = "postgresql://someone:Sup3r-s3cret@127.0.0.1:1/nothing"  # nothing listens on 1
    for args in (("list", "--db", url), ("status", "--json", "--db", url)):
        result = cli(*args, check=False)
        _one_line_error(result, 1)
        assert "Sup3r-s3cret" not in result.out + result.err


@pytest.mark.sqlite_only  # folder permissions
def test_allow_shared_after_the_command(cli: Cli, tmp_path: Path) -> None:
    shared = tmp_path / "open"
    shared.mkdir()
    shared.chmod(0o777)
    db = str(shared / "q.db")
    assert "--allow-shared" in _one_line_error(cli("list", "--db", db, check=False), 1)
    assert cli("list", "--db", db, "--allow-shared").out == "No jobs.\n"


@pytest.mark.parametrize("args, target", [
    (["tui", "--db", "after.db"], "queuectl_tui.cli.tui._run"),
    (["tui", "--demo", "--db", "after.db"], "queuectl_tui.cli.tui._run_demo"),
    (["demo", "--db", "after.db", "-w", "0"], "queuectl_tui.cli.tui._run_demo"),
    (["web", "--db", "after.db", "--port", "0"], "queuectl_tui.cli.web._serve"),
    (["web", "--demo", "--db", "after.db"], "queuectl_tui.demo.throwaway_database"),
])
def test_the_full_screen_and_web_commands_take_db_after(args, target, monkeypatch) -> None:
    """Which database the app would open (the apps themselves are tested elsewhere)."""
    from queuectl_tui.cli import cli as group

    seen: list[str] = []

    def record(*given, **kwargs):
        seen.append(next(str(a) for a in given if str(a).endswith(".db")))
        raise SystemExit(0)

    monkeypatch.setattr(target, record)
    monkeypatch.setenv("QUEUECTL_DB", "before.db")
    result = CliRunner().invoke(group, ["--db", "first.db", *args])
    assert result.exit_code == 0, result.output
    assert seen == ["after.db"]


@pytest.mark.backends("sqlite")
def test_help_says_where_db_goes(cli: Cli) -> None:
    assert "the one after wins" in " ".join(cli("--help").out.split())
    assert "--db FILE|URL" in cli("worker", "start", "--help").out
    assert "--db URL" in cli("bench", "--help").out  # its own option: a server to measure on
