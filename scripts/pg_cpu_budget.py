#!/usr/bin/env python3
"""Where the CPU goes per job (queuectl on PostgreSQL, pgqueuer), and the ceiling that sets.

    python scripts/pg_cpu_budget.py [--pg postgresql://postgres@127.0.0.1:5432/postgres]
        [--jobs 1000] [--workers 2] [--rounds 1] [--pgqueuer-batch N] [--target JOBS_PER_S]
        [--venv-dir DIR] [--json]

Runtime: ~25 s per round with --venv-dir reusing pgqueuer's virtualenv
(~10 s more with --pgqueuer-batch).

On a 2-core machine a queue cannot run more than 2 / (CPU seconds per job)
jobs per second, whatever it does with its wall time. This script measures
that CPU per job, split by who spends it, for the same `sh -c true` jobs and
worker processes that scripts/bench_pg_queues.py times (its pgqueuer install,
task file, databases and stop logic are reused from there; the spawn-only
floor is queuectl bench's own spawner):

- server = the backends of the run's database (found by their process title,
  utime+stime from /proc/<pid>/stat) + the server's background processes
  (WAL writer, checkpointer, ...) + the enqueue's backend, measured alone on a
  second fresh database; the check row is every postgres process plus what the
  postmaster reaped, less this script's own backend: equal to the sum on a
  quiet server, larger when something else uses the server;
- workers: the worker processes' own CPU (queuectl: the supervisor and its
  workers; pgqueuer: its processes), which includes the parent's side of each
  spawn;
- job processes: the workers' cutime+cstime: the `sh -c true` children they
  reaped;
- machine busy: all CPUs' non-idle time (/proc/stat) over the window, less the
  enqueue command's own CPU: everything else too (this script, the kernel,
  other daemons, anything else running).
- transactions: committed in the run's database (pg_stat_database, less this
  script's own); write transactions: transaction ids used, server-wide.

The window starts with the workers already idle (start-up excluded), covers
the enqueue (one bulk command) and ends when the database says all N are done,
before the workers are stopped. Spawn only (N spawns from W plain processes,
no queue: `queuectl bench` row 1) is the floor: what the jobs alone cost. From
these the table derives the ceiling (cores / CPU per job) and, for 2x
pgqueuer, how much CPU per job would be left for the queue itself.
Per-process CPU comes in clock ticks (10 ms): use 1,000 jobs or more.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, SCRIPTS)

import bench_pg_queues as bpq  # noqa: E402  (after the path fix; it adds the repo root)

from queuectl_tui import bench  # noqa: E402

HZ = os.sysconf("SC_CLK_TCK")
SETTLE_S = 0.5  # the workers count as idle once their CPU stays flat this long
# The server's own processes (titles), whose work the queue's commits cause.
BACKGROUND = ("walwriter", "checkpointer", "background writer", "autovacuum", "archiver")


# --------------------------------------------------------------------------- /proc


@dataclass
class Proc:
    comm: str
    ppid: int
    own: int  # utime + stime, clock ticks
    reaped: int  # cutime + cstime: children waited for
    title: str = ""  # a server process's title: "postgres: 15/main: walwriter", ...


def _proc(pid: int) -> Proc | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            text = handle.read()
    except OSError:  # gone
        return None
    comm = text[text.index("(") + 1:text.rindex(")")]
    fields = text.rsplit(")", 1)[1].split()
    title = ""
    if comm == "postgres":
        try:
            with open(f"/proc/{pid}/cmdline") as handle:
                title = handle.read().replace("\0", " ")
        except OSError:
            pass
    return Proc(comm, int(fields[1]), int(fields[11]) + int(fields[12]),
                int(fields[13]) + int(fields[14]), title)


def _all_procs() -> dict[int, Proc]:
    found = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (proc := _proc(int(name))) is not None:
            found[int(name)] = proc
    return found


def _machine_busy() -> int:
    """Non-idle clock ticks of all CPUs (/proc/stat: idle and iowait left out)."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:9]]
    return sum(values) - values[3] - values[4]


