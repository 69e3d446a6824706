#!/usr/bin/env python3
"""Measure the TUI on a big database: time to first paint, pane switches, refreshes.

    python scripts/tui_timing.py [--jobs 100000]

Builds a database with N jobs in a realistic mix of states (bulk insert through
the domain, then states spread by SQL for speed), opens the app headless at
120x36 with no embedded workers, and reports what the user waits for.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from queuectl_tui.jobspec import JobSpec
from queuectl_tui.queue import JobQueue


def build(path: str, count: int) -> None:
    queue = JobQueue.open(path)
    batch = 10_000
    for start in range(0, count, batch):
        queue.enqueue([JobSpec(command=f"echo job {n}", id=f"job-{n:07d}")
                       for n in range(start, min(start + batch, count))])
    # Spread states: mostly history, as a long-lived queue looks.
    queue.db.execute_sql("UPDATE job SET state = CASE abs(random()) % 20"
                         " WHEN 0 THEN 'dead' WHEN 1 THEN 'failed' WHEN 2 THEN 'pending'"
                         " WHEN 3 THEN 'cancelled' ELSE 'completed' END,"
                         " attempts = 1, last_error = CASE WHEN abs(random()) % 3 = 0"
                         " THEN 'exit code 1: boom' END")
    queue.close()


async def measure(path: str) -> dict[str, float]:
    """Times are taken inside the app: from the key's action to the moment the
    fresh snapshot has been applied to the widgets (not the pilot's own waits)."""
    started = time.perf_counter()  # includes importing Textual and the app
    from queuectl_tui.tui import make_app
    from queuectl_tui.tui.app import QueuectlApp

    applied: list[tuple[float, str]] = []
    original = QueuectlApp.on_queuectl_app_snapshot_ready

    def recording(self, message):
        original(self, message)
        if message.snapshot.view == self.view:
            applied.append((time.perf_counter(), message.snapshot.view.pane))

    QueuectlApp.on_queuectl_app_snapshot_ready = recording
    app = make_app(path, workers=0)

    async def fresh(pane: str, since: float) -> float:
        while not any(t >= since and p == pane for t, p in applied):
            await asyncio.sleep(0.001)
        return next(t for t, p in applied if t >= since and p == pane) - since

    figures: dict[str, float] = {}
    async with app.run_test(size=(120, 36)) as pilot:
        await fresh("jobs", started)
        figures["first paint, incl. imports (s)"] = applied[0][0] - started
        switches = []
        for _ in range(5):
            for pane in ("dlq", "jobs"):
                begin = time.perf_counter()
                app.action_show_pane(pane)
                switches.append(await fresh(pane, begin))
                await pilot.pause(0.05)
        figures["pane switch median (ms)"] = statistics.median(switches) * 1000
        figures["pane switch max (ms)"] = max(switches) * 1000
        fetches = []
        for _ in range(5):
            await pilot.pause(1.1)
            fetches.append(app.refresh_elapsed)
        figures["refresh fetch median (ms)"] = statistics.median(fetches) * 1000
        begin = time.perf_counter()
        app.query_one("JobsPane").action_cycle_filter()  # f: pending only
        figures["filter change (ms)"] = (await fresh("jobs", begin)) * 1000
        await pilot.press("q")
    QueuectlApp.on_queuectl_app_snapshot_ready = original
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100_000)
    args = parser.parse_args()
    path = os.path.join(tempfile.mkdtemp(prefix="queuectl-timing-"), "big.db")
    begin = time.perf_counter()
    build(path, args.jobs)
    print(f"built {args.jobs:,} jobs in {time.perf_counter() - begin:.1f}s")
    for name, value in asyncio.run(measure(path)).items():
        print(f"{name:32} {value:8.3f}" if "(s)" in name else f"{name:32} {value:8.1f}")


if __name__ == "__main__":
    main()
