"""Figures for `queuectl web`: memory per open tab, time from page load to the first
drawn frame, and how many tabs the machine holds (with the demo running) before a
new tab's first frame takes more than 2 s.

    python scripts/web_bench.py [--max-tabs 40] [--limit 2.0] [--chromium /usr/bin/chromium]

Starts `queuectl web --demo --port 0` (2 workers and a job every 2.5 s), opens tabs
one at a time in headless Chromium and keeps every tab open. For each new tab it
prints the time from navigation start to the first frame (measured in the page:
the moment the terminal receives its first screen) and the proportional memory
(PSS) of its app process, read from /proc/PID/smaps_rollup. Everything it starts
is stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

# The page records when the terminal first shows the app (textual.js marks the body).
FIRST_FRAME_PROBE = """
window.__firstFrame = null;
const __probe = setInterval(() => {
  if (document.body && document.body.classList.contains("-first-byte")) {
    window.__firstFrame = performance.now();
    clearInterval(__probe);
  }
}, 5);
"""


def pss_kib(pid: int) -> int:
    text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    return int(re.search(r"^Pss:\s+(\d+) kB", text, re.M).group(1))


def rss_kib(pid: int) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", text, re.M).group(1))


def app_pids(server_pid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == server_pid and b"queuectl_tui.web.app" in cmdline:
            pids.append(int(entry))
    return sorted(pids)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-tabs", type=int, default=40)
    parser.add_argument("--limit", type=float, default=2.0)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--cycles", type=int, default=0,
                        help="First open and close this many tabs one after another, then"
                             " count the app processes left (0 expected).")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    server = subprocess.Popen(
        [sys.executable, "-m", "queuectl_tui", "web", "--demo", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = server.stdout.readline()
        url = line.rsplit(" on ", 1)[1].strip()
        print(f"server: {line.strip()}")
        print(f"server process RSS before tabs: {rss_kib(server.pid) / 1024:.1f} MiB")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium,
                                                 args=["--no-sandbox"])
            context = browser.new_context(viewport={"width": 1100, "height": 640})
            context.add_init_script(FIRST_FRAME_PROBE)
            if args.cycles:
                started = time.monotonic()
                for _ in range(args.cycles):
                    page = context.new_page()
                    page.goto(url)
                    page.wait_for_function("window.__firstFrame !== null", timeout=120_000)
                    page.close()
                deadline = time.monotonic() + 10
                while app_pids(server.pid) and time.monotonic() < deadline:
                    time.sleep(0.1)
                print(f"{args.cycles} tabs opened (first frame) and closed in "
                      f"{time.monotonic() - started:.1f} s; app processes left: "
                      f"{len(app_pids(server.pid))}")
            pages, known, frames, memory = [], set(), [], []
            print(f"{'tab':>4} {'first frame s':>14} {'app PSS MiB':>12} {'app RSS MiB':>12}")
            for number in range(1, args.max_tabs + 1):
                page = context.new_page()
                page.goto(url)
                page.wait_for_function("window.__firstFrame !== null", timeout=120_000)
                first = page.evaluate("window.__firstFrame") / 1000
                pages.append(page)
                new = [pid for pid in app_pids(server.pid) if pid not in known]
                known.update(new)
                pss = sum(pss_kib(pid) for pid in new) / 1024
                rss = sum(rss_kib(pid) for pid in new) / 1024
                frames.append(first)
                memory.append(pss)
                print(f"{number:>4} {first:>14.2f} {pss:>12.1f} {rss:>12.1f}", flush=True)
                if len(frames) >= 2 and min(frames[-2:]) > args.limit:
                    break  # two in a row: not a passing hiccup
            time.sleep(2)  # let the apps reach their steady state, then measure them all
            steady = [pss_kib(pid) / 1024 for pid in app_pids(server.pid)]
            held = sum(1 for f in frames if f <= args.limit)
            print(f"tabs open: {len(pages)}; first frame under {args.limit} s for the first "
                  f"{held} tab(s) in a row: "
                  f"{next((i for i, f in enumerate(frames) if f > args.limit), len(frames))}")
            print(f"first frame: first tab {frames[0]:.2f} s, median "
                  f"{sorted(frames)[len(frames) // 2]:.2f} s, last {frames[-1]:.2f} s")
            print(f"memory per tab (app process PSS, steady, {len(steady)} apps): "
                  f"mean {sum(steady) / len(steady):.1f} MiB, max {max(steady):.1f} MiB")
            print(f"server process RSS with tabs: {rss_kib(server.pid) / 1024:.1f} MiB")
            browser.close()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