@dataclass
class Snapshot:
    at: float
    procs: dict[int, Proc]
    busy: int

    @classmethod
    def take(cls) -> Snapshot:
        return cls(time.monotonic(), _all_procs(), _machine_busy())

    def postgres(self) -> int:
        """All server processes' CPU, plus what the postmaster reaped (exited backends)."""
        total = 0
        for proc in self.procs.values():
            if proc.comm == "postgres":
                total += proc.own
                if self.procs.get(proc.ppid, Proc("", 0, 0, 0)).comm != "postgres":
                    total += proc.reaped  # the postmaster
        return total

    def titled(self, *words: str) -> list[int]:
        """Server processes whose title holds one of these words."""
        return [pid for pid, proc in self.procs.items()
                if proc.comm == "postgres" and any(w in proc.title for w in words)]

    def tree(self, roots: list[int]) -> list[int]:
        """The roots and their descendants, the short-lived `sh` jobs left out."""
        children: dict[int, list[int]] = {}
        for pid, proc in self.procs.items():
            children.setdefault(proc.ppid, []).append(pid)
        found, todo = [], [r for r in roots if r in self.procs]
        while todo:
            pid = todo.pop()
            if self.procs[pid].comm != "sh":
                found.append(pid)
                todo.extend(children.get(pid, []))
        return found


def _delta(before: Snapshot, after: Snapshot, pids: list[int], field: str) -> int:
    """Ticks spent by these processes between the snapshots (0 before if new)."""
    return sum(getattr(after.procs[p], field)
               - (getattr(before.procs[p], field) if p in before.procs else 0)
               for p in pids if p in after.procs)


# --------------------------------------------------------------------------- one run


@dataclass
class Costs:
    """One queue's run: CPU seconds by part, seconds of wall, server counters."""

    name: str
    jobs: int
    server_all: float  # every server process (shared with anything else on the server)
    server_db: float  # the backends of this run's database
    server_bg: float  # WAL writer, checkpointer, background writer, autovacuum
    workers: float
    job_procs: float
    machine: float  # all CPUs, less the enqueue command's own CPU
    window: float
    span: float
    recorded: float  # first job start -> all recorded done
    xids: float
    xacts: float  # transactions committed in this db (pg_stat_database)
    wal_bytes: float
    enqueue_server: float = 0.0  # server CPU of the enqueue, measured alone

    def per_job(self) -> dict[str, float]:
        n = self.jobs
        server = self.server_db + self.server_bg + self.enqueue_server
        total = server + self.workers + self.job_procs
        return {
            "server_ms": 1000 * server / n, "server_db_ms": 1000 * self.server_db / n,
            "server_bg_ms": 1000 * self.server_bg / n,
            "enqueue_server_ms": 1000 * self.enqueue_server / n,
            "server_all_ms": 1000 * self.server_all / n,
            "workers_ms": 1000 * self.workers / n, "job_procs_ms": 1000 * self.job_procs / n,
            "total_ms": 1000 * total / n, "machine_ms": 1000 * self.machine / n,
            "span_ms": 1000 * self.span / n, "recorded_ms": 1000 * self.recorded / n,
            "xids": self.xids / n, "xacts": self.xacts / n, "wal_bytes": self.wal_bytes / n,
            "jobs_per_s": n / self.span, "ceiling_jobs_per_s": n / total * os.cpu_count(),
            "cores_busy": self.machine / self.window,
        }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class _Counting:
    """A connection that counts its statements (each one a transaction: autocommit)."""

    def __init__(self, conn):
        self.conn, self.calls = conn, 0

    def execute(self, *args):
        self.calls += 1
        return self.conn.execute(*args)


def _lsn(text: str) -> int:
    """A WAL position ('16/B374D848') as a byte offset."""
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


