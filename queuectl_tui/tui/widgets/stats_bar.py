"""The header: jobs per state, live workers and a throughput sparkline."""

from __future__ import annotations

from collections import deque

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Sparkline, Static

from queuectl_tui.queue import STATES
from queuectl_tui.tui.data import Snapshot
from queuectl_tui.tui.widgets.format import STATE_STYLES

HISTORY = 60
TIGHT_WIDTH = 120
# Labels for narrow terminals (80-130 columns), so every count still fits.
SHORT_NAMES = {"pending": "pend", "processing": "run", "completed": "done", "failed": "fail",
               "dead": "dead", "cancelled": "canc"}


class StatsBar(Horizontal):
    """Counts update in place; the sparkline shows jobs finished per refresh."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.finished_history: deque[float] = deque([0.0] * HISTORY, maxlen=HISTORY)
        self._last_finished: int | None = None

    def compose(self) -> ComposeResult:
        yield Static("[b]queuectl[/b]", id="brand")
        yield Static(id="counts")
        yield Static(id="workers-count")
        yield Sparkline(list(self.finished_history), id="throughput")
        yield Static(id="rate")

    def on_resize(self, event: events.Resize) -> None:
        # 100-119 columns: the counts need the sparkline's room (below 100 the
        # screen's -narrow class hides it anyway).
        self.set_class(event.size.width < TIGHT_WIDTH, "-tight")

    def apply(self, snapshot: Snapshot, embedded: int) -> None:
        counts = snapshot.counts
        text = Text()
        short = self.size.width < 130
        for state in STATES:
            text.append(f"{SHORT_NAMES[state] if short else state} ", style="dim")
            text.append(f"{counts[state]:,}", style=STATE_STYLES[state])
            text.append("  ")
        self.query_one("#counts", Static).update(text)
        workers = Text()
        workers.append("workers ", style="dim")
        workers.append(f"{len(snapshot.workers)}", style="bold")
        if snapshot.workers:
            workers.append(f"  ({embedded} here)", style="dim")
        self.query_one("#workers-count", Static).update(workers)
        finished = counts["completed"] + counts["dead"]
        if self._last_finished is not None:
            self.finished_history.append(float(max(finished - self._last_finished, 0)))
        self._last_finished = finished
        self.query_one("#throughput", Sparkline).data = list(self.finished_history)
        self.query_one("#rate", Static).update(f" {self.finished_history[-1]:.0f}/s")
