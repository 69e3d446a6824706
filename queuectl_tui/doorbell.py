"""Wake idle workers on this machine the moment work arrives.

Polling alone cannot give both a quick pickup and an idle worker that costs
nothing, so each worker also listens on a datagram socket in Linux's abstract
namespace (no file to clean up, gone when the process is), named after the
database and its pid. Whoever commits new runnable work rings every local
worker registered for that database. A lost ring costs nothing but latency:
polling (``poll_interval``) stays the fallback that always works, also for
workers on other machines and on systems without abstract sockets.
"""

from __future__ import annotations

import hashlib
import os
import socket
import sys

SUPPORTED = sys.platform.startswith("linux")


def _address(db_path: str, pid: int) -> bytes:
    digest = hashlib.sha1(os.path.realpath(db_path).encode(), usedforsecurity=False)
    return b"\0queuectl-" + digest.hexdigest()[:16].encode() + b"-" + str(pid).encode()


class Doorbell:
    """The worker's end: a non-blocking socket to wait on with select/poll."""

    def __init__(self, db_path: str):
        self.sock: socket.socket | None = None
        if not SUPPORTED:
            return
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.bind(_address(db_path, os.getpid()))
        except OSError:
            sock.close()
            return
        sock.setblocking(False)
        self.sock = sock

    def fileno(self) -> int | None:
        return self.sock.fileno() if self.sock is not None else None

    def drain(self) -> None:
        if self.sock is None:
            return
        try:
            while self.sock.recv(64):
                pass
        except (BlockingIOError, OSError):
            pass

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def ring(db_path: str, pids: list[int]) -> None:
    """Tell the workers with these pids (on this machine) that there is work."""
    if not SUPPORTED or not pids:
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        for pid in pids:
            try:
                sock.sendto(b"!", _address(db_path, pid))
            except OSError:  # no such worker any more, or its queue is full: fine
                pass
