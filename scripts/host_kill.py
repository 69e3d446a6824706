#!/usr/bin/env python3
"""How long a dead host's jobs wait: recovery time after a whole-host SIGKILL.

    python scripts/host_kill.py [--db postgresql://postgres@127.0.0.1:5432/test]
                                [--lease 15 --lease 2] [--jobs 2] [--sqlite]

Two hosts on this machine share one fresh database (created on the server of
--db and dropped afterwards; with --sqlite, also a throwaway file): host-a runs
JOBS long jobs with JOBS workers, host-b idles with 2 workers; then every process
of host-a -- supervisor, workers, the jobs' processes -- is SIGKILLed at once. The
figure is, per job, the time from that SIGKILL to the job's second run starting
on host-b (the job writes its start time), for each lease given: 15 s is the
default (run with every other setting at its default too: poll 1 s, backoff
2 ** 1 s), 2 s the multi-host tests' (with their fast polling and 1 s backoff).

As root the hosts run in their own UTS/PID namespaces (`unshare` + `hostname`),
else under QUEUECTL_HOSTNAME. Expect about lease + min(lease / 2, 3) (the
suspect grace) + up to min(lease / 3, 1) (the next housekeeping) + the retry
backoff.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from queuectl_tui.queue import JobQueue
from tests.multihost import RECORDING_JOB, Host, can_unshare, queuectl, runs_of

FAST = {"poll_interval": "0.05", "backoff_base": "1", "backoff_max": "1"}
DEFAULT_LEASE = 15.0


def wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)
    return value


def workers_on(target: str) -> dict[str, int]:
    listed = json.loads(queuectl(target, "worker", "list", "--json").stdout)
    found: dict[str, int] = {}
    for worker in listed:
        found[worker["hostname"]] = found.get(worker["hostname"], 0) + 1
    return found


def measure(target: str, lease: float, jobs: int, namespaces: bool, work: Path) -> list[float]:
    """One whole-host kill; the recovery time of each of host-a's jobs."""
    queue = JobQueue.open(target)
    try:  # the default lease with every default; a short one with the tests' settings
        for key, value in ({} if lease == DEFAULT_LEASE else FAST).items():
            queue.set_config(key, value)
        queue.set_config("lease_seconds", lease)
    finally:
        queue.close()
    runs = work / "runs.txt"
    host_a = Host("host-a", target, jobs, work, namespaces=namespaces).start()
    host_b = Host("host-b", target, 2, work, namespaces=namespaces)
    try:
        wait(lambda: workers_on(target) == {"host-a": jobs}, 30, "host-a's workers")
        batch = "\n".join(json.dumps({"id": f"long-{n}", "command": RECORDING_JOB.format(
            runs=runs)}) for n in range(jobs))
        queuectl(target, "enqueue", "-", input=batch)
        wait(lambda: len(runs_of(runs)) == jobs, 30, "host-a running the jobs")
        host_b.start()
        wait(lambda: workers_on(target) == {"host-a": jobs, "host-b": 2}, 30,
             "host-b's workers")
        killed_at = host_a.kill()
        wait(lambda: len(runs_of(runs)) == 2 * jobs, lease * 3 + 30, "host-b's reruns")
        again = [at for _, attempt, host, at in runs_of(runs) if attempt == 2]
        assert all(host == "host-b" for _, attempt, host, _ in runs_of(runs) if attempt == 2)
        return sorted(at - killed_at for at in again)
    finally:
        host_a.stop()
        host_b.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default=os.environ.get(
        "QUEUECTL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test"),
        help="a PostgreSQL URL: a fresh database is made on its server")
    parser.add_argument("--lease", type=float, action="append",
                        help="lease seconds to try (repeatable; default 15 and 2)")
    parser.add_argument("--jobs", type=int, default=2, help="jobs running on host-a")
    parser.add_argument("--sqlite", action="store_true", help="also on a SQLite file")
    args = parser.parse_args()
    leases = args.lease or [DEFAULT_LEASE, 2.0]
    namespaces = can_unshare() is None
    print(f"hosts: {'unshare --uts --pid namespaces' if namespaces else 'QUEUECTL_HOSTNAME'}; "
          f"{args.jobs} job(s) running on host-a when it is SIGKILLed whole")

    import psycopg

    parts = urllib.parse.urlsplit(args.db)
    for lease in leases:
        backends = ["postgresql"] + (["sqlite"] if args.sqlite else [])
        for backend in backends:
            with tempfile.TemporaryDirectory(prefix="host-kill-") as work:
                if backend == "sqlite":
                    target, drop = str(Path(work) / "queue.db"), None
                    ns = False  # a namespaced host would see the same file: no matter
                else:
                    name = f"qctl_hostkill_{secrets.token_hex(4)}"
                    with psycopg.connect(args.db, autocommit=True) as conn:
                        conn.execute(f'CREATE DATABASE "{name}"')
                    target = urllib.parse.urlunsplit(parts._replace(path="/" + name))
                    drop, ns = name, namespaces
                try:
                    times = measure(target, lease, args.jobs, ns, Path(work))
                finally:
                    if drop:
                        with psycopg.connect(args.db, autocommit=True) as conn:
                            conn.execute(f'DROP DATABASE IF EXISTS "{drop}" WITH (FORCE)')
            print(f"{backend:<10} lease {lease:>4g}s: recovered after "
                  + ", ".join(f"{t:.2f}s" for t in times)
                  + f" (median {statistics.median(times):.2f}s)", flush=True)


if __name__ == "__main__":
    main()
