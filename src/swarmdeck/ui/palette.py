"""Ctrl+P: every action of the screen by its name, whichever pane has the focus.

Built from the screen as it is when the palette opens: the screen's own keys, the keys of
every pane in it (named after the pane: "Nodes: Drain", "Services: Scale", so two panes'
"Remove" stay apart), and the app's. Keys that only move a cursor or the focus are left out.
Running a pane's action focuses that pane first (its highlighted row is what it acts on).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator

from textual.actions import parse
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widget import Widget

# binding ids of keys that move rather than act
NAVIGATION = ("table.", "logview.", "document.", "focus.", "dialog.", "command.")


def node_bindings(app: App, node: DOMNode) -> list[Binding]:
    """NODE's bindings with the user's keymap applied, as Textual's own binding chain does
    (Screen._binding_chain: there is no public accessor for a node's bindings)."""
    bindings = node._bindings.copy()
    if app._keymap:
        bindings.apply_keymap(app._keymap)
    return [b for _key, b in bindings]


def pane_name(node: DOMNode, screen: Screen) -> str:
    """A pane's name ("Services"), "" for the screen and the app."""
    if node is screen or not isinstance(node, Widget):
        return ""
    return (node.id or type(node).__name__).replace("-", " ").capitalize()


def _enabled(app: App, screen: Screen, node: DOMNode, action: str) -> bool:
    destination, name, params = parse(action)
    target = {"app": app, "screen": screen}.get(destination, node)
    return target.check_action(name, params) is not False


def screen_actions(app: App, screen: Screen) -> Iterator[SystemCommand]:
    nodes: list[DOMNode] = [screen, *screen.walk_children(Widget), app]
    seen: set[str] = set()
    for node in nodes:
        group = pane_name(node, screen)
        for binding in node_bindings(app, node):
            if not binding.description or not binding.id or \
                    binding.id.startswith(NAVIGATION):
                continue
            title = f"{group}: {binding.description}" if group else binding.description
            if title in seen or not _enabled(app, screen, node, binding.action):
                continue
            seen.add(title)
            yield SystemCommand(title, f"key: {app.get_key_display(binding)}",
                                _runner(app, node, binding.action))


def _runner(app: App, node: DOMNode, action: str) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        if isinstance(node, Widget) and node.focusable:
            node.focus()
        await app.run_action(action, node)
    return run
