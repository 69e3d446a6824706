"""`queuectl bench`: what the queue costs, measured against what the machine allows.

Everything runs on throwaway databases in a temporary folder, never the
user's. Figures are ratios measured in one run, because these machines are
shared and noisy: compare the numbers within a run, not across runs.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

from queuectl_tui import bench_backends
from queuectl_tui.jobspec import JobSpec
from queuectl_tui.queue import JobQueue
from queuectl_tui.store.scratch import masked, scratch_database
from queuectl_tui.supervisor import Supervisor

ROUNDS = 3

_SPAWNER = """
import os, sys, time
n = int(sys.argv[1])
start = time.time()
for _ in range(n):
    os.waitpid(os.posix_spawn("/bin/sh", ["sh", "-c", "true"], os.environ), 0)
print(start, time.time())
"""


@dataclass
class Figures:
    jobs: int
    workers: int
    results: dict[str, float] = field(default_factory=dict)
    server: str | None = None  # the PostgreSQL server measured too (password masked)

    def _postgres_rows(self) -> list[tuple[str, str, str]]:
        """Rows 2b and 4b: the same questions asked of PostgreSQL, beside SQLite's."""
        r = self.results
        if "pg_throughput_jobs_per_s" not in r:
            return []
        return [
            ("2b. throughput on PostgreSQL", f"{r['pg_throughput_jobs_per_s']:,.0f} jobs/s",
             f"{r['pg_throughput_ratio']:.2f} of (1), {r['pg_vs_sqlite']:.2f} of (2)"),
            ("4b. pickup latency on PostgreSQL", f"p50 {r['pg_pickup_p50_ms']:.1f} ms",
             f"p99 {r['pg_pickup_p99_ms']:.1f} ms"),
        ]

    def table(self) -> str:
        r = self.results
        rows = [
            ("1. spawn limit (no queue)", f"{r['spawn_limit_jobs_per_s']:,.0f} jobs/s", ""),
            ("2. throughput", f"{r['throughput_jobs_per_s']:,.0f} jobs/s",
             f"{r['throughput_ratio']:.2f} of (1)"),
            ("3. bulk enqueue (10,000, incl. start-up)",
             f"{r['bulk_enqueue_jobs_per_s']:,.0f} jobs/s", f"{r['bulk_enqueue_s']:.3f} s"),
            ("4. pickup latency (idle worker)",
             f"p50 {r['pickup_p50_ms']:.1f} ms", f"p99 {r['pickup_p99_ms']:.1f} ms"),
            *self._postgres_rows(),
            (f"5. throughput with {r['history_rows']:,.0f} finished jobs",
             f"{r['history_throughput_jobs_per_s']:,.0f} jobs/s",
             f"{r['history_ratio']:.2f} of (2)"),
            ("6. CLI start-up: queuectl status", f"{r['cli_status_ms']:.1f} ms",
             f"{r['cli_ratio']:.2f} x import ({r['bare_import_ms']:.1f} ms)"),
            (f"7. idle worker CPU over {r['idle_seconds']:.0f} s",
             f"{r['idle_cpu_percent']:.3f} % of a core", ""),
        ]
        width = max(len(name) for name, _, _ in rows)
        lines = [f"queuectl bench: {self.jobs:,} jobs, {self.workers} workers, "
                 f"{os.cpu_count()} cores"
                 + (f"; PostgreSQL: {self.server}" if self.server else "")]
        lines += [f"{name.ljust(width)}  {value:>22}  {extra}".rstrip()
                  for name, value, extra in rows]
        return "\n".join(lines)


