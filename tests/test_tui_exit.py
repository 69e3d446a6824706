"""Every way out of the TUI is safe: the real `queuectl` in a pseudo-terminal,
real embedded workers running a `sleep 120` job, a temporary database.

For each exit (q, ctrl+q, the palette's Quit, ctrl+c, SIGTERM, SIGHUP, a crash
on the event loop, a crash on mount) the test checks what a user would: the
exit status, that the job is not left `processing` (it is back to `pending`
with its attempts unchanged), that no process of the job survives, and that it
all happens quickly (the old ctrl+q froze the screen for 10 s).
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import signal
import sqlite3
import struct
import subprocess
import sys
import termios
import threading
import time
import uuid
from pathlib import Path

import pytest

from queuectl_tui.jobspec import JobSpec
from queuectl_tui.queue import JobQueue
from tests.conftest import kill_registered_workers

QUICK_EXIT_SECONDS = 8.0  # stop-now takes about a second; the old path hung 10 s
_ESCAPES = re.compile(rb"\x1b\[[0-9;?<>=$]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
                      rb"|\x1bP[^\x1b]*\x1b\\|\x1b[()][0-9A-Za-z]|\x1b[=>78c]")


def _take_terminal() -> None:
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class PtyTui:
    """`python -m queuectl_tui --db DB tui ...` on a pseudo-terminal of 120x36."""

    def __init__(self, db: Path, *args: str, env: dict[str, str] | None = None,
                 size: tuple[int, int] = (120, 36), command: tuple[str, ...] = ("tui",),
                 controlling: bool = False):
        self.db = db
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        environment = dict(os.environ, TERM="xterm-256color", **(env or {}))
        environment.pop("QUEUECTL_DEBUG", None)
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "queuectl_tui", "--db", str(db), *command, *args],
            stdin=slave, stdout=slave, stderr=slave, env=environment,
            start_new_session=not controlling,
            # As a login terminal does: closing it sends SIGHUP to the session.
            preexec_fn=_take_terminal if controlling else None,
        )
        os.close(slave)
        self.master: int | None = master
        self._output = bytearray()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except (OSError, TypeError):  # closed
                return
            if not chunk:
                return
            with self._lock:
                self._output += chunk

    def mark(self) -> int:
        """Where the output is now: ``wait_for_text(..., since=mark)`` looks after it."""
        with self._lock:
            return len(self._output)

    def text(self, since: int = 0) -> str:
        """Everything written (after ``since``), escape sequences removed."""
        with self._lock:
            raw = bytes(self._output[since:])
        return _ESCAPES.sub(b"", raw).decode("utf-8", errors="replace")

    def wait_for_text(self, pattern: str, timeout: float = 15.0, since: int = 0) -> None:
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.text(since)):
            if self.proc.poll() is not None:
                pytest.fail(f"the TUI exited ({self.proc.returncode}) before showing "
                            f"{pattern!r}: {self.text()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {pattern!r} on screen: "
                            f"{self.text()[-2000:]}")
            time.sleep(0.05)

    def press(self, *keys: bytes) -> None:
        for key in keys:
            os.write(self.master, key)
            time.sleep(0.05)  # one key per read, as a person types

    def wait_exit(self, timeout: float = 20.0) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the TUI did not exit within {timeout}s: {self.text()[-2000:]}")

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        kill_registered_workers(self.db)
        self._reader.join(timeout=2)
        self.close_terminal()

    def close_terminal(self) -> None:
        """Close our side of the terminal, as when its window is closed."""
        fd, self.master = self.master, None
        if fd is not None:
            os.close(fd)


def job_processes(job_id: str) -> list[int]:
    """Live processes whose environment names this job (its `sh -c` and children)."""
    marker = f"QUEUECTL_JOB_ID={job_id}\0".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if marker in handle.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


def job_row(db: Path, job_id: str) -> tuple[str, int]:
    with sqlite3.connect(db, timeout=10) as conn:
        return conn.execute("SELECT state, attempts FROM job WHERE id = ?", (job_id,)).fetchone()


def wait_until(condition, timeout: float, message: str):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {message}")
        time.sleep(0.05)


@pytest.fixture
def long_job(db_path: Path):
    """A database with fast polling and one `sleep 120` job with a unique id."""
    job_id = f"long-{uuid.uuid4().hex[:8]}"
    queue = JobQueue.open(db_path)
    queue.set_config("poll_interval", "0.05")
    queue.enqueue([JobSpec(command="sleep 120", id=job_id)])
    queue.close()
    yield job_id
    for pid in job_processes(job_id):
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


@pytest.fixture
def open_tui(db_path: Path):
    opened: list[PtyTui] = []

    def start(*args: str, env: dict[str, str] | None = None,
              command: tuple[str, ...] = ("tui",), controlling: bool = False) -> PtyTui:
        tui = PtyTui(db_path, *args, env=env, command=command, controlling=controlling)
        opened.append(tui)
        return tui

    yield start
    for tui in opened:
        tui.close()


def running(db: Path, job_id: str) -> None:
    """The embedded worker runs the job: it is processing and its process exists."""
    wait_until(lambda: job_row(db, job_id) == ("processing", 1) and job_processes(job_id),
               timeout=20, message="the embedded worker to run the job")


def assert_put_back(db: Path, job_id: str) -> None:
    """Nothing left behind: the job is pending again, uncharged, and no process of
    it is alive (a killed `sh -c` would otherwise run on outside any worker)."""
    assert job_row(db, job_id) == ("pending", 0)
    wait_until(lambda: not job_processes(job_id), timeout=3,
               message="the job's processes to be gone")


PALETTE = "palette"
INTERACTIVE_EXITS = {
    "q": b"q",
    "ctrl+q": b"\x11",
    "ctrl+c": b"\x03",
    PALETTE: None,
}


@pytest.mark.parametrize("way", list(INTERACTIVE_EXITS))
def test_every_interactive_exit_asks_and_stop_now_puts_the_job_back(
        db_path, long_job, open_tui, way):
    tui = open_tui("--workers", "1")
    running(db_path, long_job)
    if way == PALETTE:
        tui.press(b"\x10")  # ctrl+p
        tui.wait_for_text("Search for commands")
        tui.press(*(c.encode() for c in "quit"))
        tui.wait_for_text("Asks first|as soon as possible")  # the hit(s) are listed
        tui.press(b"\r")
    else:
        tui.press(INTERACTIVE_EXITS[way])
    tui.wait_for_text("1 job is running in this app's workers", timeout=10)
    asked = time.monotonic()
    tui.press(b"s")
    assert tui.wait_exit() == 0
    assert time.monotonic() - asked < QUICK_EXIT_SECONDS
    assert_put_back(db_path, long_job)


def test_cancel_in_the_quit_dialog_keeps_the_app_and_the_job(db_path, long_job, open_tui):
    tui = open_tui("--workers", "1")
    running(db_path, long_job)
    tui.press(b"\x11")
    tui.wait_for_text("1 job is running in this app's workers", timeout=10)
    tui.press(b"\x1b")  # escape: cancel
    time.sleep(0.5)  # the app must still be there, not exiting
    assert tui.proc.poll() is None
    assert job_row(db_path, long_job) == ("processing", 1)
    mark = tui.mark()
    tui.press(b"q")
    tui.wait_for_text("1 job is running in this app's workers", timeout=10, since=mark)
    tui.press(b"s")
    assert tui.wait_exit() == 0
    assert_put_back(db_path, long_job)


def test_leave_exits_at_once_and_the_worker_finishes_the_job_alone(
        db_path, long_job, open_tui):
    tui = open_tui("--workers", "1")
    running(db_path, long_job)
    tui.press(b"q")
    tui.wait_for_text("1 job is running in this app's workers", timeout=10)
    tui.press(b"l")
    assert tui.wait_exit() == 0
    assert job_row(db_path, long_job) == ("processing", 1)  # still running, as chosen
    assert job_processes(long_job)
    # The job ends here rather than in 120 s: the worker left behind is then idle and
    # the clean-up's polite stop takes it at once (it waited out its 5 s deadline).
    for pid in job_processes(long_job):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_wait_exits_once_the_job_is_done(db_path, open_tui):
    queue = JobQueue.open(db_path)
    queue.set_config("poll_interval", "0.05")
    queue.enqueue([JobSpec(command="sleep 2", id="short-wait")])
    queue.close()
    tui = open_tui("--workers", "1")
    running(db_path, "short-wait")
    tui.press(b"q")
    tui.wait_for_text("1 job is running in this app's workers", timeout=10)
    tui.press(b"w")
    assert tui.wait_exit() == 0
    assert job_row(db_path, "short-wait") == ("completed", 1)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_stops_the_workers_and_puts_the_job_back(db_path, long_job, open_tui, sig):
    tui = open_tui("--workers", "1")
    running(db_path, long_job)
    tui.wait_for_text("Jobs")  # the app is up (its handlers installed)
    sent = time.monotonic()
    tui.proc.send_signal(sig)
    assert tui.wait_exit() == 128 + sig
    assert time.monotonic() - sent < QUICK_EXIT_SECONDS
    assert_put_back(db_path, long_job)


def test_closing_the_terminal_stops_the_workers_and_puts_the_job_back(
        db_path, long_job, open_tui):
    tui = open_tui("--workers", "1", controlling=True)
    running(db_path, long_job)
    tui.wait_for_text("Jobs")
    closed = time.monotonic()
    tui.close_terminal()  # the window goes away: the kernel sends SIGHUP
    assert tui.wait_exit() == 128 + signal.SIGHUP
    assert time.monotonic() - closed < QUICK_EXIT_SECONDS
    assert_put_back(db_path, long_job)


def test_closing_the_terminal_of_an_idle_tui_exits_at_once(db_path, open_tui):
    """The kernel sends SIGCONT with SIGHUP: Textual restarted its screen on the
    dead terminal, its output thread died on EIO and the exit blocked for good
    writing to it (the app hung, most runs without workers)."""
    tui = open_tui("--workers", "0", controlling=True)
    tui.wait_for_text("Jobs")
    closed = time.monotonic()
    tui.close_terminal()
    assert tui.wait_exit(timeout=QUICK_EXIT_SECONDS) == 128 + signal.SIGHUP
    assert time.monotonic() - closed < QUICK_EXIT_SECONDS


def test_a_crash_stops_the_workers_puts_the_job_back_and_exits_1(db_path, long_job, open_tui):
    tui = open_tui("--workers", "1", env={"QUEUECTL_TUI_TEST_CRASH": "busy"})
    running(db_path, long_job)
    assert tui.wait_exit() == 1
    # The error, literally (brackets are not markup), in one line on stderr.
    assert "Error: the TUI stopped on an unexpected error: RuntimeError: test crash at " \
           "busy [/b]" in tui.text()
    assert_put_back(db_path, long_job)


def test_a_crash_on_mount_exits_1_with_the_error_and_leaves_nothing_running(
        db_path, long_job, open_tui):
    tui = open_tui("--workers", "1", env={"QUEUECTL_TUI_TEST_CRASH": "mount"})
    assert tui.wait_exit() == 1
    assert "test crash at mount" in tui.text()
    assert_put_back(db_path, long_job)


def demo_folder(tui: PtyTui) -> Path:
    tui.wait_for_text(r"Demo database: \S+demo\.db")
    path = Path(re.search(r"Demo database: (\S+demo\.db)", tui.text()).group(1))
    assert path.parent.name.startswith("queuectl-demo-")
    return path.parent


@pytest.mark.parametrize("command", [("demo",), ("tui", "--demo")])
def test_the_demo_database_is_removed_when_the_app_quits(db_path, open_tui, command):
    tui = open_tui("--workers", "0", command=command)
    folder = demo_folder(tui)
    tui.wait_for_text("nightly-backup")  # the demo's jobs are on screen
    assert folder.exists()
    tui.press(b"q")
    assert tui.wait_exit() == 0
    assert not folder.exists()


def test_the_demo_database_is_removed_after_a_signal(db_path, open_tui):
    tui = open_tui("--workers", "1", command=("demo",))
    folder = demo_folder(tui)
    tui.wait_for_text("nightly-backup")
    tui.proc.send_signal(signal.SIGTERM)
    assert tui.wait_exit() == 128 + signal.SIGTERM
    assert not folder.exists()


def test_tui_demo_leaves_the_real_database_alone(db_path, long_job, open_tui):
    with sqlite3.connect(db_path) as conn:
        before = conn.execute("SELECT id FROM job ORDER BY id").fetchall()
    tui = open_tui("--workers", "0", command=("tui", "--demo"))
    demo_folder(tui)
    tui.wait_for_text("nightly-backup")
    tui.press(b"q")
    assert tui.wait_exit() == 0
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT id FROM job ORDER BY id").fetchall() == before
