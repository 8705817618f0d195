"""The cells and column specs of the console's tables: what a row of services, nodes or
tasks shows, built once per change of the row (RowCache), ages that sort by the moment, and
the key/value grid of the detail panes. Screens import these; nothing here imports a
screen."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

from swarmdeck.core import views
from swarmdeck.core.metrics import ClusterMetrics
from swarmdeck.core.sanitize import cell, clean
from swarmdeck.core.views import NodeRow, ServiceRow
from swarmdeck.ui import clock
from swarmdeck.ui.widgets.columns import ranked
from swarmdeck.ui.widgets.spark import cpu_cell, mem_cell

# Left to right as drawn; which of them show depends on the width (columns.fit_columns).
SERVICE_COLUMNS = [("name", "NAME"), ("stack", "STACK"), ("mode", "MODE"),
                   ("replicas", "REPLICAS>"), ("update", "UPDATE"), ("ports", "PORTS"),
                   ("age", "AGE>"), ("cpu", "CPU>"), ("mem", "MEM>"), ("image", "IMAGE")]
ALL_SERVICE_COLUMNS = [("name", "NAME"), ("cluster", "CLUSTER"), *SERVICE_COLUMNS[1:]]
# at any width (80 columns included); then the others in this order, as they fit
SERVICE_ALWAYS = ["name", "replicas", "cpu", "mem"]
SERVICE_OPTIONAL = ["stack", "mode", "update", "ports", "image", "age"]
# scoped to one stack, the stack column says the same on every row: it comes last
SCOPED_OPTIONAL = ["mode", "update", "ports", "image", "age", "stack"]
NODE_COLUMNS = [("hostname", "HOSTNAME"), ("role", "ROLE"), ("status", "STATUS"),
                ("tasks", "TASKS>"), ("engine", "ENGINE"), ("address", "ADDRESS"),
                ("labels", "LABELS"), ("age", "AGE>"), ("cpu", "CPU>"), ("mem", "MEM>")]
NODE_ALWAYS = ["hostname", "role", "status", "cpu", "mem"]
NODE_OPTIONAL = ["tasks", "engine", "address", "labels", "age"]


def age_text(moment) -> Text:
    """45s, 12m, 3h, 9d; sorts by the moment (newest first, as numbers sort largest first)."""
    if moment is None:
        return ranked(Text("-", justify="right"), None)
    seconds = max(0.0, clock.now() - moment.timestamp())
    return ranked(Text(views.compact_age(seconds), justify="right"), moment.timestamp())


def age_bucket(moment) -> int:
    """Changes exactly as often as the age text can: each second, minute, hour or day."""
    if moment is None:
        return -1
    seconds = max(0.0, clock.now() - moment.timestamp())
    step = 1 if seconds < 60 else 60 if seconds < 3600 else 3600 if seconds < 86400 else 86400
    return int(seconds // step)


class RowCache:
    """Cells per row key, rebuilt only when the row's signature changes. A refresh of a
    1000-service table then costs work for the rows that changed, not for all of them."""

    def __init__(self) -> None:
        self._cells: dict[str, tuple[object, tuple]] = {}

    def get(self, key: str, signature: object, build) -> tuple:
        cached = self._cells.get(key)
        if cached is not None and cached[0] == signature:
            return cached[1]
        cells = tuple(build())
        self._cells[key] = (signature, cells)
        return cells

    def keep(self, keys: set[str]) -> None:
        for key in [k for k in self._cells if k not in keys]:
            del self._cells[key]


def service_cells(row: ServiceRow, *, with_cluster: bool, metrics: ClusterMetrics | None,
                  memory_top: int | None = None) -> list:
    series = metrics.services.get(row.id) if metrics else None
    return with_metrics(service_static_cells(row, with_cluster=with_cluster), series,
                        memory_top)


def with_metrics(static: Sequence, series, memory_top: int | None = None) -> list:
    """A service's cells: STATIC with the CPU and memory cells put before the image.
    MEMORY_TOP: the memory sparkline's full height (views.memory_scales), never its own
    largest sample: a steady 600 KiB must not draw as a full bar."""
    return [*static[:-1], cpu_cell(series), mem_cell(series, total=memory_top), static[-1]]


def service_static_cells(row: ServiceRow, *, with_cluster: bool) -> list:
    """The cells that do not change on a metrics tick (the age only as it reads)."""
    replicas = ranked(Text(row.replicas_text, justify="right",
                           style="" if row.converged else "bold yellow"
                           if row.replicas_running else "bold red"),
                      (row.replicas_desired, row.replicas_running))
    update = Text(cell(row.update_state or "-"),
                  style="yellow" if row.update_state in ("updating", "rollback_started")
                  else "red" if row.update_state in ("paused", "rollback_paused") else "")
    # the doctor (D) says why and what to do
    image = Text.assemble(cell(row.image), ("  ✗ pull failing", "bold red")) \
        if row.pull_failing else row.image
    cells = [row.name, row.stack or "-", row.mode, replicas, update,
             ",".join(row.ports) or "-", age_text(row.created_at), image]
    return [row.name, row.cluster, *cells[1:]] if with_cluster else cells


def node_static_cells(row: NodeRow) -> list:
    """The cells that change only when the node does (not on a metrics tick)."""
    # Text cells are taken as built from inert parts: what the cluster says is made so here
    # role and manager status in one column, status and availability in another: at 80
    # columns a node row keeps its CPU and memory in view
    if row.leader:
        role = Text("leader", style="bold")
    elif row.role == "manager" and row.manager_status == "unreachable":
        role = Text("unreachable", style="red")
    else:
        role = Text(cell(row.role))
    status = Text(cell(row.status), style="green" if row.status == "ready" else "bold red")
    if row.availability != "active":
        status.append(f"/{cell(row.availability)}", style="yellow")
    labels = ",".join(f"{k}={v}" for k, v in sorted(row.labels.items())) or "-"
    return [row.hostname, role, status,
            ranked(Text(str(row.tasks_running), justify="right"), row.tasks_running),
            row.engine_version, row.address, labels, age_text(row.created_at)]


def node_cells(row: NodeRow, metrics: ClusterMetrics | None,
               static: Sequence | None = None) -> list:
    """STATIC: node_static_cells(ROW) kept from an earlier tick (the very same objects let
    the table skip them at once)."""
    series = metrics.nodes.get(row.id) if metrics else None
    if metrics is not None and row.id in metrics.problems:
        cpu = mem = ranked(Text("no metrics", style="dim italic"), None)
    else:
        cpu = cpu_cell(series)
        # drawn against the node's total memory (as sampled, else as the swarm reports it)
        mem = mem_cell(series, total=(metrics.node_memory.get(row.id) if metrics else None)
                       or row.memory_bytes or None)
    return [*(static if static is not None else node_static_cells(row)), cpu, mem]


STATE_STYLES = {"running": "green", "failed": "bold red", "rejected": "bold red",
                "shutdown": "dim", "complete": "dim green", "pending": "yellow",
                "preparing": "yellow", "starting": "yellow", "assigned": "yellow"}


def task_cells(row: views.TaskRow) -> list:
    return [row.name, row.node or "-",
            Text(clean(row.state), style=STATE_STYLES.get(row.state, "")), row.desired_state,
            Text(clean(row.error or ""), style="red"), age_text(row.since), row.id[:12]]


def kv_table(pairs: list[tuple[str, str]]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold dim", no_wrap=True)
    table.add_column()
    for label, value in pairs:
        table.add_row(label, Text(clean(value)))
    return table
