"""Run one shell command: own process group, bounded output, timeout, abort.

The command runs as ``sh -c COMMAND`` in a new session, so the whole tree it
starts can be signalled as one group and a Ctrl+C in the worker's terminal
never reaches it. Output (stdout and stderr merged) is kept as a bounded tail,
so a job that prints gigabytes costs a fixed amount of memory: a few times
``output_limit`` at the moment the result is recorded, whatever the job
printed. The limit counts the stored text's UTF-8 bytes, after invalid bytes
became U+FFFD (three bytes each). When the shell
exits, whatever it left behind in its group is killed: a job owns no
processes after it has finished.
"""

from __future__ import annotations

import codecs
import os
import re
import select
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from queuectl_tui.timeutil import human_delta

KILL_GRACE_SECONDS = 2.0
# After the shell has exited and its group is killed, how long the last output may
# take to arrive. Only a process outside the group (a daemon in its own session)
# can keep the pipe open longer, and the job's result must not wait for it.
DRAIN_GRACE_SECONDS = 0.25
_SHELL_COMPLAINT = re.compile(r"(?:^|: )([^:]+): (?:not found|Permission denied)$")
_READ_SIZE = 65536
_SMALL_OUTPUT = 1 << 16  # output up to this size is handed on as a str
_SANITIZE_CHUNK = 1 << 20  # raw bytes made valid UTF-8 at a time


@dataclass(frozen=True)
class RunResult:
    """What happened. ``aborted`` is set when ``check`` asked to stop the run."""

    exit_code: int | None
    output: str | bytearray  # a bytearray holds valid UTF-8 (see _Tail.text)
    error: str | None  # None on success, else a one-line reason
    duration: float
    aborted: str | None = None


class _Tail:
    """The last ``limit`` bytes of a stream, and how many were dropped before them.

    ``keep_nul`` False (a database whose text cannot hold NUL: PostgreSQL): each NUL
    becomes U+FFFD as it arrives, before the tail is cut, so the three bytes it
    then takes count against the limit like any others."""

    def __init__(self, limit: int, keep_nul: bool = True):
        self.limit = limit
        self.keep_nul = keep_nul
        self.buffer = bytearray()
        self.dropped = 0

    def add(self, data: bytes) -> None:
        if not self.keep_nul and b"\x00" in data:
            data = data.replace(b"\x00", "\ufffd".encode())
        self.buffer += data
        excess = len(self.buffer) - self.limit
        if excess > 0:
            del self.buffer[:excess]
            self.dropped += excess

    def text(self) -> str | bytearray:
        """The kept output as text of at most ``limit`` UTF-8 bytes, the header saying
        how much was dropped included (invalid bytes become U+FFFD, three bytes
        each: the raw tail may not fit as it is). Consumes the buffer.

        Small output (the usual case) comes back as a str. Large output comes
        back as valid UTF-8 bytes (the store keeps them as TEXT), made a chunk at
        a time while the raw tail shrinks, so no str of the whole tail (up to
        four bytes a character) is ever built and the two never coexist whole.
        Every raw byte becomes at least one byte of UTF-8, so the last ``limit``
        raw bytes hold all that can be kept."""
        raw = self.buffer
        if not self.dropped and len(raw) <= _SMALL_OUTPUT:
            body = raw.decode("utf-8", errors="replace")
            if len(body) * 3 <= self.limit or len(body.encode()) <= self.limit:
                return body
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        out = bytearray()
        trimmed = 0
        while raw:
            chunk = bytes(raw[:_SANITIZE_CHUNK])
            del raw[:_SANITIZE_CHUNK]
            out += decoder.decode(chunk).encode()
            trimmed += _cut_front(out, self.limit)
        out += decoder.decode(b"", final=True).encode()
        trimmed += _cut_front(out, self.limit)
        dropped = self.dropped + trimmed
        if dropped:
            header = f"[... {dropped} earlier bytes dropped ...]\n".encode()
            if len(header) <= self.limit // 2:
                _cut_front(out, self.limit - len(header))
                out[0:0] = header
        return out.decode() if len(out) <= _SMALL_OUTPUT else out