class Run:
    """Workers started idle on a fresh database; then the enqueue; then the window.

    setup(dsn) makes the schema, launch(dsn) starts the workers, enqueue(dsn)
    adds the N jobs in one command, finished(conn) counts the jobs done and
    spans(conn) gives the first start and last end (epoch seconds)."""

    def __init__(self, server: str, name: str, jobs: int, workers: int):
        self.server, self.name, self.jobs, self.workers = server, name, jobs, workers

    def measure(self, setup: Callable[[str], None],
                launch: Callable[[str], list[subprocess.Popen]],
                enqueue: Callable[[str], None], finished: Callable[[object], int],
                spans: Callable[[object], tuple[float, float]]) -> Costs:
        costs = self._run(setup, launch, enqueue, finished, spans)
        costs.enqueue_server = self._enqueue_alone(setup, enqueue)
        return costs

    def _run(self, setup, launch, enqueue, finished, spans) -> Costs:
        with bpq.fresh_database(self.server, self.name) as dsn, bpq._connect(dsn) as conn:
            setup(dsn)
            procs = launch(dsn)
            try:
                db, mine = conn.execute(
                    "SELECT current_database(), pg_backend_pid()").fetchone()
                self._settle(conn, db, mine, procs)
                conn.execute("SELECT pg_stat_force_next_flush()")  # ours, before xacts0
                xacts0 = self._xacts(db)
                conn = _Counting(conn)  # our transactions from here on, not the queue's
                lsn0, xid0 = self._counters(conn)
                client0 = _children_cpu()
                before = Snapshot.take()
                enqueue(dsn)
                client = _children_cpu() - client0
                while finished(conn) < self.jobs:
                    if time.monotonic() - before.at > bpq.DEADLINE:
                        raise bpq.BenchError(f"{self.name}: not done after {bpq.DEADLINE} s")
                    time.sleep(bpq.POLL)
                done_at = time.time()
                after = Snapshot.take()
                lsn1, xid1 = self._counters(conn)
                first, last = spans(conn)
            finally:
                bpq._stop(procs)
            conn.execute("SELECT pg_stat_force_next_flush()")  # ours, counted in calls
            xacts = self._xacts(db) - xacts0 - conn.calls  # workers gone: flushed
        tree = after.tree([p.pid for p in procs])
        backends = [p for p in after.titled(f" {db} ") if p != mine]
        return Costs(
            self.name, self.jobs,
            server_all=(after.postgres() - before.postgres()
                        - _delta(before, after, [mine], "own")) / HZ,
            server_db=_delta(before, after, backends, "own") / HZ,
            server_bg=_delta(before, after, after.titled(*BACKGROUND), "own") / HZ,
            workers=_delta(before, after, tree, "own") / HZ,
            job_procs=_delta(before, after, tree, "reaped") / HZ,
            machine=(after.busy - before.busy) / HZ - client, window=after.at - before.at,
            span=last - first, recorded=done_at - first, xids=float(xid1 - xid0),
            xacts=float(xacts),
            wal_bytes=float(_lsn(lsn1) - _lsn(lsn0)))

    def _enqueue_alone(self, setup, enqueue) -> float:
        """Server CPU seconds of the same enqueue into a fresh database, no workers."""
        with bpq.fresh_database(self.server, f"{self.name}_enq") as dsn:
            setup(dsn)
            before = Snapshot.take()
            enqueue(dsn)
            after = Snapshot.take()
        return (after.postgres() - before.postgres()) / HZ

    def _xacts(self, db: str) -> int:
        """Transactions committed in the database so far. Read after 1.1 s from a
        connection of its own: PostgreSQL 15 backends flush these counters at most
        once a second (and on exit), so by then the idle or exited ones have."""
        time.sleep(1.1)
        with bpq._connect(self.server) as conn:
            return conn.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = %s",
                                (db,)).fetchone()[0]

    @staticmethod
    def _counters(conn) -> tuple[str, int]:
        """WAL position and the next transaction id (server-wide; reading it uses
        none): write transactions in between = the difference."""
        return conn.execute("SELECT pg_current_wal_lsn()::text,"
                            " pg_snapshot_xmax(pg_current_snapshot())::text::bigint"
                            ).fetchone()

    def _settle(self, conn, db: str, mine: int, procs: list[subprocess.Popen]) -> None:
        """Until the workers are connected and their CPU stays flat (start-up over)."""
        deadline, last, flat_since = time.monotonic() + 30, -1, time.monotonic()
        while True:
            if any(p.poll() is not None for p in procs):
                raise bpq.BenchError(f"{self.name}: a worker exited during start-up")
            snap = Snapshot.take()
            ticks = sum(snap.procs[p].own for p in snap.tree([p.pid for p in procs]))
            connected = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> %s",
                (db, mine)).fetchone()[0]
            if ticks != last or connected < self.workers:
                last, flat_since = ticks, time.monotonic()
            elif time.monotonic() - flat_since >= SETTLE_S:
                return
            if time.monotonic() > deadline:
                raise bpq.BenchError(f"{self.name}: workers never settled")
            time.sleep(0.05)


