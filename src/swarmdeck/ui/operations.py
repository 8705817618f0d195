"""Keys that change a cluster: the services and nodes tables' actions, the cluster-wide ones
(join tokens), their questions and the view that follows a change to its outcome.

Every action goes through the core (core.ops) exactly as the CLI does: the read-only guard
and the audit line come from there. The order is always: refuse if read-only, ask, act,
follow.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from textual.binding import Binding
from textual.widget import Widget

from swarmdeck.core.audit import AuditLog
from swarmdeck.core.errors import NotConfirmed, OperationFailed, SwarmdeckError
from swarmdeck.core.ops import progress as prog
from swarmdeck.core.ops.base import ClusterOps
from swarmdeck.core.ops.services import Started, check_image
from swarmdeck.core.sanitize import clean
from swarmdeck.ui.screens.dialogs import ConfirmDialog, PromptDialog
from swarmdeck.ui.screens.operation import OperationScreen
from swarmdeck.ui.widgets.table import LiveTable

if TYPE_CHECKING:
    from swarmdeck.ui.app import SwarmdeckApp

Say = Callable[[str], None]
Change = Callable[[ClusterOps, Say], Awaitable[Started | str]]


async def guard(widget: Widget, cluster: str, action: str, target: str) -> ClusterOps | None:
    """The cluster's ops, or None after telling why not (read-only: refused and audited;
    not connected: the error)."""
    app: SwarmdeckApp = widget.app  # type: ignore[assignment]
    reason = app.read_only_reason(cluster)
    audit = AuditLog.default()
    try:
        if reason:  # refused before any connection: works while the cluster is unreachable
            audit.record(cluster=cluster, manager=None, action=action, target=target,
                         result="refused", error="read-only")
            app.notify(f"{action} refused: cluster {cluster} is read-only ({reason})",
                       title=action, severity="warning", timeout=6)
            return None
        try:
            ops = await app.fleet.ops(cluster, read_only_flag=app.read_only)
        except SwarmdeckError as exc:  # its manager cannot be reached: on record all the same
            audit.check()
            audit.record(cluster=cluster, manager=None, action=action, target=target,
                         result="error", error=str(exc))
            raise
        ops.check_writable(action, target)
    except SwarmdeckError as exc:
        app.notify(clean(str(exc)), title=action, severity="warning", timeout=6)
        return None
    return ops


async def run_change(widget: Widget, ops: ClusterOps, title: str, change: Change, *,
                     good: tuple[str, ...] = (prog.CONVERGED,)) -> bool:
    """Show OperationScreen, make the change, follow it until every service has an outcome."""
    app = widget.app
    view = OperationScreen(title)
    await app.push_screen(view)
    ops.defer_outcome = True  # one audit line, once the outcome is known
    ended: BaseException | None = None
    try:
        result = await change(ops, view.say)
        if isinstance(result, Started):
            view.say(result.summary)
            shown: dict[str, str] = {}
            last: list[prog.ServiceProgress] = []
            if result.services:
                async for last in prog.watch(ops.docker, result.services):
                    for p in last:
                        if shown.get(p.service_id) != p.line():
                            shown[p.service_id] = p.line()
                            view.say("  " + p.line())
            bad = [p for p in last if p.outcome not in good]
            if bad:
                raise OperationFailed("; ".join(p.line() for p in bad))
            outcome = f"{title}: done"
        else:
            outcome = str(result)
    except SwarmdeckError as exc:
        ended = exc
        view.finish(f"failed: {exc}", ok=False)
        app.notify(clean(f"{title} failed: {exc}"), severity="error", timeout=8)
        return False
    except BaseException as exc:  # cancelled (the console quits): still on record
        ended = exc
        raise
    finally:
        try:
            ops.conclude(ended)
        except SwarmdeckError as again:
            app.notify(clean(str(again)), severity="error", timeout=8)
    view.finish(outcome, ok=True)
    app.notify(clean(outcome), timeout=4)
    return True


def _split_key(widget: LiveTable) -> tuple[str, str] | None:
    key = widget.selected_key
    if key is None:
        return None
    screen = widget.screen
    if "/" in key:
        cluster, _, object_id = key.rpartition("/")
        return cluster, object_id
    return getattr(screen, "cluster", ""), key


def replicas_error(value: str) -> str | None:
    return None if value.isdigit() else "replicas must be a non-negative integer"


def image_error(value: str) -> str | None:
    try:
        check_image(value)
    except SwarmdeckError as exc:
        return str(exc)
    return None


class ServicesTable(LiveTable):
    BINDINGS = [
        Binding("s", "scale", "Scale", id="service.scale"),
        Binding("u", "update_image", "Update", id="service.update"),
        Binding("R", "restart", "Restart", id="service.restart"),
        Binding("b", "rollback", "Rollback", id="service.rollback"),
        Binding("x", "remove", "Remove", id="service.remove"),
        Binding("P", "placement", "Placement", id="service.pin", show=False),
    ]

    def _selected(self) -> tuple[str, Any] | None:
        picked = _split_key(self)
        if picked is None:
            return None
        cluster, service_id = picked
        service = self.app.fleet.state(cluster).services.get(service_id)  # type: ignore
        return (cluster, service) if service else None

    def _start(self, action: str, flow: Callable[[str, Any], Awaitable[None]]) -> None:
        picked = self._selected()
        if picked is None:
            self.app.notify("no service selected", severity="warning")
            return
        self.run_worker(flow(*picked), group="operations", name=action)

    def action_scale(self) -> None:
        async def flow(cluster: str, service) -> None:
            from swarmdeck.core.ops import services

            if service.mode != "replicated":
                self.app.notify(f"{clean(service.name)} is a {service.mode} service: it "
                                "cannot be scaled", severity="warning")
                return
            ops = await guard(self, cluster, "scale", service.name)
            if ops is None:
                return
            value = await self.app.push_screen_wait(PromptDialog(
                f"Scale {service.name} on {cluster} (now {service.replicas}) to:",
                str(service.replicas), validate=replicas_error))
            if value is None or int(value) == service.replicas:
                return
            force = False
            try:
                services.check_scale(service.name, service.replicas, int(value),
                                     self.app.config.cluster(cluster).max_replicas)
            except SwarmdeckError as exc:  # a typo or a runaway: the number typed again
                again = await self.app.push_screen_wait(ConfirmDialog(
                    f"{exc.message}. Type {value} again to scale anyway:", typed=value))
                if not again:
                    ops.conclude(NotConfirmed(f"{exc.message}; not confirmed"))
                    return
                force = True
            await run_change(self, ops, f"scale {service.name} to {value}",
                             lambda o, _s: services.scale(o, {service.name: int(value)},
                                                          force=force))

        self._start("scale", flow)

    def action_update_image(self) -> None:
        async def flow(cluster: str, service) -> None:
            from swarmdeck.core.ops import services

            ops = await guard(self, cluster, "update image", service.name)
            if ops is None:
                return
            image = await self.app.push_screen_wait(PromptDialog(
                f"New image for {service.name} on {cluster}:", service.image,
                validate=image_error))
            if not image or image == service.image:
                return
            confirmed = await self.app.push_screen_wait(ConfirmDialog(
                f"Update {service.name} on {cluster}\nfrom {service.image}\nto   {image}?"))
            if confirmed:
                await run_change(self, ops, f"update {service.name}",
                                 lambda o, _s: services.update_image(o, service.name, image))

        self._start("update image", flow)

    def action_restart(self) -> None:
        async def flow(cluster: str, service) -> None:
            from swarmdeck.core.ops import services

            ops = await guard(self, cluster, "restart", service.name)
            if ops and await self.app.push_screen_wait(ConfirmDialog(
                    f"Restart every task of {service.name} on {cluster}?")):
                await run_change(self, ops, f"restart {service.name}",
                                 lambda o, _s: services.restart(o, service.name))

        self._start("restart", flow)

    def action_rollback(self) -> None:
        async def flow(cluster: str, service) -> None:
            from swarmdeck.core.ops import services

            ops = await guard(self, cluster, "rollback", service.name)
            if ops and await self.app.push_screen_wait(ConfirmDialog(
                    f"Roll {service.name} on {cluster} back to its previous spec?")):
                await run_change(self, ops, f"rollback {service.name}",
                                 lambda o, _s: services.rollback(o, service.name),
                                 good=(prog.ROLLED_BACK, prog.CONVERGED))

        self._start("rollback", flow)

    def action_remove(self) -> None:
        async def flow(cluster: str, service) -> None:
            from swarmdeck.core.ops import services

            ops = await guard(self, cluster, "remove service", service.name)
            if ops and await self.app.push_screen_wait(ConfirmDialog(
                    f"Remove service {service.name} from {cluster}? Its tasks stop.",
                    typed=service.name, danger=True)):
                await run_change(self, ops, f"remove {service.name}",
                                 lambda o, _s: services.remove_service(o, service.name))

        self._start("remove service", flow)

    def action_placement(self) -> None:
        from swarmdeck.ui.screens.placement import edit_placement

        self._start("pin", lambda cluster, service: edit_placement(self, cluster, service))


class NodesTable(LiveTable):
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

    def _selected(self) -> tuple[str, Any] | None:
        picked = _split_key(self)
        if picked is None:
            return None
        cluster, node_id = picked
        node = self.app.fleet.state(cluster).nodes.get(node_id)  # type: ignore[attr-defined]
        return (cluster, node) if node else None

    def _start(self, action: str, flow: Callable[[str, Any], Awaitable[None]]) -> None:
        picked = self._selected()
        if picked is None:
            self.app.notify("no node selected", severity="warning")
            return
        self.run_worker(flow(*picked), group="operations", name=action)

    def action_availability(self, availability: str) -> None:
        verb = {"drain": "Drain", "active": "Activate", "pause": "Pause"}[availability]

        async def flow(cluster: str, node) -> None:
            from swarmdeck.core.ops import nodes

            action = f"node {availability}"
            ops = await guard(self, cluster, action, node.hostname)
            if ops and await self.app.push_screen_wait(ConfirmDialog(
                    f"{verb} node {node.hostname} on {cluster}?"
                    + (" Its tasks move to other nodes." if availability == "drain" else ""))):
                await run_change(self, ops, f"{verb.lower()} {node.hostname}",
                                 lambda o, _s: nodes.set_availability(o, node.id,
                                                                      availability))

        self._start(f"node {availability}", flow)

    def action_role(self, role: str) -> None:
        verb = "promote" if role == "manager" else "demote"

        async def flow(cluster: str, node) -> None:
            from swarmdeck.core.ops import nodes

            ops = await guard(self, cluster, f"node {verb}", node.hostname)
            if ops and await self.app.push_screen_wait(ConfirmDialog(
                    f"{verb.capitalize()} {node.hostname} on {cluster} to {role}?")):
                await run_change(self, ops, f"{verb} {node.hostname}",
                                 lambda o, _s: nodes.set_role(o, node.id, role))

        self._start(f"node {verb}", flow)

    def action_labels(self) -> None:
        async def flow(cluster: str, node) -> None:
            from swarmdeck.core.ops import nodes

            ops = await guard(self, cluster, "node label", node.hostname)
            if ops is None:
                return
            current = " ".join(f"{k}={v}" for k, v in sorted(node.labels.items()))
            text = await self.app.push_screen_wait(PromptDialog(
                f"Labels of {node.hostname} (KEY=VALUE to set, -KEY to remove):", current,
                validate=_labels_error))
            if text is None:
                return
            add, remove = _parse_labels(text, node.labels)
            if add or remove:
                await run_change(self, ops, f"labels of {node.hostname}",
                                 lambda o, _s: nodes.set_labels(o, node.id, add, remove))

        self._start("node label", flow)

    def action_remove(self) -> None:
        async def flow(cluster: str, node) -> None:
            from swarmdeck.core.fleet import ssh_settings
            from swarmdeck.core.ops import nodes

            ops = await guard(self, cluster, "node remove", node.hostname)
            if ops and await self.app.push_screen_wait(ConfirmDialog(
                    f"Remove {node.hostname} from {cluster}? It is drained, its tasks "
                    "move, a manager is demoted, then it leaves the swarm.",
                    typed=node.hostname, danger=True)):
                await run_change(self, ops, f"remove {node.hostname}", lambda o, say: (
                    nodes.remove_node(o, node.id, settings=ssh_settings(o.config, cluster),
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
            if role and await self.app.push_screen_wait(ConfirmDialog(
                    f"SSH into {dest} and join it to {cluster} as a {role}?")):
                async def change(o: ClusterOps, say: Say) -> str:
                    node = await join.add_node(o, dest, role,
                                               settings=ssh_settings(o.config, cluster),
                                               progress=say)
                    host = (node.get("Description") or {}).get("Hostname", dest)
                    return f"{host} joined {cluster} as a {role}: ready"

                await run_change(self, ops, f"add {dest} to {cluster}", change)

        self.run_worker(flow(), group="operations", name="node add")


def _labels_error(text: str) -> str | None:
    for item in text.split():
        if not item.startswith("-") and "=" not in item:
            return f"{item!r}: use KEY=VALUE to set, -KEY to remove"
    return None


def _parse_labels(text: str, current: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    add: dict[str, str] = {}
    remove: list[str] = []
    for item in text.split():
        if item.startswith("-"):
            if item[1:] in current:
                remove.append(item[1:])
        else:
            key, _, value = item.partition("=")
            if current.get(key) != value:
                add[key] = value
    # labels that were shown and deleted from the line are removed too
    keys = {i.partition("=")[0].lstrip("-") for i in text.split()}
    remove += [k for k in current if k not in keys and k not in remove]
    return add, remove


async def rotate_token(widget: Widget, cluster: str) -> None:
    """The `t` key: pick the role, confirm, rotate."""
    from swarmdeck.core.ops import tokens

    app = widget.app
    ops = await guard(widget, cluster, "token rotate", cluster)
    if ops is None:
        return
    role = await app.push_screen_wait(PromptDialog(
        f"Rotate which join token of {cluster}? (worker or manager)", "worker",
        validate=lambda v: None if v in ("worker", "manager") else "worker or manager"))
    if role and await app.push_screen_wait(ConfirmDialog(
            f"Rotate the {role} join token of {cluster}? Nodes in the swarm stay; hosts not "
            "yet joined need the new token.")):
        async def change(o: ClusterOps, _say: Say) -> str:
            token = await tokens.rotate(o, role)
            return f"rotated the {role} join token of {cluster}: now {token}"

        await run_change(widget, ops, f"rotate the {role} token of {cluster}", change)


async def deploy_environment(widget: Widget, project: str, environment: str) -> None:
    """The `d` key on a project environment: check the compose file, preview, ask, apply,
    follow until the services converge."""
    from swarmdeck.core.ops import environments

    app: SwarmdeckApp = widget.app  # type: ignore[assignment]
    try:
        prepared = environments.prepare(app.config, project, environment)
    except SwarmdeckError as exc:
        problems = getattr(exc, "problems", None) or [str(exc)]
        await app.push_screen(_failed_view(f"deploy {project}/{environment}", problems))
        return
    ops = await guard(widget, prepared.cluster, "deploy", prepared.stack)
    if ops is None:
        return
    try:
        shown = await environments.preview(ops, prepared)
    except SwarmdeckError as exc:
        app.notify(clean(f"deploy preview failed: {exc}"), severity="error", timeout=8)
        return
    if shown.problems:
        await app.push_screen(_failed_view(f"deploy {project}/{environment}", shown.lines()))
        return
    if not shown.changed:
        app.notify(f"{project}/{environment}: stack {prepared.stack} is up to date, "
                   "nothing to change", timeout=4)
        return
    if await app.push_screen_wait(ConfirmDialog(
            f"Deploy {project}/{environment} as stack {prepared.stack} on "
            f"{prepared.cluster}?", details=shown.lines())):
        await run_change(widget, ops, f"deploy {project}/{environment}",
                         lambda o, _s: environments.deploy(o, prepared, shown))


def _failed_view(title: str, lines: list[str]) -> OperationScreen:
    view = OperationScreen(title)
    for line in lines:
        view.say(line)
    view.finish("refused: nothing was changed", ok=False)
    return view
