#!/usr/bin/env python3
"""Make the README's screenshots: screenshots/*.svg, from a seeded demo database
with live embedded workers. Run it again whenever the UI changes:

    python scripts/screenshots.py
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from queuectl_tui.tui import make_app

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "screenshots")
SIZE = (130, 38)


async def shoot() -> None:
    path = os.path.join(tempfile.mkdtemp(prefix="queuectl-shots-"), "demo.db")
    app = make_app(path, workers=2, demo=True)
    async with app.run_test(size=SIZE) as pilot:

        async def settle(condition=lambda: True, timeout: float = 15.0) -> None:
            deadline = time.monotonic() + timeout
            while not condition() and time.monotonic() < deadline:
                await pilot.pause(0.1)
            await pilot.pause(1.2)  # one more refresh, so every pane is current

        def running() -> bool:
            snapshot = app.last_snapshot
            return bool(snapshot and snapshot.counts["processing"] >= 2)

        await settle(running)
        app.save_screenshot("jobs.svg", path=OUT)
        await pilot.press("2")
        await settle()
        app.save_screenshot("dlq.svg", path=OUT)
        await pilot.press("3")
        await settle()
        app.save_screenshot("workers.svg", path=OUT)
        await pilot.press("4")
        await settle()
        app.save_screenshot("config.svg", path=OUT)
        await pilot.press("2")
        await settle()
        await pilot.press("enter")
        await settle()
        app.save_screenshot("job-detail.svg", path=OUT)
        await pilot.press("escape", "1", "n")
        await pilot.press(*"./deploy.sh --env staging")
        await settle()
        app.save_screenshot("new-job.svg", path=OUT)
        await pilot.press("escape")
        await pilot.press("q")
    print(f"screenshots written to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    asyncio.run(shoot())
