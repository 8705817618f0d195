"""`y`: an object as docker holds it (a service, task, node, network, a secret's or config's
metadata), as YAML or JSON (`t` toggles), searchable (`/`, then n / N), copied with `c`
(the terminal's clipboard through OSC 52, which works over SSH). Read from the manager in a
worker (core.inspect); never a secret's data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import Footer, Input, Static

from swarmdeck.core import inspect
from swarmdeck.core.errors import SwarmdeckError
from swarmdeck.core.sanitize import clean
from swarmdeck.ui.deck import DeckScreen
from swarmdeck.ui.widgets.document import Document
from swarmdeck.ui.widgets.logview import PatternError, compile_pattern

if TYPE_CHECKING:
    from swarmdeck.ui.widgets.table import LiveTable

SEARCH_HINT = "search (substring; re: for a regular expression): Enter, then n / N"


class InspectScreen(DeckScreen):
    BINDINGS = [
        Binding("escape", "back", "Back", id="inspect.back"),
        Binding("slash", "search", "Search", id="inspect.search"),
        Binding("n", "step(True)", "Next", id="inspect.next"),
        Binding("N", "step(False)", "Previous", id="inspect.previous"),
        Binding("t", "toggle_format", "YAML/JSON", id="inspect.format"),
        Binding("c", "copy", "Copy", id="inspect.copy"),
        Binding("question_mark", "app.help", "Help", id="help"),
    ]
    DEFAULT_CSS = """
    InspectScreen #inspect-header { height: 1; padding: 0 1; background: $panel; }
    InspectScreen #document { border: round $panel-lighten-2; }
    InspectScreen #document:focus { border: round $accent; border-title-color: $accent; }
    InspectScreen #inspect-search { dock: bottom; margin-bottom: 1; }
    """

    def __init__(self, cluster: str, kind: str, ident: str, title: str) -> None:
        super().__init__()
        self.cluster = cluster
        self.kind = kind
        self.ident = ident
        self.title_text = title
        self.found: dict[str, Any] | None = None
        self.format: inspect.Format = "yaml"
        self.status = "reading…"


    @property
    def document(self) -> Document:
        return self.query_one(Document)

    def compose(self) -> ComposeResult:
        yield Static(id="inspect-header")
        yield Document(id="document")
        yield Input(placeholder=SEARCH_HINT, id="inspect-search")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#inspect-search").display = False
        self.document.border_title = Text(f"{self.kind} {clean(self.title_text)}")
        self.document.focus()
        self._header()
        self.load()

    @work(exclusive=True, group="inspect")
    async def load(self) -> None:
        try:
            ops = await self.deck.fleet.ops(self.cluster)
            found = await inspect.fetch(ops.docker, self.kind, self.ident)
        except SwarmdeckError as exc:
            self.status = f"could not read it: {exc}"
            self._header()
            return
        self.found = found
        self.status = ""
        self._show()

    def _show(self) -> None:
        if self.found is not None:
            self.document.set_text(inspect.render(self.found, self.format))
        self._header()

    def _header(self) -> None:
        text = Text.assemble((f"{self.kind.capitalize()} · ", "bold"),
                             clean(self.title_text), f" · {clean(self.cluster)} · ",
                             (self.format.upper(), "bold"))
        position = self.document.position
        if position:
            text.append(f"  search {position}", style="yellow")
        if self.status:
            text.append(f"  {clean(self.status)}", style="dim" if self.found is None
                        and self.status.endswith("…") else "bold red")
        self.query_one("#inspect-header", Static).update(text)

    # ---- keys --------------------------------------------------------------------------
    def action_toggle_format(self) -> None:
        self.format = "json" if self.format == "yaml" else "yaml"
        self._show()

    def action_copy(self) -> None:
        if self.found is None:
            self.notify("nothing to copy yet", severity="warning")
            return
        self.app.copy_to_clipboard(self.document.text)
        lines = len(self.document.lines)
        self.notify(f"copied {lines} lines of {self.format.upper()} to the clipboard "
                    "(OSC 52: the terminal must allow it)", timeout=3)

    def action_search(self) -> None:
        box = self.query_one("#inspect-search", Input)
        box.display = True
        box.value = self.document.pattern.pattern if self.document.pattern else ""
        box.focus()

    @on(Input.Submitted, "#inspect-search")
    def _searched(self, event: Input.Submitted) -> None:
        try:
            pattern = compile_pattern(event.value)
        except PatternError as exc:
            self.notify(clean(str(exc)), severity="error", markup=False)
            return
        event.input.display = False
        self.document.focus()
        if not self.document.set_search(pattern) and pattern is not None:
            self.notify("no match", severity="warning", timeout=2)
        self._header()

    def action_step(self, forward: bool) -> None:
        self.document.step(forward)
        self._header()

    def action_back(self) -> None:
        box = self.query_one("#inspect-search", Input)
        if box.display:
            box.display = False
            self.document.focus()
            return
        self.app.pop_screen()


def inspect_row(screen: Widget, table: LiveTable, kind: str) -> None:
    """`y` on a table: its highlighted row's object (keys are IDs, `cluster/ID` in the
    all-clusters view)."""
    from swarmdeck.ui.operations import split_key

    picked = split_key(table)
    if picked is None:
        screen.notify(f"no {kind} selected", severity="warning")
        return
    cluster, ident = picked
    screen.app.push_screen(InspectScreen(cluster, kind, ident, title_of(
        screen.app, cluster, kind, ident)))


def title_of(app: Any, cluster: str, kind: str, ident: str) -> str:
    """What the object is called (a task: service.slot), from the inventory."""
    state = app.fleet.state(cluster)
    if kind == "service" and ident in state.services:
        return state.services[ident].name
    if kind == "node" and ident in state.nodes:
        return state.nodes[ident].hostname
    if kind == "task" and ident in state.tasks:
        task = state.tasks[ident]
        service = state.services.get(task.service_id)
        name = service.name if service else task.service_id[:12]
        return f"{name}.{task.slot}" if task.slot is not None else \
            f"{name}@{state.node_name(task.node_id)}"
    if kind == "network" and ident in state.networks:
        return state.networks[ident].name
    return ident[:12]
