"""Detail screens: a service (its tasks and spec) and a node (its tasks, labels, resources)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from swarmdeck.core import views
from swarmdeck.core.sanitize import clean
from swarmdeck.core.specs import service_summary
from swarmdeck.ui import clock
from swarmdeck.ui.deck import DeckScreen
from swarmdeck.ui.widgets.cells import kv_table, task_cells
from swarmdeck.ui.widgets.footer import KeysFooter
from swarmdeck.ui.widgets.health import HealthBar
from swarmdeck.ui.widgets.table import LiveTable

if TYPE_CHECKING:
    from swarmdeck.core.inventory import ClusterState

TASK_COLUMNS = [("name", "TASK"), ("node", "NODE"), ("state", "STATE"),
                ("desired", "DESIRED"), ("error", "ERROR"), ("age", "SINCE>"), ("id", "ID")]
class SummaryBox(VerticalScroll):
    """The summary scrolls when the terminal is too short for it (Tab to it, then arrows or
    j/k)."""

    BINDINGS = [
        Binding("j", "scroll_down", "Down", show=False, id="summary.down"),
        Binding("k", "scroll_up", "Up", show=False, id="summary.up"),
    ]


class DetailScreen(DeckScreen):
    # g and G go to the first and last task, as in every table: the chart is on c
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="detail.back"),
        Binding("question_mark", "app.help", "Help", id="help"),
        Binding("c", "chart", "Chart", id="detail.chart"),
        Binding("y", "inspect", "Inspect", id="inspect"),
    ]

    def __init__(self, cluster: str, object_id: str) -> None:
        super().__init__()
        self.cluster = cluster
        self.object_id = object_id


    def compose(self) -> ComposeResult:
        yield HealthBar()
        with SummaryBox(id="summary-box"):
            yield Static(id="summary")
        yield LiveTable(TASK_COLUMNS, widest={"error": 96}, always=["name", "state"],
                        optional=["node", "error", "age", "desired", "id"], shrink=["error"],
                        pinned=True, id="tasks")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.refresh_data()
        self.query_one("#tasks").focus()

    kind = "service"

    def action_chart(self) -> None:
        from swarmdeck.ui.screens.chart import ChartScreen

        state = self.deck.fleet.state(self.cluster)
        obj = (state.services if self.kind == "service" else state.nodes).get(self.object_id)
        title = getattr(obj, "name", "") or getattr(obj, "hostname", self.object_id)
        self.app.push_screen(ChartScreen(self.cluster, self.kind, self.object_id, title))

    def action_inspect(self) -> None:
        """`y`: this service or node as docker holds it."""
        from swarmdeck.ui.screens.inspect import InspectScreen, title_of

        self.app.push_screen(InspectScreen(self.cluster, self.kind, self.object_id,
                                           title_of(self.app, self.cluster, self.kind,
                                                    self.object_id)))

    @on(LiveTable.RowSelected, "#tasks")
    def _open_task(self, event: LiveTable.RowSelected) -> None:
        from swarmdeck.ui.screens.task import TaskScreen

        self.app.push_screen(TaskScreen(self.cluster, event.row_key.value))

    def fill(self, state: ClusterState) -> None:
        """The service's or the node's own panes (each subclass)."""
        raise NotImplementedError

    def refresh_data(self) -> None:
        state = self.deck.fleet.state(self.cluster)
        health = views.cluster_health(self.cluster, state, state.error, now=clock.now())
        self.query_one(HealthBar).show(health, read_only=self.deck.is_read_only(self.cluster))
        self.fill(state)


class ServiceScreen(DetailScreen):
    def fill(self, state) -> None:
        service = state.services.get(self.object_id)
        summary = self.query_one("#summary", Static)
        tasks = self.query_one("#tasks", LiveTable)
        if service is None:
            summary.update(Text("this service no longer exists", style="bold red"))
            tasks.set_rows([])
            return
        running, desired = state.replicas(service)
        names = {n.id: n.name for n in state.networks.values()}
        head = [("service", f"{service.name}  ({service.mode}, {running}/{desired} running)"),
                ("stack", service.stack or "none"),
                ("update state", f"{service.update_state or '-'} {service.update_message}".strip())]
        memory = self._memory(state, service.id)
        summary.update(kv_table(head + ([("memory", memory)] if memory else [])
                                + service_summary(service.raw_spec, names)))
        self.query_one("#summary-box").border_title = f"Service · {clean(service.name)}"
        tasks.border_title = "Tasks (newest first per slot)"
        tasks.set_rows([(r.id, task_cells(r)) for r in views.task_rows(
            self.cluster, state, service_id=service.id)])


    def _memory(self, state, service_id: str) -> str:
        """In use now, and what the MEM sparkline is drawn against ("" without samples)."""
        metrics = self.deck.cluster_metrics(self.cluster)
        series = metrics.services.get(service_id) if metrics else None
        if metrics is None or series is None or series.last is None:
            return ""
        scale = views.memory_scales(state, metrics.node_memory).get(service_id)
        return f"{views.human_size(series.last.mem)} in use" + (
            f"; the MEM sparkline's full height is {scale.describe()}" if scale else "")


class NodeScreen(DetailScreen):
    kind = "node"

    def fill(self, state) -> None:
        node = state.nodes.get(self.object_id)
        summary = self.query_one("#summary", Static)
        tasks = self.query_one("#tasks", LiveTable)
        if node is None:
            summary.update(Text("this node is no longer in the swarm", style="bold red"))
            tasks.set_rows([])
            return
        labels = ", ".join(f"{k}={v}" for k, v in sorted(node.labels.items())) or "none"
        pairs = [
            ("node", f"{node.hostname}  ({node.role}, {node.availability}, {node.status})"),
            ("manager", node.manager_status or "-"),
            ("address", node.address + (f"  (raft {node.manager_address})"
                                        if node.manager_address else "")),
            ("engine", node.engine_version),
            ("platform", f"{node.os}/{node.architecture}"),
            ("resources", f"{node.nano_cpus / 1e9:g} CPU, "
                          f"{views.human_size(node.memory_bytes)} memory"),
            ("labels", labels),
        ]
        if node.status_message:
            pairs.append(("status", node.status_message))
        metrics = self.deck.cluster_metrics(self.cluster)
        if metrics is not None and node.id in metrics.problems:
            pairs.append(("metrics", f"none: {metrics.problems[node.id]}"))
        elif metrics is not None and (series := metrics.nodes.get(node.id)) and series.last:
            total = metrics.node_memory.get(node.id) or node.memory_bytes
            pairs.append(("memory", f"{views.human_size(series.last.mem)} in use of "
                                    f"{views.human_size(total)} (the MEM sparkline's full "
                                    "height: the node's total memory)"))
        summary.update(kv_table(pairs))
        self.query_one("#summary-box").border_title = f"Node · {clean(node.hostname)}"
        tasks.border_title = "Tasks on this node"
        tasks.set_rows([(r.id, task_cells(r)) for r in views.task_rows(
            self.cluster, state, node_id=node.id, history=False)])
