"""One name for "this host" (QUEUECTL_HOSTNAME overrides it), and what depends on it:
worker ids, the registry's liveness check, `worker stop` by host."""

from __future__ import annotations

import socket

from queuectl_tui import registry
from queuectl_tui.host import hostname
from queuectl_tui.queue import JobQueue
from queuectl_tui.worker import new_worker_id

DEAD_PID = 2 ** 22 + 1  # above Linux's pid_max: no such process


def test_the_hostname_is_the_machines_unless_overridden(monkeypatch):
    monkeypatch.delenv("QUEUECTL_HOSTNAME", raising=False)
    assert hostname() == socket.gethostname()
    monkeypatch.setenv("QUEUECTL_HOSTNAME", "host-b")
    assert hostname() == "host-b"
    assert new_worker_id().startswith("host-b-")


def test_workers_of_another_host_are_judged_by_heartbeat_and_stopped_by_host(
        tmp_path, monkeypatch):
    queue = JobQueue.open(tmp_path / "queue.db")
    storage = queue.storage
    queue.prepare_worker()
    for host, worker_id in (("host-a", "host-a-1-aaaa"), ("host-b", "host-b-1-bbbb")):
        monkeypatch.setenv("QUEUECTL_HOSTNAME", host)
        registry.register(storage, worker_id, "cli")
    # The rows carry this process's pid; as seen from a third host, whose kill(pid, 0)
    # says nothing about them, both are alive while their heartbeats are fresh.
    storage.db.execute_sql("UPDATE worker SET pid = ?", (DEAD_PID,))
    monkeypatch.setenv("QUEUECTL_HOSTNAME", "host-c")
    live = registry.live_workers(storage, 30)
    assert {(w.id, w.hostname) for w in live} == {("host-a-1-aaaa", "host-a"),
                                                  ("host-b-1-bbbb", "host-b")}
    assert registry.request_stop(storage, host="host-b") == 1
    states = {w.id: w.state for w in registry.live_workers(storage, 30)}
    assert states == {"host-a-1-aaaa": "running", "host-b-1-bbbb": "stopping"}
    # On its own host a row whose process is gone is dead at once, and swept.
    monkeypatch.setenv("QUEUECTL_HOSTNAME", "host-a")
    assert [w.id for w in registry.live_workers(storage, 30)] == ["host-b-1-bbbb"]
    monkeypatch.setenv("QUEUECTL_HOSTNAME", "host-c")
    assert [w.id for w in registry.live_workers(storage, 30)] == ["host-b-1-bbbb"]
    queue.close()