def _cut_front(out: bytearray, size: int) -> int:
    """Drop bytes from the front of ``out`` so it holds at most ``size``, starting at
    a character boundary; returns how many were dropped."""
    excess = len(out) - size
    if excess <= 0:
        return 0
    while excess < len(out) and 0x80 <= out[excess] < 0xC0:  # a continuation byte
        excess += 1
    del out[:excess]
    return excess


def _spawn(command: str, env: dict[str, str] | None) -> tuple[int, int]:
    """Start ``sh -c command`` in a new session with stdout+stderr on a pipe.

    os.posix_spawn (glibc: a vfork-style clone) instead of subprocess.Popen:
    the same result for a fraction of the Python-side cost per job. Every other
    descriptor of the worker is close-on-exec (PEP 446), so the job inherits
    only its three standard streams.
    """
    read_end, write_end = os.pipe()
    try:
        pid = os.posix_spawn(
            "/bin/sh",
            ["sh", "-c", command],
            os.environ if env is None else env,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, write_end, 1),
                (os.POSIX_SPAWN_DUP2, write_end, 2),
            ],
            setsid=True,
        )
    except BaseException:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)
    return pid, read_end


def run_command(
    command: str,
    *,
    timeout: float | None,
    output_limit: int,
    check: Callable[[], str | None],
    check_interval: float,
    wake_fd: int | None = None,
    env: dict[str, str] | None = None,
    keep_nul: bool = True,
) -> RunResult:
    """Run ``command`` to its end, its timeout, or until ``check`` returns a reason.

    ``check`` is called at least every ``check_interval`` seconds and whenever
    ``wake_fd`` becomes readable (a signal arrived); it renews leases and
    returns a reason string when the job must be stopped.
    """
    # Every interval here is on the monotonic clock: a wall-clock step must
    # neither time a job out early nor postpone its lease renewals.
    started = time.monotonic()
    try:
        pid, out_fd = _spawn(command, env)
    except OSError as exc:
        return RunResult(None, "", f"could not start /bin/sh: {exc.strerror}",
                         time.monotonic() - started)
    tail = _Tail(output_limit, keep_nul)
    deadline = started + timeout if timeout else None
    aborted: str | None = None
    timed_out = False
    kill_at: float | None = None  # when TERM was sent and KILL is due
    poller = select.poll()
    poller.register(out_fd, select.POLLIN)
    pidfd = _open_pidfd(pid)
    if pidfd is not None:
        poller.register(pidfd, select.POLLIN)
    if wake_fd is not None:
        poller.register(wake_fd, select.POLLIN)
    next_check = started + check_interval
    status = None
    first = True
    try:
        while True:
            if not first and _has_exited(pid):
                break
            first = False
            moment = time.monotonic()
            wait = next_check - moment
            if pidfd is None:
                wait = min(wait, 0.05)
            if deadline is not None and kill_at is None:
                wait = min(wait, deadline - moment)
            if kill_at is not None:
                wait = min(wait, kill_at - moment)
            woken = False
            for fd, _ in poller.poll(max(wait, 0) * 1000):
                if fd == out_fd:
                    if not _read_once(out_fd, tail):
                        poller.unregister(out_fd)
                elif fd == wake_fd:
                    drain_wake(wake_fd)
                    woken = True
            moment = time.monotonic()
            if kill_at is None:
                if deadline is not None and moment >= deadline:
                    timed_out = True
                    kill_at = _terminate(pid)
                elif woken or moment >= next_check:
                    next_check = moment + check_interval
                    aborted = check()
                    if aborted:
                        kill_at = _terminate(pid)
            elif moment >= kill_at:
                _signal_group(pid, signal.SIGKILL)
                kill_at = float("inf")
    finally:
        # The shell is gone (or about to be): its group must not outlive it. What
        # it wrote is already in the pipe; a daemon that left the group (setsid,
        # double fork) may hold the pipe open for ever, so reading stops at the
        # end of the pipe or after a short grace, whichever comes first.
        _signal_group(pid, signal.SIGKILL)
        _drain(out_fd, tail, DRAIN_GRACE_SECONDS)
        _, status = os.waitpid(pid, 0)
        os.close(out_fd)
        if pidfd is not None:
            os.close(pidfd)
    returncode = os.waitstatus_to_exitcode(status)
    duration = time.monotonic() - started
    exit_code = returncode if returncode >= 0 else 128 - returncode  # shell convention
    if timed_out:
        error = f"timed out after {human_delta(timeout)}"
    elif aborted:
        error = aborted
    elif returncode == 0:
        error = None
    elif returncode < 0:
        error = f"killed by {signal.Signals(-returncode).name}"
    else:
        error = _describe_failure(returncode, tail)
    return RunResult(exit_code, tail.text(), error, duration, aborted)


