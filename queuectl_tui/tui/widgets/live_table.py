"""A DataTable that takes a fresh list of rows every second without flicker.

Rows are keyed by the database id. ``sync`` removes rows that vanished,
updates only the cells that changed, adds new rows and restores the order,
all in one batch; the cursor stays on the same job, not the same line.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from queuectl_tui.tui.offers import offered

# A plain ``str`` cell is parsed as Rich markup by DataTable: only our own words
# and numbers go in as ``str``; anything from a job or a user is a ``Text``
# (see ``format.literal``).
Cell = str | Text


class LiveTable(DataTable):
    """DataTable with keyed, in-place updates, and the vi/less keys users expect."""

    DEFAULT_CSS = """
    LiveTable { height: 1fr; }
    """
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="table.down",
                tooltip="Next row"),
        Binding("k", "cursor_up", "Up", show=False, id="table.up", tooltip="Previous row"),
        Binding("g,home", "scroll_top", "First row", show=False, id="table.top",
                tooltip="First row of the page"),
        Binding("G,end", "scroll_bottom", "Last row", show=False, id="table.bottom",
                tooltip="Last row of the page"),
    ]

    def __init__(self, columns: Sequence[tuple[str, str]], **kwargs):
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._column_spec = columns
        self._cells: dict[str, tuple[Cell, ...]] = {}
        self._order: list[str] = []
        self._keep_selection: str | None = None
        self._measured_widths: dict = {}

    def on_mount(self) -> None:
        for key, label in self._column_spec:
            self.add_column(label, key=key)

    def _update_dimensions(self, new_rows) -> None:
        """Measure new rows (DataTable's idle pass), then forget drawn cells if a
        column got wider.

        DataTable caches drawn cells by its update count, not by column width, and
        widens columns only in this idle pass: a frame drawn between ``sync`` and
        the pass (likely under load) caches cells cut to the header's width, and
        they stayed cut ("bu", "proce") until some cell changed again.
        """
        super()._update_dimensions(new_rows)
        widths = {key: column.content_width for key, column in self.columns.items()}
        if widths != self._measured_widths:  # also after update_cell(update_width=True)
            self._measured_widths = widths
            self._update_count += 1
            self._clear_caches()

    def set_columns(self, columns: Sequence[tuple[str, str]]) -> None:
        """Show other columns (e.g. fewer on a narrow terminal); the next ``sync``
        fills the rows in again and keeps the selection."""
        if list(columns) == list(self._column_spec):
            return
        self._keep_selection = self.selected_key
        self.clear(columns=True)
        self._column_spec = list(columns)
        for key, label in self._column_spec:
            self.add_column(label, key=key)
        self._cells.clear()
        self._order = []

    @property
    def selected_key(self) -> str | None:
        if not self._order or self.cursor_row < 0 or self.cursor_row >= self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key((self.cursor_row, 0))
        return row_key.value

    @property
    def keys(self) -> list[str]:
        return list(self._order)

    def sync(self, rows: Sequence[tuple[str, Sequence[Cell]]]) -> None:
        """Make the table show ``rows`` (key, cells) in this order."""
        selected = self.selected_key or self._keep_selection
        self._keep_selection = None
        new_order = [key for key, _ in rows]
        new_cells = {key: tuple(cells) for key, cells in rows}
        column_keys = [key for key, _ in self._column_spec]
        with self.app.batch_update():
            for key in [k for k in self._order if k not in new_cells]:
                self.remove_row(key)
                del self._cells[key]
            for key, cells in new_cells.items():
                old = self._cells.get(key)
                if old is None:
                    self.add_row(*cells, key=key)
                elif old != cells:
                    for column, before, after in zip(column_keys, old, cells, strict=True):
                        if before != after:
                            self.update_cell(key, column, after, update_width=True)
                self._cells[key] = cells
            current = [k for k in self._row_order()]
            if current != new_order:
                position = {key: index for index, key in enumerate(new_order)}
                self.sort("id", key=lambda cell: position[_plain(cell)])
            self._order = new_order
            if selected in new_cells:
                self.move_cursor(row=new_order.index(selected), scroll=False)

    def _row_order(self) -> list[str]:
        return [self.coordinate_to_cell_key((i, 0))[0].value for i in range(self.row_count)]


class JobTable(LiveTable):
    """A table of jobs: enter opens the selected job (shown in the footer)."""

    BINDINGS = [
        Binding("enter", "select_cursor", "Open", id="table.open",
                tooltip="Open the selected job's detail"),
    ]


class SettingsTable(LiveTable):
    """The settings: enter edits the selected one (shown in the footer)."""

    BINDINGS = [
        Binding("enter", "select_cursor", "Edit", id="table.edit",
                tooltip="Edit the selected setting"),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "select_cursor":  # read-only: no editing (tui/offers.py)
            return offered(self, "edit_setting")
        return True


def _plain(cell: Cell) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)
