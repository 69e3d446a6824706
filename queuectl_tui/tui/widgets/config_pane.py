"""The Config pane: every setting, edited in place with the CLI's validation."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Label, Static

from queuectl_tui.config import SETTINGS, format_value
from queuectl_tui.errors import InvalidInput
from queuectl_tui.tui.data import Snapshot
from queuectl_tui.tui.widgets.live_table import LiveTable

CONFIG_COLUMNS = [("id", "Key"), ("value", "Value"), ("default", "Default"), ("help", "Meaning")]


class ConfigPane(Vertical):
    """enter edits the selected setting; a bad value is shown and not saved."""

    BINDINGS = [
        Binding("enter", "edit", "Edit", id="config.edit", tooltip="Edit the selected setting"),
    ]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.editing: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("[b]Configuration[/b]  ·  shared by every worker on this database; "
                     "changes apply within a second", classes="pane-title")
        yield LiveTable(CONFIG_COLUMNS, id="config-table")
        with Horizontal(id="config-editor"):
            yield Label("", id="config-editing")
            yield Input(id="config-input")
        yield Label("", id="config-error")

    @property
    def table(self) -> LiveTable:
        return self.query_one("#config-table", LiveTable)

    def apply(self, snapshot: Snapshot, now: float) -> None:
        values = dict(snapshot.config.items())
        self.table.sync([
            (key, (key, format_value(values[key]), format_value(spec.default), spec.help))
            for key, spec in SETTINGS.items()
        ])

    def action_edit(self) -> None:
        key = self.table.selected_key
        if key is None:
            return
        self.editing = key
        row = self.table.get_row(key)
        self.query_one("#config-editing", Label).update(f"{key} = ")
        self.query_one("#config-error", Label).update("")
        editor = self.query_one("#config-input", Input)
        editor.value = str(row[1])
        self.add_class("editing")
        editor.focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_edit()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        key = self.editing
        if key is None:
            return
        try:
            SETTINGS[key].parse(event.value)
        except InvalidInput as exc:
            self.query_one("#config-error", Label).update(f"✗ {exc}")
            return
        self.close_editor()
        value = event.value
        self.app.run_domain(lambda q: q.set_config(key, value),
                            f"{key} = {format_value(SETTINGS[key].parse(value))}")

    def close_editor(self) -> None:
        self.editing = None
        self.remove_class("editing")
        self.query_one("#config-error", Label).update("")
        self.table.focus()

    def on_key(self, event) -> None:
        if event.key == "escape" and self.editing is not None:
            event.stop()
            self.close_editor()
