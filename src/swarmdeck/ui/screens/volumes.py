"""`:volumes`: every volume and every container of every node of a cluster, read from each
node's own engine over its SSH connection (core.node_objects), with nothing installed on the
cluster. A node that cannot be read is named in the title, the others are shown."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from swarmdeck.core import node_objects
from swarmdeck.core.errors import SwarmdeckError
from swarmdeck.core.sanitize import clean
from swarmdeck.ui.deck import DeckScreen
from swarmdeck.ui.widgets.footer import KeysFooter
from swarmdeck.ui.widgets.table import LiveTable

VOLUME_COLUMNS = [("name", "NAME"), ("node", "NODE"), ("driver", "DRIVER"),
                  ("used_by", "USED BY"), ("mountpoint", "MOUNTPOINT")]
CONTAINER_COLUMNS = [("name", "NAME"), ("node", "NODE"), ("task", "TASK"), ("state", "STATE"),
                     ("status", "STATUS"), ("image", "IMAGE")]


class VolumesScreen(DeckScreen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="volumes.back"),
        Binding("r", "reload", "Refresh", id="volumes.refresh"),
        Binding("question_mark", "app.help", "Help", id="help"),
    ]
    DEFAULT_CSS = """
    VolumesScreen #volumes-title { height: 1; padding: 0 1; background: $panel; }
    VolumesScreen LiveTable { height: 1fr; min-height: 4; border: round $panel-lighten-2; }
    VolumesScreen LiveTable:focus { border: round $accent; }
    """

    def __init__(self, cluster: str) -> None:
        super().__init__()
        self.cluster = cluster
        self.problems: list[node_objects.NodeProblem] = []


    def compose(self) -> ComposeResult:
        yield Static(id="volumes-title")
        yield LiveTable(VOLUME_COLUMNS, id="volumes")
        yield LiveTable(CONTAINER_COLUMNS, id="containers")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#volumes", LiveTable).border_title = "Volumes"
        self.query_one("#containers", LiveTable).border_title = "Containers"
        self.query_one("#volumes").focus()
        self._title("reading every node…")
        self.action_reload()

    def _title(self, status: str = "") -> None:
        text = Text.assemble(("Volumes and containers", "bold"), f" · {clean(self.cluster)}")
        if status:
            text.append(f"  {clean(status)}", style="dim" if not self.problems else "yellow")
        self.query_one("#volumes-title", Static).update(text)

    def action_reload(self) -> None:
        self.run_worker(self.load(), group="volumes.load", exclusive=True, exit_on_error=False)

    async def load(self) -> None:
        fleet, cluster = self.deck.fleet, self.cluster
        try:
            state = fleet.state(cluster)
            volumes, missed = await node_objects.volumes(fleet, cluster, state)
            containers, missed_too = await node_objects.containers(fleet, cluster, state,
                                                                   all_=True)
        except SwarmdeckError as exc:
            self._title(f"could not read: {exc}")
            return
        self.problems = missed or missed_too
        self.query_one("#volumes", LiveTable).set_rows([
            (f"{v.node}/{v.name}", [v.name, v.node, v.driver, ", ".join(v.used_by) or "-",
                                    v.mountpoint]) for v in volumes])
        self.query_one("#containers", LiveTable).set_rows([
            (f"{c.node}/{c.id}", [c.name, c.node, c.task or "-", c.state, c.status, c.image])
            for c in containers])
        self.query_one("#volumes", LiveTable).border_title = f"Volumes ({len(volumes)})"
        self.query_one("#containers", LiveTable).border_title = \
            f"Containers ({len(containers)})"
        unread = "; ".join(f"{p.node}: {p.error}" for p in self.problems)
        self._title(f"not read: {unread}" if unread else
                    f"{len(state.nodes)} nodes read")
