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
| `1` `2` `3` `4` | anywhere | Jobs, DLQ, Workers, Config (from a job's detail too: it closes) |
| `n` | anywhere | new job |
| `ctrl+p` | anywhere | command palette: every action by name |
| `?` | anywhere | this help |
| `q` / `ctrl+c` | anywhere | quit (asks if embedded workers are busy) |
| `j` / `k`, `up` / `down` | tables | next / previous row |
| `g` / `G`, `home` / `end` | tables | first / last row of the page |
| `enter` | Jobs, DLQ | open the job's detail |
| `f` / `F` | Jobs | filter by state: next / previous |
| `/` | Jobs, DLQ | search ids and commands (`escape` clears) |
| `o` / `O` | Jobs, DLQ | next sort column / reverse (or click a header; the arrow shows it) |
| `[` `]` | Jobs, DLQ | previous / next page |
| `space` | Jobs, DLQ | mark / unmark a job: `r`, `x` and `c` then act on the marked ones |
| `y` | Jobs, DLQ, detail | copy the job's id to the clipboard |
| `c` | Jobs, detail | cancel (asks first for a running job or several jobs) |
| `r` | Jobs, DLQ, detail | retry dead jobs (the marked ones, or the selected one) |
| `R` | DLQ | retry every dead job (asks first) |
| `x` | Jobs, DLQ, detail | delete (asks first) |
| `+` / `-` | Workers | one more / one fewer embedded worker |
| `s` | Workers | stop all embedded workers / start them again |
| `enter` | Config | edit the setting; `enter` saves, `escape` cancels |
| `escape` | detail, dialogs | back |
| `y` / `n` | yes/no dialogs | yes / no (`escape`: no) |
| `enter` | yes/no dialogs | the highlighted button; delete and cancel start on the safe one |
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", id="help.close",
                        tooltip="Close the help")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help"):
            yield Markdown(HELP)

    def action_dismiss(self) -> None:
        self.dismiss(None)
