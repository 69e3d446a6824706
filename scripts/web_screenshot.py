#!/usr/bin/env python3
"""Make the README's browser screenshot, screenshots/web.png: `queuectl web --demo`
in headless Chromium (Debian's), once two jobs are running. Run it again whenever
the UI changes:

    python scripts/web_screenshot.py [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "screenshots", "web.png")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    server = subprocess.Popen(
        [sys.executable, "-m", "queuectl_tui", "web", "--demo", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = server.stdout.readline()
        url = line.rsplit(" on ", 1)[1].strip()
        db = line.split(" ", 2)[1].rstrip(",")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium,
                                                 args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(url)
            page.wait_for_selector("body.-first-byte", timeout=60_000)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # until both workers are busy
                status = subprocess.run(
                    [sys.executable, "-m", "queuectl_tui", "--db", db, "status", "--json"],
                    capture_output=True, text=True)
                if json.loads(status.stdout)["jobs"]["processing"] >= 2:
                    break
                time.sleep(0.2)
            time.sleep(1.5)  # the app's next refresh shows them
            page.screenshot(path=OUT)
            browser.close()
        print(f"wrote {os.path.normpath(OUT)} (from {urllib.parse.urlsplit(url).netloc})")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
