"""What the Jobs and DLQ panes share: a live table of jobs that opens a job's detail."""

from __future__ import annotations

from textual.containers import Vertical
from textual.widgets import DataTable

from queuectl_tui.tui.widgets.live_table import LiveTable


class JobTablePane(Vertical):
    """A pane around one ``LiveTable`` (id ``TABLE_ID``) keyed by job id."""

    TABLE_ID = ""

    @property
    def table(self) -> LiveTable:
        return self.query_one(f"#{self.TABLE_ID}", LiveTable)

    def action_open(self) -> None:
        key = self.table.selected_key
        if key:
            self.app.open_job(key)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.app.open_job(event.row_key.value)
