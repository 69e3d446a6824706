#!/usr/bin/env python3
"""queuectl against procrastinate and pgqueuer on one PostgreSQL server, in one run.

    python scripts/bench_pg_queues.py [--pg postgresql://postgres@127.0.0.1:5432/postgres]
        [--jobs 1000] [--workers 2] [--rounds 1] [--ours auto|sqlite|pg|both] [--json]
        [--only procrastinate|pgqueuer] [--their-concurrency 1] [--venv-dir DIR]

Runtime: ~25 s with --jobs 50 (most of it the two pip installs; ~10 s with
--venv-dir reusing them), ~45 s with the defaults, ~1 min with --rounds 3.

These are the PostgreSQL job queues a user would pick instead of queuectl;
neither is a dependency of ours: each is pip-installed into a throwaway
virtualenv in a temporary folder (removed afterwards, unless --venv-dir keeps
them for the next run). Every queue gets a fresh database on the server
(`qctl_bench_<queue>_<random>`, dropped afterwards), N jobs that each spawn
`sh -c true` (the work a queuectl worker does per job: one shell), and W
worker processes that run one job at a time, at the library's own defaults
otherwise (see SETTINGS).

Two figures per queue, taken the same way for all:
- wall: from launching the workers (jobs already enqueued) until the database
  says all N are done, polled every 20 ms over one connection (a query, not
  `queuectl status --json`: a CLI process per poll would take ~0.2 s of CPU
  from the workers on a 2-core machine). Includes the workers' start-up and any
  delay in recording completions.
- span: from the first job's start to the last job's end as the jobs saw them
  (their tasks append `start end` to a file; queuectl's own started_at and
  finished_at), so neither start-up nor recording lag counts.
The spawn limit (N spawns in W plain processes, no queue) bounds both: no
queue runs these jobs faster. The header gives the server's durable-commit
latency, which bounds every queue that commits per job (procrastinate, ours).
The machine is shared and noisy: compare within one run, not across runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import secrets
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

from queuectl_tui import bench  # noqa: E402  (after the path fix, as bench_huey does)
from queuectl_tui.errors import StoreError  # noqa: E402
from queuectl_tui.store.scratch import masked, scratch_database  # noqa: E402

POLL = 0.02  # seconds between "all done?" queries: the wall figure's resolution
DEADLINE = 600.0

# What each side runs with: their defaults, one job at a time per worker process.
SETTINGS = {
    "procrastinate": "`procrastinate worker --concurrency 1` per process (its default); "
                     "LISTEN/NOTIFY on, polling fallback 5 s (default); the sync task "
                     "runs in a thread (asgiref), as procrastinate runs sync tasks",
    "pgqueuer": "uvloop.run(pgqueuer.run(factory)) per process: what `pgq run` does "
                "(the CLI itself fails with typer 0.29: 'str' object has no attribute "
                "'name'); defaults: batch_size 10, "
                "LISTEN/NOTIFY on, dequeue_timeout 30 s, status log flushed every 0.1 s; "
                "asyncpg driver (its README's); "
                "the spawn runs in a one-thread executor (pgqueuer entrypoints must be "
                "async; blocking work goes to a thread)",
    "queuectl": "`queuectl worker start --count W` (W processes under one supervisor), "
                "default config",
}

# One file appended by every task: "start end" per job (O_APPEND writes are atomic).
_TASK_LOG = '''
import os, subprocess, time
_fd = None

def spawn_true():
    global _fd
    if _fd is None:
        _fd = os.open(os.environ["BENCH_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    start = time.time()
    subprocess.run(["sh", "-c", "true"])
    os.write(_fd, f"{start} {time.time()}\\n".encode())
'''

PROCRASTINATE_TASKS = _TASK_LOG + '''
import asyncio, sys
from procrastinate import App, PsycopgConnector

app = App(connector=PsycopgConnector(conninfo=os.environ["BENCH_DSN"]))

@app.task(name="run_true")
def run_true():
    spawn_true()

async def _enqueue(n):
    async with app.open_async():
        await run_true.batch_defer_async(*({} for _ in range(n)))

if __name__ == "__main__":
    asyncio.run(_enqueue(int(sys.argv[1])))
'''

PGQUEUER_TASKS = _TASK_LOG + '''
import asyncio, sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
import asyncpg
from pgqueuer import AsyncpgDriver, PgQueuer
from pgqueuer.models import Job
from pgqueuer.queries import Queries

# One job at a time per process, unless --their-concurrency says otherwise.
_pool = ThreadPoolExecutor(max_workers=int(os.environ["BENCH_CONCURRENCY"]))

@asynccontextmanager
async def factory():
    conn = await asyncpg.connect(os.environ["BENCH_DSN"])
    pgq = PgQueuer(AsyncpgDriver(conn))

    @pgq.entrypoint("run_true")
    async def run_true(job: Job) -> None:
        await asyncio.get_running_loop().run_in_executor(_pool, spawn_true)

    yield pgq
    await conn.close()

async def _enqueue(n):
    conn = await asyncpg.connect(os.environ["BENCH_DSN"])
    await Queries(AsyncpgDriver(conn)).enqueue(["run_true"] * n, [None] * n, [0] * n)
    await conn.close()

if __name__ == "__main__":
    if sys.argv[1] == "enqueue":
        asyncio.run(_enqueue(int(sys.argv[2])))
    else:  # what `pgq run tasks:factory` does (its event loop: uvloop)
        import pgqueuer
        import uvloop
        uvloop.run(pgqueuer.run("tasks:factory"))
'''


class BenchError(Exception):
    """A one-line reason to stop (bad server, failed install, a queue that never finished)."""


@dataclass
class Result:
    name: str
    version: str
    jobs: int
    wall_s: float
    span_s: float
    startup_s: float  # launch -> first job start: the rest of wall is span and recording

    @property
    def wall_rate(self) -> float:
        return self.jobs / self.wall_s

    @property
    def span_rate(self) -> float:
        return self.jobs / self.span_s


@dataclass
class Library:
    """How one competitor is installed, given its schema, fed and run."""

    name: str
    packages: list[str]
    tasks: str
    schema: Callable[[str, str], list[str]]  # (python, dsn) -> command
    enqueue: Callable[[str, int], list[str]]  # (python, n) -> command
    worker: Callable[[str, int], list[str]]  # (python, jobs at once) -> command
    remaining_sql: str  # jobs not yet recorded as done
    python: str = ""
    version: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def _procrastinate() -> Library:
    return Library(
        name="procrastinate",
        packages=["procrastinate", "psycopg[binary]"],
        tasks=PROCRASTINATE_TASKS,
        schema=lambda py, dsn: [py, "-m", "procrastinate", "--app=tasks.app", "schema",
                                "--apply"],
        enqueue=lambda py, n: [py, "tasks.py", str(n)],
        worker=lambda py, n: [py, "-m", "procrastinate", "--app=tasks.app", "worker",
                              "--concurrency", str(n)],
        remaining_sql="SELECT count(*) FROM procrastinate_jobs WHERE status IN"
                      " ('todo', 'doing')",
    )


def _pgqueuer() -> Library:
    return Library(
        name="pgqueuer",
        # asyncpg: the driver of pgqueuer's README; its psycopg driver holds the
        # connection for up to 1 s while it waits for notifications (measured:
        # pauses of 1 s between batches).
        packages=["pgqueuer[asyncpg]"],
        tasks=PGQUEUER_TASKS,
        schema=lambda py, dsn: [os.path.join(os.path.dirname(py), "pgq"), "--pg-dsn", dsn,
                                "install"],
        enqueue=lambda py, n: [py, "tasks.py", "enqueue", str(n)],
        worker=lambda py, n: [py, "tasks.py", "run"],  # n: BENCH_CONCURRENCY threads
        # A done job leaves the table when its status log is flushed.
        remaining_sql="SELECT count(*) FROM pgqueuer",
    )


# --------------------------------------------------------------------------- server


def _psycopg():
    try:
        import psycopg
    except ImportError:
        raise BenchError("psycopg is not installed: pip install 'psycopg[binary]>=3.1' "
                         "(the queuectl-tui[postgres] extra)") from None
    return psycopg


def _connect(url: str):
    psycopg = _psycopg()
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BenchError(f"cannot connect to {masked(url)}: {first}") from None


@contextmanager
def fresh_database(server: str, label: str) -> Iterator[str]:
    """A new database on the server for one queue (`qctl_bench_<label>_<random>`),
    dropped WITH (FORCE) afterwards: queuectl's own bench helper (store.scratch)."""
    try:
        with scratch_database(server, f"bench_{label}") as url:
            yield url
    except StoreError as exc:
        raise BenchError(str(exc)) from None


