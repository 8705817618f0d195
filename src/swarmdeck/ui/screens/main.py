"""The main screen: projects tree, services, nodes and logs of the current scope."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Tree

from swarmdeck.core import views
from swarmdeck.core.errors import SwarmdeckError
from swarmdeck.core.inventory import ClusterState
from swarmdeck.core.log_follow import StreamNote, Tagger
from swarmdeck.core.metrics import ClusterMetrics
from swarmdeck.core.ops.drift import DriftWatch
from swarmdeck.core.sanitize import cell
from swarmdeck.core.transport.host_keys import host_key_problem
from swarmdeck.core.views import ProjectNode, ServiceRow
from swarmdeck.ui import clock
from swarmdeck.ui.deck import DeckScreen
from swarmdeck.ui.screens.host_key import host_key_hint, review_host_key
from swarmdeck.ui.widgets.cells import (
    ALL_SERVICE_COLUMNS,
    NODE_ALWAYS,
    NODE_COLUMNS,
    NODE_OPTIONAL,
    SCOPED_OPTIONAL,
    SERVICE_ALWAYS,
    SERVICE_COLUMNS,
    SERVICE_OPTIONAL,
    RowCache,
    age_bucket,
    node_cells,
    node_static_cells,
    service_static_cells,
    with_metrics,
)
from swarmdeck.ui.widgets.footer import KeysFooter
from swarmdeck.ui.widgets.health import HealthBar
from swarmdeck.ui.widgets.logs import LogPane
from swarmdeck.ui.widgets.nodes_table import NodesTable
from swarmdeck.ui.widgets.projects import ProjectsTree
from swarmdeck.ui.widgets.services_table import ServicesTable
from swarmdeck.ui.widgets.table import LiveTable

FILTER_HINT = "filter {} (substring): Enter keeps it, shown in the pane's title; Esc clears"
# a fleet this small (services + tasks of every cluster) is built on the event loop: for it
# the worker thread and the hop back cost more than the build
INLINE_BUILD = 400


@dataclass
class _Frame:
    """Everything one refresh puts on the main screen."""

    seq: int
    cluster: str
    all_clusters: bool
    tree: list[ProjectNode]
    service_rows: list[ServiceRow]
    rows: list[tuple[str, tuple]]
    services_title: str
    node_rows: list[tuple[str, list]]
    nodes_title: str
    loaded_at: float | None  # of the cluster's state the frame was built from
    scoped: bool = False  # to one stack


class MainScreen(DeckScreen):
    BINDINGS = [
        Binding("slash", "filter", "Filter", id="filter"),
        Binding("question_mark", "app.help", "Help", id="help"),
        Binding("c", "next_cluster", "Cluster", id="cluster.next"),
        Binding("A", "all_clusters", "All clusters", id="services.all_clusters"),
        Binding("d", "deploy", "Deploy", id="project.deploy"),
        Binding("h", "history", "Deploy history", id="project.history", show=False),
        Binding("D", "doctor", "Doctor", id="cluster.doctor", show=False),
        Binding("e", "events", "Events", id="cluster.events", show=False),
        Binding("n", "resources", "Networks, secrets, configs", id="cluster.resources",
                show=False),
        # shown (footer, palette) only while the cluster's manager host key is refused
        Binding("T", "trust_host", "Review host key", id="cluster.trust_host"),
        Binding("t", "rotate_token", "Token", id="cluster.token",
                show=False),
        Binding("L", "toggle_logs", "Logs pane", id="logs.toggle", show=False),
        Binding("o", "toggle_projects", "Projects", id="projects.toggle"),
        Binding("F", "full_logs", "Full logs", id="logs.full"),
        # in ? and ctrl+p: the footer has no room left at 140 columns
        Binding("y", "inspect", "Inspect", id="inspect", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="filter.clear"),
    ]
    # below this height the logs pane is hidden (L shows it), below this width the projects
    # pane (o shows it); a resize across either line shows or hides it again
    LOGS_MIN_HEIGHT = 30
    PROJECTS_MIN_WIDTH = 100

    def __init__(self) -> None:
        super().__init__()
        self.cluster: str = ""
        self.scope: ProjectNode | None = None
        self.all_clusters = False
        self._log_target: tuple[str, str] | None = None
        self._service_cache = RowCache()  # a service's cells
        self._found: tuple[ProjectsTree, ServicesTable, NodesTable, HealthBar] | None = None
        self._drift: DriftWatch | None = None
        self._header_inputs: tuple | None = None
        self._service_statics = RowCache()  # the part of them a metrics tick leaves alone
        self._node_statics = RowCache()  # a node's cells a metrics tick leaves alone
        self._build_lock = threading.Lock()
        self._frame_seq = 0
        self._applied_seq = 0
        self._last_service_rows: list[ServiceRow] = []
        self._host_key_refused = False
        self._titles: dict[str, str] = {}  # table id -> its title, before the filter's
        self._shown_titles: dict[str, tuple[str, str]] = {}  # table id -> (title, filter)
        self._roomy: tuple[bool, bool] | None = None  # (wide, tall) at the last resize


    def compose(self) -> ComposeResult:
        yield HealthBar(id="health")
        with Horizontal(id="body"):
            yield ProjectsTree(id="projects")
            with Vertical(id="right"):
                # each table's filter opens on it, above it
                yield Input(placeholder=FILTER_HINT.format("services"), id="services-filter",
                            classes="filter")
                yield ServicesTable(SERVICE_COLUMNS, always=SERVICE_ALWAYS,
                                    optional=SERVICE_OPTIONAL, shrink=["image"], pinned=True,
                                    id="services")
                yield Input(placeholder=FILTER_HINT.format("nodes"), id="nodes-filter",
                            classes="filter")
                yield NodesTable(NODE_COLUMNS, always=NODE_ALWAYS, optional=NODE_OPTIONAL,
                                 shrink=["labels"], pinned=True, id="nodes")
                yield LogPane(id="logs")
        yield KeysFooter()

    def on_mount(self) -> None:
        from swarmdeck.ui.custom import bind_commands

        bind_commands(self, ("cluster",))
        self._drift = DriftWatch(self.deck.config)  # the tree marks drifted environments
        self.cluster = self.deck.start_cluster
        self.query_one("#projects").border_title = "Projects"
        self.query_one("#nodes").border_title = "Nodes"
        for box in self.query(".filter"):
            box.display = False
            box.border_title = f"filter {(box.id or '').split('-')[0]}"
            box.border_subtitle = "Enter keeps it · Esc clears it"
        self.query_one("#logs", LogPane).start("select a service")
        # paused while the data is live (_tick_header): an idle console wakes for nothing
        self._stale_timer = self.set_interval(1.0, self._tick_stale_age, pause=True)
        self.refresh_now()
        self.query_one(ProjectsTree).select_cluster(self.cluster)
        self.query_one("#services").focus()

    # ---- data ----------------------------------------------------------------------------
    # A refresh is built in a worker thread from a snapshot of the states (so a big fleet
    # never holds up a keystroke), then applied to the widgets on the event loop.
    def refresh_data(self) -> None:
        self._frame_seq += 1
        states = self._snapshot()
        if sum(len(s.services) + len(s.tasks) for s in states.values()) < INLINE_BUILD:
            self._apply(self._build(self._frame_seq, states))  # a thread costs more
        else:
            self._build_in_thread(self._frame_seq, states)

    def refresh_now(self) -> None:
        """Build and apply on the spot (first screen, scope changes)."""
        fleet = self.deck.fleet
        # the clusters off screen go to the background: no samplers, no polling
        fleet.show(fleet.names if self.all_clusters else [self.cluster])
        self._frame_seq += 1
        self._apply(self._build(self._frame_seq, self._snapshot()))

    def _snapshot(self) -> dict[str, ClusterState]:
        fleet = self.deck.fleet
        return {name: fleet.state(name).snapshot() for name in fleet.names}

    @work(thread=True, group="refresh", description="build a frame")  # no repr of the states
    def _build_in_thread(self, seq: int, states: dict[str, ClusterState]) -> None:
        frame = self._build(seq, states)
        with contextlib.suppress(RuntimeError):  # the app is closing
            self.app.call_from_thread(self._apply, frame)

    def _build(self, seq: int, states: dict[str, ClusterState]) -> _Frame:
        with self._build_lock:
            return self._build_frame(seq, states)

    def _build_frame(self, seq: int, states: dict[str, ClusterState]) -> _Frame:
        deck = self.deck
        cluster, all_clusters = self.cluster, self.all_clusters
        tree = views.project_tree(deck.config, states, deck.fleet.names,
                                  self._drift.drifted if self._drift else None)
        state = states[cluster]
        service_rows = views.service_rows(cluster, state) if state.loaded else []
        stack: str | None = None
        if all_clusters:
            measured = {name: self._metrics_of(name, st) for name, st in states.items()
                        if st.loaded}
            rows = [self._service_row(f"{name}/{r.id}", r, True, *measured[name])
                    for name, st in states.items() if st.loaded
                    for r in (service_rows if name == cluster else views.service_rows(name, st))]
            title = "Services · all clusters"
        else:
            stack = self.scope.stack if self.scope and self.scope.cluster == cluster else None
            own = self._metrics_of(cluster, state)
            rows = [self._service_row(r.id, r, False, *own) for r in service_rows
                    if stack is None or r.stack == stack]
            where = f"{cluster} / {stack}" if stack else cluster
            title = f"Services · {where}{self._stale_note(state)}"
        self._service_cache.keep({key for key, _ in rows})
        self._service_statics.keep({key for key, _ in rows})
        metrics = deck.cluster_metrics(cluster)
        shown = views.node_rows(cluster, state) if state.loaded else []
        node_rows = [(r.id, node_cells(r, metrics, self._node_statics.get(
            r.id, (r, age_bucket(r.created_at)), lambda r=r: node_static_cells(r))))
            for r in shown]
        self._node_statics.keep({r.id for r in shown})
        return _Frame(seq, cluster, all_clusters, tree, service_rows, rows, title, node_rows,
                      f"Nodes · {cluster}{self._stale_note(state)}", state.loaded_at,
                      scoped=stack is not None)

    def _apply(self, frame: _Frame) -> None:
        if frame.seq < self._applied_seq:
            return  # a newer frame is already on screen
        self._applied_seq = frame.seq
        tree, services, nodes, _ = self._parts()
        tree.set_projects(frame.tree)
        self._last_service_rows = frame.service_rows
        # live data whose state did not change (a metrics tick): the header reads the same
        state = self.deck.fleet.state(self.cluster)
        header = (frame.cluster, frame.loaded_at, state.connected, state.error, state.manager,
                  self.deck.is_read_only(self.cluster))
        if header != self._header_inputs or not (state.connected and state.error is None):
            self._header_inputs = header
            self._tick_header()
        if frame.all_clusters:
            services.set_columns(ALL_SERVICE_COLUMNS, always=[*SERVICE_ALWAYS, "cluster"],
                                 optional=SERVICE_OPTIONAL)
        else:
            services.set_columns(SERVICE_COLUMNS, always=SERVICE_ALWAYS,
                                 optional=SCOPED_OPTIONAL if frame.scoped else SERVICE_OPTIONAL)
        services.set_rows(frame.rows)
        nodes.set_rows(frame.node_rows)
        self._titles = {"services": frame.services_title, "nodes": frame.nodes_title}
        self._show_titles()

    def _show_titles(self) -> None:
        """Each table's title, and its filter when one is set: `Services · prod  /web`."""
        for table in self._parts()[1:3]:
            shown = (self._titles.get(table.id or "", ""), table.filter_text)
            # assigning a title repaints the whole widget even when it is the same text
            if self._shown_titles.get(table.id or "") == shown:
                continue
            self._shown_titles[table.id or ""] = shown
            title = Text(cell(shown[0]))  # a Text: never read as markup
            if shown[1]:
                title.append(f"  /{cell(shown[1])}", style="bold reverse")
            table.border_title = title

    def _metrics_of(self, cluster: str, state: ClusterState
                    ) -> tuple[ClusterMetrics | None, dict[str, views.MemoryScale]]:
        """A cluster's metrics and the scale of each service's memory sparkline."""
        metrics = self.deck.cluster_metrics(cluster)
        if metrics is None:
            return None, {}
        return metrics, views.memory_scales(state, metrics.node_memory)

    def _service_row(self, key: str, row: ServiceRow, with_cluster: bool,
                     metrics: ClusterMetrics | None,
                     scales: dict[str, views.MemoryScale]) -> tuple[str, tuple]:
        series = metrics.services.get(row.id) if metrics else None
        scale = scales.get(row.id)
        top = scale.top if scale else None
        static = self._service_statics.get(
            key, (row, with_cluster, age_bucket(row.created_at)),
            lambda: service_static_cells(row, with_cluster=with_cluster))
        # the very same static cells (the table skips them at once) and a new sample
        return key, self._service_cache.get(
            key, (static, series.count if series else -1, top),
            lambda: with_metrics(static, series, top))

    def _parts(self) -> tuple[ProjectsTree, ServicesTable, NodesTable, HealthBar]:
        """The widgets a refresh changes, looked up once (a query walks the DOM)."""
        if self._found is None:
            self._found = (self.query_one(ProjectsTree), self.query_one(ServicesTable),
                           self.query_one(NodesTable), self.query_one(HealthBar))
        return self._found

    def _stale_note(self, state) -> str:
        if state.loaded and not state.connected and state.loaded_at:
            return f" · STALE, {clock.now() - state.loaded_at:.0f}s old"
        return ""

    def _tick_stale_age(self) -> None:
        """Once a second while the data is not live: the header's "STALE 12s old" counts
        up. Live data changes the header only when it changes (through _apply), and this
        timer is paused meanwhile."""
        self._tick_header()

    def action_custom(self, name: str) -> None:
        from swarmdeck.ui.custom import find, run_command

        command = find(self.deck, name)
        if command is not None:
            self.run_worker(run_command(self, self.cluster, command, None),
                            group="operations", name=f"command {name}")

    def show_header(self) -> None:
        """Redraw the header now (a changed host key was met)."""
        self._tick_header()

    def _tick_header(self) -> None:
        deck = self.deck
        state = deck.fleet.state(self.cluster)
        rows = self._last_service_rows if self._applied_seq else None
        health = views.cluster_health(self.cluster, state, state.error, now=clock.now(),
                                      services=rows if state.loaded else None)
        refused = host_key_problem(state.error) is not None
        if refused != self._host_key_refused:  # the T key appears or goes away
            self._host_key_refused = refused
            self.refresh_bindings()
        hint = host_key_hint(self, state.error) if refused else None
        changed = list(deck.changed_keys)
        if changed and hint is None:
            hint = "HOST KEY CHANGED: " + ", ".join(changed) + " (not used)"
        if state.connected and state.error is None:
            self._stale_timer.pause()
        else:
            self._stale_timer.resume()
        self._parts()[3].show(health, read_only=deck.is_read_only(self.cluster), hint=hint)

    # ---- navigation ----------------------------------------------------------------------
    @on(Tree.NodeHighlighted, "#projects")
    def _scope_changed(self, event: Tree.NodeHighlighted) -> None:
        node: ProjectNode | None = event.node.data
        if node is None:
            return
        scope = node if node.kind in ("environment", "stack") else None
        if self._applied_seq and (scope, node.cluster, False) == (
                self.scope, self.cluster, self.all_clusters):
            return  # the tree put its cursor on what is shown (the first screen's cluster)
        self.scope, self.cluster, self.all_clusters = scope, node.cluster, False
        self.refresh_now()

    @on(LiveTable.RowHighlighted, "#services")
    def _service_highlighted(self, event: LiveTable.RowHighlighted) -> None:
        key = event.row_key.value if event.row_key else None
        if key is None:
            return
        cluster, _, service_id = key.rpartition("/") if "/" in key else (self.cluster, "", key)
        if self._log_target != (cluster, service_id):
            self._log_target = (cluster, service_id)
            self.follow_logs(cluster, service_id)

    @on(LiveTable.RowSelected, "#services")
    def _open_service(self, event: LiveTable.RowSelected) -> None:
        from swarmdeck.ui.screens.detail import ServiceScreen

        key = event.row_key.value or ""
        cluster, _, service_id = key.rpartition("/") if "/" in key else (self.cluster, "", key)
        self.app.push_screen(ServiceScreen(cluster, service_id))

    @on(LiveTable.RowSelected, "#nodes")
    def _open_node(self, event: LiveTable.RowSelected) -> None:
        from swarmdeck.ui.screens.detail import NodeScreen

        self.app.push_screen(NodeScreen(self.cluster, event.row_key.value or ""))

    def action_next_cluster(self) -> None:
        names = self.deck.fleet.names
        self.cluster = names[(names.index(self.cluster) + 1) % len(names)]
        self.scope = None
        self.all_clusters = False
        self.refresh_now()
        self.notify(f"cluster {self.cluster}", timeout=1.5)

    def on_resize(self, event: events.Resize) -> None:
        """Across either line the pane follows the new size (what o or L did is undone);
        a resize that stays on the same side leaves it as it is."""
        wide = event.size.width >= self.PROJECTS_MIN_WIDTH
        tall = event.size.height >= self.LOGS_MIN_HEIGHT
        before = self._roomy or (not wide, not tall)
        if wide != before[0]:
            self.query_one(ProjectsTree).display = wide
        if tall != before[1]:
            self.query_one(LogPane).display = tall
        self._roomy = (wide, tall)
        self._focus_shown()

    def action_full_logs(self) -> None:
        """Every replica's lines full screen: of the stack or environment selected in the
        projects pane when it has the focus, else of the highlighted service."""
        from swarmdeck.ui.screens.logs import LogsScreen

        scope = self.scope
        if isinstance(self.focused, ProjectsTree) and scope is not None and scope.stack:
            state = self.deck.fleet.state(scope.cluster)
            services = sorted((s.name, s.id) for s in state.services.values()
                              if s.stack == scope.stack)
            if services:
                self.app.push_screen(LogsScreen(scope.cluster, [(i, n) for n, i in services],
                                                f"stack {scope.stack}"))
                return
        if self._log_target is None:
            self.notify("select a service (or a stack in the projects pane)",
                        severity="warning")
            return
        cluster, service_id = self._log_target
        service = self.deck.fleet.state(cluster).services.get(service_id)
        if service is not None:
            self.app.push_screen(LogsScreen(cluster, [(service.id, service.name)],
                                            service.name))

    def action_toggle_logs(self) -> None:
        pane = self.query_one(LogPane)
        pane.display = not pane.display
        self._focus_shown()

    def action_toggle_projects(self) -> None:
        tree = self.query_one(ProjectsTree)
        tree.display = not tree.display
        if tree.display:
            tree.focus()
        self._focus_shown()

    def _focus_shown(self) -> None:
        """A pane that hides takes the focus away with it: the services table gets it."""
        focused = self.focused
        if focused is None or not focused.display:
            self.query_one("#services").focus()

    def action_resources(self) -> None:
        from swarmdeck.ui.screens.resources import ResourcesScreen

        self.app.push_screen(ResourcesScreen(self.cluster))

    def action_doctor(self) -> None:
        from swarmdeck.ui.screens.doctor import DoctorScreen

        self.app.push_screen(DoctorScreen(self.cluster))

    def action_events(self) -> None:
        from swarmdeck.ui.screens.events import EventsScreen

        self.app.push_screen(EventsScreen(self.cluster))

    def action_deploy(self) -> None:
        from swarmdeck.ui.operations import deploy_environment

        node = self.scope
        if node is None or node.kind != "environment" or not node.project:
            self.notify("select a project environment in the projects pane to deploy it",
                        severity="warning")
            return
        self.run_worker(deploy_environment(self, node.project, node.environment or ""),
                        group="operations")

    def action_history(self) -> None:
        """`h` on a project environment (or its stack): its deploy history."""
        from swarmdeck.ui.screens.history import open_history

        node = self.scope
        if node is None:
            self.notify("select a project environment in the projects pane to see its deploy "
                        "history", severity="warning")
            return
        problem = open_history(self.deck, node.cluster, node.project, node.environment,
                               node.stack)
        if problem:
            self.notify(problem, severity="warning")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "trust_host":
            return self._host_key_refused
        return True

    def action_trust_host(self) -> None:
        self.run_worker(review_host_key(self, self.cluster), group="operations")

    def action_rotate_token(self) -> None:
        from swarmdeck.ui.operations import rotate_token

        self.run_worker(rotate_token(self, self.cluster), group="operations")

    def action_all_clusters(self) -> None:
        self.all_clusters = not self.all_clusters
        self.refresh_now()

    def switch_cluster(self, name: str) -> None:
        self.cluster, self.scope, self.all_clusters = name, None, False
        self.refresh_now()

    # ---- filter --------------------------------------------------------------------------
    # `/` opens the focused table's filter above it (the services' when no table has the
    # focus); Enter keeps the filter, which the table's title then shows; Esc clears it.
    def _tables(self) -> tuple[ServicesTable, NodesTable]:
        _, services, nodes, _ = self._parts()
        return services, nodes

    def _box_of(self, table: LiveTable) -> Input:
        return self.query_one(f"#{table.id}-filter", Input)

    def _table_of(self, box: Input) -> LiveTable:
        return next(t for t in self._tables() if f"{t.id}-filter" == box.id)

    def _focused_table(self) -> LiveTable | None:
        return next((t for t in self._tables() if t is self.focused), None)

    def show_filtered(self, which: str, text: str) -> None:
        """`:svc /web`: the focus on that table (services or nodes), filtered by TEXT."""
        table = next(t for t in self._tables() if t.id == which)
        box = self._box_of(table)
        with box.prevent(Input.Changed):
            box.value = text
        box.display = False
        table.set_filter(text)
        table.focus()
        self._show_titles()

    def action_inspect(self) -> None:
        """`y`: the highlighted service or node as docker holds it."""
        from swarmdeck.ui.screens.inspect import inspect_row

        table = self._focused_table() or self._tables()[0]
        inspect_row(self, table, "service" if table.id == "services" else "node")

    def action_filter(self) -> None:
        target = self._focused_table() or self._tables()[0]
        box = self._box_of(target)
        box.display = True
        box.value = target.filter_text
        box.focus()

    @on(Input.Changed, ".filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._table_of(event.input).set_filter(event.value)
        self._show_titles()

    @on(Input.Submitted, ".filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        event.input.display = False
        self._table_of(event.input).focus()

    def action_clear_filter(self) -> None:
        """Esc in a filter or on a filtered table: that table's filter goes."""
        focused = self.focused
        if isinstance(focused, Input) and focused.has_class("filter"):
            table = self._table_of(focused)
        else:
            found = self._focused_table()
            if found is None:
                return
            table = found
        box = self._box_of(table)
        table.set_filter("")
        with box.prevent(Input.Changed):
            box.value = ""
        box.display = False
        table.focus()
        self._show_titles()

    # ---- logs ----------------------------------------------------------------------------
    @work(exclusive=True, group="logs")
    async def follow_logs(self, cluster: str, service_id: str) -> None:
        await asyncio.sleep(0.3)  # moving through the table should not open a stream per row
        panes = self.query(LogPane)
        if not panes:  # the screen is being taken down: the app is closing
            return
        pane = panes.first()
        state = self.deck.fleet.state(cluster)
        service = state.services.get(service_id)
        if service is None:
            return
        pane.start(f"{service.name} ({cluster})")
        tagger = Tagger(state)  # the live state: replicas started since are named too
        try:
            # closed at once when the worker is cancelled (another row, another cluster):
            # left to the garbage collector, the stream and its node connection would live on
            async with contextlib.aclosing(self.deck.fleet.logs(cluster, service_id,
                                                                tail=50)) as lines:
                async for line in lines:
                    if isinstance(line, StreamNote):
                        pane.note(line.text,
                                  style="yellow" if line.level != "info" else "dim")
                        continue
                    pane.add(line, *tagger.tag(line))
        except SwarmdeckError as exc:
            pane.note(f"log stream stopped: {exc}", style="bold red")
