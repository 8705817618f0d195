"""The footer: `?` first, then the keys that fit whole (Textual's cuts the last one midway,
and at 80 columns that was `?` itself)."""

from __future__ import annotations

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

# these come first, in this order, when the screen has them
FIRST = ("app.help", "toggle_projects")


class KeysFooter(Footer):
    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        active = self.screen.active_bindings
        seen: set[str] = set()
        items = []
        for _node, binding, enabled, tooltip in active.values():
            if binding.show and binding.action not in seen:
                seen.add(binding.action)
                items.append((binding, enabled, tooltip))
        items.sort(key=lambda item: FIRST.index(item[0].action)
                   if item[0].action in FIRST else len(FIRST))
        palette = None
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            palette = active.get(self.app.COMMAND_PALETTE_BINDING)
        room = self.app.size.width
        if palette is not None:
            binding = palette[1]
            room -= self._width(binding) + 2  # its border, padding
        for binding, enabled, tooltip in items:
            width = self._width(binding)
            if width > room:
                continue  # a shorter one further on may fit
            room -= width
            yield FooterKey(binding.key, self.app.get_key_display(binding),
                            binding.description, binding.action, disabled=not enabled,
                            tooltip=tooltip).data_bind(compact=Footer.compact)
        if palette is not None:
            _node, binding, enabled, _tooltip = palette
            yield FooterKey(binding.key, self.app.get_key_display(binding),
                            binding.description, binding.action,
                            classes="-command-palette", disabled=not enabled,
                            tooltip=binding.tooltip or binding.description)

    def _width(self, binding: Binding) -> int:
        """A key's cells in the footer: ` k Description `."""
        return cell_len(self.app.get_key_display(binding)) + cell_len(binding.description) + 3

    def on_resize(self, event: events.Resize) -> None:
        if self._bindings_ready:
            self.call_after_refresh(self.recompose)
