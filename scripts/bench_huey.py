#!/usr/bin/env python3
"""queuectl against huey on the same work, in one run.

    python scripts/bench_huey.py [--jobs 1000] [--workers 2]

huey is no dependency of ours: it is installed into a throwaway virtualenv.
Both queues run N tasks that each spawn `sh -c true` (huey through
subprocess.run in a task, two process workers on SqliteHuey; queuectl through
its own workers) and both are timed the same way: from the first task's start
to the last task's end, so neither pays for its start-up.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from queuectl_tui import bench

TASKS = '''
import os, subprocess, time
from huey import SqliteHuey

huey = SqliteHuey(filename=os.environ["HUEY_DB"])
LOG = os.environ["HUEY_LOG"]

@huey.task()
def run_true():
    start = time.time()
    subprocess.run(["sh", "-c", "true"])
    with open(LOG, "a") as log:
        log.write(f"{start} {time.time()}\\n")
'''


def huey_throughput(folder: str, jobs: int, workers: int) -> float:
    venv = os.path.join(folder, "venv")
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    python = os.path.join(venv, "bin", "python")
    subprocess.run([python, "-m", "pip", "install", "-q", "huey"], check=True)
    with open(os.path.join(folder, "tasks.py"), "w") as handle:
        handle.write(TASKS)
    log = os.path.join(folder, "huey.log")
    env = dict(os.environ, HUEY_DB=os.path.join(folder, "huey.db"), HUEY_LOG=log,
               PYTHONPATH=folder)
    enqueue = textwrap.dedent(f"""
        from tasks import run_true
        for _ in range({jobs}):
            run_true()
    """)
    subprocess.run([python, "-c", enqueue], env=env, check=True, cwd=folder)
    consumer = subprocess.Popen(
        [python, "-m", "huey.bin.huey_consumer", "tasks.huey", "-w", str(workers),
         "-k", "process", "-q"], env=env, cwd=folder, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if os.path.exists(log) and len(_lines(log)) >= jobs:
                break
            time.sleep(0.1)
    finally:
        consumer.terminate()
        consumer.wait(timeout=30)
    spans = [tuple(map(float, line.split())) for line in _lines(log)]
    return jobs / (max(end for _, end in spans) - min(start for start, _ in spans))


def _lines(path: str) -> list[str]:
    with open(path) as handle:
        return handle.read().splitlines()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="queuectl-vs-huey-")
    print(f"{args.jobs} jobs, {args.workers} workers, {os.cpu_count()} cores; "
          f"installing huey into {folder}/venv …", flush=True)
    limit = bench.spawn_limit(args.jobs, args.workers)
    huey = huey_throughput(folder, args.jobs, args.workers)
    ours = bench._queue_throughput(os.path.join(folder, "queuectl.db"), args.jobs,
                                   args.workers)
    print(f"spawn limit (no queue)   {limit:8,.0f} jobs/s")
    print(f"huey (SqliteHuey)        {huey:8,.0f} jobs/s  {huey / limit:.2f} of the limit")
    print(f"queuectl                 {ours:8,.0f} jobs/s  {ours / limit:.2f} of the limit")
    print(f"queuectl / huey          {ours / huey:8.2f} x")


if __name__ == "__main__":
    main()
