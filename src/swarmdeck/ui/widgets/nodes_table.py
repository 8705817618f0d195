"""The nodes table and its keys: drain, activate, pause, promote, demote, labels, add, remove.

Each goes through ui.operations (guard, then a question, then run_change) and core.ops, as
the CLI does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.binding import Binding

from swarmdeck.core.errors import SwarmdeckError
from swarmdeck.core.models import Node
from swarmdeck.core.ops import progress as prog
from swarmdeck.core.ops.base import ClusterOps
from swarmdeck.core.sanitize import clean
from swarmdeck.ui.operations import Say, guard, run_change
from swarmdeck.ui.screens.dialogs import ConfirmDialog, PromptDialog
from swarmdeck.ui.widgets.object_table import ObjectTable

if TYPE_CHECKING:
    from swarmdeck.core.inventory import ClusterState


class NodesTable(ObjectTable):
    KIND = "node"
    SCOPES = ("node",)

    BINDINGS = [
        Binding("w", "availability('drain')", "Drain", id="node.drain"),
        Binding("v", "availability('active')", "Activate", id="node.activate"),
        Binding("z", "availability('pause')", "Pause", id="node.pause", show=False),
        Binding("p", "role('manager')", "Promote", id="node.promote"),
        Binding("m", "role('worker')", "Demote", id="node.demote"),
        Binding("l", "labels", "Labels", id="node.labels", show=False),
        Binding("a", "add_node", "Add node", id="node.add"),
        Binding("x", "remove", "Remove", id="node.remove"),
    ]

    def objects(self, state: ClusterState) -> dict[str, Any]:
        return state.nodes

    def object_name(self, obj: Any) -> str:
        return obj.hostname

    def _already(self, node: Node, **wanted: str) -> bool:
        """A change that would change nothing is refused before any question."""
        from swarmdeck.core.ops.nodes import already

        unchanged = already(node, **wanted)
        if unchanged:
            self.app.notify(clean(unchanged), severity="warning", timeout=4)
        return unchanged is not None

    def action_availability(self, availability: str) -> None:
        verb = {"drain": "Drain", "active": "Activate", "pause": "Pause"}[availability]

        async def flow(cluster: str, node: Node) -> None:
            from swarmdeck.core.ops import nodes

            if self._already(node, availability=availability):
                return
            ops = await guard(self, cluster, f"node {availability}", node.hostname)
            if ops is None:
                return
            if availability == "drain":
                await self._drain(ops, cluster, node)
            elif await self.app.push_screen_wait(ConfirmDialog(
                    f"{verb} node {node.hostname} on {cluster}?")):
                await run_change(self, ops, f"{verb.lower()} {node.hostname}",
                                 lambda o, _s: nodes.set_availability(o, node.id,
                                                                      availability))

        self._start(f"node {availability}", flow)

    async def _drain(self, ops: ClusterOps, cluster: str, node: Node) -> None:
        """The plan first (tasks that move, services left short), then the question; the
        view follows the tasks until they have moved and settled."""
        from swarmdeck.core.ops import drain

        state = self.deck.fleet.state(cluster)
        plan = drain.plan_drain(state.nodes.get(node.id, node), state.nodes.values(),
                                state.services.values(), state.tasks.values())
        question = f"Drain node {node.hostname} on {cluster}? Its tasks stop there."
        if plan.short:
            question = (f"{', '.join(s.service.name for s in plan.short)} would end up "
                        f"below the desired count.\n{question}")
        if await self.app.push_screen_wait(ConfirmDialog(
                question, details=plan.lines(), danger=bool(plan.short))):
            await run_change(self, ops, f"drain {node.hostname}",
                             lambda o, _s: drain.drain(o, plan),
                             good=(prog.CONVERGED, prog.SHORT))

    def action_role(self, role: str) -> None:
        verb = "promote" if role == "manager" else "demote"

        async def flow(cluster: str, node: Node) -> None:
            from swarmdeck.core.ops import nodes

            if self._already(node, role=role):
                return
            ops = await guard(self, cluster, f"node {verb}", node.hostname)
            if ops is not None and await self.app.push_screen_wait(ConfirmDialog(
                    f"{verb.capitalize()} {node.hostname} on {cluster} to {role}?")):
                await run_change(self, ops, f"{verb} {node.hostname}",
                                 lambda o, _s: nodes.set_role(o, node.id, role))

        self._start(f"node {verb}", flow)

    def action_labels(self) -> None:
        async def flow(cluster: str, node: Node) -> None:
            from swarmdeck.core.ops import node_labels

            ops = await guard(self, cluster, "node label", node.hostname)
            if ops is None:
                return
            state = self.deck.fleet.state(cluster)

            def plan(text: str) -> node_labels.LabelPlan:
                return node_labels.plan_labels(
                    state.nodes.get(node.id, node), node_labels.parse_label_edits(text),
                    state.nodes.values(), state.services.values(), state.tasks.values())

            def problem(text: str) -> str | None:
                try:
                    plan(text)
                except SwarmdeckError as exc:
                    return str(exc)
                return None

            current = ", ".join(f"{k}={v}" for k, v in sorted(node.labels.items()))
            text = await self.app.push_screen_wait(PromptDialog(
                f"Labels of {node.hostname} on {cluster}: {current or 'none'}\n"
                "KEY=VALUE sets one, -KEY removes one (several, separated by spaces); the "
                "others stay. An empty line changes nothing.",
                placeholder="e.g. zone=b -disk", validate=problem))
            if text is None:
                return
            planned = plan(text)
            if not planned.changes:
                already = [line for line in planned.lines() if line.startswith("already")]
                self.app.notify(clean(f"labels of {node.hostname}: nothing changed"
                                      + (f" ({already[0]})" if already else "")), timeout=4)
                return
            warning = node_labels.affected_summary(planned.affected)
            question = f"Change the labels of {node.hostname} on {cluster}?"
            if await self.app.push_screen_wait(ConfirmDialog(
                    f"{warning}.\n{question}" if warning else question,
                    details=planned.lines(), danger=bool(warning))):
                await run_change(self, ops, f"labels of {node.hostname}",
                                 lambda o, _s: node_labels.apply(o, planned))

        self._start("node label", flow)

    def action_remove(self) -> None:
        async def flow(cluster: str, node) -> None:
            from swarmdeck.core.fleet import ssh_settings
            from swarmdeck.core.ops import nodes

            ops = await guard(self, cluster, "node remove", node.hostname)
            if ops is not None and await self.app.push_screen_wait(ConfirmDialog(
                    f"Remove {node.hostname} from {cluster}? It is drained, its tasks "
                    "move, a manager is demoted, then it leaves the swarm.",
                    typed=node.hostname, danger=True)):
                await run_change(self, ops, f"remove {node.hostname}", lambda o, say: (
                    nodes.remove_node(o, node.id, settings=ssh_settings(self.deck.config, cluster),
                                      user=o.session.resolved.user, say=say)))

        self._start("node remove", flow)

    def action_add_node(self) -> None:
        cluster = getattr(self.screen, "cluster", "")

        async def flow() -> None:
            from swarmdeck.core.fleet import ssh_settings
            from swarmdeck.core.ops import join

            ops = await guard(self, cluster, "node add", "")
            if ops is None:
                return
            dest = await self.app.push_screen_wait(PromptDialog(
                f"Host to join to {cluster} ([user@]host[:port] or an ssh alias):",
                placeholder="e.g. admin@10.0.0.12", validate=lambda v: None if v else
                "give the new host"))
            if not dest:
                return
            role = await self.app.push_screen_wait(PromptDialog(
                "Role (worker or manager):", "worker",
                validate=lambda v: None if v in ("worker", "manager") else
                "worker or manager"))
            if role is not None and await self.app.push_screen_wait(ConfirmDialog(
                    f"SSH into {dest} and join it to {cluster} as a {role}?")):
                async def change(o: ClusterOps, say: Say) -> str:
                    node = await join.add_node(o, dest, role,
                                               settings=ssh_settings(self.deck.config, cluster),
                                               progress=say)
                    host = (node.get("Description") or {}).get("Hostname", dest)
                    return f"{host} joined {cluster} as a {role}: ready"

                await run_change(self, ops, f"add {dest} to {cluster}", change)

        self.run_worker(flow(), group="operations", name="node add")
