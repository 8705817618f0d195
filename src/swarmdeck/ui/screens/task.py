"""One task (Enter on a task, wherever tasks are listed): its whole status message and error,
its container's exit code, the node, and its own last log lines (core.task_logs: from its
node's engine, else through the manager), read in a worker when the screen opens and on `r`.
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Static

from swarmdeck.core import views
from swarmdeck.core.errors import SwarmdeckError
from swarmdeck.core.sanitize import clean
from swarmdeck.ui import clock
from swarmdeck.ui.deck import DeckScreen
from swarmdeck.ui.widgets.cells import kv_table
from swarmdeck.ui.widgets.health import HealthBar
from swarmdeck.ui.widgets.logview import LogView

LOG_TAIL = 50


def _when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


class TaskScreen(DeckScreen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="task.back"),
        Binding("r", "reload_logs", "Reload logs", id="task.logs"),
        Binding("y", "inspect", "Inspect", id="inspect"),
        Binding("question_mark", "app.help", "Help", id="help"),
    ]
    DEFAULT_CSS = """
    TaskScreen #task { height: auto; max-height: 60%; border: round $panel-lighten-2;
                       padding: 0 1; }
    TaskScreen #task-logs { height: 1fr; min-height: 4; border: round $panel-lighten-2; }
    TaskScreen #task-logs:focus { border: round $accent; border-title-color: $accent; }
    """

    def __init__(self, cluster: str, task_id: str) -> None:
        super().__init__()
        self.cluster = cluster
        self.task_id = task_id
        self.logs_read = False


    def compose(self) -> ComposeResult:
        yield HealthBar()
        yield Static(id="task")
        yield LogView(5000, id="task-logs")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#task-logs").border_title = f"Last {LOG_TAIL} log lines"
        self.refresh_data()
        self.query_one(LogView).focus()
        self.read_logs()

    def task_name(self) -> str:
        state = self.deck.fleet.state(self.cluster)
        task = state.tasks.get(self.task_id)
        if task is None:
            return self.task_id[:12]
        service = state.services.get(task.service_id)
        label = service.name if service else task.service_id[:12]
        return f"{label}.{task.slot}" if task.slot is not None else label

    def refresh_data(self) -> None:
        state = self.deck.fleet.state(self.cluster)
        health = views.cluster_health(self.cluster, state, state.error, now=clock.now())
        self.query_one(HealthBar).show(health, read_only=self.deck.is_read_only(self.cluster))
        pane = self.query_one("#task", Static)
        task = state.tasks.get(self.task_id)
        pane.border_subtitle = ""
        if task is None:
            pane.update(Text("this task is no longer known to the swarm", style="bold red"))
            return
        node = state.nodes.get(task.node_id or "")
        pairs = [
            ("task", f"{self.task_name()}  ({task.id})"),
            ("state", f"{task.state} (desired: {task.desired_state}) since "
                      f"{_when(task.timestamp)}"),
            ("message", task.message or "-"),
            ("error", task.error or "none"),
            ("exit code", "-" if task.exit_code is None else str(task.exit_code)),
            ("container", task.container_id or "none"),
            ("node", f"{node.hostname} ({node.address}, {node.status})" if node
             else (task.node_id or "not assigned")),
            ("image", task.image or "-"),
            ("created", _when(task.created_at)),
        ]
        pane.update(kv_table(pairs))
        pane.border_title = Text(f"Task · {clean(self.task_name())}")
        if task.error or task.state in ("failed", "rejected"):
            pane.border_subtitle = Text(clean(task.state.upper()), style="bold red")

    def action_reload_logs(self) -> None:
        self.read_logs()

    @work(exclusive=True, group="task logs")
    async def read_logs(self) -> None:
        view = self.query_one(LogView)
        pane = self.query_one("#task-logs")
        view.clear()
        pane.border_title = f"Last {LOG_TAIL} log lines · reading…"
        state = self.deck.fleet.state(self.cluster)
        task = state.tasks.get(self.task_id)
        try:
            found = await self.deck.fleet.task_logs(self.cluster, self.task_id, tail=LOG_TAIL)
        except SwarmdeckError as exc:
            pane.border_title = f"Last {LOG_TAIL} log lines"
            view.add_note(f"its logs could not be read: {exc}", "error")
            return
        node = state.node_name(task.node_id) if task else ""
        for line in found.lines:
            view.add(line, self.task_name(), node)
        where = f"read from {found.source}" + (f" ({found.note})" if found.note else "")
        # said in the title, not as a note: a note carries the time it was added
        pane.border_title = Text(f"Last {LOG_TAIL} log lines · "
                                 f"{'' if found.lines else 'none, '}{clean(where)}")
        self.logs_read = True

    def action_inspect(self) -> None:
        from swarmdeck.ui.screens.inspect import InspectScreen

        self.app.push_screen(InspectScreen(self.cluster, "task", self.task_id, self.task_name()))