def spawn_limit(jobs: int, workers: int) -> float:
    """N `sh -c true` spawned by W plain processes, no queue: jobs per second."""
    share = [jobs // workers + (1 if i < jobs % workers else 0) for i in range(workers)]
    procs = [subprocess.Popen([sys.executable, "-c", _SPAWNER, str(n)], stdout=subprocess.PIPE,
                              text=True) for n in share]
    spans = [tuple(map(float, p.communicate()[0].split())) for p in procs]
    return jobs / (max(end for _, end in spans) - min(start for start, _ in spans))


def _queue_throughput(path: str, jobs: int, workers: int) -> float:
    """Enqueue N `true` jobs for W idle workers; jobs/s from first start to last finish."""
    queue = JobQueue.open(path)
    supervisor = Supervisor(path, owner="bench", log=subprocess.DEVNULL)
    supervisor.start(workers)
    try:
        _wait_for(lambda: _count(path, "SELECT count(*) FROM worker") >= workers, 15)
        prefix = f"t{time.monotonic_ns()}"
        queue.enqueue([JobSpec(command="true", id=f"{prefix}-{n}") for n in range(jobs)])
        # Poll through the state index, rarely: the bench must not compete with the queue.
        _wait_for(lambda: _count(path, "SELECT count(*) FROM job WHERE state IN"
                                 " ('pending', 'processing', 'failed')") == 0, 600,
                  interval=0.05)
        with sqlite3.connect(path) as conn:
            first, last = conn.execute(
                "SELECT min(started_at), max(finished_at) FROM job WHERE id LIKE ?",
                (f"{prefix}-%",)).fetchone()
    finally:
        supervisor.shutdown(15)
        queue.close()
    return jobs / (last - first)


def bulk_enqueue(path: str, count: int = 10_000) -> float:
    """`queuectl enqueue -` with N JSON lines, as a user would run it: seconds."""
    payload = "\n".join(json.dumps({"command": "true"}) for _ in range(count)).encode()
    command = [*_queuectl_command(), "--db", path, "enqueue", "-"]
    subprocess.run([*command, "--help"], capture_output=True, check=True)  # warm caches
    start = time.perf_counter()
    subprocess.run(command, input=payload, capture_output=True, check=True)
    return time.perf_counter() - start


def pickup_latency(path: str, samples: int = 25) -> list[float]:
    """One idle worker at default settings; enqueue one job at a time; seconds from
    the enqueue's commit to the job's start."""
    queue = JobQueue.open(path)
    supervisor = Supervisor(path, owner="bench", log=subprocess.DEVNULL)
    supervisor.start(1)
    latencies = []
    try:
        _wait_for(lambda: _count(path, "SELECT count(*) FROM worker") >= 1, 15)
        time.sleep(0.5)  # let it settle into its idle wait
        for n in range(samples):
            job_id = f"latency-{n}"
            queue.enqueue([JobSpec(command="true", id=job_id)])
            _wait_for(lambda j=job_id: _count(
                path, "SELECT count(*) FROM job WHERE id = ? AND state = 'completed'",
                (j,)) == 1, 30, interval=0.002)
            with sqlite3.connect(path) as conn:
                started, created = conn.execute(
                    "SELECT started_at, created_at FROM job WHERE id = ?", (job_id,)).fetchone()
            # created_at is stamped just before the insert: this slightly overstates.
            latencies.append(max(started - created, 0.0))
            time.sleep(0.05 + 0.1 * (n % 3))  # idle again, at varying moments
    finally:
        supervisor.shutdown(15)
        queue.close()
    return latencies


def add_history(path: str, rows: int) -> None:
    """N finished jobs, as a long-lived queue accumulates them (raw inserts: fast)."""
    JobQueue.open(path).close()
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO job (id, command, state, queue, priority, attempts, max_retries,"
            " run_at, created_at, updated_at, started_at, finished_at, exit_code)"
            " VALUES (?, 'true', 'completed', 'default', 0, 1, 3, ?, ?, ?, ?, ?, 0)",
            ((f"old-{n}", n, n, n, n, n) for n in range(rows)))


def cli_startup(runs: int = 15) -> tuple[float, float]:
    """Median wall time of `queuectl status` and of the bare imports it needs."""
    folder = tempfile.mkdtemp(prefix="queuectl-bench-cli-")
    db = os.path.join(folder, "cli.db")
    status = [*_queuectl_command(), "--db", db, "status"]
    # queuectl_tui imports peewee with the PostgreSQL drivers hidden (see there), as
    # `status` does: a bare `import peewee` would load psycopg where it is installed.
    bare = [sys.executable, "-c", "import click, sqlite3, queuectl_tui"]
    subprocess.run(status, capture_output=True, check=True)

    def median(command: list[str]) -> float:
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run(command, capture_output=True, check=True)
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    # Interleave, so both see the same machine.
    a = [median(status) for _ in range(3)]
    b = [median(bare) for _ in range(3)]
    shutil.rmtree(folder, ignore_errors=True)
    return min(a), min(b)


def idle_cpu(path: str, seconds: float) -> float:
    """CPU used by one idle worker at default settings, as a percentage of a core."""
    JobQueue.open(path).close()
    supervisor = Supervisor(path, owner="bench", log=subprocess.DEVNULL)
    supervisor.start(1)
    try:
        _wait_for(lambda: _count(path, "SELECT count(*) FROM worker") >= 1, 15)
        pid = supervisor.procs[0].pid
        time.sleep(1.0)
        before = _cpu_seconds(pid)
        time.sleep(seconds)
        used = _cpu_seconds(pid) - before
    finally:
        supervisor.shutdown(15)
    return 100.0 * used / seconds


def run(jobs: int = 1000, workers: int = 2, history: int = 200_000,
        idle_seconds: float = 10.0, say=lambda text: None,
        server: str | None = None) -> Figures:
    """The seven figures on SQLite; with ``server`` (a postgresql:// URL) also
    throughput and pickup latency on PostgreSQL, each on a throwaway database
    created on that server and dropped afterwards (``store.scratch``)."""
    figures = Figures(jobs, workers, server=masked(server) if server else None)
    r = figures.results
    folder = tempfile.mkdtemp(prefix="queuectl-bench-")
    try:
        # The three throughput figures are taken in turns, three times, and the
        # medians reported: a shared machine's noise then hits all three alike.
        history_db = os.path.join(folder, "history.db")
        say(f"history: {history:,} finished jobs…")
        add_history(history_db, history)
        limits, plain, loaded, on_pg = [], [], [], []
        for round_ in range(ROUNDS):
            say(f"spawn limit, throughput, throughput with history ({round_ + 1}/{ROUNDS})…")
            limits.append(spawn_limit(jobs, workers))
            plain.append(_queue_throughput(os.path.join(folder, f"tp{round_}.db"), jobs,
                                           workers))
            loaded.append(_queue_throughput(history_db, jobs, workers))
            if server:  # in the same turns, so the ratio to SQLite sees the same machine
                say(f"throughput on PostgreSQL ({round_ + 1}/{ROUNDS})…")
                with scratch_database(server) as url:
                    on_pg.append(bench_backends.queue_throughput(url, jobs, workers))
        r["spawn_limit_jobs_per_s"] = statistics.median(limits)
        r["throughput_jobs_per_s"] = statistics.median(plain)
        r["throughput_ratio"] = r["throughput_jobs_per_s"] / r["spawn_limit_jobs_per_s"]
        r["history_rows"] = history
        r["history_throughput_jobs_per_s"] = statistics.median(loaded)
        r["history_ratio"] = r["history_throughput_jobs_per_s"] / r["throughput_jobs_per_s"]
        if server:
            r["pg_throughput_jobs_per_s"] = statistics.median(on_pg)
            r["pg_throughput_ratio"] = (r["pg_throughput_jobs_per_s"]
                                        / r["spawn_limit_jobs_per_s"])
            r["pg_vs_sqlite"] = r["pg_throughput_jobs_per_s"] / r["throughput_jobs_per_s"]
        say("bulk enqueue…")
        r["bulk_enqueue_s"] = bulk_enqueue(os.path.join(folder, "bulk.db"))
        r["bulk_enqueue_jobs_per_s"] = 10_000 / r["bulk_enqueue_s"]
        say("pickup latency…")
        latencies = sorted(pickup_latency(os.path.join(folder, "latency.db")))
        r["pickup_p50_ms"] = 1000 * statistics.median(latencies)
        r["pickup_p99_ms"] = 1000 * latencies[min(len(latencies) - 1,
                                                  round(0.99 * (len(latencies) - 1)))]
        if server:
            say("pickup latency on PostgreSQL…")
            with scratch_database(server) as url:
                r["pg_pickup_p50_ms"], r["pg_pickup_p99_ms"] = bench_backends.p50_p99_ms(
                    bench_backends.pickup_latency(url))
        say("CLI start-up…")
        status, bare = cli_startup()
        r["cli_status_ms"], r["bare_import_ms"] = 1000 * status, 1000 * bare
        r["cli_ratio"] = status / bare
        say(f"idle worker ({idle_seconds:.0f} s)…")
        r["idle_seconds"] = idle_seconds
        r["idle_cpu_percent"] = idle_cpu(os.path.join(folder, "idle.db"), idle_seconds)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return figures


def _queuectl_command() -> list[str]:
    script = shutil.which("queuectl")
    return [script] if script else [sys.executable, "-m", "queuectl_tui"]


def _count(path: str, sql: str, params: tuple = ()) -> int:
    with sqlite3.connect(path, timeout=30) as conn:
        return conn.execute(sql, params).fetchone()[0]


def _wait_for(condition, timeout: float, interval: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("bench: timed out")
        time.sleep(interval)


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