# --------------------------------------------------------------------------- theirs


def install(library: Library, venvs: str) -> None:
    """A virtualenv with the library (reused when --venv-dir already holds one)."""
    venv = os.path.join(venvs, library.name)
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    done = subprocess.run([python, "-m", "pip", "install", "-q", *library.packages],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchError(f"pip install {' '.join(library.packages)} failed: "
                         f"{(done.stderr.strip().splitlines() or ['?'])[-1]}")
    library.python = python
    library.version = subprocess.run(
        [python, "-c", f"import importlib.metadata as m; print(m.version('{library.name}'))"],
        capture_output=True, text=True, check=True).stdout.strip()


def workfolder(library: Library, folder: str) -> tuple[str, str]:
    """A folder of its own holding the library's tasks.py; and its task log's path."""
    work = os.path.join(folder, f"{library.name}-{secrets.token_hex(3)}")
    os.makedirs(work)
    with open(os.path.join(work, "tasks.py"), "w") as handle:
        handle.write(library.tasks)
    return work, os.path.join(work, "spans.log")


def task_env(work: str, log: str, dsn: str, concurrency: int) -> dict[str, str]:
    """What tasks.py reads: the database, the task log, jobs at once per process."""
    return dict(os.environ, BENCH_DSN=dsn, BENCH_LOG=log, PYTHONPATH=work,
                PGDSN=dsn, BENCH_CONCURRENCY=str(concurrency))


def run_step(library: Library, command: list[str], what: str, work: str,
             env: dict[str, str]) -> None:
    """One set-up command (schema, enqueue); its last stderr line on failure."""
    done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["?"])[-1]
        raise BenchError(f"{library.name}: {what} failed: {tail}")


