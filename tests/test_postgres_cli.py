"""Every `queuectl` command on a PostgreSQL database, through real processes.

One fresh database per module (tests/pg.py), reached through a URL that holds a
password (the test server trusts any): each test checks what a user sees, and
that the password shows up nowhere (output, --json, logs, the web page, the
command lines `ps` shows). Skipped, with the reason, when no server answers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import FAST_CONFIG, wait_for
from tests.pg import SKIP_REASON, drop_database, fresh_database, pg_url

pytestmark = pytest.mark.skipif(pg_url() is None, reason=SKIP_REASON)

PASSWORD = "Pg-s3cret-9f2"


def _with_password(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    netloc = f"{parts.username or 'postgres'}:{PASSWORD}@{parts.hostname}:{parts.port or 5432}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


class PgCli:
    """The real `queuectl` on one PostgreSQL URL, with the user's data folder in a
    temporary one (where the workers' log of a URL goes)."""

    def __init__(self, url: str, home: Path):
        self.url = url
        self.home = home
        self.env = {**os.environ, "QUEUECTL_DB": url, "XDG_DATA_HOME": str(home)}
        self.env.pop("QUEUECTL_DEBUG", None)
        self.started: list[subprocess.Popen] = []

    def __call__(self, *args: str, input: str | None = None, db: str | None = None,
                 check: bool = True) -> subprocess.CompletedProcess:
        env = dict(self.env)
        if db is not None:
            env["QUEUECTL_DB"] = db
        result = subprocess.run([sys.executable, "-m", "queuectl_tui", *args], input=input,
                                capture_output=True, text=True, env=env, timeout=60)
        assert PASSWORD not in result.stdout + result.stderr, args
        assert "Traceback" not in result.stderr, result.stderr
        if check:
            assert result.returncode == 0, (args, result.stderr)
        return result

    def json(self, *args: str):
        return json.loads(self(*args, "--json").stdout)

    def state(self, job_id: str) -> str:
        return {j["id"]: j["state"] for j in self.json("list", "--limit", "0")}[job_id]

    def popen(self, *args: str, **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-m", "queuectl_tui", *args], env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True, **kwargs)
        self.started.append(proc)
        return proc

    def cleanup(self) -> None:
        """Stop every worker on the database, then anything this module started."""
        subprocess.run([sys.executable, "-m", "queuectl_tui", "worker", "stop", "--timeout",
                        "10"], env=self.env, capture_output=True, timeout=30)
        for proc in self.started:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


@pytest.fixture(scope="module")
def pg(tmp_path_factory):
    base = fresh_database("cli")
    cli = PgCli(_with_password(base), tmp_path_factory.mktemp("home"))
    for key, value in FAST_CONFIG.items():
        cli("config", "set", key, value)
    yield cli
    cli.cleanup()
    drop_database(base)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _descendants(pid: int) -> list[int]:
    found = []
    out = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True).stdout
    children: dict[int, list[int]] = {}
    for line in out.splitlines():
        child, parent = map(int, line.split())
        children.setdefault(parent, []).append(child)
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


# --- jobs without workers ------------------------------------------------------------

def test_enqueue_list_show_status_and_config(pg):
    assert pg("enqueue", '{"id": "j-json", "command": "echo json"}').stdout.split() == ["j-json"]
    pg("enqueue", "-c", "echo flags", "--id", "j-flags", "--priority", "5",
       "--max-retries", "1", "--timeout", "30", "--delay", "1h")
    bulk = "\n".join(json.dumps({"id": f"j-bulk-{i}", "command": f"echo {i}"}) for i in range(3))
    assert pg("enqueue", "-", input=bulk).stdout.split() == [f"j-bulk-{i}" for i in range(3)]
    nul = pg("enqueue", '{"command": "echo a\\u0000b"}', check=False)
    assert nul.returncode == 1 and nul.stderr.count("\n") == 1 and "NUL" in nul.stderr

    jobs = {j["id"]: j for j in pg.json("list")}
    assert {"j-json", "j-flags", "j-bulk-0", "j-bulk-2"} <= set(jobs)
    assert jobs["j-flags"]["priority"] == 5 and jobs["j-flags"]["max_retries"] == 1
    shown = pg("show", "j-flags").stdout
    assert "echo flags" in shown and "No attempts yet." in shown
    assert pg("config", "get", "backoff_base").stdout.strip() == "1"

    status = pg.json("status")
    assert status["jobs"]["pending"] >= 5
    assert status["database"] == pg.url.replace(PASSWORD, "***")
    assert pg.url.replace(PASSWORD, "***") in pg("status").stdout

    assert "Cancelled j-flags" in pg("cancel", "j-flags").stdout
    assert pg.state("j-flags") == "cancelled"


# --- workers ---------------------------------------------------------------------------

def test_detached_workers_run_retry_and_dead_letter_without_a_password_on_any_command_line(pg):
    pg("enqueue", "-c", "echo done-by-pg", "--id", "w-ok")
    pg("enqueue", "-c", "echo boom >&2; exit 3", "--id", "w-bad", "--max-retries", "2")
    started = pg("worker", "start", "-n", "2", "--detach")
    log = Path(started.stdout.rsplit("log: ", 1)[1].strip())
    assert log.parent == pg.home / "queuectl" and log.name.endswith(".workers.log")

    workers = wait_for(lambda: len(pg.json("worker", "list")) == 2 and pg.json("worker", "list"))
    pids = [w["pid"] for w in workers]
    supervisor = int(started.stdout.split("supervisor pid ")[1].split(")")[0])
    for pid in [supervisor, *pids]:
        line = _cmdline(pid)
        assert "queuectl_tui" in line and PASSWORD not in line and "--db" not in line

    wait_for(lambda: pg.state("w-ok") == "completed" and pg.state("w-bad") == "dead",
             timeout=20)
    assert "done-by-pg" in pg("show", "w-ok").stdout
    shown = pg("show", "w-bad", "--full").stdout
    assert "exit code 3: boom" in shown and "retry" in shown  # the attempt timeline
    assert "w-bad" in pg("dlq", "list").stdout
    assert "Retrying w-bad" in pg("dlq", "retry", "w-bad").stdout
    wait_for(lambda: pg.state("w-bad") == "dead", timeout=20)

    metrics = pg("metrics").stdout
    assert 'queuectl_jobs{queue="default",state="dead"}' in metrics
    assert 'queuectl_workers{state="running"} 2.0' in metrics

    stopped = pg("worker", "stop")
    assert "Stopped 2 workers." in stopped.stdout
    assert pg("worker", "list").stdout.strip() == "No workers are running."
    wait_for(lambda: all(not _cmdline(pid) for pid in [supervisor, *pids]))
    text = log.read_text()
    assert "job w-ok: completed" in text and PASSWORD not in text


def test_a_running_job_is_cancelled_and_a_foreground_worker_stops_on_ctrl_c(pg):
    pg("enqueue", "-c", "sleep 30", "--id", "fg-long")
    worker = pg.popen("worker", "start", "-n", "1")
    wait_for(lambda: pg.state("fg-long") == "processing", timeout=15)
    for pid in _descendants(worker.pid):
        assert PASSWORD not in _cmdline(pid)
    pg("cancel", "fg-long")
    wait_for(lambda: pg.state("fg-long") == "cancelled")
    worker.send_signal(signal.SIGINT)
    out, err = worker.communicate(timeout=20)
    assert worker.returncode == 0, err
    assert "All workers stopped" in err and PASSWORD not in out + err
    assert pg.url.replace(PASSWORD, "***") in err  # "Started 1 worker ... on <url>"


def test_purge_and_vacuum(pg):
    pg("enqueue", "-c", "true", "--id", "p-1")
    pg("cancel", "p-1")
    purged = pg("purge", "--cancelled")
    assert purged.stdout.startswith("Purged ") and "p-1" not in pg("list").stdout
    vacuumed = pg("purge", "--vacuum")
    assert vacuumed.stdout.startswith("Database ") and " -> " in vacuumed.stdout


# --- export / import -----------------------------------------------------------------

def test_export_import_round_trip_sqlite_postgresql_sqlite(pg, tmp_path):
    source = tmp_path / "source.db"
    pg("enqueue", "-", db=str(source), input="\n".join(json.dumps(
        {"id": f"rt-{i}", "command": f"echo {i}", "priority": i}) for i in range(5)))
    pg("cancel", "rt-4", db=str(source))
    first = tmp_path / "first.jsonl"
    first.write_text(pg("export", db=str(source)).stdout)

    target = fresh_database("clirt")
    try:
        url = _with_password(target)
        # A NUL in an imported output is stored as U+FFFD (PostgreSQL text cannot hold one).
        lines = first.read_text().splitlines()
        record = json.loads(lines[1])
        record["output"] = "a\u0000b"
        lines[1] = json.dumps(record)
        imported = pg("import", "-", db=url, input="\n".join(lines) + "\n")
        assert "Imported 5 jobs" in imported.stderr + imported.stdout
        assert "a\ufffdb" in pg("show", record["id"], db=url).stdout
        lines[1] = first.read_text().splitlines()[1]
        back = pg("export", db=url).stdout
    finally:
        drop_database(target)
    again = tmp_path / "again.db"
    pg("import", "-", db=str(again), input=back)
    second = pg("export", db=str(again)).stdout

    def records(text: str) -> list[dict]:
        rows = [json.loads(line) for line in text.splitlines()]
        rows[0].pop("exported_at")
        return rows

    original = records(first.read_text())
    original[1]["output"] = "a\ufffdb"  # the one change PostgreSQL made
    assert records(second) == original


# --- web, TUI, errors ---------------------------------------------------------------

def test_web_read_only_shows_no_password(pg):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = pg.popen("web", "--read-only", "--port", str(port))

    def page() -> str | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                return response.read().decode()
        except OSError:
            return None

    html = wait_for(page, timeout=20)
    assert "<title>queuectl · " in html and PASSWORD not in html
    dbname = urllib.parse.urlsplit(pg.url).path.lstrip("/")
    assert f"<title>queuectl · {dbname}</title>" in html
    server.send_signal(signal.SIGINT)
    out, err = server.communicate(timeout=20)
    assert PASSWORD not in out + err
    assert pg.url.replace(PASSWORD, "***") in out


def test_tui_shows_the_masked_url_and_runs_jobs_with_embedded_workers(pg):
    """The app in-process (Textual's pilot), embedded workers as real processes."""
    import asyncio

    from queuectl_tui.tui import make_app

    pg("enqueue", "-c", "echo from-tui", "--id", "t-1")

    async def run() -> str:
        os.environ["XDG_DATA_HOME"] = str(pg.home)
        app = make_app(pg.url, workers=1)
        async with app.run_test(size=(120, 30)) as pilot:
            deadline = time.monotonic() + 20
            while pg.state("t-1") != "completed":
                assert time.monotonic() < deadline, "the embedded worker did not run t-1"
                await pilot.pause(0.1)
            for pid in app.embedded.pids:
                assert PASSWORD not in _cmdline(pid)
            await pilot.pause(0.5)
            screen = app.query_one("#status-line").render()
            await pilot.press("q")
        return str(screen)

    previous = os.environ.get("XDG_DATA_HOME")
    try:
        status_line = asyncio.run(run())
    finally:
        if previous is None:
            os.environ.pop("XDG_DATA_HOME", None)
        else:
            os.environ["XDG_DATA_HOME"] = previous
    assert pg.url.replace(PASSWORD, "***") in status_line and PASSWORD not in status_line


@pytest.mark.parametrize("command", [("status",), ("status", "--json"), ("worker", "list"),
                                     ("enqueue", "-c", "true"), ("worker", "start", "-d")])
def test_an_unreachable_server_is_one_line_and_exit_1(pg, command):
    url = f"postgresql://bob:{PASSWORD}@127.0.0.1:1/queue"
    result = pg(*command, db=url, check=False)
    assert result.returncode == 1
    assert result.stderr == "Error: cannot connect to PostgreSQL at 127.0.0.1:1/queue:" \
        " Connection refused\n"
    assert result.stdout == ""
