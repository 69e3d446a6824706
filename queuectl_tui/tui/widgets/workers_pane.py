"""The Workers pane: every live worker, embedded in this app or started elsewhere."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from queuectl_tui.tui.data import Snapshot
from queuectl_tui.tui.offers import offered
from queuectl_tui.tui.widgets.format import age, literal
from queuectl_tui.tui.widgets.live_table import LiveTable

WORKER_COLUMNS = [
    ("id", "Worker"), ("pid", "PID"), ("host", "Host"), ("state", "State"),
    ("job", "Current job"), ("done", "Done"), ("failed", "Failed"), ("up", "Uptime"),
    ("heartbeat", "Heartbeat"), ("kind", "Kind"),
]
# Narrower than this, a column gives way (the worker id already names its host).
MIN_WIDTH = {"pid": 100, "host": 120, "up": 100, "failed": 100}


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

    @dataclass
    class Scale(Message):
        """One more (``step`` 1) or one fewer (-1) embedded worker."""

        step: int

    @dataclass
    class Toggle(Message):
        """Stop every embedded worker, or start them again."""

    def compose(self) -> ComposeResult:
        yield Static(Text.assemble(("Workers", "bold"), "  ·  embedded in this app, or "
                                   "started with `queuectl worker start` anywhere"),
                     classes="pane-title")
        yield LiveTable(WORKER_COLUMNS, id="workers-table")
        yield Static(id="workers-status", classes="pane-status")

    def apply(self, snapshot: Snapshot, now: float, owner: str = "", target: int = 0) -> None:
        """Show the live workers; ``owner`` tells this app's own (embedded) workers,
        ``target`` is how many of them the app keeps running."""
        width = self.size.width or self.app.size.width
        columns = [(key, label) for key, label in WORKER_COLUMNS
                   if width >= MIN_WIDTH.get(key, 0)]
        table = self.query_one("#workers-table", LiveTable)
        table.set_columns(columns)
        keys = [key for key, _ in columns]
        rows = []
        for w in snapshot.workers:
            cells = {
                "id": literal(w.id), "pid": str(w.pid), "host": literal(w.hostname),
                "state": literal(w.state), "job": literal(w.current_job or "-", 28),
                "done": str(w.jobs_done), "failed": str(w.jobs_failed),
                "up": age(now - w.started_at), "heartbeat": f"{age(now - w.heartbeat_at)} ago",
                "kind": "embedded" if w.owner == owner else "external",
            }
            rows.append((w.id, tuple(cells[key] for key in keys)))
        table.sync(rows)
        embedded = sum(1 for w in snapshot.workers if w.owner == owner)
        external = len(snapshot.workers) - embedded
        self.query_one("#workers-status", Static).update(Text(
            f"{embedded} embedded (target {target}), {external} external"
            "  ·  + add  - remove  s stop/start all"))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return offered(self, action)  # read-only / browser tab: see tui/offers.py

    def action_scale(self, step: int) -> None:
        self.post_message(self.Scale(step))

    def action_toggle(self) -> None:
        self.post_message(self.Toggle())
