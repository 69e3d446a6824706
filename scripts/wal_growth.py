"""How large the WAL grows while W workers run N `true` jobs (issue 9, item 8).

    python scripts/wal_growth.py --jobs 20000 --workers 8

Bulk-enqueues the jobs on a throwaway database, starts the workers, samples the
size of the -wal file every 20 ms until every job is finished, and prints the
largest size seen, the size at the end, and the elapsed time. Run it on two
checkouts (PYTHONPATH=...) to compare before and after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time

from queuectl_tui.jobspec import JobSpec
from queuectl_tui.queue import JobQueue
from queuectl_tui.supervisor import Supervisor


def wal_size(path: str) -> int:
    try:
        return os.stat(path + "-wal").st_size
    except OSError:
        return 0


def unfinished(path: str) -> int:
    with sqlite3.connect(path, timeout=30) as conn:
        return conn.execute("SELECT count(*) FROM job WHERE state IN"
                            " ('pending', 'processing', 'failed')").fetchone()[0]


def measure(jobs: int, workers: int, timeout: float = 600) -> dict[str, float]:
    folder = tempfile.mkdtemp(prefix="eng-store-wal-")
    path = os.path.join(folder, "wal.db")
    queue = JobQueue.open(path)
    queue.set_config("poll_interval", "0.05")
    queue.enqueue([JobSpec(command="true") for _ in range(jobs)])
    supervisor = Supervisor(path, owner="walbench", log=subprocess.DEVNULL)
    started = time.monotonic()
    supervisor.start(workers)
    largest = 0
    last_check = 0.0
    try:
        while time.monotonic() - started < timeout:
            largest = max(largest, wal_size(path))
            if time.monotonic() - last_check > 0.5:
                last_check = time.monotonic()
                if unfinished(path) == 0:
                    break
            time.sleep(0.02)
        elapsed = time.monotonic() - started
        left = unfinished(path)
        end_wal, db_bytes = wal_size(path), os.stat(path).st_size
    finally:
        supervisor.stop()
        if not supervisor.wait(timeout=15):
            supervisor.kill()
        queue.close()
        shutil.rmtree(folder, ignore_errors=True)
    return {"jobs": jobs, "workers": workers, "left": left, "max_wal_bytes": largest,
            "end_wal_bytes": end_wal, "seconds": elapsed, "db_bytes": db_bytes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    r = measure(args.jobs, args.workers)
    mb = 1024 * 1024
    print(f"{r['jobs']:,} jobs, {r['workers']} workers: {r['seconds']:.1f} s, "
          f"{r['left']} unfinished; WAL max {r['max_wal_bytes'] / mb:.1f} MB, "
          f"at the end {r['end_wal_bytes'] / mb:.1f} MB; database {r['db_bytes'] / mb:.1f} MB")


if __name__ == "__main__":
    main()
