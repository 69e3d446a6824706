"""Wake idle workers on this machine the moment work arrives.

Polling alone cannot give both a quick pickup and an idle worker that costs
nothing, so each worker also listens on a datagram socket in Linux's abstract
namespace (no file to clean up, gone when the process is). Whoever commits new
runnable work rings every local worker registered for that database. A lost
ring costs nothing but latency: polling (``poll_interval``) stays the fallback
that always works, also for workers on other machines and on systems without
abstract sockets.

Abstract sockets have no permissions: any local user can send to one, and
their names are listed in /proc/net/unix. So:

- the name is random (128 bits) and recorded in the worker's row, where only
  the database's owner reads it: nobody can bind it first to silence a worker
  (names made of the pid could be taken in advance);
- only datagrams from our own user count (``SO_PASSCRED``: the kernel attaches
  the sender's credentials, which it cannot forge); after a foreign one the
  worker stops listening for a moment, so a flood costs it almost nothing;
- a worker claims at most once per ``MIN_RING_INTERVAL`` because of rings: a
  flood from our own user cannot turn into a storm of claim queries either.
"""

from __future__ import annotations

import os
import select
import socket
import struct
import sys
import time

SUPPORTED = sys.platform.startswith("linux")

PREFIX = "queuectl-"
MIN_RING_INTERVAL = 0.01  # seconds between two claims woken by rings
FOREIGN_PAUSE = 0.1  # seconds of not listening after a datagram from another user
_UCRED = struct.Struct("iII")  # struct ucred: pid, uid, gid
_DRAIN_MAX = 1024  # datagrams read per wake, at most (the queue holds a few hundred)


def _address(name: str) -> bytes:
    return b"\0" + name.encode()


def new_name() -> str:
    """An address nobody can guess or take in advance."""
    return PREFIX + os.urandom(16).hex()


class Doorbell:
    """The worker's end. ``name`` (None if unavailable) goes into its worker row."""

    def __init__(self, db_path: str | None = None):
        # db_path: kept for callers of the first version; the name no longer uses it.
        self.sock: socket.socket | None = None
        self.name: str | None = None
        self._uids = {os.getuid(), os.geteuid()}
        self._last_ring = -MIN_RING_INTERVAL
        self._quiet_until = 0.0
        if not SUPPORTED:
            return
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
            name = new_name()
            sock.bind(_address(name))
        except OSError:
            sock.close()
            return
        sock.setblocking(False)
        self.sock = sock
        self.name = name

    def fileno(self) -> int | None:
        return self.sock.fileno() if self.sock is not None else None

    def drain(self) -> bool:
        """Read every waiting datagram; True if one came from our own user."""
        ours, _ = self._drain()
        return ours

    def _drain(self) -> tuple[bool, bool]:
        ours = foreign = False
        if self.sock is None:
            return ours, foreign
        space = socket.CMSG_SPACE(_UCRED.size)
        for _ in range(_DRAIN_MAX):
            try:
                _, ancillary, _, _ = self.sock.recvmsg(1, space)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
            uid = None
            for level, kind, data in ancillary:
                if (level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS
                        and len(data) >= _UCRED.size):
                    _, uid, _ = _UCRED.unpack(data[:_UCRED.size])
            if uid is not None and uid in self._uids:
                ours = True
            else:
                foreign = True
        return ours, foreign

    def wait(self, seconds: float, wake_fd: int | None = None) -> str:
        """Idle until ``wake_fd`` is readable ("signal"), our own user rings
        ("ring"), or ``seconds`` pass ("timeout"). Datagrams of other users are
        dropped without waking the caller; rings closer together than
        MIN_RING_INTERVAL wake it once, at the end of the interval."""
        deadline = time.monotonic() + seconds
        rung = False
        while True:
            now = time.monotonic()
            if now >= deadline:
                return "ring" if rung else "timeout"
            fds = [] if wake_fd is None else [wake_fd]
            until = deadline
            listening = self.sock is not None and not rung and now >= self._quiet_until
            if listening:
                fds.append(self.sock.fileno())
            elif not rung:
                until = min(deadline, self._quiet_until)
            readable, _, _ = select.select(fds, [], [], max(until - now, 0.0))
            if wake_fd is not None and wake_fd in readable:
                return "signal"
            if not (listening and self.sock.fileno() in readable):
                continue
            ours, foreign = self._drain()
            now = time.monotonic()
            if foreign:
                self._quiet_until = now + FOREIGN_PAUSE
            if ours:
                if now - self._last_ring >= MIN_RING_INTERVAL:
                    self._last_ring = now
                    return "ring"
                # Too soon after the last one: answer it when the interval is over.
                rung = True
                deadline = min(deadline, self._last_ring + MIN_RING_INTERVAL)
                self._last_ring = deadline

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def ring(names: list[str]) -> None:
    """Tell the workers listening on these doorbell names that there is work."""
    if not SUPPORTED or not names:
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        for name in names:
            if not name or not name.startswith(PREFIX):
                continue
            try:
                sock.sendto(b"!", _address(name))
            except OSError:  # no such worker any more, or its queue is full: fine
                pass
