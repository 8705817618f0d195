"""The services table and its keys: scale, update image, restart, roll back, remove, place,
a shell in one of the service's running tasks (`!`) and a port of one carried to a local
port (`>`).

Each goes through ui.operations (guard, then a question, then run_change) and core.ops, as
the CLI does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from textual.binding import Binding

from swarmdeck.core.errors import NotConfirmed, SwarmdeckError
from swarmdeck.core.ops import progress as prog
from swarmdeck.core.ops.services import check_image
from swarmdeck.core.sanitize import clean
from swarmdeck.ui.operations import guard, run_change, split_key
from swarmdeck.ui.screens.dialogs import ConfirmDialog, PromptDialog
from swarmdeck.ui.widgets.table import LiveTable


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
        Binding("exclamation_mark", "shell", "Shell", id="service.shell", show=False),
        Binding("greater_than_sign", "port_forward", "Port-forward", id="service.port_forward",
                show=False),
    ]

    def on_mount(self) -> None:
        from swarmdeck.ui.custom import bind_commands

        bind_commands(self, ("service", "task"))  # before the table picks its sort letters

    def action_custom(self, name: str) -> None:
        async def flow(cluster: str, service) -> None:
            from swarmdeck.ui.custom import find, run_command

            command = find(self.app, name)  # type: ignore[arg-type]
            if command is not None:
                await run_command(self, cluster, command, service.name)

        self._start(f"command {name}", flow)

    def _selected(self) -> tuple[str, Any] | None:
        picked = split_key(self)
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
            from swarmdeck.core.ops import rollback, services

            ops = await guard(self, cluster, "rollback", service.name)
            if ops is None:
                return
            try:  # what it would change, read now (the console does not keep PreviousSpec)
                plan = await rollback.survey(ops, service.id)
            except SwarmdeckError as exc:
                self.app.notify(clean(f"rollback: {exc}"), severity="warning", timeout=6)
                return
            if await self.app.push_screen_wait(ConfirmDialog(
                    f"Roll {service.name} on {cluster} back to its previous spec?",
                    details=plan.lines())):
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

    def action_shell(self) -> None:
        async def flow(cluster: str, service) -> None:
            from swarmdeck.ui.shell import open_shell, pick_replica

            picked = await pick_replica(self, cluster, service, "A shell")
            if picked is not None:
                await open_shell(self, cluster, picked[0], node=picked[1])

        self._start("shell", flow)

    def action_port_forward(self) -> None:
        async def flow(cluster: str, service) -> None:
            from swarmdeck.ui.forwards import ask_and_forward

            await ask_and_forward(self, cluster, service)

        self._start("port-forward", flow)

    def action_placement(self) -> None:
        from swarmdeck.ui.screens.placement import edit_placement

        self._start("pin", lambda cluster, service: edit_placement(self, cluster, service))
