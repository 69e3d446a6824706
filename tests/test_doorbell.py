"""The doorbell only answers our own user, can't be silenced in advance, and
can't be turned into a claim storm (issue 9, item 13)."""

from __future__ import annotations

import os
import resource
import signal
import socket
import sqlite3
import threading
import time

import pytest

from queuectl_tui import doorbell
from queuectl_tui.doorbell import Doorbell
from tests.conftest import wait_for

pytestmark = pytest.mark.skipif(not doorbell.SUPPORTED, reason="Linux abstract sockets only")
NOBODY = 65534
as_root = pytest.mark.skipif(os.geteuid() != 0,
                             reason="needs root to send as another user (setuid)")

class Sender:
    """A forked child that drops to user ``uid`` and sends datagrams to a doorbell
    (a fork, not an interpreter: another user may not be able to run our venv)."""

    def __init__(self, uid: int, name: str, count: int, seconds: float = 0.0):
        self.pid = os.fork()
        if self.pid == 0:  # the child: never returns into pytest
            code = 1
            try:
                os.setgid(uid)
                os.setuid(uid)
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                sock.setblocking(False)
                sent, end = 0, time.monotonic() + seconds
                while sent < count or time.monotonic() < end:
                    try:
                        sock.sendto(b"!", b"\0" + name.encode())
                        sent += 1
                    except BlockingIOError:  # its queue is full (10 by default)
                        if seconds == 0:
                            break
                        time.sleep(0.0005)
                code = 0
            finally:
                os._exit(code)

    def wait(self) -> int:
        _, status = os.waitpid(self.pid, 0)
        return os.waitstatus_to_exitcode(status)

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_names_are_random_and_not_made_of_the_pid():
    first, second = Doorbell(), Doorbell()
    try:
        assert first.name and second.name and first.name != second.name
        assert str(os.getpid()) not in first.name
        assert len(first.name) >= len(doorbell.PREFIX) + 32  # 128 random bits
        with open("/proc/net/unix") as table:
            assert f"@{first.name}" in table.read()  # really bound, under that name
    finally:
        first.close()
        second.close()


def test_a_taken_name_does_not_stop_the_next_worker():
    """Someone binding names in advance cannot take the one a worker will use."""
    squatters = [Doorbell() for _ in range(20)]
    bell = Doorbell()
    try:
        assert bell.sock is not None and bell.name not in {s.name for s in squatters}
    finally:
        for s in [*squatters, bell]:
            s.close()


def test_own_ring_wakes_at_once():
    bell = Doorbell()
    try:
        doorbell.ring([bell.name])
        started = time.monotonic()
        assert bell.wait(5) == "ring"
        assert time.monotonic() - started < 1
        assert bell.wait(0.05) == "timeout"
    finally:
        bell.close()


@as_root
def test_datagrams_from_another_user_do_not_wake():
    bell = Doorbell()
    try:
        sender = Sender(NOBODY, bell.name, 5)
        assert sender.wait() == 0
        started = time.monotonic()
        assert bell.wait(0.3) == "timeout"  # the datagrams were waiting: none counted
        assert time.monotonic() - started >= 0.29
        time.sleep(doorbell.FOREIGN_PAUSE)
        doorbell.ring([bell.name])
        assert bell.wait(5) == "ring"
    finally:
        bell.close()


@as_root
def test_a_flood_from_another_user_costs_the_waiting_worker_little():
    """The probe's flood put idle workers at 28% of a core each."""
    bell = Doorbell()
    results: list[str] = []
    cpu: list[float] = []

    def idle_worker():
        before = resource.getrusage(resource.RUSAGE_THREAD)
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            results.append(bell.wait(end - time.monotonic()))
        after = resource.getrusage(resource.RUSAGE_THREAD)
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)

    sender = Sender(NOBODY, bell.name, 0, seconds=1.5)
    try:
        thread = threading.Thread(target=idle_worker)
        thread.start()
        thread.join(30)
    finally:
        sender.kill()
        sender.wait()
        bell.close()
    assert "ring" not in results
    assert cpu[0] < 0.15, f"{cpu[0]:.3f} s of CPU in 1.5 s of flood"


def test_a_flood_of_our_own_rings_is_answered_at_a_bounded_rate():
    bell = Doorbell()
    stop = threading.Event()

    def flood():
        while not stop.is_set():
            doorbell.ring([bell.name])
            time.sleep(0.0002)

    thread = threading.Thread(target=flood)
    thread.start()
    rings = 0
    try:
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            rings += bell.wait(end - time.monotonic()) == "ring"
    finally:
        stop.set()
        thread.join()
        bell.close()
    assert 1 <= rings <= 0.5 / doorbell.MIN_RING_INTERVAL + 2, rings


def test_signal_fd_wins():
    bell = Doorbell()
    r, w = os.pipe()
    try:
        os.write(w, b"x")
        assert bell.wait(5, r) == "signal"
    finally:
        os.close(r)
        os.close(w)
        bell.close()


# --- with a real worker ------------------------------------------------------


def _worker_doorbell(db_path) -> str:
    with sqlite3.connect(db_path) as conn:
        (name,) = conn.execute("SELECT doorbell FROM worker").fetchone()
    conn.close()
    return name


def _insert_without_ringing(db_path, job_id: str) -> None:
    with sqlite3.connect(db_path) as conn:
        conn.execute("INSERT INTO job (id, command, state, queue, priority, attempts,"
                     " max_retries, run_at, created_at, updated_at) VALUES"
                     " (?, 'true', 'pending', 'default', 0, 0, 3, 0, 0, 0)", (job_id,))
    conn.close()


def _heartbeat(db_path) -> float:
    with sqlite3.connect(db_path) as conn:
        (stamp,) = conn.execute("SELECT heartbeat_at FROM worker").fetchone()
    conn.close()
    return stamp


def _state(db_path, job_id: str) -> str:
    with sqlite3.connect(db_path) as conn:
        (state,) = conn.execute("SELECT state FROM job WHERE id = ?", (job_id,)).fetchone()
    conn.close()
    return state


@as_root
def test_worker_ignores_another_users_datagrams_and_answers_our_enqueue(fast_cli, db_path):
    """An idle worker wakes for its housekeeping once a second, and for rings. Just
    after a housekeeping tick, a job inserted without a ring must wait for the next
    tick: another user's datagrams must not wake the worker to claim it early."""
    fast_cli("config", "set", "poll_interval", "30")
    fast_cli.start_workers(1)
    name = _worker_doorbell(db_path)
    assert name and name.startswith(doorbell.PREFIX)
    before = _heartbeat(db_path)
    wait_for(lambda: _heartbeat(db_path) != before, timeout=5, interval=0.005,
             message="a housekeeping tick")
    tick = time.monotonic()
    time.sleep(0.15)  # the worker is back in its idle wait
    _insert_without_ringing(db_path, "quiet")
    assert Sender(NOBODY, name, 5).wait() == 0
    while time.monotonic() < tick + 0.8:  # before the next tick: only a wake-up claims
        assert _state(db_path, "quiet") == "pending", "a foreign datagram woke the worker"
        time.sleep(0.02)
    fast_cli("enqueue", '{"id": "rung", "command": "true"}')
    wait_for(lambda: _state(db_path, "rung") == "completed", timeout=10,
             message="our own enqueue to wake the worker")
