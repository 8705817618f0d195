"""The nodes table and its keys: drain, activate, pause, promote, demote, labels, add, remove.

Each change is a core.actions descriptor run by ui.operations.perform: the same plan,
question and policy as the CLI's; the console gathers the inputs (labels, a host) first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.binding import Binding

from swarmdeck.core import actions
from swarmdeck.core.errors import SwarmdeckError
from swarmdeck.core.models import Node
from swarmdeck.core.sanitize import clean
from swarmdeck.ui.deck import screen_cluster
from swarmdeck.ui.operations import guard, perform
from swarmdeck.ui.screens.dialogs import PromptDialog
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
        """A change that would change nothing is refused before any question, from what
        the console shows (the action's plan says it again from the cluster's own state)."""
        from swarmdeck.core.ops.nodes import already

        unchanged = already(node, **wanted)
        if unchanged:
            self.app.notify(clean(unchanged), severity="information", timeout=4)
        return unchanged is not None

    def action_availability(self, availability: str) -> None:
        async def flow(cluster: str, node: Node) -> None:
            if not self._already(node, availability=availability):
                await perform(self, cluster, actions.node_availability(node.hostname,
                                                                        availability))

        self._start(f"node {availability}", flow)

    def action_role(self, role: str) -> None:
        async def flow(cluster: str, node: Node) -> None:
            if not self._already(node, role=role):
                await perform(self, cluster, actions.node_role(node.hostname, role))

        self._start(f"node {'promote' if role == 'manager' else 'demote'}", flow)

    def action_labels(self) -> None:
        async def flow(cluster: str, node: Node) -> None:
            from swarmdeck.core.ops import node_labels

            ops = await guard(self, cluster, "node label", node.hostname)
            if ops is None:
                return
            state = self.deck.fleet.state(cluster)

            def problem(text: str) -> str | None:  # checked as typed, on what is shown
                try:
                    node_labels.plan_labels(
                        state.nodes.get(node.id, node), node_labels.parse_label_edits(text),
                        state.nodes.values(), state.services.values(), state.tasks.values())
                except SwarmdeckError as exc:
                    return str(exc)
                return None

            current = ", ".join(f"{k}={v}" for k, v in sorted(node.labels.items()))
            text = await self.app.push_screen_wait(PromptDialog(
                f"Labels of {node.hostname} on {cluster}: {current or 'none'}\n"
                "KEY=VALUE sets one, -KEY removes one (several, separated by spaces); the "
                "others stay. An empty line changes nothing.",
                placeholder="e.g. zone=b -disk", validate=problem))
            if text is not None:
                await perform(self, cluster, actions.node_labels(
                    node.hostname, node_labels.parse_label_edits(text)), ops=ops)

        self._start("node label", flow)

    def action_remove(self) -> None:
        from swarmdeck.core.fleet import ssh_settings

        self._start("node remove", lambda cluster, node: perform(
            self, cluster, actions.node_remove(
                node.hostname, settings=ssh_settings(self.deck.config, cluster))))

    def action_add_node(self) -> None:
        cluster = screen_cluster(self.screen)

        async def flow() -> None:
            from swarmdeck.core.fleet import ssh_settings

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
            if role is not None:
                await perform(self, cluster, actions.node_add(
                    dest, role, settings=ssh_settings(self.deck.config, cluster)), ops=ops)

        self.run_worker(flow(), group="operations", name="node add")
