"""The new-job form (n): the CLI's validation, shown inline."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from queuectl_tui.errors import InvalidInput
from queuectl_tui.jobspec import JobSpec, spec_from_document
from queuectl_tui.timeutil import now

FIELDS = [
    ("command", "Command", "e.g. ./deploy.sh --env staging"),
    ("id", "Id", "optional: generated if empty"),
    ("priority", "Priority", "0 (higher runs first)"),
    ("timeout", "Timeout", "config default; e.g. 30, 90s, 5m; 0 = none"),
    ("max_retries", "Max retries", "config default"),
    ("when", "Run at / delay", "now; or 2026-12-01T09:00 or 10m"),
]


def spec_from_form(values: dict[str, str]) -> JobSpec:
    """Turn the form's text into a JobSpec, through the same checks as the CLI."""
    document: dict[str, object] = {"command": values.get("command", "")}
    if values.get("id"):
        document["id"] = values["id"].strip()
    for name in ("priority", "max_retries"):
        text = values.get(name, "").strip()
        if text:
            try:
                document[name] = int(text)
            except ValueError:
                raise InvalidInput(f"{name} must be a whole number, got {text!r}") from None
    if values.get("timeout", "").strip():
        document["timeout"] = values["timeout"].strip()
    when = values.get("when", "").strip()
    if when:
        document["run_at" if ("-" in when[1:] or "T" in when) else "delay"] = when
    return spec_from_document(document, now())


class NewJobScreen(ModalScreen[str | None]):
    """Dismisses with the new job's id, or None if cancelled.

    A valid form is posted as ``Submitted``; whoever enqueues it answers with
    ``show_error(message)`` (the form stays open) or ``dismiss(job_id)``. The
    form scrolls, so on a small terminal every field, the error line and the
    buttons stay reachable.
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="newjob.cancel", tooltip="Close the form"),
        Binding("ctrl+s", "submit", "Enqueue", id="newjob.submit",
                tooltip="Enqueue the job (from any field)"),
    ]

    @dataclass
    class Submitted(Message):
        """A checked job to enqueue; answer on ``form``."""

        spec: JobSpec
        form: NewJobScreen

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog new-job", id="new-job-form"):
            yield Label("New job", classes="dialog-title")
            with Grid(id="new-job-grid"):
                for name, label, placeholder in FIELDS:
                    yield Label(label)
                    yield Input(placeholder=placeholder, id=f"field-{name}")
            yield Label("", id="new-job-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Enqueue (ctrl+s)", variant="primary", id="submit")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#field-command", Input).focus()

    def values(self) -> dict[str, str]:
        return {name: self.query_one(f"#field-{name}", Input).value for name, _, _ in FIELDS}

    def action_submit(self) -> None:
        try:
            spec = spec_from_form(self.values())
        except InvalidInput as exc:
            self.show_error(str(exc))
            return
        self.query_one("#new-job-error", Label).update("")
        self.post_message(self.Submitted(spec, self))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "submit":
            self.action_submit()
        else:
            self.dismiss(None)

    def show_error(self, message: str) -> None:
        """Show why the job was refused (literally: it may quote the user's input),
        scrolled into view."""
        error = self.query_one("#new-job-error", Label)
        error.update(Text(f"✗ {message}"))
        self.call_after_refresh(error.scroll_visible, animate=False)

    def action_cancel(self) -> None:
        self.dismiss(None)
