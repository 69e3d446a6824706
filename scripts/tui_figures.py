#!/usr/bin/env python3
"""The TUI's figures, measured from outside as a user meets them:

- first paint: from starting `queuectl --db DB` in a pseudo-terminal (120x36) to
  the newest job's id appearing on the screen, median of ``--runs``;
- resident memory (VmHWM, VmRSS from /proc) once it has painted;
- idle CPU over ``--idle`` seconds (percent of one core), nothing changing.

    python scripts/tui_figures.py [--jobs 100000] [--runs 5] [--idle 20] [--code DIR]

``--code DIR`` runs the TUI from another checkout (e.g. the code before a change)
on the same database. The database is built with raw ``executemany`` (about
150,000 rows/s) in a realistic mix of states, mostly history.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import re
import shutil
import signal
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from queuectl_tui.queue import JobQueue

SIZE = (120, 36)
ESCAPES = re.compile(rb"\x1b\[[0-9;?<>=$]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
                     rb"|\x1bP[^\x1b]*\x1b\\|\x1b[()][0-9A-Za-z]|\x1b[=>78c]")
STATES = ["completed"] * 16 + ["dead", "failed", "pending", "cancelled"]


def build(path: str, count: int) -> str:
    """``count`` jobs; returns the id of the newest (first on screen)."""
    JobQueue.open(path).close()
    base = time.time() - count
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO job (id, command, state, queue, priority, attempts, max_retries,"
            " run_at, created_at, updated_at, last_error) VALUES"
            " (?, ?, ?, 'default', ?, 1, 3, ?, ?, ?, ?)",
            ((f"job-{n:07d}", f"echo job {n}", STATES[n % 20], n % 3, base + n, base + n,
              base + n, "exit code 1: boom" if n % 20 == 16 else None)
             for n in range(count)))
    return f"job-{count - 1:07d}"


class Tui:
    """`queuectl --db DB --workers 0` on a pseudo-terminal; output kept and searchable."""

    def __init__(self, db: str, code: str | None):
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
        env = dict(os.environ, TERM="xterm-256color")
        # `python -m` puts the working folder first on sys.path: run from the code's.
        here = code or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
        env["PYTHONPATH"] = here
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "queuectl_tui", "--db", db, "tui", "--workers", "0"],
            stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
            cwd=here)
        os.close(slave)
        self.master = master
        self.output = bytearray()
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            with self.lock:
                self.output += chunk

    def wait_for(self, text: str, timeout: float = 120) -> float:
        """Seconds from the start until ``text`` is on the screen."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                seen = ESCAPES.sub(b"", bytes(self.output)).decode("utf-8", "replace")
            if text in seen:
                return time.perf_counter() - self.started
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"{text!r} never appeared: {seen[-500:]}")
            time.sleep(0.005)

    def memory(self) -> dict[str, float]:
        """VmHWM, VmRSS, RssAnon, RssFile in MB. RssFile counts the database pages
        SQLite reads through mmap (mmap_size): shared with the page cache, not the
        app's own memory, which is RssAnon."""
        values = {}
        with open(f"/proc/{self.proc.pid}/status") as handle:
            for line in handle:
                key, _, rest = line.partition(":")
                if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
                    values[key] = int(rest.split()[0]) / 1024
        return values

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.proc.pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        os.close(self.master)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=20.0,
                        help="seconds of idle CPU measurement (0: skip)")
    parser.add_argument("--code", help="run the TUI from this checkout instead")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="queuectl-figures-")
    db = os.path.join(folder, "figures.db")
    try:
        started = time.perf_counter()
        newest = build(db, args.jobs)
        print(f"database: {args.jobs:,} jobs built in {time.perf_counter() - started:.1f}s")
        paints, memory = [], []
        for _ in range(args.runs):
            tui = Tui(db, args.code)
            try:
                paints.append(tui.wait_for(newest))
                time.sleep(1.0)  # a refresh or two after the first paint
                memory.append(tui.memory())
            finally:
                tui.close()
        print(f"first paint (shell command to the newest job on screen, 120x36): median "
              f"{statistics.median(paints):.2f}s of {args.runs} "
              f"({', '.join(f'{p:.2f}' for p in paints)})")
        print("memory after painting (median): " + ", ".join(
            f"{key} {statistics.median(m[key] for m in memory):.0f} MB"
            for key in ("VmHWM", "VmRSS", "RssAnon", "RssFile")))
        if args.idle:
            tui = Tui(db, args.code)
            try:
                tui.wait_for(newest)
                time.sleep(3.0)
                before = tui.cpu_seconds()
                time.sleep(args.idle)
                used = tui.cpu_seconds() - before
            finally:
                tui.close()
            print(f"idle CPU over {args.idle:.0f}s: {100 * used / args.idle:.1f}% of a core")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
