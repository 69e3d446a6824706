"""The Config pane: every setting, edited in place with the CLI's validation."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, Label, Static

from queuectl_tui.config import SETTINGS, format_value
from queuectl_tui.errors import InvalidInput
from queuectl_tui.tui.data import Snapshot
from queuectl_tui.tui.offers import offered
from queuectl_tui.tui.widgets.format import literal
from queuectl_tui.tui.widgets.live_table import SettingsTable

CONFIG_COLUMNS = [("id", "Key"), ("value", "Value"), ("default", "Default"), ("help", "Meaning")]
MEANING_STARTS = 15 + 7 + 7 + 2 * 4 + 2  # the widest key, value and default, with padding


class SettingInput(Input):
    """The value being edited: enter saves (and says so in the footer)."""

    BINDINGS = [
        Binding("enter", "submit", "Save", id="config.save",
                tooltip="Save the value (a bad one is shown and not saved)"),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return offered(self, action)  # read-only: see tui/offers.py


class ConfigPane(Vertical):
    """enter edits the selected setting; a bad value is shown and not saved."""

    BINDINGS = [
        Binding("escape", "close_editor", "Cancel edit", id="config.cancel_edit",
                tooltip="Leave the setting as it was"),
    ]

    @dataclass
    class SettingChanged(Message):
        """A valid new value for a setting: save it."""

        key: str
        value: str

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.editing: str | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text.assemble(("Configuration", "bold"), "  ·  shared by every worker "
                                   "on this database; changes apply within a second"),
                     classes="pane-title")
        yield SettingsTable(CONFIG_COLUMNS, id="config-table")
        with Horizontal(id="config-editor"):
            yield Label("", id="config-editing")
            yield SettingInput(id="config-input")
        yield Label("", id="config-error")

    @property
    def table(self) -> SettingsTable:
        return self.query_one("#config-table", SettingsTable)

    def apply(self, snapshot: Snapshot, now: float) -> None:
        values = dict(snapshot.config.items())
        # The meaning gets what the key, value and default columns leave: no
        # sideways scrolling.
        room = max((self.size.width or self.app.size.width) - MEANING_STARTS, 20)
        # Values are validated numbers (format_value), safe as plain cells.
        self.table.sync([
            (key, (key, format_value(values[key]), format_value(spec.default),
                   literal(spec.help, room)))
            for key, spec in SETTINGS.items()
        ])

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "close_editor":
            return self.editing is not None  # escape shows only while editing
        return True

    def action_edit(self) -> None:
        key = self.table.selected_key
        if key is None:
            return
        self.editing = key
        row = self.table.get_row(key)
        self.query_one("#config-editing", Label).update(Text(f"{key} = "))
        self.query_one("#config-error", Label).update("")
        editor = self.query_one("#config-input", Input)
        editor.value = str(row[1])
        self.add_class("editing")
        editor.focus()
        self.refresh_bindings()

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
            self.query_one("#config-error", Label).update(Text(f"✗ {exc}"))
            return
        self.action_close_editor()
        self.post_message(self.SettingChanged(key, event.value))

    def action_close_editor(self) -> None:
        self.editing = None
        self.remove_class("editing")
        self.query_one("#config-error", Label).update("")
        self.table.focus()
        self.refresh_bindings()
