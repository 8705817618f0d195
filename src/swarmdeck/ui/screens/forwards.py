"""`:forwards` (`:pf` alone): the console's active port-forwards, each with its local
address, the replica and node it reaches, the container's address and port there, its
connections (open/total), bytes in (from the container) and out, and since when. `x` stops
the highlighted one. Redrawn every second."""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding

from swarmdeck.core import views
from swarmdeck.core.sanitize import clean
from swarmdeck.ui.deck import Deck, DeckScreen
from swarmdeck.ui.widgets.footer import KeysFooter
from swarmdeck.ui.widgets.table import LiveTable

COLUMNS = [("local", "LOCAL"), ("replica", "SERVICE/REPLICA"), ("node", "NODE"),
           ("container", "CONTAINER"), ("connections", "CONN (OPEN/TOTAL)>"), ("in", "IN>"),
           ("out", "OUT>"), ("since", "SINCE>")]
REDRAW = 1.0  # seconds


def forward_rows(app: Deck) -> list[tuple[str, list]]:
    rows = []
    for forward in app.forwards.active:
        f, route = forward.forwarder, forward.forwarder.route
        rows.append((forward.key, [
            f"127.0.0.1:{f.local}", f"{forward.cluster}/{route.replica or forward.ref}",
            route.node, f"{route.address}:{f.port}",
            Text(f"{f.open}/{f.total}", justify="right"),
            Text(views.human_size(f.bytes_in), justify="right"),
            Text(views.human_size(f.bytes_out), justify="right"),
            Text(views.compact_age(time.time() - f.since), justify="right")]))
    return rows


class ForwardsScreen(DeckScreen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="forwards.back"),
        Binding("x", "stop", "Stop forward", id="forwards.stop"),
        Binding("question_mark", "app.help", "Help", id="help"),
    ]
    DEFAULT_CSS = """
    ForwardsScreen LiveTable { height: 1fr; border: round $panel-lighten-2; }
    ForwardsScreen LiveTable:focus { border: round $accent; }
    """

    def __init__(self, cluster: str) -> None:
        super().__init__()
        self.cluster = cluster  # where `:` commands typed here act; the list is of them all


    @property
    def table(self) -> LiveTable:
        return self.query_one("#forwards", LiveTable)

    def compose(self) -> ComposeResult:
        yield LiveTable(COLUMNS, id="forwards")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.refresh_data()
        self.table.focus()
        self.set_interval(REDRAW, self.refresh_data)

    def refresh_data(self) -> None:
        self.table.set_rows(forward_rows(self.deck))
        count = self.table.row_count
        self.table.border_title = Text(
            f"Port-forwards · {count}" + ("" if count else
                                         "  (none: > on a service or a task starts one)"))

    def action_stop(self) -> None:
        key = self.table.selected_key
        forward = self.deck.forwards.find(key) if key else None
        if forward is None:
            self.app.notify("no forward selected", severity="warning")
            return
        self.deck.forwards.stop(forward.key)
        self.app.notify(f"stopping 127.0.0.1:{forward.key} -> "
                        f"{clean(forward.forwarder.route.replica or forward.ref)}", timeout=3)
        self.call_later(self.refresh_data)