def run_theirs(library: Library, server: str, jobs: int, workers: int, folder: str,
               concurrency: int = 1) -> Result:
    """Enqueue N jobs, launch W workers, time until the library's table says all done."""
    work, log = workfolder(library, folder)
    with fresh_database(server, library.name) as dsn:
        env = task_env(work, log, dsn, concurrency)

        def step(command: list[str], what: str) -> None:
            run_step(library, command, what, work, env)

        step(library.schema(library.python, dsn), "schema")
        step(library.enqueue(library.python, jobs), "enqueue")
        with _connect(dsn) as conn, ExitStack() as logs:
            def remaining() -> int:
                return conn.execute(library.remaining_sql).fetchone()[0]

            errs = [logs.enter_context(open(os.path.join(work, f"worker{n}.log"), "w"))
                    for n in range(workers)]
            command = library.worker(library.python, concurrency)
            start, launched = time.monotonic(), time.time()
            procs = [subprocess.Popen(command, cwd=work, env=env, stdout=subprocess.DEVNULL,
                                      stderr=err) for err in errs]
            try:
                wall = _time_until(lambda: remaining() == 0, start, procs, library.name)
            finally:
                _stop(procs)
    first, last = _span(log, jobs, library.name)
    return Result(library.name, library.version, jobs, wall, last - first, first - launched)


