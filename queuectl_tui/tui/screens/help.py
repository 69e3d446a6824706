"""Every key, in one place (?)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# queuectl keys

| key | where | what |
|---|---|---|
| `1` `2` `3` `4` | anywhere | Jobs, DLQ, Workers, Config |
| `n` | anywhere | new job |
| `ctrl+p` | anywhere | command palette: every action by name |
| `?` | anywhere | this help |
| `q` / `ctrl+c` | anywhere | quit (asks if embedded workers are busy) |
| `enter` | Jobs, DLQ | open the job's detail |
| `f` | Jobs | filter by state (cycles) |
| `/` | Jobs | search ids and commands (`escape` clears) |
| `o` / `O` | Jobs | next sort column / reverse (or click a header) |
| `[` `]` | Jobs | previous / next page |
| `c` | Jobs, detail | cancel the job |
| `r` | DLQ, detail | retry (the marked jobs, or the selected one) |
| `space` | DLQ | mark / unmark |
| `R` | DLQ | retry every dead job (asks first) |
| `x` | DLQ, detail | delete (asks first) |
| `+` / `-` | Workers | one more / one fewer embedded worker |
| `s` | Workers | stop all embedded workers / start them again |
| `enter` | Config | edit the setting (`escape` cancels) |
| `escape` | detail, dialogs | back |
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", id="help.close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help"):
            yield Markdown(HELP)

    def action_dismiss(self) -> None:
        self.dismiss(None)
