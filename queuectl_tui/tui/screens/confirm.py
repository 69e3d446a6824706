"""A yes/no question: y confirms, n or escape declines, enter presses the focused
button (shown highlighted; left/right/tab move between them)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class ConfirmScreen(ModalScreen[bool]):
    """Dismisses with True (confirmed) or False.

    A ``destructive`` question (delete, cancel) starts with the safe button
    focused, so an absent-minded enter changes nothing; the dialog says so.
    """

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes", tooltip="Confirm"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no",
                tooltip="Decline: nothing changes"),
        Binding("left,shift+tab", "app.focus_previous", "Previous button", show=False,
                id="confirm.left", tooltip="Focus the button to the left"),
        Binding("right,tab", "app.focus_next", "Next button", show=False,
                id="confirm.right", tooltip="Focus the button to the right"),
    ]

    def __init__(self, question: str, yes_label: str = "Yes", no_label: str = "Cancel",
                 destructive: bool = False):
        super().__init__()
        self.question = question
        self.yes_label = yes_label
        self.no_label = no_label
        self.destructive = destructive

    def compose(self) -> ComposeResult:
        focused = self.no_label if self.destructive else self.yes_label
        with Vertical(classes="dialog confirm"):
            # The question names jobs by id: shown literally, never as markup.
            yield Label(Text(self.question), classes="dialog-title")
            yield Static(Text.assemble(
                ("y", "bold"), f" {self.yes_label.lower()}  ·  ",
                ("n", "bold"), "/", ("esc", "bold"), f" {self.no_label.lower()}  ·  ",
                ("enter", "bold"), f": {focused} (highlighted)"),
                classes="dialog-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.yes_label} (y)",
                             variant="error" if self.destructive else "primary", id="yes")
                yield Button(f"{self.no_label} (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no" if self.destructive else "#yes", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