_base_environment: dict[str, str] | None = None


def job_environment(job_id: str, attempt: int, database_id: str) -> dict[str, str]:
    """The job's environment: the worker's, plus the markers ``kill_strays`` looks for.
    The worker's part is copied once (reading os.environ costs ~80 us per job)."""
    global _base_environment
    if _base_environment is None:
        _base_environment = dict(os.environ)
    env = _base_environment.copy()
    env["QUEUECTL_DB_ID"] = database_id
    env["QUEUECTL_JOB_ID"] = job_id
    env["QUEUECTL_ATTEMPT"] = str(attempt)
    return env


def kill_strays(job_id: str, attempt: int, database_id: str) -> list[int]:
    """SIGKILL processes on this machine still running ``attempt`` of ``job_id``
    of the database ``database_id``; returns their pids.

    Used when a dead worker's job is taken back: its processes may live on
    (the worker was SIGKILLed together with its supervisor) and must not run
    beside the retry. They are found by the markers every job process inherits
    in its environment, so nothing is written per job to make this possible.
    All three markers must match (job ids repeat across databases), and only
    processes of our own user are touched: root can read anyone's environment,
    but another user's job with the same markers is none of our business.
    """
    wanted = (f"QUEUECTL_DB_ID={database_id}".encode(), f"QUEUECTL_JOB_ID={job_id}".encode(),
              f"QUEUECTL_ATTEMPT={attempt}".encode())
    uid = os.geteuid()
    killed = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return killed
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid != uid:
                continue
            with open(f"/proc/{entry}/environ", "rb") as handle:
                environ = set(handle.read().split(b"\0"))
        except OSError:
            continue
        if all(marker in environ for marker in wanted):
            try:
                os.kill(int(entry), signal.SIGKILL)
                killed.append(int(entry))
            except (ProcessLookupError, PermissionError):
                pass
    return killed


def _open_pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _has_exited(pid: int) -> bool:
    """True once the shell has exited; it stays a zombie (not reaped) so its
    process-group id cannot be reused before we signal the group."""
    try:
        result = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return result is not None


def _read_once(fd: int, tail: _Tail) -> bool:
    """One read from the output pipe (poll said it is readable, so it does not
    block); False at end of file."""
    try:
        data = os.read(fd, _READ_SIZE)
    except OSError:
        return False
    if not data:
        return False
    if tail.limit:
        tail.add(data)
    return True


def _drain(fd: int, tail: _Tail, grace: float) -> None:
    """Read what is left in the output pipe until its end, or until ``grace``
    seconds have passed (a writer outside the job's group keeps it open)."""
    deadline = time.monotonic() + grace
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not poller.poll(left * 1000):
            return
        if not _read_once(fd, tail):
            return


def drain_wake(fd: int) -> None:
    """Empty a non-blocking wake-up pipe (signal.set_wakeup_fd writes one byte per signal)."""
    try:
        while os.read(fd, 512):
            pass
    except (BlockingIOError, OSError):
        pass


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _terminate(pgid: int) -> float:
    _signal_group(pgid, signal.SIGTERM)
    return time.monotonic() + KILL_GRACE_SECONDS


def _describe_failure(code: int, tail: _Tail) -> str:
    last_line = ""
    end = tail.buffer[-4096:].decode("utf-8", errors="replace")  # the last lines only
    for line in reversed(end.splitlines()):
        if line.strip():
            last_line = line.strip()[:300]
            break
    if code in (126, 127):
        # dash/bash say "sh: 1: NAME: not found" (or "Permission denied"): name the program.
        match = _SHELL_COMPLAINT.search(last_line)
        reason = "command not found" if code == 127 else "command not executable"
        if match:
            return f"{reason}: {match.group(1)}"
        return f"{reason}: {last_line}" if last_line else reason
    reason = f"exit code {code}"
    return f"{reason}: {last_line}" if last_line else reason
