"""`:tasks`: every task of a cluster (`docker service ps` of all services at once): its
service.slot, node, state, desired state, error, age and container. `f` keeps only the tasks
that are not running, `/` filters as you type; Enter opens a task, `y` inspects it, `!` opens
a shell in it and `>` carries one of its ports to a local port."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Input

from swarmdeck.core import views
from swarmdeck.core.inventory import ClusterState
from swarmdeck.core.sanitize import clean
from swarmdeck.ui import clock
from swarmdeck.ui.deck import DeckScreen
from swarmdeck.ui.widgets.cells import STATE_STYLES, age_text
from swarmdeck.ui.widgets.health import HealthBar
from swarmdeck.ui.widgets.table import LiveTable

COLUMNS = [("name", "TASK"), ("node", "NODE"), ("state", "STATE"), ("desired", "DESIRED"),
           ("error", "ERROR"), ("age", "AGE>"), ("container", "CONTAINER"), ("id", "ID")]


def task_table_rows(cluster: str, state: ClusterState, *, not_running: bool = False
                    ) -> list[tuple[str, list]]:
    """Every task, by service, slot and node, newest first; NOT_RUNNING: only those that
    are not running (failed, pending, shut down...)."""
    rows = []
    for row in views.task_rows(cluster, state):
        task = state.tasks[row.id]
        if not_running and task.is_running:
            continue
        rows.append((row.id, [
            row.name, row.node or "-",
            Text(clean(row.state), style=STATE_STYLES.get(row.state, "")), row.desired_state,
            Text(clean(row.error or ""), style="red"), age_text(task.created_at),
            (task.container_id or "-")[:12], row.id[:12]]))
    return rows


class TasksScreen(DeckScreen):
    BINDINGS = [
        Binding("escape", "back", "Back", id="tasks.back"),
        Binding("slash", "filter", "Filter", id="tasks.filter"),
        Binding("f", "not_running", "Not running", id="tasks.not_running"),
        Binding("y", "inspect", "Inspect", id="inspect"),
        Binding("exclamation_mark", "shell", "Shell", id="task.shell", show=False),
        Binding("greater_than_sign", "port_forward", "Port-forward", id="task.port_forward",
                show=False),
        Binding("question_mark", "app.help", "Help", id="help"),
    ]
    DEFAULT_CSS = """
    TasksScreen #all-tasks { height: 1fr; border: round $panel-lighten-2; }
    TasksScreen #all-tasks:focus { border: round $accent; border-title-color: $accent; }
    TasksScreen #tasks-filter { height: 3; border: round $accent; }
    """

    def __init__(self, cluster: str, *, filter_text: str = "") -> None:
        super().__init__()
        self.cluster = cluster
        self.not_running = False
        self.filter_text = filter_text


    @property
    def table(self) -> LiveTable:
        return self.query_one("#all-tasks", LiveTable)

    def compose(self) -> ComposeResult:
        yield HealthBar()
        yield Input(placeholder="filter tasks (substring): Enter keeps it; Esc clears",
                    id="tasks-filter")
        yield LiveTable(COLUMNS, widest={"error": 60}, id="all-tasks")  # whole in the task
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#tasks-filter").display = False
        self.table.set_filter(self.filter_text)
        self.refresh_data()
        self.table.focus()

    def refresh_data(self) -> None:
        state = self.deck.fleet.state(self.cluster)
        health = views.cluster_health(self.cluster, state, state.error, now=clock.now())
        self.query_one(HealthBar).show(health, read_only=self.deck.is_read_only(self.cluster))
        self.table.set_rows(task_table_rows(self.cluster, state, not_running=self.not_running))
        self._title()

    def _title(self) -> None:
        title = Text(f"Tasks · {clean(self.cluster)} · {self.table.row_count}")
        if self.not_running:
            title.append("  not running", style="bold yellow")
        if self.filter_text:
            title.append(f"  /{clean(self.filter_text)}", style="bold reverse")
        self.table.border_title = title

    def action_not_running(self) -> None:
        self.not_running = not self.not_running
        self.refresh_data()

    def action_filter(self) -> None:
        box = self.query_one("#tasks-filter", Input)
        box.display = True
        box.value = self.filter_text
        box.focus()

    @on(Input.Changed, "#tasks-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        self.table.set_filter(event.value)
        self._title()

    @on(Input.Submitted, "#tasks-filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        event.input.display = False
        self.table.focus()

    def action_back(self) -> None:
        """Esc: the filter goes first (and its box), then the screen."""
        box = self.query_one("#tasks-filter", Input)
        if box.display or self.filter_text:
            box.display = False
            with box.prevent(Input.Changed):
                box.value = ""
            self.filter_text = ""
            self.table.set_filter("")
            self.table.focus()
            self._title()
            return
        self.app.pop_screen()

    @on(LiveTable.RowSelected, "#all-tasks")
    def _open(self, event: LiveTable.RowSelected) -> None:
        from swarmdeck.ui.screens.task import TaskScreen

        self.app.push_screen(TaskScreen(self.cluster, event.row_key.value))

    def action_inspect(self) -> None:
        from swarmdeck.ui.screens.inspect import inspect_row

        inspect_row(self, self.table, "task")

    def _highlighted_task(self):
        """(service, REF, NODE) of the highlighted task, else None (said)."""
        from swarmdeck.ui.shell import task_ref

        state = self.deck.fleet.state(self.cluster)
        key = self.table.selected_key
        task = state.tasks.get(key) if key else None
        service = state.services.get(task.service_id) if task else None
        if task is None or service is None:
            self.app.notify("no task selected", severity="warning")
            return None
        return (service, *task_ref(state, service, task))

    def action_shell(self) -> None:
        from swarmdeck.ui.shell import open_shell

        picked = self._highlighted_task()
        if picked is not None:
            _service, ref, node = picked
            self.run_worker(open_shell(self, self.cluster, ref, node=node),
                            group="operations", name="shell")

    def action_port_forward(self) -> None:
        from swarmdeck.ui.forwards import ask_and_forward

        picked = self._highlighted_task()
        if picked is not None:
            service, ref, node = picked
            self.run_worker(ask_and_forward(self, self.cluster, service, ref=ref, node=node),
                            group="operations", name="port-forward")
