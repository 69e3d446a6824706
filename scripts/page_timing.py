"""Time the TUI's page queries on a database of a million jobs (issue 9, item 10).

    python scripts/page_timing.py --build /tmp/x/1m.db     # make the database once
    python scripts/page_timing.py /tmp/x/1m.db              # time the queries

The database holds 1,000,000 jobs (85% completed, 10% dead, the rest pending,
failed, cancelled), built with the schema of the code on PYTHONPATH. Opening it
with newer code upgrades it (and adds that version's indexes): copy the file to
compare two versions on the same rows. Each query runs 5 times; the median is
printed, with its query plan.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import time

from queuectl_tui.queue import JobQueue

ROWS = 1_000_000


def build(path: str) -> None:
    JobQueue.open(path).close()
    rng = random.Random(9)
    states = ["completed"] * 85 + ["dead"] * 10 + ["pending"] * 3 + ["failed", "cancelled"]
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous = OFF")
    rows = []
    start = 1_700_000_000.0
    for n in range(ROWS):
        state = rng.choice(states)
        created = start + n * 0.01
        rows.append((f"{n:016x}", f"echo job {n} {rng.choice(['backup', 'mail', 'report'])}",
                     state, rng.randint(-5, 10), rng.randint(1, 3), 3, created,
                     created, created + rng.uniform(0, 500), f"error {n}" if state == "dead"
                     else None))
        if len(rows) == 50_000:
            _insert(conn, rows)
            rows = []
    _insert(conn, rows)
    conn.close()


def _insert(conn, rows) -> None:
    conn.executemany(
        "INSERT INTO job (id, command, state, queue, priority, attempts, max_retries, run_at,"
        " created_at, updated_at, last_error) VALUES (?, ?, ?, 'default', ?, ?, ?, ?, ?, ?, ?)",
        rows)
    conn.commit()


def timed(label: str, run, sql_of=None) -> None:
    times = []
    for _ in range(5):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    print(f"{label:<44} {statistics.median(times) * 1000:9.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("--build", action="store_true")
    args = parser.parse_args()
    if args.build:
        build(args.path)
        return
    queue = JobQueue.open(args.path)
    print(f"{os.path.basename(args.path)}: {sum(queue.counts().values()):,} jobs")
    page = queue.page
    timed("DLQ page (dead, by updated desc)", lambda: page("dead", None, "updated", True, 0, 200))
    timed("DLQ page (dead, by priority desc)",
          lambda: page("dead", None, "priority", True, 0, 200))
    timed("DLQ page (dead, by attempts desc)",
          lambda: page("dead", None, "attempts", True, 0, 200))
    timed("Jobs page, sorted by priority desc", lambda: page(None, None, "priority", True, 0, 200))
    timed("Jobs page, sorted by priority asc", lambda: page(None, None, "priority", False, 0, 200))
    timed("Jobs page, sorted by run_at desc", lambda: page(None, None, "run_at", True, 0, 200))
    timed("Jobs page, sorted by updated desc", lambda: page(None, None, "updated", True, 0, 200))
    timed("Jobs page, newest first", lambda: page(None, None, "created", True, 0, 200))
    timed("search 'report' (page)", lambda: page(None, "report", "created", True, 0, 200))
    timed("search 'report' (count)", lambda: queue.count(None, "report"))
    timed("search 'zzz' (no match: page)", lambda: page(None, "zzz", "created", True, 0, 200))
    timed("counts per state", queue.counts)
    queue.close()


if __name__ == "__main__":
    main()
