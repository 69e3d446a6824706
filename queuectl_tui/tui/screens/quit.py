"""Leaving while embedded workers are running jobs: say so, and let the user choose.

The choice only decides what happens before the app ends; the end itself is the
same for every exit (``EmbeddedWorkers.shutdown``)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class QuitScreen(ModalScreen[str]):
    """Dismisses with "wait", "leave", "stop" or "cancel"."""

    BINDINGS = [
        Binding("w", "choose('wait')", "Wait", id="quit.wait"),
        Binding("l", "choose('leave')", "Leave", id="quit.leave"),
        Binding("s", "choose('stop')", "Stop now", id="quit.stop"),
        Binding("escape", "choose('cancel')", "Cancel", id="quit.cancel"),
    ]

    def __init__(self, running: int, can_leave: bool = True):
        super().__init__()
        self.running = running
        self.can_leave = can_leave  # not on a throwaway (demo) database

    def compose(self) -> ComposeResult:
        jobs = "1 job is" if self.running == 1 else f"{self.running} jobs are"
        with Vertical(classes="dialog"):
            yield Label(f"{jobs} running in this app's workers.", classes="dialog-title")
            leave = ("Leave: quit now; the workers finish their jobs in the background, "
                     "then exit.  ") if self.can_leave else ""
            yield Static(f"Wait: quit once they finish.  {leave}Stop now: stop the jobs "
                         "and put them back in the queue (no attempt is charged).",
                         classes="dialog-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Wait (w)", variant="primary", id="wait")
                if self.can_leave:
                    yield Button("Leave (l)", id="leave")
                yield Button("Stop now (s)", variant="error", id="stop")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#wait", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.can_leave or parameters != ("leave",)

    def action_choose(self, choice: str) -> None:
        if choice == "leave" and not self.can_leave:
            return
        self.dismiss(choice)
