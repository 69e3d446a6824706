"""The command palette (ctrl+p): every action of the app by name.

A Textual ``Provider`` registered in ``QueuectlApp.COMMANDS``. A command may be
chosen from any screen (a job's detail, a dialog): the ones that act on a pane
first close what is on top of the main screen and switch to that pane, so the
action always lands where the user will see it. Quitting goes through the app's
one quit path (the dialog when embedded workers are busy).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from queuectl_tui.tui.offers import offered

if TYPE_CHECKING:
    from queuectl_tui.tui.app import QueuectlApp

Command = tuple[str, str, Callable[[], object]]
# The action each command stands for, where tui/offers.py may withhold it.
ACTIONS = {
    "New job": "new_job", "Cancel the selected job": "cancel_job",
    "Retry the selected dead jobs": "retry", "Retry all dead jobs": "retry_all",
    "Delete the selected dead jobs": "delete", "Add a worker": "scale",
    "Remove a worker": "scale", "Stop/start embedded workers": "toggle",
}


class QueuectlCommands(Provider):
    """queuectl's own commands, beside Textual's (theme, keys, screenshot)."""

    def _commands(self) -> Iterator[Command]:
        app: QueuectlApp = self.app  # type: ignore[assignment]

        def on_pane(pane: str, action_name: str | None = None) -> Callable[[], None]:
            """Back to the main screen, on ``pane``, then the pane's own action
            (looked up when run: the pane widget of that moment)."""

            def run() -> None:
                while len(app.screen_stack) > 1:
                    app.pop_screen()
                app.action_show_pane(pane)
                if action_name is not None:
                    widget = app.screen_stack[0].query_one(f"#{pane}-pane")
                    getattr(widget, action_name)()

            return run

        def on_main(action: Callable[[], object]) -> Callable[[], None]:
            def run() -> None:
                while len(app.screen_stack) > 1:
                    app.pop_screen()
                action()

            return run

        for pane, title in (("jobs", "Jobs"), ("dlq", "DLQ"), ("workers", "Workers"),
                            ("config", "Config")):
            yield f"Show {title}", f"Switch to the {title} pane", on_pane(pane)
        yield "New job", "Enqueue a shell command (n)", on_main(app.action_new_job)
        yield ("Filter jobs by state", "Cycle the Jobs pane's state filter (f)",
               on_pane("jobs", "action_cycle_filter"))
        yield "Search jobs", "Search ids and commands (/)", on_pane("jobs", "action_search")
        yield ("Sort jobs", "Sort the Jobs pane by the next column (o)",
               on_pane("jobs", "action_cycle_sort"))
        yield ("Cancel the selected job", "Jobs pane (c)",
               on_pane("jobs", "action_cancel_job"))
        yield ("Retry the selected dead jobs", "DLQ: the marked ones, or the selected one (r)",
               on_pane("dlq", "action_retry"))
        yield ("Retry all dead jobs", "Move every DLQ job back to pending (R)",
               on_pane("dlq", "action_retry_all"))
        yield ("Delete the selected dead jobs", "DLQ, after a confirmation (x)",
               on_pane("dlq", "action_delete"))
        yield ("Add a worker", "Start one more embedded worker (+)",
               lambda: app.scale_workers(app.embedded.wanted + 1))
        yield ("Remove a worker", "One embedded worker finishes and exits (-)",
               lambda: app.scale_workers(app.embedded.wanted - 1))
        yield "Stop/start embedded workers", "Toggle all embedded workers (s)", app.toggle_workers
        yield "Help", "Every key (?)", on_main(app.action_help)
        yield "Quit", "Asks first if embedded workers are busy (q, ctrl+q)", app.action_quit

    def _offered(self) -> Iterator[Command]:
        """The commands the app offers now (read-only, browser tab: tui/offers.py)."""
        for command in self._commands():
            if offered(self.app, ACTIONS.get(command[0], "")):
                yield command

    async def discover(self) -> Hits:
        for title, help_text, callback in self._offered():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._offered():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, text=title,
                          help=help_text)
