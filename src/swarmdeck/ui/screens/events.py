"""A cluster's events, live, as swarm reports them: services, nodes, networks, secrets,
configs, and the containers of the manager the console is connected to.

The rows come from the cluster's EventLog, which the inventory fills from the one event stream
it already follows (core.events): nothing is polled. The screen listens to the fleet for
`events` changes and redraws at most every REFRESH seconds, and once a second for the ages.
Newest at the bottom, like the log view: with the cursor on the last row new events are
followed; moved up, the cursor stays put and End follows again. `/` filters with words (each
must appear) and `type:service,node`; `t` steps through the types. The header shows the
filter while it is on; Esc clears it, the next Esc goes back.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import humanize
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from swarmdeck.core.events import EVENT_TYPES, ClusterEvent, EventFilter
from swarmdeck.core.sanitize import clean
from swarmdeck.ui import clock
from swarmdeck.ui.deck import DeckScreen
from swarmdeck.ui.widgets.cells import RowCache
from swarmdeck.ui.widgets.footer import KeysFooter
from swarmdeck.ui.widgets.table import LiveTable

if TYPE_CHECKING:
    from swarmdeck.core.inventory import Change

COLUMNS = [("age", "AGE>"), ("time", "TIME"), ("type", "TYPE"), ("action", "ACTION"),
           ("name", "NAME"), ("details", "DETAILS")]
REFRESH = 0.2  # coalesce a burst of events into one redraw
TYPE_STYLES = {"service": "cyan", "node": "magenta", "network": "blue", "secret": "yellow",
               "config": "green", "container": ""}
BAD_ACTIONS = ("remove", "destroy", "die", "kill", "oom")
FILTER_HINT = "filter: words, type:service,node — Enter keeps it, Esc clears"


def ago(event: ClusterEvent, now: float) -> str:
    return f"{humanize.naturaldelta(max(0.0, now - event.time))} ago"


def age_step(event: ClusterEvent, now: float) -> int:
    """Changes exactly as often as the age text can: each second, minute or hour."""
    seconds = max(0.0, now - event.time)
    step = 1 if seconds < 90 else 60 if seconds < 5400 else 3600
    return int(seconds // step)


def clock_time(event: ClusterEvent, now: float) -> str:
    moment = event.moment
    today = datetime.fromtimestamp(now).astimezone().date() == moment.date()
    return moment.strftime("%H:%M:%S" if today else "%b %d %H:%M:%S")


def event_cells(event: ClusterEvent, now: float) -> tuple:
    action = event.action
    style = "red" if action.split(":")[0] in BAD_ACTIONS or "unhealthy" in action else \
        "green" if action in ("create", "start") else ""
    return (Text(ago(event, now), justify="right"), clock_time(event, now),
            Text(clean(event.type), style=TYPE_STYLES.get(event.type, "")),
            Text(clean(action), style=style), event.name, event.summary or "-")


class EventsScreen(DeckScreen):
    BINDINGS = [
        Binding("escape", "back", "Back", id="events.back"),
        Binding("slash", "filter", "Filter", id="events.filter"),
        Binding("t", "next_type", "Type", id="events.type"),
        Binding("y", "inspect", "Inspect", id="inspect"),
        Binding("question_mark", "app.help", "Help", id="help"),
    ]
    DEFAULT_CSS = """
    EventsScreen #events-header { height: 1; padding: 0 1; background: $panel; }
    EventsScreen #events { height: 1fr; border: round $panel-lighten-2; }
    EventsScreen #events:focus { border: round $accent; border-title-color: $accent; }
    """

    def __init__(self, cluster: str) -> None:
        super().__init__()
        self.cluster = cluster
        self.filter = EventFilter()
        self.filter_error = ""
        self._cells = RowCache()
        self._pending = False
        self._stop = None


    @property
    def table(self) -> LiveTable:
        return self.query_one("#events", LiveTable)

    def compose(self) -> ComposeResult:
        yield Static(id="events-header")
        yield Input(placeholder=FILTER_HINT, id="events-filter")
        yield LiveTable(COLUMNS, widest={"details": 96}, id="events")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#events-filter").display = False
        self.table.border_title = f"Events · {clean(self.cluster)}"
        self._stop = self.deck.fleet.subscribe(self._on_change)
        self.show_events()
        self.table.focus()
        self.call_after_refresh(self.table.action_last)  # laid out now: scroll to the newest
        self.ages = self.set_interval(1.0, self.show_events)  # ages tick; events come below

    def on_unmount(self) -> None:
        if self._stop is not None:
            self._stop()

    # ---- events in -----------------------------------------------------------------------
    def _on_change(self, change: Change) -> None:
        if change.cluster != self.cluster or change.kind not in (
                "events", "connection", "loaded"):
            return
        if not self._pending:
            self._pending = True
            self.set_timer(REFRESH, self._refresh_later)

    def _refresh_later(self) -> None:
        self._pending = False
        if self.is_mounted:
            self.show_events()

    def show_events(self) -> None:
        state = self.deck.fleet.state(self.cluster)
        ring = state.events
        now = clock.now()
        table = self.table
        keys = table.rows
        following = not keys or table.selected_key == keys[-1]
        shown = [e for e in ring.events() if self.filter.matches(e)]
        rows = [(e.key, self._cells.get(e.key, age_step(e, now),
                                        lambda e=e: event_cells(e, now))) for e in shown]
        self._cells.keep({key for key, _ in rows})
        table.set_rows(rows)
        if following and table.row_count:
            table.cursor_row = table.row_count - 1  # (set even when equal: scrolls to it)
        self._header(state, len(ring), len(shown), following)

    def _header(self, state, total: int, shown: int, following: bool) -> None:
        text = Text.assemble(("Events", "bold"), f" · {clean(self.cluster)} · ")
        text.append(f"{shown} of {total}" if shown != total or self.filter.types
                    or self.filter.words else f"{total}")
        started = state.events.started
        if started is not None:
            moment = datetime.fromtimestamp(started).astimezone().strftime("%H:%M:%S")
            text.append(f" · recording since {moment}", style="dim")
        if following:
            text.append(" · following", style="green")
        else:
            newer = self.table.row_count - 1 - self.table.cursor_row
            text.append(f" · paused · {newer} newer · End follows", style="bold yellow")
        if str(self.filter):
            text.append(f" · filter: {clean(str(self.filter))}", style="cyan")
        if self.filter_error:
            text.append(f" · {clean(self.filter_error)}", style="bold red")
        if state.error is not None and not state.connected:
            text.append(f" · disconnected: {clean(str(state.error))}", style="bold red")
        elif not state.loaded:
            text.append(" · connecting…", style="dim")
        self.query_one("#events-header", Static).update(text)

    # ---- filter --------------------------------------------------------------------------
    def set_filter(self, text: str) -> None:
        try:
            self.filter = EventFilter.parse(text)
            self.filter_error = ""
        except ValueError as exc:
            self.filter_error = str(exc)  # the last good filter stays
        self.show_events()

    def action_filter(self) -> None:
        box = self.query_one("#events-filter", Input)
        box.display = True
        box.value = str(self.filter)
        box.focus()

    @on(Input.Changed, "#events-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.set_filter(event.value)

    @on(Input.Submitted, "#events-filter")
    def _filter_done(self, _event: Input.Submitted) -> None:
        self.query_one("#events-filter").display = False
        self.table.focus()

    def action_back(self) -> None:
        """Esc: a filter (typed, or a type chosen with t) is cleared first, whether its box
        is open or not; the next Esc goes back."""
        box = self.query_one("#events-filter", Input)
        if box.display or str(self.filter) or self.filter_error:
            with box.prevent(Input.Changed):
                box.value = ""
            box.display = False
            self.set_filter("")
            self.table.focus()
            return
        self.app.pop_screen()

    def action_next_type(self) -> None:
        """All types, then each one in turn, then all again."""
        cycle = [None, *EVENT_TYPES]
        current = next(iter(self.filter.types)) if len(self.filter.types) == 1 else None
        chosen = cycle[(cycle.index(current) + 1) % len(cycle)]
        self.filter = EventFilter(frozenset([chosen] if chosen else []), self.filter.words)
        self.filter_error = ""
        box = self.query_one("#events-filter", Input)
        if box.display:
            with box.prevent(Input.Changed):
                box.value = str(self.filter)
        self.show_events()

    # ---- opening -------------------------------------------------------------------------
    def action_inspect(self) -> None:
        """`y`: the object the highlighted event is about, as docker holds it now."""
        from swarmdeck.core.inspect import KINDS
        from swarmdeck.ui.screens.inspect import InspectScreen

        key = self.table.selected_key
        state = self.deck.fleet.state(self.cluster)
        found = next((e for e in state.events.events() if e.key == key), None)
        if found is None:
            return
        if found.type not in KINDS or not found.actor_id:
            self.notify(clean(f"a {found.type} event: nothing to inspect in the swarm"),
                        severity="warning", timeout=3, markup=False)
            return
        self.app.push_screen(InspectScreen(self.cluster, found.type, found.actor_id,
                                           found.name or found.actor_id[:12]))

    @on(LiveTable.RowSelected, "#events")
    def _open(self, event: LiveTable.RowSelected) -> None:
        """Enter on a service or node event opens that service or node, if it still is."""
        from swarmdeck.ui.screens.detail import NodeScreen, ServiceScreen

        state = self.deck.fleet.state(self.cluster)
        found = next((e for e in state.events.events() if e.key == event.row_key.value), None)
        if found is None:
            return
        if found.type == "service" and found.actor_id in state.services:
            self.app.push_screen(ServiceScreen(self.cluster, found.actor_id))
        elif found.type == "node" and found.actor_id in state.nodes:
            self.app.push_screen(NodeScreen(self.cluster, found.actor_id))
