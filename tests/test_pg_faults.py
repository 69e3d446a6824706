"""Faults on PostgreSQL: the server restarted under load, connections killed,
answers lost after the server did the work, the server down for idle workers and
for the CLI.

The shared test server must never be restarted (other test modules, other
helpers' runs use it), so this module runs its own throwaway PostgreSQL cluster:
``initdb`` into a temporary folder, started on a free port, restarted and stopped
at will, and removed at the end whatever happens (the module fixture's
finalizer). initdb + start take about 0.8 s, paid once for the module. Without
the server binaries (``/usr/lib/postgresql/*/bin/initdb``) the module is skipped
with that reason, which CI's QUEUECTL_STRICT_SKIPS turns into a failure.

What a user observes is asserted: every job ends completed, none is lost, none
ran twice at once (each job's shell takes a per-job ``flock -n``; a refusal is
recorded as a violation), every run of a job is accounted for by an attempt, the
same worker processes finish the queue, and their log says that the database
went away and came back (a line or two per outage, not one per retry), without
the password of the URL they were given.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import FAST_CONFIG, wait_for

PASSWORD = "F4ult-s3cret-pw"
# The cluster runs as this user (initdb refuses root).
PG_USER = "postgres"
# Fast enough that a job whose worker really is gone comes back within seconds,
# long enough that a restart (~0.2 s of outage) never costs a running job its lease.
LEASE_SECONDS = "2"
CONFIG = {**FAST_CONFIG, "lease_seconds": LEASE_SECONDS, "max_retries": "5"}

# What the worker log says when the database is gone, and when it is back.
OUTAGE = re.compile(r"cannot connect to PostgreSQL|database error|cannot record the result yet")
BACK = re.compile(r"database (?:reachable|available) again")


def _initdb() -> str | None:
    """An installed initdb: 15 if there (what the project machines run), else any."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: (Path(p).parts[-3] != "15", p))
    return found[0] if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    """A private PostgreSQL cluster: start, stop, restart, and fresh databases on it."""

    def __init__(self, initdb: str):
        self.bin = Path(initdb).parent
        self.root = Path(tempfile.mkdtemp(prefix="queuectl-pgfaults-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            account = pwd.getpwnam(PG_USER)
            os.chown(self.root, account.pw_uid, account.pw_gid)
            self.as_user = ["runuser", "-u", PG_USER, "--"]
        self.started = False

    def _run(self, tool: str, *args: str) -> None:
        result = subprocess.run([*self.as_user, str(self.bin / tool), *args],
                                capture_output=True, text=True, timeout=60, cwd=self.root)
        if result.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)}: {result.stdout}{result.stderr}")

    def _options(self) -> str:
        # fsync off: a crash here is the server's, not the machine's; the page cache
        # keeps what was written, so an immediate stop still recovers everything.
        return (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
                " -c fsync=off -c full_page_writes=off")

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", PG_USER,
                  "--no-sync", "-E", "UTF8", "--locale=C")
        for attempt in range(3):  # the free port may be taken before the server binds it
            try:
                self.start()
                return
            except RuntimeError:
                if attempt == 2:
                    raise
                self.port = _free_port()

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-o", self._options(),
                  "-l", str(self.root / "server.log"), "-w", "-t", "30", "start")
        self.started = True

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")
        self.started = False

    def restart(self, mode: str) -> None:
        """``fast``: sessions are ended and the server shuts down cleanly; ``immediate``:
        it dies at once and recovers from its WAL when started again."""
        if mode == "fast":
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-o", self._options(),
                      "-l", str(self.root / "server.log"), "-w", "-t", "30", "restart")
        else:
            self.stop(mode)
            self.start()

    def url(self, dbname: str, password: bool = True) -> str:
        auth = f"{PG_USER}:{PASSWORD}" if password else PG_USER
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{dbname}"

    def sql(self, dbname: str, query: str, params: tuple = ()) -> list[tuple] | None:
        """Run one statement (autocommit) on ``dbname``; None if the server is not there."""
        import psycopg

        try:
            with psycopg.connect(self.url(dbname, password=False), autocommit=True,
                                 connect_timeout=2) as conn:
                cursor = conn.execute(query, params)
                return cursor.fetchall() if cursor.description else []
        except psycopg.OperationalError:
            return None

    def create_database(self, name: str) -> str:
        self.sql("postgres", f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        if self.started:
            try:
                self.stop("immediate")
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster():
    initdb = _initdb()
    if initdb is None:
        pytest.skip("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb): "
                    "apt-get install postgresql")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed: pip install 'queuectl-tui[postgres]'")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(PG_USER)
        except KeyError:
            pytest.skip(f"running as root and there is no {PG_USER!r} user to run initdb as")
    server = Cluster(initdb)
    try:
        server.init()
        yield server
    finally:
        server.destroy()


# --- the faces under test ---------------------------------------------------------


class Queue:
    """One database on the cluster, the real `queuectl` on it, the jobs' record."""

    def __init__(self, cluster: Cluster, tmp: Path, name: str):
        self.cluster = cluster
        self.name = name
        self.url = cluster.create_database(name)
        self.tmp = tmp
        self.env = {**os.environ, "QUEUECTL_DB": self.url, "XDG_DATA_HOME": str(tmp / "home")}
        self.env.pop("QUEUECTL_DEBUG", None)
        self.runs = tmp / "runs"
        self.locks = tmp / "locks"
        self.violations = tmp / "violations"
        for folder in (self.runs, self.locks, self.violations):
            folder.mkdir()
        self.script = tmp / "job.sh"
        # The run is recorded only under the job's lock: a second run of the same job
        # while the first holds it (twice at once) leaves a violation instead.
        self.script.write_text(
            "exec 9>>\"$1/locks/$QUEUECTL_JOB_ID\"\n"
            "if ! flock -n 9; then\n"
            "  echo \"$QUEUECTL_ATTEMPT $$\" >> \"$1/violations/$QUEUECTL_JOB_ID\"; exit 3\n"
            "fi\n"
            "echo \"$QUEUECTL_ATTEMPT $$\" >> \"$1/runs/$QUEUECTL_JOB_ID\"\n"
            "sleep \"$2\"\n"
        )
        self.configure(CONFIG)

    def configure(self, settings: dict[str, str]) -> None:
        """Set config keys in this process (a `config set` process each costs ~0.3 s)."""
        from queuectl_tui.queue import JobQueue

        queue = JobQueue.open(self.url)
        try:
            for key, value in settings.items():
                queue.set_config(key, value)
        finally:
            queue.close()

    def __call__(self, *args: str, input: str | None = None,
                 check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "queuectl_tui", *args], input=input,
                                capture_output=True, text=True, env=self.env, timeout=60)
        assert PASSWORD not in result.stdout + result.stderr, args
        assert "Traceback" not in result.stderr, result.stderr
        if check:
            assert result.returncode == 0, (args, result.stderr)
        return result

    def enqueue(self, count: int, seconds: float, prefix: str = "j") -> list[str]:
        ids = [f"{prefix}{i:04d}" for i in range(count)]
        lines = [json.dumps({"id": job_id, "command": f"sh {self.script} {self.tmp} {seconds}"})
                 for job_id in ids]
        self("enqueue", "-", input="\n".join(lines) + "\n")
        return ids

    def jobs(self) -> dict[str, dict]:
        return {job["id"]: job for job in json.loads(self("list", "--json").stdout)}

    def count(self, state: str) -> int:
        rows = self.cluster.sql(self.name, "SELECT count(*) FROM job WHERE state = %s",
                                (state,))
        return rows[0][0] if rows else 0

    def server_clock(self) -> float:
        return self.cluster.sql(
            self.name, "SELECT extract(epoch FROM clock_timestamp())::float8")[0][0]

    def first_finish_after(self, stamp: float) -> float | None:
        rows = self.cluster.sql(self.name, "SELECT min(finished_at) FROM job"
                                " WHERE finished_at > %s", (stamp,))
        return rows[0][0] if rows else None

    def runs_of(self, job_id: str) -> list[str]:
        path = self.runs / job_id
        return path.read_text().splitlines() if path.exists() else []

    def violated(self) -> list[str]:
        return sorted(p.name for p in self.violations.iterdir())


