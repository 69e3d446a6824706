"""Several "hosts" on one machine, for the multi-host tests and scripts/host_kill.py.

A host is one ``queuectl worker start`` process tree (supervisor, workers, and
the jobs they run) that calls itself by its own name: either through
``QUEUECTL_HOSTNAME`` (any user), or for real in its own UTS and PID namespaces
(``unshare --uts --pid --fork`` + ``hostname``, root only), where nothing tells it
it is not alone on its machine.

Every process of a host carries two markers in its environment (jobs inherit
their worker's environment): the host's name and a token of this run. That is
how a whole host is found and SIGKILLed at once -- jobs run in sessions of
their own, so a process group kill would miss them, exactly the processes a
real machine's death takes along -- and how a test checks that nothing of it
is left. No pytest here: the script uses it too.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

from tests.conftest import _alive

HOST_MARKER = "QUEUECTL_TEST_HOST"
RUN_MARKER = "QUEUECTL_TEST_RUN"
RUN_TOKEN = secrets.token_hex(6)  # one per test process: never another run's hosts


def can_unshare() -> str | None:
    """None when hosts can run in their own namespaces here, else why not."""
    if os.geteuid() != 0:
        return "unshare --uts --pid needs root"
    if shutil.which("unshare") is None or shutil.which("hostname") is None:
        return "unshare or hostname is not installed"
    probe = subprocess.run(["unshare", "--uts", "--pid", "--fork", "--mount-proc",
                            "hostname", "probe"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return f"unshare --uts --pid fails here: {probe.stderr.strip()}"
    return None


def queuectl(target: str, *args: str, host: str = "controller", input: str | None = None,
             check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run one `queuectl` command as if on ``host`` (by QUEUECTL_HOSTNAME)."""
    env = dict(os.environ, QUEUECTL_DB=target, QUEUECTL_HOSTNAME=host)
    result = subprocess.run([sys.executable, "-m", "queuectl_tui", *args], env=env,
                            input=input, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"queuectl {' '.join(args)} exited {result.returncode}: "
                             f"{result.stderr}")
    return result


def environ_of(pid: int) -> set[bytes]:
    with open(f"/proc/{pid}/environ", "rb") as handle:
        return set(handle.read().split(b"\0"))


def processes_with(*markers: str) -> list[int]:
    """Live processes whose environment holds every ``NAME=value`` marker."""
    wanted = {marker.encode() for marker in markers}
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            if wanted <= environ_of(int(entry)) and _alive(int(entry)):
                found.append(int(entry))
        except OSError:
            continue
    return found


# Records each run's start (job, attempt, host, time), then sleeps through its
# first attempt (the one the dead host runs) and finishes at once on a retry.
# Every run holds the job's lock (`flock -n`) while it lives: a run that finds it
# taken runs beside another one, and says so in RUNS.violations.
RECORDING_JOB = (
    "flock -n {runs}.$QUEUECTL_JOB_ID.lock -c '"
    'echo "$QUEUECTL_JOB_ID $QUEUECTL_ATTEMPT ${{QUEUECTL_HOSTNAME:-$(hostname)}} '
    '$(date +%s.%N)" >> {runs}; [ "$QUEUECTL_ATTEMPT" = 1 ] && exec sleep 30; true'
    "' || echo \"$QUEUECTL_JOB_ID $QUEUECTL_ATTEMPT\" >> {runs}.violations"
)


def runs_of(path: Path) -> list[tuple[str, int, str, float]]:
    if not path.exists():
        return []
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    return [(job, int(attempt), host, float(at)) for job, attempt, host, at in rows]


