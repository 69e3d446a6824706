#!/usr/bin/env python3
"""What queuectl's PostgreSQL design can reach at best: a bare claim loop, no queue.

    python scripts/pg_claim_floor.py [--pg URL] [--jobs 1000] [--workers 2]

Issue 11 asks for 2x procrastinate and pgqueuer. queuectl records every run and
claims the next job in one transaction per job (design: "Backends"); pgqueuer
picks 10 jobs per query and writes their outcomes in batches every 0.1 s. This
script measures the cheapest possible version of our per-job transaction, with
no domain, no leases renewal, no output capture: W processes, each looping
"finish the previous job + claim the next (the issue's SKIP LOCKED statement)
in one transaction, then spawn `sh -c true`". Whatever our real worker does, it
cannot beat this; compare it with pgqueuer's figure in the same minute to see
whether a ratio is reachable at all.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

from queuectl_tui import bench  # noqa: E402
from queuectl_tui.store.scratch import masked, scratch_database  # noqa: E402

SCHEMA = """
CREATE TABLE job (
    id text PRIMARY KEY, command text NOT NULL, state text NOT NULL,
    priority integer NOT NULL DEFAULT 0, attempts integer NOT NULL DEFAULT 0,
    run_at double precision NOT NULL, created_at double precision NOT NULL,
    started_at double precision, finished_at double precision, worker_id text,
    lease_expires_at double precision, exit_code integer);
CREATE INDEX job_runnable ON job (priority DESC, run_at, created_at)
    WHERE state = 'pending';
"""
NOW = "extract(epoch FROM clock_timestamp())"
FINISH = f"""UPDATE job SET state = 'completed', finished_at = {NOW}, exit_code = %s,
    lease_expires_at = NULL WHERE id = %s AND worker_id = %s AND state = 'processing'"""
CLAIM = f"""UPDATE job SET state = 'processing', started_at = {NOW}, worker_id = %s,
    attempts = attempts + 1, lease_expires_at = {NOW} + 15
    WHERE id = (SELECT id FROM job WHERE state = 'pending' AND run_at <= {NOW}
                ORDER BY priority DESC, run_at, created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING id, command"""

WORKER = f"""
import subprocess, sys, psycopg
url, me, sync = sys.argv[1], sys.argv[2], sys.argv[3]
conn = psycopg.connect(url)
conn.execute("SET synchronous_commit = " + sync)
conn.commit()
previous = None
while True:
    with conn.transaction():
        if previous is not None:
            conn.execute({FINISH!r}, (previous[1], previous[0], me))
        row = conn.execute({CLAIM!r}, (me,)).fetchone()
    if row is None:
        break
    code = subprocess.run(["sh", "-c", row[1]]).returncode
    previous = (row[0], code)
conn.close()
"""


def floor(url: str, jobs: int, workers: int, sync: str = "on") -> float:
    """Jobs/s of W bare claim loops (first start to last finish); ``sync`` is the
    loops' synchronous_commit: "on" waits for the WAL fsync at every commit,
    "off" (what SQLite's synchronous=NORMAL is to queuectl) does not."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SCHEMA)
        now = time.time()
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO job (id, command, state, run_at, created_at)"
                            " VALUES (%s, 'true', 'pending', %s, %s)",
                            [(f"j{n:06d}", now, now + n * 1e-6) for n in range(jobs)])
        procs = [subprocess.Popen([sys.executable, "-c", WORKER, url, f"w{n}", sync])
                 for n in range(workers)]
        for proc in procs:
            proc.wait()
        first, last, done = conn.execute(
            "SELECT min(started_at), max(finished_at), count(*) FROM job"
            " WHERE state = 'completed'").fetchone()
    if done != jobs:  # each worker's last job is finished by the loop's final turn
        raise SystemExit(f"pg_claim_floor: {done} of {jobs} jobs recorded")
    return jobs / (last - first)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    limits, durable, relaxed = [], [], []
    for _ in range(args.rounds):
        limits.append(bench.spawn_limit(args.jobs, args.workers))
        with scratch_database(args.pg, "bench_floor") as url:
            durable.append(floor(url, args.jobs, args.workers, "on"))
        with scratch_database(args.pg, "bench_floor") as url:
            relaxed.append(floor(url, args.jobs, args.workers, "off"))
    limit = statistics.median(limits)
    print(f"{args.jobs:,} jobs, {args.workers} workers, {os.cpu_count()} cores, "
          f"server {masked(args.pg)}, median of {args.rounds}")
    print(f"spawn limit (no queue)                  {limit:8,.0f} jobs/s")
    for label, rates in (("synchronous_commit on", durable),
                         ("synchronous_commit off", relaxed)):
        rate = statistics.median(rates)
        print(f"bare claim loop, {label:23}{rate:8,.0f} jobs/s  "
              f"{rate / limit:.2f} of the limit")


if __name__ == "__main__":
    main()