def run_pgqueuer(library: bpq.Library, server: str, jobs: int, workers: int,
                 folder: str) -> Costs:
    work, log = bpq.workfolder(library, folder)

    def setup(dsn: str) -> None:
        bpq.run_step(library, library.schema(library.python, dsn), "schema", work,
                     bpq.task_env(work, log, dsn, 1))

    def launch(dsn: str) -> list[subprocess.Popen]:
        env = bpq.task_env(work, log, dsn, 1)  # one job at a time per process
        return [subprocess.Popen(library.worker(library.python, 1), cwd=work, env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                for _ in range(workers)]

    def enqueue(dsn: str) -> None:
        bpq.run_step(library, library.enqueue(library.python, jobs), "enqueue", work,
                     bpq.task_env(work, log, dsn, 1))

    def finished(conn) -> int:
        """Jobs run (task log lines), once the queue table is empty (statuses flushed)."""
        if conn.execute(library.remaining_sql).fetchone()[0] or not os.path.exists(log):
            return 0
        with open(log) as handle:
            return sum(1 for _ in handle)

    def spans(conn) -> tuple[float, float]:
        return bpq._span(log, jobs, library.name)

    costs = Run(server, "pgqueuer", jobs, workers).measure(setup, launch, enqueue, finished,
                                                           spans)
    costs.name = f"pgqueuer {library.version}"
    return costs


def with_batch(library: bpq.Library, size: int) -> bpq.Library:
    """pgqueuer fetching (and flushing statuses) `size` jobs at a time instead of 10."""
    default = 'pgqueuer.run("tasks:factory")'
    if default not in library.tasks:
        raise bpq.BenchError("bench_pg_queues' pgqueuer task file changed: no batch option")
    return dataclasses.replace(library, tasks=library.tasks.replace(
        default, f'pgqueuer.run("tasks:factory", batch_size={size})'))


def run_queuectl(server: str, jobs: int, workers: int, folder: str) -> Costs:
    command = bpq._queuectl()

    def setup(dsn: str) -> None:  # the schema, as any first command makes it
        subprocess.run([*command, "--db", dsn, "status"], capture_output=True, check=True,
                       cwd=folder)

    def launch(dsn: str) -> list[subprocess.Popen]:
        return [subprocess.Popen([*command, "--db", dsn, "worker", "start", "--count",
                                  str(workers)], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, cwd=folder)]

    def enqueue(dsn: str) -> None:
        payload = "\n".join(json.dumps({"command": "true"}) for _ in range(jobs))
        done = subprocess.run([*command, "--db", dsn, "enqueue", "-"], input=payload,
                              text=True, capture_output=True, cwd=folder)
        if done.returncode != 0:
            raise bpq.BenchError(f"queuectl enqueue failed: {done.stderr.strip()}")

    def finished(conn) -> int:
        return conn.execute("SELECT count(*) FROM job WHERE state = 'completed'").fetchone()[0]

    def spans(conn) -> tuple[float, float]:
        first, last = conn.execute("SELECT min(started_at), max(finished_at) FROM job"
                                   " WHERE state = 'completed'").fetchone()
        return bpq._seconds(first), bpq._seconds(last)

    costs = Run(server, "queuectl", jobs, workers).measure(setup, launch, enqueue, finished,
                                                           spans)
    costs.name = f"queuectl {bpq._our_version()} (PG)"
    return costs


def run_spawn_only(jobs: int, workers: int) -> Costs:
    """bench.spawn_limit's spawner, each process also reporting its own and its
    children's CPU over the loop (os.times), so Python's start-up is left out."""
    code = ("import os\n_t0 = os.times()\n" + bench._SPAWNER
            + "_t1 = os.times()\nprint(_t1.user + _t1.system - _t0.user - _t0.system,"
              " _t1.children_user + _t1.children_system"
              " - _t0.children_user - _t0.children_system)\n")
    share = [jobs // workers + (1 if i < jobs % workers else 0) for i in range(workers)]
    busy0, at0 = _machine_busy(), time.monotonic()
    procs = [subprocess.Popen([sys.executable, "-c", code, str(n)], stdout=subprocess.PIPE,
                              text=True) for n in share]
    outs = [p.communicate()[0].split() for p in procs]
    busy, window = (_machine_busy() - busy0) / HZ, time.monotonic() - at0
    first = min(float(o[0]) for o in outs)
    last = max(float(o[1]) for o in outs)
    return Costs("spawn only (no queue)", jobs, server_all=0.0, server_db=0.0, server_bg=0.0,
                 workers=sum(float(o[2]) for o in outs),
                 job_procs=sum(float(o[3]) for o in outs), machine=busy, window=window,
                 span=last - first, recorded=last - first, xids=0.0, xacts=0.0,
                 wal_bytes=0.0)


# --------------------------------------------------------------------------- report


ROWS = [
    ("server (sum of the next three)", "server_ms", "{:.3f}"),
    ("  this db's backends", "server_db_ms", "{:.3f}"),
    ("  background (WAL writer, ...)", "server_bg_ms", "{:.3f}"),
    ("  the enqueue (measured alone)", "enqueue_server_ms", "{:.3f}"),
    ("  check: all postgres processes", "server_all_ms", "{:.3f}"),
    ("workers (python, incl. spawn)", "workers_ms", "{:.3f}"),
    ("job processes (sh -c true)", "job_procs_ms", "{:.3f}"),
    ("total CPU (sum of the above)", "total_ms", "{:.3f}"),
    ("machine busy (all CPUs, less enqueue)", "machine_ms", "{:.3f}"),
    ("wall: span (first start->last end)", "span_ms", "{:.3f}"),
    ("wall: first start->all recorded", "recorded_ms", "{:.3f}"),
    ("transactions per job (this db)", "xacts", "{:.2f}"),
    ("  write transactions (xids, server)", "xids", "{:.2f}"),
    ("WAL bytes per job", "wal_bytes", "{:,.0f}"),
    ("jobs/s (span)", "jobs_per_s", "{:,.0f}"),
    ("ceiling: cores / total CPU", "ceiling_jobs_per_s", "{:,.0f}"),
    ("cores busy (machine, over the window)", "cores_busy", "{:.2f}"),
]


SPAWN_ROWS = ("workers_ms", "job_procs_ms", "total_ms", "machine_ms", "span_ms",
              "jobs_per_s", "ceiling_jobs_per_s", "cores_busy")


def summarise(rounds: list[dict[str, Costs]], target: float | None) -> dict:
    names = list(rounds[0])
    figures = {key: {name: statistics.median(r[key].per_job()[name] for r in rounds)
                     for name in rounds[0][key].per_job()} for key in names}
    spawn, theirs = figures["spawn"], figures["pgqueuer"]
    targets = {"2x pgqueuer (span, this run)": 2 * theirs["jobs_per_s"],
               "2x pgqueuer (start->recorded, this run)": 2000 / theirs["recorded_ms"]}
    if target:
        targets["given target"] = target
    return {
        "labels": {k: rounds[0][k].name for k in names}, "figures": figures,
        "cores": os.cpu_count() or 1, "rounds": len(rounds), "targets": targets,
        "floor_ms": spawn["total_ms"],
        "overhead_ms": {k: figures[k]["total_ms"] - spawn["total_ms"]
                        for k in names if k != "spawn"},
    }


def table(s: dict, jobs: int, workers: int) -> str:
    keys = list(s["labels"])
    head = f"{'per job (ms unless said)':38}" + "".join(f"{s['labels'][k]:>24}" for k in keys)
    lines = [f"{jobs:,} `sh -c true` jobs, {workers} workers, {s['cores']} cores, "
             f"median of {s['rounds']} round(s)", head]
    for label, name, fmt in ROWS:
        cells = []
        for k in keys:
            value = s["figures"][k][name]
            empty = k == "spawn" and name not in SPAWN_ROWS
            cells.append(f"{'-' if empty else fmt.format(value):>24}")
        lines.append(f"{label:38}" + "".join(cells))
    others = ", ".join(f"{s['labels'][k]} {v:.3f} ms" for k, v in s["overhead_ms"].items()
                       if k != "queuectl")
    lines += ["", f"the jobs alone (spawn only) take {s['floor_ms']:.3f} ms CPU; queue overhead "
              f"(total less that): queuectl {s['overhead_ms']['queuectl']:.3f} ms, {others}"]
    for why, target in s["targets"].items():
        budget = 1000 * s["cores"] / target
        allowed = budget - s["floor_ms"]
        cut = s["overhead_ms"]["queuectl"] - allowed
        lines.append(f"{why} = {target:,.0f} jobs/s -> <= {budget:.3f} ms CPU per job on "
                     f"{s['cores']} cores -> queue overhead <= {allowed:.3f} ms "
                     f"(queuectl: cut {cut:.3f} ms, "
                     f"{100 * cut / s['overhead_ms']['queuectl']:.0f} % of its overhead)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="server to create the throwaway databases on (a URL)")
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1,
                        help="repeat in turns; medians are reported")
    parser.add_argument("--pgqueuer-batch", type=int, metavar="N",
                        help="also run pgqueuer with batch_size N (its default: 10)")
    parser.add_argument("--target", type=float, metavar="JOBS_PER_S",
                        help="also show the CPU budget of this rate (e.g. 1740: 2x "
                             "pgqueuer's wall rate on a quiet run)")
    parser.add_argument("--venv-dir", help="keep pgqueuer's virtualenv here for the next run")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    say = (lambda text: None) if args.json else (
        lambda text: print(text, file=sys.stderr, flush=True))
    if not bpq.pg_backend_available():
        sys.exit("pg_cpu_budget: this queuectl has no PostgreSQL store")
    folder = tempfile.mkdtemp(prefix="queuectl-cpu-budget-")
    library = bpq._pgqueuer()
    try:
        say(f"installing pgqueuer into {args.venv_dir or folder} …")
        bpq.install(library, args.venv_dir or os.path.join(folder, "venvs"))
        rounds = []
        for n in range(args.rounds):
            say(f"round {n + 1}/{args.rounds}: spawn only, pgqueuer, queuectl …")
            costs = {"spawn": run_spawn_only(args.jobs, args.workers),
                     "pgqueuer": run_pgqueuer(library, args.pg, args.jobs, args.workers,
                                              folder)}
            if args.pgqueuer_batch:
                costs["pgqueuer_batch"] = run_pgqueuer(
                    with_batch(library, args.pgqueuer_batch), args.pg, args.jobs,
                    args.workers, folder)
                costs["pgqueuer_batch"].name += f" batch {args.pgqueuer_batch}"
            costs["queuectl"] = run_queuectl(args.pg, args.jobs, args.workers, folder)
            rounds.append(costs)
    except bpq.BenchError as exc:
        sys.exit(f"pg_cpu_budget: {exc}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    summary = summarise(rounds, args.target)
    print(json.dumps(summary, indent=2) if args.json else
          table(summary, args.jobs, args.workers))


if __name__ == "__main__":
    main()
