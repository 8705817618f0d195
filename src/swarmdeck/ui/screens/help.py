"""`?`: swarmdeck's keys on the screen underneath, grouped (navigation, service, node,
cluster, then the screen's own), each with its binding id (for [keys] in the config). The
keys of every pane are listed, not only the focused one's: the pane is named, and a key that
cannot act now says so. The `:` commands follow."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.actions import parse
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Static

from swarmdeck.ui.palette import node_bindings, pane_name

GROUPS = ("Navigation", "Service", "Node", "Cluster")
NAVIGATION = ("table.", "logview.", "document.", "focus.", "filter", "help", "app.",
              "command.", "dialog.", "logs.toggle", "projects.", "inspect")


def group_of(binding_id: str) -> str:
    """Which heading a key goes under; "" for the screen's own keys."""
    if binding_id.startswith(NAVIGATION) or binding_id.endswith((".back", ".close")):
        return "Navigation"
    if binding_id.startswith("service.") or binding_id == "logs.full":
        return "Service"
    if binding_id.startswith("node."):
        return "Node"
    if binding_id.startswith(("cluster.", "project.", "services.")):
        return "Cluster"
    return ""


def own_ids(node: DOMNode) -> set[str]:
    """The ids of the keys swarmdeck's own classes give NODE (not Textual's), those a
    swarmdeck table adds as it learns its columns (the sort letters) and the config's
    custom commands included."""
    ids = {b.id for cls in type(node).__mro__ if cls.__module__.startswith("swarmdeck")
           for b in vars(cls).get("BINDINGS", ()) if isinstance(b, Binding) and b.id}
    if type(node).__module__.startswith("swarmdeck"):
        ids |= {b.id for found in node._bindings.key_to_bindings.values() for b in found
                if b.id and (b.id.startswith("table.sort.") or ".custom." in b.id)}
    return ids


@dataclass
class KeyRow:
    keys: list[str]  # every key bound to it ("↑", "k"), as the footer shows them
    description: str
    binding_id: str
    pane: str  # "" for the screen's and the app's keys
    focused: bool  # the pane has the focus (its keys act now)
    enabled: bool


def key_rows(screen: Screen) -> list[KeyRow]:
    app = screen.app
    chain = set(screen.focused.ancestors_with_self) if screen.focused else set()
    rows: dict[str, KeyRow] = {}
    for node in [screen, *screen.walk_children(Widget), app]:
        mine = own_ids(node)
        for binding in node_bindings(app, node):
            if binding.id not in mine or not binding.description:
                continue
            # a table's arrows act the same in every table: listed once, for any pane
            pane = "" if group_of(binding.id) == "Navigation" else pane_name(node, screen)
            key = f"{pane}/{binding.id}" if pane else binding.id
            shown = app.get_key_display(binding)
            if key in rows:
                if shown not in rows[key].keys and rows[key].pane == pane:
                    rows[key].keys.append(shown)  # "up,k": one binding per key
                continue
            destination, name, params = parse(binding.action)
            target = {"app": app, "screen": screen}.get(destination, node)
            enabled = target.check_action(name, params) is not False
            rows[key] = KeyRow([shown], binding.description, binding.id, pane,
                               not pane or node in chain, enabled)
    return list(rows.values())


def bindings_table(screen: Screen) -> Group:
    rows = key_rows(screen)
    own = type(screen).__name__.removesuffix("Screen") or "Screen"
    table = Table(box=None, padding=(0, 2), header_style="bold")
    table.add_column("KEY", style="bold cyan", no_wrap=True)
    table.add_column("ACTION")
    table.add_column("PANE")
    table.add_column("ID (config: keys)", style="dim")
    for heading in (*GROUPS, ""):
        chosen = [r for r in rows if group_of(r.binding_id) == heading]
        if not chosen:
            continue
        table.add_row(Text(heading or f"{own} screen", style="bold underline"))
        for row in sorted(chosen, key=lambda r: (not r.focused, r.pane, r.description.lower())):
            note = "" if row.enabled else " (unavailable here)"
            pane = Text(row.pane.lower() + ("" if row.focused else " (not focused)"),
                        style="" if row.focused else "dim")
            table.add_row(" ".join(row.keys), Text(row.description + note), pane,
                          row.binding_id)
    return Group(table, Text(""), commands_table())


def commands_table() -> Table:
    from swarmdeck.ui import commands

    table = Table(box=None, padding=(0, 2), show_header=False,
                  title=Text("Commands (:)", style="bold underline"), title_justify="left")
    table.add_column(style="bold cyan", no_wrap=True, min_width=10)
    table.add_column()
    for command in commands.COMMANDS.values():
        names = "|".join((command.name, *command.aliases))
        table.add_row(f":{names} {command.argument}".rstrip(), Text(command.summary))
    return table


class HelpScreen(ModalScreen):
    BINDINGS = [
        Binding("escape,question_mark,q", "app.pop_screen", "Close", id="help.close"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 100; max-width: 100%; height: auto; max-height: 90%;
        border: round $accent; padding: 0 1; background: $surface;
    }
    """

    def __init__(self, target: Screen) -> None:
        super().__init__()
        self.target = target

    def compose(self) -> ComposeResult:
        with VerticalScroll() as box:
            box.border_title = "Keys on this screen"
            box.border_subtitle = "Esc closes · ctrl+p finds any action by name · : commands"
            yield Static(bindings_table(self.target))