# --------------------------------------------------------------------------- ours


def run_ours(db: str, jobs: int, workers: int, folder: str) -> Result:
    """queuectl through its CLI, as a user runs it: bulk enqueue, then `worker start`.

    db is a SQLite path or a postgresql:// URL of an empty database; which
    backend runs is queuectl's business, only the polling query differs.
    """
    command = _queuectl()
    payload = "\n".join(json.dumps({"command": "true"}) for _ in range(jobs))
    # cwd: the temporary folder, so that a queuectl which took a URL for a path
    # would leave its stray files there (removed with it), not in the user's folder.
    done = subprocess.run([*command, "--db", db, "enqueue", "-"], input=payload, text=True,
                          capture_output=True, cwd=folder)
    if done.returncode != 0:
        raise BenchError(f"queuectl enqueue failed: {done.stderr.strip()}")
    # The same question as for theirs: how many jobs are not yet recorded done.
    remaining_sql = ("SELECT count(*) FROM job WHERE state IN"
                     " ('pending', 'processing', 'failed')")
    span_sql = "SELECT min(started_at), max(finished_at), count(*) FROM job"
    log_path = os.path.join(folder, f"queuectl-{secrets.token_hex(3)}.log")
    with _ours_connection(db) as conn, open(log_path, "w") as log:
        try:
            waiting = conn.execute(remaining_sql).fetchone()[0]
        except Exception as exc:  # sqlite3 or psycopg: no job table where we look
            raise BenchError(f"queuectl wrote no job table in {masked(db)} "
                             f"({type(exc).__name__})") from None
        if waiting != jobs:
            raise BenchError(f"queuectl: {waiting} jobs waiting in {masked(db)} after "
                             f"enqueueing {jobs}")
        start, launched = time.monotonic(), time.time()
        procs = [subprocess.Popen([*command, "--db", db, "worker", "start", "--count",
                                   str(workers)], stdout=log, stderr=log, cwd=folder)]
        try:
            wall = _time_until(lambda: conn.execute(remaining_sql).fetchone()[0] == 0,
                               start, procs, "queuectl")
        finally:
            _stop(procs)
        first, last, count = conn.execute(span_sql + " WHERE state = 'completed'").fetchone()
    if count != jobs:
        raise BenchError(f"queuectl: {count} of {jobs} jobs completed")
    first, last = _seconds(first), _seconds(last)
    return Result("queuectl", _our_version(), jobs, wall, last - first, first - launched)


@contextmanager
def _ours_connection(db: str):
    if db.startswith(("postgres://", "postgresql://")):
        with _connect(db) as conn:
            yield conn
    else:
        conn = sqlite3.connect(db, timeout=30)
        try:
            yield conn
        finally:
            conn.close()


def _seconds(value) -> float:
    """started_at / finished_at as epoch seconds, whether stored as floats or timestamps."""
    return value.timestamp() if hasattr(value, "timestamp") else float(value)


def _queuectl() -> list[str]:
    script = shutil.which("queuectl", path=os.path.dirname(sys.executable)) or \
        shutil.which("queuectl")
    return [script] if script else [sys.executable, "-m", "queuectl_tui"]


def _our_version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("queuectl-tui")
    except PackageNotFoundError:
        return "?"


def pg_backend_available() -> bool:
    """Whether this queuectl has its PostgreSQL store (it lands with issue 11)."""
    return importlib.util.find_spec("queuectl_tui.store.postgres") is not None


# --------------------------------------------------------------------------- timing


def _time_until(done: Callable[[], bool], start: float, procs: list[subprocess.Popen],
                name: str) -> float:
    while not done():
        if time.monotonic() - start > DEADLINE:
            raise BenchError(f"{name}: not done after {DEADLINE:.0f} s")
        dead = [p for p in procs if p.poll() is not None]
        if dead:
            raise BenchError(f"{name}: a worker exited early (code {dead[0].returncode})")
        time.sleep(POLL)
    return time.monotonic() - start


