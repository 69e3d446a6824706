#!/usr/bin/env python3
"""Bulk operations on a big DLQ: what `dlq list`, `dlq retry --all` and `purge` cost.

    python scripts/bench_bulk.py [--jobs 150000] [--src PATH]

Fills a throwaway database with N dead jobs, then runs the real `queuectl`
(from --src, default this checkout: point it at an older checkout to compare)
and prints:

- `dlq list` (the default table) and `dlq list --json`: wall time and the
  process's peak resident memory;
- `dlq retry --all`: its wall time, the longest time another process waited
  for the write lock while it ran (a probe that writes every 20 ms), and the
  wall time of a real `queuectl enqueue` started 0.3 s after it (and of one
  on its own, for comparison);
- `purge --dead`, then `purge --dead --vacuum` if this version has it: the
  database file size before and after.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(src: Path, db: Path, *args: str) -> tuple[float, int, subprocess.CompletedProcess]:
    """Run queuectl; returns wall seconds, peak RSS in MB, and the result."""
    env = dict(os.environ, QUEUECTL_DB=str(db), PYTHONPATH=str(src), COLUMNS="120")
    start = time.perf_counter()
    # cwd=src too: `python -m` puts the working directory ahead of PYTHONPATH.
    proc = subprocess.Popen([sys.executable, "-m", "queuectl_tui", *args], env=env, cwd=src,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    took = time.perf_counter() - start
    result = subprocess.CompletedProcess(args, proc.returncode, out, err)
    return took, usage.ru_maxrss // 1024, result


def fill(src: Path, db: Path, count: int) -> None:
    _, _, result = run(src, db, "status")
    assert result.returncode == 0, result.stderr
    output = "x" * 400 + "\n"
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO job (id, command, state, queue, priority, attempts, max_retries,"
            " run_at, created_at, updated_at, finished_at, exit_code, last_error, output)"
            " VALUES (?, 'sh -c \"exit 1\"', 'dead', 'default', 0, 3, 3, ?, ?, ?, ?, 1,"
            " 'exit code 1', ?)",
            [(f"dead-{n:06d}", n, n, n, n, output) for n in range(count)])


def lock_probe(db: Path, stop: threading.Event, waits: list[float]) -> None:
    """Another writer: a tiny write transaction every 20 ms; records how long each
    waited for the lock."""
    conn = sqlite3.connect(db, timeout=60, isolation_level=None)
    while not stop.is_set():
        start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        waits.append(time.perf_counter() - start)
        conn.execute("UPDATE setting SET value = value WHERE key = 'nothing'")
        conn.execute("COMMIT")
        time.sleep(0.02)
    conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=150_000)
    parser.add_argument("--src", type=Path, default=ROOT,
                        help="checkout whose queuectl_tui to run (default: this one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="eng-bulk-bench-") as tmp:
        db = Path(tmp) / "queue.db"
        fill(args.src, db, args.jobs)
        print(f"{args.jobs:,} dead jobs; queuectl from {args.src}")

        for label, extra in (("dlq list", ()), ("dlq list --json", ("--json",))):
            took, rss, result = run(args.src, db, "dlq", "list", *extra)
            assert result.returncode == 0, result.stderr
            print(f"  {label:<18} {took:6.2f} s  peak {rss:5d} MB  "
                  f"{len(result.stdout):>11,} bytes out")

        alone, _, result = run(args.src, db, "enqueue", '{"command": "true"}')
        assert result.returncode == 0, result.stderr
        print(f"  enqueue alone      {alone:6.2f} s  (for comparison: start-up included)")

        stop, waits = threading.Event(), []
        probe = threading.Thread(target=lock_probe, args=(db, stop, waits))
        probe.start()
        time.sleep(0.2)
        enqueue_took: list[float] = []

        def enqueue_later() -> None:
            time.sleep(0.3)
            took, _, result = run(args.src, db, "enqueue", '{"command": "true"}')
            assert result.returncode == 0, result.stderr
            enqueue_took.append(took)

        late = threading.Thread(target=enqueue_later)
        late.start()
        took, rss, result = run(args.src, db, "dlq", "retry", "--all")
        late.join()
        stop.set()
        probe.join()
        assert result.returncode == 0, result.stderr
        print(f"  dlq retry --all    {took:6.2f} s  peak {rss:5d} MB; other writer's longest "
              f"lock wait {max(waits):.3f} s ({len(waits)} probes); an enqueue started "
              f"0.3 s in took {enqueue_took[0]:.2f} s")

        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE job SET state = 'dead'")
        size = db.stat().st_size
        took, rss, result = run(args.src, db, "purge", "--dead")
        assert result.returncode == 0, result.stderr
        print(f"  purge --dead       {took:6.2f} s  file {size / 1e6:.1f} MB -> "
              f"{db.stat().st_size / 1e6:.1f} MB")
        took, rss, result = run(args.src, db, "purge", "--dead", "--vacuum")
        if result.returncode == 0:
            print(f"  purge --vacuum     {took:6.2f} s  file -> "
                  f"{db.stat().st_size / 1e6:.1f} MB "
                  f"(WAL {Path(str(db) + '-wal').stat().st_size / 1e6:.1f} MB)")
        else:
            print("  purge --vacuum     (not in this version)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
