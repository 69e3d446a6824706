"""The Workers pane: every live worker, embedded in this app or started elsewhere."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from queuectl_tui.tui.data import Snapshot
from queuectl_tui.tui.widgets.format import age
from queuectl_tui.tui.widgets.live_table import LiveTable

WORKER_COLUMNS = [
    ("id", "Worker"), ("pid", "PID"), ("host", "Host"), ("state", "State"),
    ("job", "Current job"), ("done", "Done"), ("failed", "Failed"), ("up", "Uptime"),
    ("heartbeat", "Heartbeat"), ("kind", "Kind"),
]


class WorkersPane(Vertical):
    """+ and - scale the embedded workers; s stops or starts them all."""

    BINDINGS = [
        Binding("plus,equals_sign", "scale(1)", "+ worker", id="workers.add",
                tooltip="Start one more embedded worker"),
        Binding("minus", "scale(-1)", "- worker", id="workers.remove",
                tooltip="Let one embedded worker finish its job and exit"),
        Binding("s", "toggle", "Stop/start all", id="workers.toggle",
                tooltip="Stop every embedded worker (after its job), or start them again"),
    ]

    def compose(self) -> ComposeResult:
        yield Static("[b]Workers[/b]  ·  embedded in this app, or started with "
                     "`queuectl worker start` anywhere", classes="pane-title")
        yield LiveTable(WORKER_COLUMNS, id="workers-table")
        yield Static(id="workers-status", classes="pane-status")

    def apply(self, snapshot: Snapshot, now: float) -> None:
        owner = self.app.owner
        self.query_one("#workers-table", LiveTable).sync([
            (w.id, (w.id, str(w.pid), w.hostname, w.state, w.current_job or "-",
                    str(w.jobs_done), str(w.jobs_failed), age(now - w.started_at),
                    f"{age(now - w.heartbeat_at)} ago",
                    "embedded" if w.owner == owner else "external"))
            for w in snapshot.workers
        ])
        embedded = sum(1 for w in snapshot.workers if w.owner == owner)
        external = len(snapshot.workers) - embedded
        self.query_one("#workers-status", Static).update(
            f"{embedded} embedded (target {self.app.supervisor.wanted}), {external} external"
            "  ·  + add  - remove  s stop/start all"
        )

    def action_scale(self, step: int) -> None:
        self.app.scale_workers(self.app.supervisor.wanted + step)

    def action_toggle(self) -> None:
        self.app.toggle_workers()
