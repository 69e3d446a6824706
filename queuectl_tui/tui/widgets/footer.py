"""The footer: the keys that matter first, so a narrow terminal keeps them.

Textual's Footer lists the focused widget's bindings first and the app's last,
so at 80 columns `?` (help) and `q` (quit) fell off the right edge. This one
puts the essential keys first; on a narrow terminal it leaves out the pane
digits, which the tabs already show ("1 Jobs", "2 DLQ"...).
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

# Binding ids shown before everything else, in this order.
ESSENTIAL = ("app.help", "app.quit", "detail.back")
PANE_DIGITS = ("pane.jobs", "pane.dlq", "pane.workers", "pane.config")
NARROW = 100  # below this many columns, the pane digits are left to the tabs


class KeysFooter(Footer):
    """A Footer that orders the keys by importance and fits 80 columns."""

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        active = self.screen.active_bindings
        narrow = self.app.size.width < NARROW
        shown = []
        seen_actions: set[str] = set()
        for _, binding, enabled, tooltip in active.values():
            if not binding.show or binding.action in seen_actions:
                continue
            if narrow and binding.id in PANE_DIGITS:
                continue
            seen_actions.add(binding.action)
            shown.append((binding, enabled, tooltip))

        def rank(item) -> int:
            binding = item[0]
            return ESSENTIAL.index(binding.id) if binding.id in ESSENTIAL else len(ESSENTIAL)

        shown.sort(key=rank)  # stable: the others keep Textual's order
        self.styles.grid_size_columns = len(shown)
        for binding, enabled, tooltip in shown:
            yield FooterKey(
                binding.key,
                self.app.get_key_display(binding),
                binding.description,
                binding.action,
                disabled=not enabled,
                tooltip=tooltip,
            ).data_bind(compact=Footer.compact)
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            palette = active.get(self.app.COMMAND_PALETTE_BINDING)
            if palette is not None and not narrow:
                _, binding, enabled, _ = palette
                yield FooterKey(
                    binding.key,
                    self.app.get_key_display(binding),
                    binding.description,
                    binding.action,
                    classes="-command-palette",
                    disabled=not enabled,
                    tooltip=binding.tooltip or binding.description,
                )

    def on_resize(self, event: events.Resize) -> None:
        self.call_after_refresh(self.recompose)