def _stop(procs: list[subprocess.Popen]) -> None:
    """SIGINT (each library's graceful stop), then SIGKILL after 15 s."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _span(log: str, jobs: int, name: str) -> tuple[float, float]:
    """The first job's start and the last job's end (epoch seconds) from the task log."""
    with open(log) as handle:
        spans = [tuple(map(float, line.split())) for line in handle if line.strip()]
    if len(spans) != jobs:
        raise BenchError(f"{name}: {len(spans)} job runs logged for {jobs} jobs")
    return min(start for start, _ in spans), max(end for _, end in spans)


# --------------------------------------------------------------------------- report


def commit_latency(server: str, commits: int = 200) -> float:
    """Seconds per durable one-row commit on the server (synchronous_commit as the
    server has it): what a queue that commits per job pays per commit. It
    explains most of the figures: 2 ms here (a VM disk), ~0.1 ms on good SSDs."""
    # A real table (temporary ones skip the WAL) in a database of its own.
    with fresh_database(server, "commit") as url, _connect(url) as conn:
        conn.execute("CREATE TABLE bench_commit (x int)")
        start = time.perf_counter()
        for n in range(commits):
            conn.execute("INSERT INTO bench_commit VALUES (%s)", (n,))
        return (time.perf_counter() - start) / commits


def report(results: dict[str, Result], limit: float, args, server_version: str,
           commit_s: float) -> dict:
    ours = [k for k in results if k.startswith("queuectl")]
    theirs = [k for k in results if not k.startswith("queuectl")]
    return {
        "jobs": args.jobs, "workers": args.workers, "rounds": args.rounds,
        "their_concurrency": args.their_concurrency,
        "cores": os.cpu_count(), "server": masked(args.pg), "server_version": server_version,
        "server_commit_ms": 1000 * commit_s,
        "spawn_limit_jobs_per_s": limit,
        "results": {k: {"version": r.version, "wall_s": r.wall_s, "span_s": r.span_s,
                        "startup_s": r.startup_s,
                        "wall_jobs_per_s": r.wall_rate, "span_jobs_per_s": r.span_rate,
                        "span_of_limit": r.span_rate / limit,
                        "settings": SETTINGS[r.name]}
                    for k, r in results.items()},
        "ratios": {f"{o}/{t}": {"wall": results[o].wall_rate / results[t].wall_rate,
                                "span": results[o].span_rate / results[t].span_rate}
                   for o in ours for t in theirs},
    }


def table(summary: dict) -> str:
    s = summary
    lines = [f"{s['jobs']:,} `sh -c true` jobs, {s['workers']} workers, {s['cores']} cores, "
             f"{s['rounds']} round(s), median; server {s['server']} ({s['server_version']}, "
             f"{s['server_commit_ms']:.2f} ms per durable commit)",
             f"{'':32}{'wall jobs/s':>12}{'span jobs/s':>13}{'span of limit':>15}"
             f"{'start-up s':>12}",
             f"{'spawn limit (no queue)':32}{'':>12}{s['spawn_limit_jobs_per_s']:>13,.0f}"]
    for key, r in s["results"].items():
        label = f"{key} {r['version']}"
        lines.append(f"{label:32}{r['wall_jobs_per_s']:>12,.0f}{r['span_jobs_per_s']:>13,.0f}"
                     f"{r['span_of_limit']:>15.2f}{r['startup_s']:>12.2f}")
    for key, ratio in s["ratios"].items():
        lines.append(f"{key:32}{ratio['wall']:>11.2f}x{ratio['span']:>12.2f}x")
    lines.append("wall: workers launched -> all recorded done; span: first job start -> "
                 "last job end; start-up: launched -> first job start")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="server to create the throwaway databases on (a URL)")
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1,
                        help="repeat all measurements in turns; medians are reported")
    parser.add_argument("--ours", choices=["auto", "sqlite", "pg", "both"], default="auto",
                        help="queuectl's backend(s): auto = both when this queuectl has "
                             "its PostgreSQL store, else SQLite")
    parser.add_argument("--only", choices=["procrastinate", "pgqueuer"], action="append",
                        help="run only this competitor (repeatable)")
    parser.add_argument("--their-concurrency", type=int, default=1,
                        help="jobs at once per procrastinate/pgqueuer process (default 1, "
                             "as a queuectl worker); more is their async model, not ours")
    parser.add_argument("--venv-dir", help="keep the virtualenvs here for the next run")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    say = (lambda text: None) if args.json else (lambda text: print(text, file=sys.stderr,
                                                                    flush=True))
    # SIGTERM unwinds like Ctrl+C: workers stopped, databases dropped, folder removed.
    signal.signal(signal.SIGTERM, _terminate)
    try:
        summary = run(args, say)
    except BenchError as exc:
        print(f"bench_pg_queues: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    print(json.dumps(summary, indent=2) if args.json else table(summary))


def _terminate(signum: int, frame) -> None:
    raise KeyboardInterrupt


def run(args, say: Callable[[str], None]) -> dict:
    if not args.pg.startswith(("postgres://", "postgresql://")):
        raise BenchError(f"--pg must be a postgresql:// URL, not {args.pg!r}")
    if args.jobs < 1 or args.workers < 1 or args.rounds < 1:
        raise BenchError("--jobs, --workers and --rounds must be at least 1")
    with _connect(args.pg) as conn:
        shown = conn.execute("SHOW server_version").fetchone()[0]
        server_version = f"PostgreSQL {shown.split()[0]}"
    commit_s = commit_latency(args.pg)
    ours = {"auto": ["sqlite", "pg"] if pg_backend_available() else ["sqlite"],
            "both": ["sqlite", "pg"]}.get(args.ours, [args.ours])
    if "pg" in ours and not pg_backend_available():
        raise BenchError("this queuectl has no PostgreSQL store yet (--ours sqlite)")
    libraries = [lib for lib in (_procrastinate(), _pgqueuer())
                 if not args.only or lib.name in args.only]
    folder = tempfile.mkdtemp(prefix="queuectl-vs-pg-queues-")
    venvs = args.venv_dir or os.path.join(folder, "venvs")
    try:
        for library in libraries:
            say(f"installing {library.name} into {venvs}/{library.name} …")
            install(library, venvs)
        samples: dict[str, list[Result]] = {}
        limits = []
        for round_ in range(args.rounds):
            say(f"round {round_ + 1}/{args.rounds}: spawn limit …")
            limits.append(bench.spawn_limit(args.jobs, args.workers))
            for library in libraries:
                say(f"round {round_ + 1}/{args.rounds}: {library.name} …")
                samples.setdefault(library.name, []).append(
                    run_theirs(library, args.pg, args.jobs, args.workers, folder,
                               args.their_concurrency))
            for backend in ours:
                say(f"round {round_ + 1}/{args.rounds}: queuectl ({backend}) …")
                samples.setdefault(f"queuectl_{backend}", []).append(
                    _run_ours_on(backend, args, folder, round_))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    results = {key: _median(runs) for key, runs in samples.items()}
    return report(results, statistics.median(limits), args, server_version, commit_s)


def _run_ours_on(backend: str, args, folder: str, round_: int) -> Result:
    if backend == "sqlite":
        return run_ours(os.path.join(folder, f"queuectl-{round_}.db"), args.jobs,
                        args.workers, folder)
    with fresh_database(args.pg, "queuectl") as url:
        return run_ours(url, args.jobs, args.workers, folder)


def _median(runs: list[Result]) -> Result:
    first = runs[0]
    return Result(first.name, first.version, first.jobs,
                  statistics.median(r.wall_s for r in runs),
                  statistics.median(r.span_s for r in runs),
                  statistics.median(r.startup_s for r in runs))


if __name__ == "__main__":
    main()
