"""`queuectl web` as a real server process: authentication on every route, the
websocket's app processes, shutdown, workers, bad input, /metrics.

The browser itself is driven in test_web_browser.py; here plain HTTP and
websocket clients (aiohttp's) play the browser, so these run everywhere.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from queuectl_tui.jobspec import JobSpec
from queuectl_tui.queue import JobQueue
from tests.conftest import FAST_CONFIG, Cli, wait_for

TOKEN = "s3cret-token-for-tests"


def descendants(pid: int) -> list[int]:
    """Every living process under ``pid`` (zombies excluded), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] == "Z":
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def app_processes(pid: int) -> list[int]:
    """The tab apps (``queuectl_tui.web.app``) under the server ``pid``."""
    apps = []
    for child in descendants(pid):
        try:
            if b"queuectl_tui.web.app" in Path(f"/proc/{child}/cmdline").read_bytes():
                apps.append(child)
        except OSError:
            continue
    return apps


class WebServer:
    """`queuectl web --port 0 ...` as a child process; ``url`` is the one it printed."""

    def __init__(self, db: Path, *args: str, env: dict | None = None, expect_url: bool = True):
        self.env = dict(os.environ if env is None else env)
        self.env.pop("QUEUECTL_DEBUG", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "queuectl_tui", "--db", str(db), "web", "--port", "0",
             *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        self.url = ""
        if expect_url:
            line = wait_for(lambda: self._url_line() or self.proc.poll() is not None,
                            timeout=30, message="the server's URL")
            assert isinstance(line, str), f"server exited: {''.join(self.err)}"
            self.url = re.search(r" on (https?://\S+)", line).group(1)
            listening = line.rsplit(":", 1)[1].rstrip(")\n") if "(listening on" in line \
                else None
            self.port = int(listening) if listening else urllib.parse.urlsplit(self.url).port
            self.base = f"http://127.0.0.1:{self.port}"

    @staticmethod
    def _read(stream, sink: list[str]) -> None:
        for raw in iter(stream.readline, b""):
            sink.append(raw.decode("utf-8", "replace"))

    def _url_line(self) -> str | None:
        return next((line for line in self.out if " on http" in line), None)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> float:
        """Signal the server and wait; returns how long it took to exit."""
        started = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        elapsed = time.monotonic() - started
        for reader in self._readers:
            reader.join(timeout=5)
        return elapsed

    def cleanup(self) -> None:
        leftovers = descendants(self.proc.pid) if self.proc.poll() is None else []
        self.stop()
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture
def servers():
    yield from server_starter()


def server_starter():
    """Yields ``start(db, *args)``; every server it started is stopped afterwards."""
    started: list[WebServer] = []

    def start(db: Path, *args: str, **kwargs) -> WebServer:
        server = WebServer(db, *args, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.cleanup()


def seed_dlq(db: Path, dead: int = 3) -> list[str]:
    """A database with ``dead`` jobs in the DLQ (hostile ids and commands) and fast
    settings; returns the dead ids."""
    queue = JobQueue.open(db)
    for key, value in FAST_CONFIG.items():
        queue.set_config(key, value)
    ids = [f"[b]dead-{n}[/b]" for n in range(dead)]
    queue.enqueue([JobSpec(command="printf '\\033]0;pwned\\007\\033[2J'; exit 3", id=job_id,
                           max_retries=1) for job_id in ids])
    while (claimed := queue.claim("test-host-1-x", 30)) is not None:
        queue.fail(claimed, "test-host-1-x", 3, "exit 3 [markup]", "\033[2J", queue.config())
    queue.close()
    return ids


async def _get(url: str, **kwargs) -> tuple[int, dict, str]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session, \
            session.get(url, allow_redirects=False, **kwargs) as response:
        return (response.status, dict(response.headers),
                (await response.read()).decode("utf-8", "replace"))


def get(url: str, **kwargs) -> tuple[int, dict, str]:
    return asyncio.run(_get(url, **kwargs))


async def _ws_first_frame(url: str, cookies: dict | None = None, headers: dict | None = None):
    """Open the websocket as the page does; wait for the app's first drawn bytes."""
    async with aiohttp.ClientSession(cookies=cookies) as session, \
            session.ws_connect(f"{url}?width=100&height=30", headers=headers) as ws:
        received = 0
        deadline = time.monotonic() + 30
        while received < 1000 and time.monotonic() < deadline:
            message = await ws.receive(timeout=30)
            if message.type == aiohttp.WSMsgType.BINARY:
                received += len(message.data)
            elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                break
        return received


def login_cookie(server: WebServer) -> dict:
    status, headers, _ = get(f"{server.base}/?token={TOKEN}")
    assert status == 303
    assert "HttpOnly" in headers["Set-Cookie"] and "SameSite=Strict" in headers["Set-Cookie"]
    name, value = headers["Set-Cookie"].split(";")[0].split("=", 1)
    return {name: value}


# --- authentication ----------------------------------------------------------------


def test_every_route_needs_the_token_and_a_refusal_starts_no_process(servers, db_path):
    server = servers(db_path, "--token", TOKEN)
    assert server.url.endswith(f"/?token={TOKEN}")
    for path in ("/", "/ws", "/metrics", "/static/js/textual.js", "/download/abc",
                 "/no-such-page", "/?token=wrong", f"/?token={TOKEN[:-1]}",
                 "/?token=%C3%A9", "/metrics?token="):
        status, _, body = get(server.base + path)
        assert status == 401, path
        assert "token" in body
    status, _, _ = get(server.base + "/", cookies={f"queuectl-web-{server.port}": "wrong"})
    assert status == 401
    status, _, _ = get(server.base + "/metrics", headers={"Authorization": "Bearer wrong"})
    assert status == 401
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        asyncio.run(_ws_first_frame(f"ws://127.0.0.1:{server.port}/ws"))
    assert refused.value.status == 401
    assert app_processes(server.proc.pid) == []


def test_token_in_the_url_becomes_a_cookie_that_opens_page_websocket_and_metrics(
        servers, db_path):
    server = servers(db_path, "--token", TOKEN)
    status, headers, _ = get(f"{server.base}/?token={TOKEN}&fontsize=18")
    assert status == 303
    assert headers["Location"] == "./?fontsize=18"  # the token leaves the address bar
    cookies = login_cookie(server)
    status, headers, page = get(server.base + "/", cookies=cookies)
    assert status == 200
    assert "fonts.googleapis.com" not in page  # the font is served locally
    status, _, _ = get(server.base + "/static/fonts/RobotoMono-VariableFont_wght.ttf",
                       cookies=cookies)
    assert status == 200
    status, _, text = get(server.base + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and "queuectl_jobs" in text
    drawn = asyncio.run(_ws_first_frame(f"ws://127.0.0.1:{server.port}/ws", cookies=cookies))
    assert drawn >= 1000  # the app ran and drew its screen


def test_behind_https_the_cookie_is_secure_and_static_folders_are_not_listed(servers, db_path):
    server = servers(db_path, "--token", TOKEN)
    status, headers, _ = get(f"{server.base}/?token={TOKEN}",
                             headers={"X-Forwarded-Proto": "https"})
    assert status == 303 and "Secure" in headers["Set-Cookie"]
    assert "Secure" not in get(f"{server.base}/?token={TOKEN}")[1]["Set-Cookie"]
    cookies = login_cookie(server)
    for folder in ("/static/", "/static/js/"):
        assert get(server.base + folder, cookies=cookies)[0] in (403, 404), folder
    status, headers, _ = get(server.base + "/", cookies=cookies)
    assert headers["X-Frame-Options"] == "DENY"


def test_a_public_address_gets_a_random_token(servers, db_path):
    server = servers(db_path, "--host", "0.0.0.0")
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(server.url).query)["token"][0]
    assert len(token) >= 24
    assert get(server.base + "/")[0] == 401
    assert get(f"{server.base}/?token={token}")[0] == 303


def test_token_from_the_environment_is_not_passed_on_to_the_tabs(servers, db_path):
    env = dict(os.environ, QUEUECTL_WEB_TOKEN=TOKEN)
    server = servers(db_path, env=env)
    assert server.url.endswith(f"?token={TOKEN}")
    cookies = login_cookie(server)
    environments: list[bytes] = []

    async def tab() -> None:
        async with aiohttp.ClientSession(cookies=cookies) as session, session.ws_connect(
                f"ws://127.0.0.1:{server.port}/ws?width=80&height=24") as ws:
            await ws.receive(timeout=30)
            for pid in app_processes(server.proc.pid):
                environments.append(Path(f"/proc/{pid}/environ").read_bytes())

    asyncio.run(tab())
    assert len(environments) == 1
    assert b"QUEUECTL_WEB_TOKEN" not in environments[0]
    assert TOKEN.encode() not in environments[0]
    assert get(server.base + "/")[0] == 401


def test_loopback_without_token_refuses_other_host_names_and_foreign_websockets(
        servers, db_path):
    server = servers(db_path)
    assert "token" not in server.url
    assert get(server.base + "/")[0] == 200
    # DNS rebinding: a foreign name that resolves to 127.0.0.1 in the victim's browser.
    assert get(server.base + "/", headers={"Host": f"evil.example:{server.port}"})[0] == 403
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        asyncio.run(_ws_first_frame(f"ws://127.0.0.1:{server.port}/ws",
                                    headers={"Origin": "http://evil.example"}))
    assert refused.value.status == 403
    assert app_processes(server.proc.pid) == []


# --- processes -----------------------------------------------------------------------


def test_closing_tabs_leaves_no_process_after_50_cycles(servers, db_path):
    server = servers(db_path)
    ws_url = f"ws://127.0.0.1:{server.port}/ws"

    async def cycles() -> None:
        async with aiohttp.ClientSession() as session:
            async def one(wait_for_app: bool) -> None:
                async with session.ws_connect(f"{ws_url}?width=80&height=24") as ws:
                    if wait_for_app:
                        await ws.receive(timeout=30)  # the app has started and speaks
                    # else: closed at once, while the app is still starting

            # 50 tabs, 10 at a time; in each batch one waits for its app to draw (a
            # full app start costs ~0.6 s of CPU: 50 of them would take half a minute).
            for _ in range(5):
                await asyncio.gather(*(one(n == 0) for n in range(10)))
    asyncio.run(cycles())
    wait_for(lambda: not descendants(server.proc.pid), timeout=10,
             message="every tab's app process to end")
    assert server.proc.poll() is None
    assert asyncio.run(_ws_first_frame(ws_url)) >= 1000  # and it still serves


def test_tabs_beyond_max_tabs_are_refused_until_one_closes(servers, db_path):
    server = servers(db_path, "--max-tabs", "2")
    ws_url = f"ws://127.0.0.1:{server.port}/ws?width=80&height=24"

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            first = await session.ws_connect(ws_url)
            second = await session.ws_connect(ws_url)
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(ws_url)
            assert refused.value.status == 503
            assert len(app_processes(server.proc.pid)) == 2
            await first.close()
            await asyncio.to_thread(wait_for, lambda: len(app_processes(server.proc.pid)) < 2,
                                    10, 0.05, "the closed tab's app to end")
            # (a 503 is still right while the server finishes closing the first tab)
            deadline = time.monotonic() + 10
            while True:
                try:
                    third = await session.ws_connect(ws_url)
                    break
                except aiohttp.WSServerHandshakeError as still:
                    assert still.status == 503 and time.monotonic() < deadline
                    await asyncio.sleep(0.05)
            await third.receive(timeout=30)
            await asyncio.gather(second.close(), third.close())

    asyncio.run(scenario())


def test_sigterm_with_a_tab_open_ends_the_app_within_2s(servers, db_path):
    server = servers(db_path)
    apps: list[int] = []

    async def hold_tab() -> None:
        async with aiohttp.ClientSession() as session, session.ws_connect(
                f"ws://127.0.0.1:{server.port}/ws?width=80&height=24") as ws:
            await ws.receive(timeout=30)
            apps.extend(app_processes(server.proc.pid))
            elapsed = await asyncio.to_thread(server.stop)
            assert elapsed < 2.5, elapsed
            while (await ws.receive(timeout=5)).type == aiohttp.WSMsgType.BINARY:
                pass  # what the app drew before the close
            assert ws.closed

    asyncio.run(hold_tab())
    assert len(apps) == 1
    assert server.proc.returncode == 0
    assert not Path(f"/proc/{apps[0]}").exists() or \
        Path(f"/proc/{apps[0]}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"


def test_a_killed_server_takes_its_tabs_apps_with_it(servers, db_path):
    server = servers(db_path)
    apps: list[int] = []

    def alive(pid: int) -> bool:
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    async def tab() -> None:
        async with aiohttp.ClientSession() as session, session.ws_connect(
                f"ws://127.0.0.1:{server.port}/ws?width=80&height=24") as ws:
            await ws.receive(timeout=30)
            apps.extend(app_processes(server.proc.pid))
            server.proc.kill()
            await asyncio.to_thread(wait_for, lambda: not any(alive(p) for p in apps),
                                    2, 0.05, "the orphaned app to end")

    try:
        asyncio.run(tab())
    finally:
        for pid in apps:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    assert len(apps) == 1


def test_a_browser_that_vanishes_mid_session_does_not_stop_the_others(servers, db_path):
    server = servers(db_path)

    async def rude() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(
            b"GET /ws?width=80&height=24 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n")
        await writer.drain()
        await reader.read(200)  # switched, the app starts...
        writer.transport.abort()  # ...and the browser is gone without a close frame

    async def garbage(text: str) -> None:
        async with aiohttp.ClientSession() as session, session.ws_connect(
                f"ws://127.0.0.1:{server.port}/ws?width=80&height=24") as ws:
            await ws.send_str(text)
            await ws.receive(timeout=30)  # the server ends the tab

    asyncio.run(rude())
    for text in ("not json [b]", '{"a": 1}', '["resize", "\\u001b[2J"]', '["stdin"]'):
        asyncio.run(garbage(text))
    wait_for(lambda: not app_processes(server.proc.pid), timeout=20,
             message="the abandoned tabs' apps to end")
    assert asyncio.run(_ws_first_frame(f"ws://127.0.0.1:{server.port}/ws")) >= 1000
    assert server.proc.poll() is None
    assert not any("Traceback" in line for line in server.err + server.out)
    ended = [line for line in server.err if "a browser connection ended" in line]
    assert len(ended) == 4, server.err


def test_an_app_that_cannot_open_the_database_ends_its_tab_with_one_line(servers, db_path):
    server = servers(db_path)
    db_path.unlink()
    db_path.with_name(db_path.name + "-wal").unlink(missing_ok=True)
    sqlite3.connect(db_path).execute("CREATE TABLE other (x)").connection.close()

    async def tab() -> aiohttp.WSMessage:
        async with aiohttp.ClientSession() as session, session.ws_connect(
                f"ws://127.0.0.1:{server.port}/ws?width=80&height=24") as ws:
            return await ws.receive(timeout=30)

    closing = asyncio.run(tab())
    assert closing.type == aiohttp.WSMsgType.CLOSE
    wait_for(lambda: any("Error:" in line for line in server.err),
             message="the app's error line")
    assert [line for line in server.err if "Error" in line] == [
        f"queuectl web: a tab: Error: {db_path} is a SQLite database of another program"
        " (user_version 0; tables: other); refusing to touch it\n"]
    assert server.out == [server.out[0]]  # the URL line, nothing else
    assert server.proc.poll() is None and not app_processes(server.proc.pid)


def test_workers_run_under_the_server_and_stop_with_it_jobs_put_back(servers, db_path):
    cli = Cli(db_path)
    queue = JobQueue.open(db_path)
    for key, value in FAST_CONFIG.items():
        queue.set_config(key, value)
    queue.enqueue([JobSpec(command="sleep 30", id="long-one")])
    queue.close()
    server = servers(db_path, "--workers", "2")
    workers = wait_for(lambda: len(cli.json("status", "--json")["workers"]) == 2 and
                       cli.json("status", "--json")["workers"], message="2 workers")
    assert all(w["owner"] == f"web:{server.proc.pid}" for w in workers)
    wait_for(lambda: cli.state("long-one") == "processing", message="the job to start")
    elapsed = server.stop(signal.SIGINT)
    assert elapsed < 5, elapsed
    assert server.proc.returncode == 0
    job = cli.job("long-one")
    assert job["state"] == "pending" and job["attempts"] == 0  # put back, not charged
    assert cli.json("status", "--json")["workers"] == []
    assert descendants(server.proc.pid) == []
    running = subprocess.run(["pgrep", "-f", f"queuectl_tui.worker --db {db_path}"],
                             capture_output=True, text=True).stdout.split()
    assert running == []


def test_a_hostile_database_path_reaches_the_tab_intact(servers, tmp_path):
    folder = tmp_path / "it's a \"[b]folder\" $(touch pwned) `touch pwned`"
    folder.mkdir(mode=0o700)
    db = folder / "queue; rm -rf x.db"
    server = servers(db)
    assert asyncio.run(_ws_first_frame(f"ws://127.0.0.1:{server.port}/ws")) >= 1000
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()
    assert db.exists()


def test_public_url_tells_the_page_where_the_websocket_is(servers, db_path):
    server = servers(db_path, "--token", TOKEN, "--public-url", "https://queue.example.com/")
    assert server.url == f"https://queue.example.com/?token={TOKEN}"
    status, _, page = get(server.base + "/", cookies=login_cookie(server))
    assert status == 200
    assert '"wss://queue.example.com/ws"' in page
    # The proxy's origin may open the websocket; another may not.
    cookies = login_cookie(server)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        asyncio.run(_ws_first_frame(f"ws://127.0.0.1:{server.port}/ws", cookies=cookies,
                                    headers={"Origin": "https://evil.example"}))
    assert refused.value.status == 403
    drawn = asyncio.run(_ws_first_frame(f"ws://127.0.0.1:{server.port}/ws", cookies=cookies,
                                        headers={"Origin": "https://queue.example.com"}))
    assert drawn >= 1000


def test_demo_serves_a_throwaway_database_with_workers(servers, tmp_path):
    server = servers(tmp_path / "untouched.db", "--demo")
    db = Path(server._url_line().split(" ", 2)[1].rstrip(","))
    assert db.name == "demo.db" and db.exists()
    cli = Cli(db)
    status = wait_for(lambda: len((s := cli.json("status", "--json"))["workers"]) == 2
                      and s["jobs"]["dead"] >= 1 and s,
                      message="the demo's two workers and a dead job")
    assert len(status["workers"]) == 2 and status["jobs"]["dead"] >= 1
    assert server.stop() < 5 and server.proc.returncode == 0
    assert not db.parent.exists()
    assert not (tmp_path / "untouched.db").exists()


# --- bad input -----------------------------------------------------------------------


def _one_line_error(result: subprocess.CompletedProcess, code: int = 1) -> str:
    assert result.returncode == code, result.stderr
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert "Traceback" not in lines[0]
    return lines[0]


def _run_web(db: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "queuectl_tui", "--db", str(db), "web", *args],
                          capture_output=True, timeout=60, env=env)


def test_a_port_in_use_is_one_line(db_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = _one_line_error(_run_web(db_path, "--port", str(port)))
    assert f"port {port} on 127.0.0.1 is already in use" in line


def test_an_unreachable_database_is_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    line = _one_line_error(_run_web(blocker / "queue.db", "--port", "0"))
    assert line.startswith("Error:")


def test_a_short_token_is_refused(db_path):
    line = _one_line_error(_run_web(db_path, "--token", "short"), code=2)
    assert "token" in line
    assert not db_path.exists() or JobQueue.open(db_path).count() == 0


def test_without_the_extra_web_names_it(db_path):
    code = ("import sys; sys.modules['textual_serve'] = None; "
            "from queuectl_tui.cli import main; main(['--db', sys.argv[1], 'web'])")
    result = subprocess.run([sys.executable, "-c", code, str(db_path)], capture_output=True,
                            timeout=60)
    line = _one_line_error(result)
    assert "pip install 'queuectl-tui[web]'" in line


def test_the_cli_start_up_imports_no_web_dependency():
    code = ("import sys\nfrom queuectl_tui.cli import main\n"
            "for argv in (['--help'], ['web', '--help'], ['metrics', '--help']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "print(sorted(m for m in ('textual_serve', 'aiohttp', 'prometheus_client',"
            " 'textual') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60,
                            text=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"


# --- metrics ---------------------------------------------------------------------------


def test_metrics_route_matches_status(servers, db_path):
    seed_dlq(db_path, dead=2)
    JobQueue.open(db_path).enqueue([JobSpec(command="true", queue="emails")])
    server = servers(db_path, "--token", TOKEN)
    status, headers, text = get(server.base + "/metrics",
                                headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    by_state: dict[str, float] = {}
    for sample in families["queuectl_jobs"].samples:
        by_state[sample.labels["state"]] = by_state.get(sample.labels["state"], 0) + sample.value
    counts = Cli(db_path).json("status", "--json")["jobs"]
    assert by_state == {state: float(n) for state, n in counts.items()}
    emails = [s for s in families["queuectl_jobs"].samples if s.labels["queue"] == "emails"]
    assert {s.labels["state"]: s.value for s in emails}["pending"] == 1
    # Counters start with the server: the DLQ was filled before it.
    assert families["queuectl_jobs_dead"].samples[0].value == 0
    assert json.loads(json.dumps(by_state))["dead"] == 2
