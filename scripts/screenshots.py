#!/usr/bin/env python3
"""Make the README's screenshots: screenshots/*.svg, from a seeded demo database
with live embedded workers, at 120x36 and at 80x24. Run it again whenever the
UI changes:

    python scripts/screenshots.py

Besides the demo's jobs, the database gets one job whose command and output
hold `[brackets]` (what Rich would take for markup) and a terminal escape
sequence: the screenshots show them literally.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from queuectl_tui.demo import seed_demo
from queuectl_tui.jobspec import JobSpec
from queuectl_tui.queue import JobQueue
from queuectl_tui.tui import make_app

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "screenshots")
SIZES = {"": (120, 36), "-80x24": (80, 24)}  # file name suffix -> terminal size
BRACKETS_ID = "count-words-[en]"
BRACKETS_COMMAND = ("echo \"[info] counting [a-z] words\"; "
                    "printf '[/var/log] \\033]0;pwned\\007 rotated\\n'; "
                    "grep -cE \"[a-z]+\" /var/log/[app]/words.log")


def seeded_database() -> tuple[str, str]:
    """A fresh demo database plus the job with brackets, run first (priority 9)."""
    folder = tempfile.mkdtemp(prefix="queuectl-shots-")
    path = os.path.join(folder, "demo.db")
    queue = JobQueue.open(path)
    seed_demo(queue)
    queue.enqueue([JobSpec(command=BRACKETS_COMMAND, id=BRACKETS_ID, priority=9,
                           max_retries=1)])
    queue.close()
    return folder, path


async def shoot(suffix: str, size: tuple[int, int]) -> None:
    folder, path = seeded_database()
    app = make_app(path, workers=2, demo=True)
    try:
        async with app.run_test(size=size) as pilot:

            async def settle(condition=lambda: True, timeout: float = 20.0) -> None:
                deadline = time.monotonic() + timeout
                while not condition() and time.monotonic() < deadline:
                    await pilot.pause(0.1)
                await pilot.pause(1.2)  # one more refresh, so every pane is current

            def running_and_bracket_job_dead() -> bool:
                snapshot = app.last_snapshot
                return bool(snapshot and snapshot.counts["processing"] >= 2
                            and app.queue.get(BRACKETS_ID).state == "dead")

            def save(name: str) -> None:
                app.save_screenshot(f"{name}{suffix}.svg", path=OUT)

            await settle(running_and_bracket_job_dead)
            save("jobs")
            await pilot.press("2")
            await settle()
            save("dlq")
            await pilot.press("3")
            await settle()
            save("workers")
            await pilot.press("4")
            await settle()
            save("config")
            await pilot.press("2")
            await settle()
            table = app.query_one("#dlq-table")
            table.move_cursor(row=table.keys.index(BRACKETS_ID))
            await pilot.press("enter")
            await settle()
            save("job-detail")
            await pilot.press("escape", "1", "n")
            await pilot.press(*"./deploy.sh --env [staging]")
            await settle()
            save("new-job")
            await pilot.press("escape")
            await pilot.press("q")
            await settle(lambda: type(app.screen).__name__ == "QuitScreen", timeout=2)
            if type(app.screen).__name__ == "QuitScreen":
                await pilot.press("s")  # stop the demo jobs now
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def main() -> None:
    for suffix, size in SIZES.items():
        await shoot(suffix, size)
    print(f"screenshots written to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    asyncio.run(main())
