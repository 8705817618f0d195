"""The key bound to a binding now, as the footer shows it: the user's keymap applied."""

from __future__ import annotations

from textual.app import App
from textual.binding import Binding


def key_of(app: App, binding_id: str) -> str | None:
    """The key bound to BINDING_ID now (the user's keymap applied), as the footer shows it;
    None when neither the app nor any screen open (and the widgets on it) has it."""
    owners: list[type] = [type(app)]
    for screen in app.screen_stack:
        owners.append(type(screen))
        owners.extend(type(widget) for widget in screen.walk_children())
    for owner in dict.fromkeys(owners):
        for binding in getattr(owner, "BINDINGS", ()):
            if isinstance(binding, Binding) and binding.id == binding_id:
                keys = app._keymap.get(binding_id, binding.key)
                return app.get_key_display(Binding(keys.split(",")[0].strip(), ""))
    return None
