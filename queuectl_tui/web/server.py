"""The web server: textual-serve's app-per-websocket model, with what it lacks.

textual-serve runs one app process per browser connection, over a websocket.
This subclass adds:
- **authentication**: a token, compared in constant time, for every route (the
  page, the websocket, static files, downloads, /metrics). Opening
  ``/?token=...`` sets a cookie and redirects to the page without the token (the
  page's script appends ``?width=...`` to the websocket URL, so a token in that
  query string would be lost; the cookie goes with the websocket request).
  ``Authorization: Bearer ...`` works too (for Prometheus). A refused request
  gets 401 before any handler runs, so it starts no process;
- without a token (loopback only), the Host header must name the loopback, so a
  web page in the same browser cannot reach the server by DNS rebinding; and a
  websocket must come from a page of this server (Origin), with or without token;
- ``GET /metrics`` (Prometheus text);
- a shutdown that closes the websockets and ends the app processes within
  ``SHUTDOWN_SECONDS`` (textual-serve's hook does nothing: the server waited 22 s
  for open websockets, and an app could outlive it);
- one line on stderr, not a traceback, when a browser disconnects mid-session.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import logging
import shlex
import signal
import sys
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import WSCloseCode, web
from textual_serve.app_service import AppService
from textual_serve.server import Server

from queuectl_tui.web.page import render_page

# textual-serve logs "Application failed to start" besides the app's own message
# (passed on by TabService): keep the server's output to that one line.
logging.getLogger("textual-serve").addHandler(logging.NullHandler())
logging.getLogger("textual-serve").propagate = False

SHUTDOWN_SECONDS = 2.0  # from Ctrl+C / SIGTERM to every app process gone
APP_QUIT_SECONDS = 1.0  # an app asked to quit gets this long before SIGKILL
COOKIE_PREFIX = "queuectl-web-"
LOOPBACK_NAMES = {"localhost", "localhost.", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: reachable only from this machine."""
    name = host.strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def same_token(given: str | None, token: str) -> bool:
    """Constant-time comparison (any string: compared as UTF-8 bytes)."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), token.encode("utf-8"))


@dataclass
class WebSettings:
    """What ``queuectl web`` was asked for."""

    db_path: str
    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None  # None: no token asked (loopback only)
    read_only: bool = False
    max_tabs: int = 20  # app processes at once (~40 MiB each); more get 503
    public_url: str | None = None
    title: str = "queuectl"
    # The metrics' "since" counters start here (the server's start).
    started_at: float = field(default_factory=time.time)

    def app_command(self) -> str:
        """The shell command textual-serve runs for each tab. ``exec``: the app is
        the process textual-serve holds, not a shell around it. Quoted: the
        database path may hold spaces or quotes."""
        from queuectl_tui.store import url_has_secret

        parts = [sys.executable, "-m", "queuectl_tui.web.app"]
        if not url_has_secret(self.db_path):  # else in $QUEUECTL_DB (cli/web.py)
            parts += ["--db", self.db_path]
        if self.read_only:
            parts.append("--read-only")
        return "exec " + " ".join(shlex.quote(p) for p in parts)


class TabService(AppService):
    """textual-serve's app service, with the app's stderr passed on line by line as it
    comes (textual-serve collected it and printed it twice, after the app ended)."""

    async def _open_app_process(self, width: int = 80, height: int = 24):
        process = await super()._open_app_process(width, height)
        real, quiet = process.stderr, asyncio.StreamReader()
        quiet.feed_eof()  # what textual-serve's own reader sees
        process.stderr = quiet
        self._forwarding = asyncio.create_task(_forward_lines(real))
        return process


async def _forward_lines(stream: asyncio.StreamReader | None) -> None:
    if stream is None:
        return
    async for raw in stream:
        line = raw.decode("utf-8", "replace").rstrip("\n")
        if line:
            print(f"queuectl web: a tab: {line}", file=sys.stderr, flush=True)


class WebServer(Server):
    """textual-serve's ``Server`` with authentication, /metrics and a real shutdown."""

    def __init__(self, settings: WebSettings,
                 metrics_text: Callable[[], Awaitable[bytes]] | None = None,
                 on_stop: Callable[[], Awaitable[None]] | None = None):
        super().__init__(settings.app_command(), host=settings.host, port=settings.port,
                         title=settings.title, public_url=settings.public_url)
        self.settings = settings
        self.metrics_text = metrics_text
        self.on_stop = on_stop
        self.cookie_name = f"{COOKIE_PREFIX}{settings.port}"
        self.services: set[AppService] = set()
        self.tabs = 0  # websockets being served (handshake included)
        self.sockets: set[web.WebSocketResponse] = set()
        self.bound_port: int | None = None
        self.stopping = False

    # --- the application ---------------------------------------------------------

    async def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self.guard])
        app.add_routes([
            web.get("/", self.handle_index, name="index"),
            web.get("/ws", self.handle_websocket, name="websocket"),
            web.get("/download/{key}", self.handle_download, name="download"),
            web.get("/metrics", self.handle_metrics, name="metrics"),
            web.static("/static", self.statics_path, show_index=False, name="static"),
        ])
        app.on_shutdown.append(self.on_shutdown)
        return app

    @web.middleware
    async def guard(self, request: web.Request, handler) -> web.StreamResponse:
        """Every request passes here first: no handler (no process) without the token."""
        token = self.settings.token
        if token is None:
            if not is_loopback(request.url.host or ""):
                raise web.HTTPForbidden(text="403: this server answers only to localhost"
                                        " (start it with a token to serve other names)\n")
        else:
            query_token = request.query.get("token")
            if same_token(query_token, token):
                if request.path == "/" and request.method == "GET":
                    raise self._login(request)
            elif not (same_token(request.cookies.get(self.cookie_name), token)
                      or same_token(_bearer(request), token)):
                raise web.HTTPUnauthorized(
                    text="401: a token is needed: open the URL that queuectl web printed"
                    " (.../?token=...)\n", headers={"WWW-Authenticate": "Bearer"})
        if request.path == "/ws" and not self._same_origin(request):
            raise web.HTTPForbidden(text="403: the websocket must come from this server's"
                                    " page\n")
        return await handler(request)

    def _login(self, request: web.Request) -> web.HTTPException:
        """The token was in the URL: keep it in a cookie and show the page without it
        (out of the address bar and the history)."""
        query = [(k, v) for k, v in request.query.items() if k != "token"]
        target = "./" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        response = web.HTTPSeeOther(location=target)
        response.set_cookie(
            self.cookie_name, self.settings.token, httponly=True, samesite="Strict",
            secure=_is_https(request), path="/")
        return response

    def _same_origin(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        if origin is None:  # not a browser: the token (or loopback) decided
            return True
        parsed = urllib.parse.urlsplit(origin)
        allowed = {request.host.lower()}
        if self.settings.public_url:
            allowed.add(urllib.parse.urlsplit(self.settings.public_url).netloc.lower())
        return parsed.netloc.lower() in allowed

    async def handle_index(self, request: web.Request) -> web.Response:
        font_size = _to_int(request.query.get("fontsize", "16"), 16)
        ws_url = None
        if self.settings.public_url:
            base = self.settings.public_url.rstrip("/") + "/ws"
            ws_url = ("wss:" if base.startswith("https:") else "ws:") + base.split(":", 1)[1]
        page = render_page(self.settings.title, font_size=font_size, ws_url=ws_url)
        return web.Response(text=page, content_type="text/html",
                            headers={"Cache-Control": "no-store",
                                     "X-Frame-Options": "DENY",
                                     "Referrer-Policy": "no-referrer"})

    async def handle_metrics(self, request: web.Request) -> web.Response:
        from queuectl_tui.web.exposition import CONTENT_TYPE

        if self.metrics_text is None:
            raise web.HTTPNotFound()
        body = await self.metrics_text()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """One tab: one app process, ended when the tab goes (or the server stops)."""
        if self.tabs >= self.settings.max_tabs:
            raise web.HTTPServiceUnavailable(
                text=f"503: {self.settings.max_tabs} tabs are open already (--max-tabs)\n")
        self.tabs += 1  # counted before the first await: two handshakes cannot both slip in
        try:
            return await self._serve_tab(request)
        finally:
            self.tabs -= 1

    async def _serve_tab(self, request: web.Request) -> web.WebSocketResponse:
        websocket = web.WebSocketResponse(heartbeat=15)
        width = _to_int(request.query.get("width", "80"), 80)
        height = _to_int(request.query.get("height", "24"), 24)
        await websocket.prepare(request)
        if self.stopping:
            await websocket.close(code=WSCloseCode.GOING_AWAY)
            return websocket
        drawn = False

        async def write_bytes(data: bytes) -> None:
            nonlocal drawn
            drawn = True
            await websocket.send_bytes(data)

        service = TabService(
            self.command, write_bytes=write_bytes, write_str=websocket.send_str,
            close=websocket.close, download_manager=self.download_manager, debug=self.debug)
        self.sockets.add(websocket)
        self.services.add(service)
        watcher: asyncio.Task | None = None
        try:
            await service.start(width, height)
            watcher = asyncio.create_task(self._close_when_app_ends(service, websocket))
            await self._process_messages(websocket, service)
        except asyncio.CancelledError:
            pass
        except Exception as exc:
            # A browser that went away mid-message, or sent something that is not
            # textual-serve's protocol (bad JSON, a wrong envelope): that tab ends
            # with one line here, the others go on.
            _say(f"a browser connection ended: {type(exc).__name__}: {exc}")
        finally:
            if watcher is not None:
                watcher.cancel()
            self.sockets.discard(websocket)
            # An app that has not drawn yet is still starting (a tab closed or
            # reloaded at once): it cannot read a quit request yet, so it is stopped.
            await self._end_app(service, started=drawn)
            self.services.discard(service)
            if not websocket.closed:
                await websocket.close()
        return websocket

    @staticmethod
    async def _close_when_app_ends(service: AppService, websocket: web.WebSocketResponse
                                   ) -> None:
        """An app that ends by itself (it could not open the database, it crashed)
        closes its tab, which then says "Session ended" instead of loading forever.
        (textual-serve only closes on the app's own "exit" message.)"""
        if service._process is not None:
            code = await service._process.wait()
            if not websocket.closed:
                await websocket.close(code=WSCloseCode.GOING_AWAY,
                                      message=f"the app ended ({code})".encode())

    async def _end_app(self, service: AppService, started: bool = True) -> None:
        """Ask the app to quit (SIGTERM if it is still starting); kill it if it has
        not ended within APP_QUIT_SECONDS."""
        process = service._process
        if not started and process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
        try:
            await asyncio.wait_for(asyncio.shield(service.stop()), APP_QUIT_SECONDS)
        except (TimeoutError, ConnectionError, RuntimeError, AssertionError):
            pass
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), APP_QUIT_SECONDS)

    async def on_shutdown(self, app: web.Application) -> None:
        """Close every websocket and end every app, at once and in parallel."""
        self.stopping = True
        closing = [ws.close(code=WSCloseCode.GOING_AWAY, message=b"server stopping")
                   for ws in list(self.sockets)]
        ending = [self._end_app(service) for service in list(self.services)]
        extra = [self.on_stop()] if self.on_stop is not None else []
        await asyncio.gather(*closing, *ending, *extra, return_exceptions=True)

    # --- running -------------------------------------------------------------------

    async def run(self, ready: Callable[[str], None], stop: asyncio.Event) -> None:
        """Listen, call ``ready(url)``, serve until ``stop`` is set, then shut down.
        A port that cannot be bound raises ``OSError`` before ``ready``."""
        app = await self._make_app()
        runner = web.AppRunner(app, handle_signals=False, access_log=None,
                               shutdown_timeout=SHUTDOWN_SECONDS)
        await runner.setup()
        site = web.TCPSite(runner, self.settings.host, self.settings.port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self.bound_port = runner.addresses[0][1]
        self.cookie_name = f"{COOKIE_PREFIX}{self.bound_port}"
        ready(self.url())
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    def url(self) -> str:
        """The URL to open, with the token if one is needed."""
        if self.settings.public_url:
            base = self.settings.public_url.rstrip("/") + "/"
        else:
            host = self.settings.host
            if host in ("0.0.0.0", "::", ""):
                host = _this_host()
            if ":" in host:
                host = f"[{host}]"
            base = f"http://{host}:{self.bound_port or self.settings.port}/"
        if self.settings.token:
            base += "?token=" + urllib.parse.quote(self.settings.token, safe="")
        return base


def serve(server: WebServer, say: Callable[[str], None],
          background: list[Callable[[], Awaitable[None]]] | None = None) -> None:
    """Run ``server`` until SIGINT or SIGTERM (also the background tasks)."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        tasks = [asyncio.create_task(task()) for task in background or []]
        try:
            await server.run(say, stop)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def _is_https(request: web.Request) -> bool:
    return request.scheme == "https" or \
        request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def _to_int(value: str, default: int) -> int:
    try:
        return max(1, min(int(value), 1000))
    except ValueError:
        return default


def _this_host() -> str:
    from queuectl_tui.host import hostname

    return hostname()


def _say(text: str) -> None:
    from queuectl_tui.display import one_line

    print(f"queuectl web: {one_line(text)}", file=sys.stderr, flush=True)


def default_title(db_path: str) -> str:
    """The file's name, or a URL's database name (never its password)."""
    from queuectl_tui.store import is_database_url, location_of

    if is_database_url(db_path):
        return f"queuectl · {location_of(db_path).split('?')[0].rsplit('/', 1)[-1]}"
    return f"queuectl · {Path(db_path).name}"


__all__ = ["WebServer", "WebSettings", "default_title", "is_loopback", "same_token", "serve"]
