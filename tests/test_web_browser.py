"""`queuectl web` in a real headless Chromium (Debian's), driven by Playwright.

The terminal is drawn on a canvas, so these tests assert on what the browser
does (it draws, its keys act on the queue, a refused page stays refused) and
check the queue through the CLI. Without Chromium they are skipped, with the
reason in pytest's summary; `.ci/run` installs Chromium, and its
QUEUECTL_STRICT_SKIPS=1 turns such a skip into a failure (tests/strict_skips.py).
"""

from __future__ import annotations

import os
import shutil
import struct
import time
import zlib

import pytest

from tests.conftest import Cli, db_snapshot, wait_for
from tests.test_web import TOKEN, app_processes, seed_dlq, server_starter

CHROMIUM = os.environ.get("QUEUECTL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
VIEWPORT = {"width": 1100, "height": 640}
TOP = {"x": 0, "y": 0, "width": VIEWPORT["width"], "height": 60}  # the header and tabs


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip("no Chromium for the browser tests: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("no Playwright for the browser tests: pip install -e '.[test]'")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM,
                                              args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def servers():
    yield from server_starter()


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport=VIEWPORT)
    yield ctx
    ctx.close()


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA PNG (what Chromium writes) into rows of raw pixels."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks, width = 8, [], 0
    height = channels = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    raw = zlib.decompress(b"".join(chunks))
    stride = width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            left = line[x - channels] if x >= channels else 0
            up = previous[x]
            corner = previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[x] = (line[x] + pred) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, channels, rows


def colours(data: bytes) -> int:
    """How many distinct colours a screenshot has (a blank page: one or two)."""
    width, channels, rows = png_pixels(data)
    seen = set()
    for row in rows[::4]:
        for x in range(0, width * channels, channels * 2):
            seen.add(row[x:x + 3])
    return len(seen)


def open_tab(context, url: str):
    """A tab on ``url`` whose app has drawn its first frame (keys go to it: the
    page focuses the terminal itself, nothing here clicks)."""
    page = context.new_page()
    response = page.goto(url)
    assert response is not None and response.ok
    page.wait_for_selector("body.-first-byte", timeout=30_000)
    wait_for(lambda: colours(page.screenshot(clip=TOP)) > 8, timeout=20, interval=0.2,
             message="the app to draw")
    return page


def settled(page, clip: dict | None = None, quiet: float = 1.0, timeout: float = 15) -> bytes:
    """A screenshot once the view has not changed for ``quiet`` seconds."""
    last, since = page.screenshot(clip=clip), time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() - since < quiet:
        assert time.monotonic() < deadline, "the page never settled"
        time.sleep(0.2)
        shot = page.screenshot(clip=clip)
        if shot != last:
            last, since = shot, time.monotonic()
    return last


def press(page, key: str) -> None:
    """Press ``key`` and wait until the app has redrawn and settled: the next key
    then goes to what this one opened (a pane, a dialog), as a person's would."""
    before = page.screenshot()
    page.keyboard.press(key)
    wait_for(lambda: page.screenshot() != before, timeout=10, interval=0.1,
             message=f"the app to react to {key}")
    settled(page, quiet=0.4)


HEADER = {"x": 0, "y": 0, "width": VIEWPORT["width"], "height": 24}


def test_keys_in_the_page_retry_the_dlq_and_a_second_tab_sees_it(servers, context, db_path):
    dead = seed_dlq(db_path, dead=3)
    cli = Cli(db_path)
    server = servers(db_path, "--token", TOKEN)
    first = open_tab(context, server.url)
    second = open_tab(context, server.base + "/")  # the cookie from the first opens it
    assert len(app_processes(server.proc.pid)) == 2
    header_before = settled(second, HEADER)

    press(first, "2")
    press(first, "Shift+R")  # the confirmation
    first.keyboard.press("y")
    wait_for(lambda: cli.json("dlq", "list", "--json") == [], timeout=20,
             message="the DLQ to be retried from the browser")
    for job_id in dead:
        job = cli.job(job_id)
        assert (job["state"], job["attempts"]) in (("pending", 0), ("processing", 1))
    wait_for(lambda: second.screenshot(clip=HEADER) != header_before, timeout=15,
             message="the second tab's counts to change")


def test_without_the_token_the_page_and_websocket_are_refused(servers, context, db_path):
    server = servers(db_path, "--token", TOKEN)
    page = context.new_page()
    response = page.goto(server.base + "/")
    assert response is not None and response.status == 401
    outcome = page.evaluate("""url => new Promise(done => {
        const socket = new WebSocket(url);
        socket.onopen = () => done("open");
        socket.onerror = () => done("refused");
    })""", f"ws://127.0.0.1:{server.port}/ws?width=80&height=24")
    assert outcome == "refused"
    assert page.goto(server.base + "/?token=nearly-" + TOKEN).status == 401
    assert app_processes(server.proc.pid) == []


def test_read_only_tabs_change_nothing(servers, context, db_path):
    seed_dlq(db_path, dead=2)
    cli = Cli(db_path)
    before = db_snapshot(db_path)
    server = servers(db_path, "--read-only")
    page = open_tab(context, server.url)
    press(page, "2")
    for key in ("Shift+R", "y", "r", "y", "x", "y", "n"):  # retry all, retry, delete, new
        page.keyboard.press(key)
    press(page, "1")  # keys are handled in order: the ones above have been
    assert len(cli.json("dlq", "list", "--json")) == 2
    assert db_snapshot(db_path) == before