class Workers:
    """`queuectl worker start --count N` in the foreground, its log in a file."""

    def __init__(self, queue: Queue, count: int, url: str | None = None):
        self.log_path = queue.tmp / "workers.log"
        env = {**queue.env, "QUEUECTL_DB": url or queue.url}
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "queuectl_tui", "worker", "start", "--count",
                 str(count)], env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True)
        started = wait_for(lambda: re.search(r"\(pids ([\d, ]+)\)", self.text())
                           or self.proc.poll() is not None, message="the workers to start")
        assert self.proc.poll() is None, self.text()
        self.pids = [int(p) for p in started.group(1).split(", ")]
        wait_for(lambda: all(f"worker {pid}: started" in self.text() for pid in self.pids),
                 message="every worker to connect")

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def notable(self) -> str:
        """The log without the lines of jobs that went as usual."""
        return "\n".join(line for line in self.text().splitlines()
                         if not re.search(r"started \(attempt|completed in", line))

    def lines_of(self, pid: int) -> list[str]:
        return [line for line in self.text().splitlines() if f" worker {pid}: " in line]

    def alive(self) -> list[int]:
        return [pid for pid in self.pids if _alive(pid)]

    def stop(self) -> None:
        """Ask the supervisor to stop (jobs finish); then kill whatever is left."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        for pid in self.alive():
            os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            ours = b"queuectl_tui.worker" in handle.read()
    except (OSError, IndexError):
        return False
    return fields[0] != "Z" and ours


@pytest.fixture
def pg_queue(cluster: Cluster, tmp_path: Path, request) -> Queue:
    if not cluster.started:  # a failed test left it down
        cluster.start()
    name = "faults_" + "".join(c for c in request.node.name if c.isalnum())[:30].lower()
    return Queue(cluster, tmp_path, name)


@pytest.fixture
def start_workers(pg_queue: Queue):
    started: list[Workers] = []

    def start(count: int, url: str | None = None) -> Workers:
        workers = Workers(pg_queue, count, url)
        started.append(workers)
        return workers

    yield start
    if not pg_queue.cluster.started:  # a test failed while it was down: let them finish
        pg_queue.cluster.start()
    for workers in started:
        workers.stop()


# --- what every fault test checks at the end -----------------------------------------


def check_outcome(queue: Queue, workers: Workers, ids: list[str]) -> dict[str, int]:
    """All jobs completed, none lost, none twice at once, every run an attempt, the
    same workers alive. Returns the counts the report prints."""
    jobs = queue.jobs()
    assert sorted(jobs) == sorted(ids), "a job was lost (or appeared)"
    states = {job["state"] for job in jobs.values()}
    assert states == {"completed"}, {i: j["state"] for i, j in jobs.items()
                                    if j["state"] != "completed"}
    assert queue.violated() == [], "a job ran twice at once"
    rerun = {}
    for job_id, job in jobs.items():
        runs = queue.runs_of(job_id)
        # A lost claim is given back uncharged and never ran; a run taken back after
        # its lease is an attempt of its own: runs and attempts always agree.
        assert len(runs) == job["attempts"], (job_id, runs, job)
        if len(runs) > 1:
            rerun[job_id] = len(runs)
    for job_id in rerun:
        history = json.loads(queue("show", job_id, "--json").stdout)
        print(f"re-run {job_id}: {history}")
    assert workers.alive() == workers.pids, "a worker died"
    assert PASSWORD not in workers.text()
    listed = sorted(w["pid"] for w in json.loads(queue("worker", "list", "--json").stdout))
    assert listed == sorted(workers.pids), "the workers were replaced"
    return {"jobs": len(ids), "re-run": len(rerun)}


def wait_done(queue: Queue, count: int, timeout: float) -> None:
    wait_for(lambda: queue.count("completed") >= count, timeout=timeout, interval=0.1,
             message=f"{count} jobs completed")


def restart_and_time(queue: Queue, mode: str) -> dict[str, float]:
    """Restart the server; returns how many jobs were running then, how long it was
    away (s), and the time from its return to the first job recorded after it (s)."""
    running = queue.count("processing")
    began = time.monotonic()
    queue.cluster.restart(mode)
    away = time.monotonic() - began
    back = queue.server_clock()
    first = wait_for(lambda: queue.first_finish_after(back), timeout=15, interval=0.02,
                     message="a job recorded after the restart")
    return {"running": running, "away": round(away, 3), "first_record": round(first - back, 3)}


# --- the tests --------------------------------------------------------------------


def test_server_restarted_under_load(pg_queue: Queue, start_workers):
    """300 jobs, 3 workers, the server restarted twice mid-run (fast, then immediate).

    The jobs running at each restart are the workers' children, which the restart
    does not touch: each finishes, its record fails, and the worker records it
    on the retry after the server is back (well inside the lease, since nobody can
    take a lease back while the server is down). So every job runs exactly once;
    a job run twice would have to show the taken-back attempt in its history."""
    ids = pg_queue.enqueue(300, 0.02)
    workers = start_workers(3)
    figures = {}
    wait_for(lambda: pg_queue.count("completed") >= 60, timeout=30, message="60 jobs done")
    figures["fast"] = restart_and_time(pg_queue, "fast")
    wait_for(lambda: pg_queue.count("completed") >= 160, timeout=30, message="160 jobs done")
    figures["immediate"] = restart_and_time(pg_queue, "immediate")
    wait_done(pg_queue, len(ids), timeout=60)
    counts = check_outcome(pg_queue, workers, ids)
    print(f"\nrestarts: {figures}; {counts}")
    print(workers.notable())
    for pid in workers.pids:
        lines = workers.lines_of(pid)
        outage = [line for line in lines if OUTAGE.search(line)]
        back = [line for line in lines if BACK.search(line)]
        assert len(back) == 2, f"worker {pid} did not log both returns: {lines[-20:]}"
        # Per outage: each different reason once (the server shutting down, then
        # refusing, then starting up), never a line per retry.
        assert 2 <= len(outage) <= 8, f"worker {pid}: {outage}"


def test_server_down_longer_than_the_lease(pg_queue: Queue, start_workers):
    """Three 6 s jobs running, the server down for 4.5 s (the lease is 4 s). A worker
    cannot tell the server being down for everyone from its own host being cut
    off, while the other hosts may take its job back after the lease: so it fences
    itself and stops the job a check before its lease runs out (DECISIONS, section
    7). When the server is back the stopped runs are taken back as failed attempts
    and run again: nothing lost, never two runs at once, every run an attempt, the
    same workers, and the log says why each job was stopped."""
    pg_queue.configure({"lease_seconds": "4"})
    ids = pg_queue.enqueue(3, 6)
    workers = start_workers(3)
    wait_for(lambda: all(pg_queue.runs_of(job_id) for job_id in ids),
             message="the three jobs to run")
    pg_queue.cluster.stop("immediate")
    time.sleep(4.5)  # the outage itself: longer than the lease
    pg_queue.cluster.start()
    wait_done(pg_queue, len(ids), timeout=20)
    counts = check_outcome(pg_queue, workers, ids)
    print(f"\noutage longer than the lease: {counts}")
    print(workers.notable())
    assert counts["re-run"] == len(ids)
    assert workers.text().count("its lease could not be renewed in time") == len(ids)


class Terminator(threading.Thread):
    """Ends every connection of the workers to ``dbname`` (their LISTEN ones too)
    every ``every`` seconds until stopped, as an operator's
    ``SELECT pg_terminate_backend(...)`` would; remembers what it ended."""

    def __init__(self, cluster: Cluster, dbname: str, every: float):
        super().__init__(daemon=True)
        self.cluster = cluster
        self.dbname = dbname
        self.every = every
        self.done = threading.Event()
        self.ended: list[str] = []  # application_name of each connection ended
        self.rounds = 0  # rounds that ended something

    def run(self) -> None:
        while not self.done.wait(self.every):
            rows = self.cluster.sql(
                "postgres", "SELECT application_name, pg_terminate_backend(pid)"
                " FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (self.dbname,)) or []
            ended = [name for name, ended in rows if ended]
            self.ended.extend(ended)
            self.rounds += bool(ended)

    def stop(self) -> None:
        self.done.set()
        self.join(10)


def test_connections_killed_while_jobs_run(pg_queue: Queue, start_workers):
    """150 jobs, 3 workers; every connection to the database (claims, records,
    heartbeats and the LISTEN ones) is killed every 0.3 s while they run."""
    ids = pg_queue.enqueue(150, 0.02)
    workers = start_workers(3)
    killer = Terminator(pg_queue.cluster, pg_queue.name, every=0.3)
    killer.start()
    try:
        wait_done(pg_queue, len(ids), timeout=60)
    finally:
        killer.stop()
    counts = check_outcome(pg_queue, workers, ids)
    listen = sum(1 for name in killer.ended if name == "queuectl listen")
    print(f"\nconnections ended: {len(killer.ended)} ({listen} LISTEN) in {killer.rounds}"
          f" rounds; {counts}")
    print(workers.notable())
    assert listen >= 3, killer.ended  # the LISTEN connections were among them
    for pid in workers.pids:
        lines = workers.lines_of(pid)
        outage = [line for line in lines if OUTAGE.search(line)]
        back = [line for line in lines if BACK.search(line)]
        assert outage and back, f"worker {pid} did not log the outages: {lines[-20:]}"
        # At most the failed statement and its retry's reason, per killing round.
        assert len(outage) <= 2 * killer.rounds, f"worker {pid} logged too much: {outage}"


def test_idle_workers_pick_up_work_after_the_server_returns(pg_queue: Queue, start_workers):
    """The server stops while the workers are idle and is back 2 s later: a job
    enqueued then starts within about a second, and later ones within
    milliseconds (the LISTEN connection is back; polling here is every second)."""
    # Polling only with the housekeeping, once a second (min(1 s, lease / 3)).
    pg_queue.configure({"poll_interval": "30", "lease_seconds": "30"})
    workers = start_workers(2)  # started, so idle: the queue is empty
    pg_queue.cluster.stop("immediate")
    time.sleep(2)  # the outage itself
    pg_queue.cluster.start()
    pg_queue.enqueue(1, 0, prefix="first")
    pickups = [_pickup(pg_queue, "first0000", timeout=5)]
    for n in range(3):
        wait_for(lambda: pg_queue.count("processing") == 0, message="the workers to be idle")
        pg_queue.enqueue(1, 0, prefix=f"next{n}-")
        pickups.append(_pickup(pg_queue, f"next{n}-0000", timeout=5))
    print(f"\npickup after the server returned: {[round(p * 1000) for p in pickups]} ms")
    print(workers.text())
    assert pickups[0] < 1.5, pickups
    assert max(pickups[1:]) < 0.25, pickups  # woken by NOTIFY, not by the 1 s poll
    assert workers.alive() == workers.pids


def _pickup(queue: Queue, job_id: str, timeout: float) -> float:
    """Seconds from a job's enqueue to its start, both on the server's clock."""
    rows = wait_for(lambda: queue.cluster.sql(
        queue.name, "SELECT started_at - created_at FROM job WHERE id = %s"
        " AND started_at IS NOT NULL", (job_id,)), timeout=timeout, interval=0.02,
        message=f"job {job_id} to start")
    return rows[0][0]


@pytest.mark.parametrize("args", [("status",), ("enqueue", "-c", "true"), ("list",)])
def test_cli_with_the_server_down(args, cluster: Cluster, tmp_path: Path):
    """Nothing listens on the port: one line on stderr, exit 1, no traceback, no password."""
    url = f"postgresql://{PG_USER}:{PASSWORD}@127.0.0.1:{_free_port()}/queue"
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path)}
    env.pop("QUEUECTL_DEBUG", None)
    env.pop("QUEUECTL_DB", None)
    result = subprocess.run([sys.executable, "-m", "queuectl_tui", "--db", url, *args],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: cannot connect to PostgreSQL at 127.0.0.1:"), lines
    assert PASSWORD not in result.stderr and "Traceback" not in result.stderr


class CuttingProxy(threading.Thread):
    """A TCP relay in front of the cluster that loses answers.

    Once armed, each message from the server is, with the given probability,
    dropped and both sides of its connection closed at once: the server did the
    work (an autocommit claim, a COMMIT of a record-and-claim-next) and the
    worker never hears of it. pg_terminate_backend cannot make this happen at
    will (a terminated backend aborts what it was doing); this is the case the
    backend's "claims whose answer was lost" handling exists for."""

    # An answer to a statement that committed: a CommandComplete of COMMIT, of an
    # autocommit UPDATE (a claim) or of the one-statement finish-and-claim-next
    # (WITH ... SELECT: one row), with ReadyForQuery "idle" after it.
    COMMITTED = re.compile(rb"C\0\0\0.(?:COMMIT|UPDATE \d+|SELECT 1)\0Z\0\0\0\x05I",
                           re.S)

    def __init__(self, upstream_port: int, probability: float, commits: float,
                 seed: int = 11):
        super().__init__(daemon=True)
        self.upstream = ("127.0.0.1", upstream_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.probability = probability
        self.commits = commits  # the probability for an answer that says "committed"
        self.unseen_commits = 0
        self.random = random.Random(seed)
        self.armed = threading.Event()
        self.done = threading.Event()
        self.cuts = 0
        self.peer: dict[socket.socket, socket.socket] = {}
        self.from_server: set[socket.socket] = set()

    def _close(self, sock: socket.socket) -> None:
        other = self.peer.pop(sock, None)
        for side in (sock, other):
            if side is not None:
                self.peer.pop(side, None)
                self.from_server.discard(side)
                side.close()

    def run(self) -> None:
        while not self.done.is_set():
            readable, _, _ = select.select([self.listener, *self.peer], [], [], 0.05)
            for sock in readable:
                if sock is self.listener:
                    client, _ = sock.accept()
                    try:
                        server = socket.create_connection(self.upstream, timeout=5)
                    except OSError:
                        client.close()
                        continue
                    self.peer[client], self.peer[server] = server, client
                    self.from_server.add(server)
                    continue
                if sock not in self.peer:  # closed earlier in this round
                    continue
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    self._close(sock)
                elif sock in self.from_server and self.armed.is_set() and \
                        self.random.random() < (self.commits if self.COMMITTED.search(data)
                                                else self.probability):
                    self.cuts += 1
                    self.unseen_commits += bool(self.COMMITTED.search(data))
                    self._close(sock)
                else:
                    try:
                        self.peer[sock].sendall(data)
                    except OSError:
                        self._close(sock)
        for sock in list(self.peer):
            self._close(sock)
        self.listener.close()

    def stop(self) -> None:
        self.done.set()
        self.join(10)


@pytest.fixture
def proxy(pg_queue: Queue):
    relay = CuttingProxy(pg_queue.cluster.port, probability=0.01, commits=0.1)
    relay.start()
    yield relay
    relay.stop()


def test_answers_lost_after_the_server_did_the_work(pg_queue: Queue, proxy: CuttingProxy,
                                                    start_workers):
    """120 jobs, 3 workers behind a relay that drops one in ten answers that say
    "committed" (a claim, a record-and-claim-next) and one in a hundred others
    (a LISTEN's notification, a BEGIN ...), each with its connection: every job
    still ends completed, once, by the same workers, and each worker counts
    what it recorded (a record whose answer was lost is no "not ours")."""
    ids = pg_queue.enqueue(120, 0.01)
    url = pg_queue.url.replace(f":{pg_queue.cluster.port}/", f":{proxy.port}/")
    workers = start_workers(3, url)
    proxy.armed.set()
    wait_done(pg_queue, len(ids), timeout=60)
    proxy.armed.clear()
    counts = check_outcome(pg_queue, workers, ids)
    workers.stop()
    print(f"\nanswers lost: {proxy.cuts}, of which committed: {proxy.unseen_commits}; {counts}")
    print(workers.notable())
    assert proxy.unseen_commits >= 3
    assert "no longer this worker's" not in workers.text()
    done = sum(int(n) for n in re.findall(r": stopped \((\d+) done", workers.text()))
    assert done == len(ids), "a worker miscounted a record whose answer was lost"