class Host:
    """One host's worker tree: ``start()``, ``kill()`` (all of it, SIGKILL), ``stop()``."""

    def __init__(self, name: str, target: str, count: int, log_dir: Path,
                 namespaces: bool = False):
        self.name = name
        self.target = target
        self.count = count
        self.namespaces = namespaces
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.killed_at: float | None = None

    def start(self) -> Host:
        env = dict(os.environ, QUEUECTL_DB=self.target, **{HOST_MARKER: self.name,
                                                           RUN_MARKER: RUN_TOKEN})
        env.pop("QUEUECTL_DEBUG", None)
        command = [sys.executable, "-m", "queuectl_tui", "worker", "start",
                   "--count", str(self.count)]
        if self.namespaces:
            # The real thing: the host's own name from gethostname(), its own pids.
            env.pop("QUEUECTL_HOSTNAME", None)
            command = ["unshare", "--uts", "--pid", "--fork", "--mount-proc", "--kill-child",
                       "sh", "-c", 'hostname "$0" && exec "$@"', self.name, *command]
        else:
            env["QUEUECTL_HOSTNAME"] = self.name
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, start_new_session=True)
        return self

    def processes(self) -> list[int]:
        """Every live process of this host: supervisor, workers and their jobs."""
        return processes_with(f"{HOST_MARKER}={self.name}", f"{RUN_MARKER}={RUN_TOKEN}")

    def kill(self) -> float:
        """SIGKILL the whole host, as a power cut would: every process at once,
        again until none is left (a fork may race the first sweep). Returns when
        the first signal went out (time.time())."""
        self.killed_at = time.time()
        deadline = time.monotonic() + 10
        while (pids := self.processes()) and time.monotonic() < deadline:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.01)
        self.reap()
        return self.killed_at

    def stop(self, timeout: float = 10) -> None:
        """Ctrl+C-like stop (SIGTERM), then kill whatever is left."""
        if self.proc is not None and self.proc.poll() is None:
            try:  # unshare does not pass SIGTERM on: tell its child, the supervisor
                os.kill(self.supervisor_pid(), signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self.kill()

    def supervisor_pid(self) -> int:
        """The `queuectl worker start` process (in namespaces: unshare's child)."""
        assert self.proc is not None
        if not self.namespaces:
            return self.proc.pid
        try:
            with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as handle:
                children = handle.read().split()
        except OSError:
            children = []
        return int(children[0]) if children else self.proc.pid

    def reap(self) -> None:
        if self.proc is not None:
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


class Link:
    """A host's network path to the database server: a TCP relay the test can cut.

    ``cut()`` is the host losing its network: every open connection is reset and
    new ones are refused, while the host's processes live on. ``blackhole()``
    is the nastier loss: nothing gets through and nothing is reset, so a call
    in flight just waits (what TCP retransmitting into a dead route looks like),
    and new connections hang. ``mend()`` brings the network back; what was held
    back then arrives, as retransmissions would.
    """

    def __init__(self, server_host: str, server_port: int):
        self.server = (server_host, server_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.flowing = threading.Event()
        self.flowing.set()
        self.open: list = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, url: str) -> str:
        """``url`` (a database on the relayed server) by way of this link."""
        parts = urllib.parse.urlsplit(url)
        user = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{self.port}"))

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.flowing.wait()  # blackholed: the handshake waits, as SYNs would
            if not self.up:
                self._reset(client)
                continue
            try:
                upstream = socket.create_connection(self.server, timeout=5)
            except OSError:
                self._reset(client)
                continue
            upstream.settimeout(None)
            with self.lock:
                self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source, sink) -> None:
        try:
            while data := source.recv(65536):
                self.flowing.wait()  # blackholed: held back, as TCP retransmits
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            self._reset(sock)

    def _reset(self, sock) -> None:
        try:  # SO_LINGER 0: close with a reset, as a vanished route looks to the peer
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack("ii", 1, 0))
            sock.close()
        except OSError:
            pass

    def cut(self) -> None:
        self.up = False
        with self.lock:
            sockets, self.open = self.open, []
        for sock in sockets:
            self._reset(sock)

    def blackhole(self) -> None:
        self.flowing.clear()

    def mend(self) -> None:
        self.up = True
        self.flowing.set()

    def close(self) -> None:
        self.flowing.set()
        self.cut()
        self.listener.close()
