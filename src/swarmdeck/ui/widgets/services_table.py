"""The services table and its keys: scale, update image, restart, roll back, remove, place,
a shell in one of the service's running tasks (`!`) and a port of one carried to a local
port (`>`).

Each change is a core.actions descriptor run by ui.operations.perform: the same plan,
question and policy as the CLI's; the console gathers the inputs (a count, an image) first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.binding import Binding

from swarmdeck.core import actions
from swarmdeck.core.errors import NotConfirmed, SwarmdeckError
from swarmdeck.core.ops.services import check_image
from swarmdeck.core.sanitize import clean
from swarmdeck.ui.operations import guard, perform
from swarmdeck.ui.screens.dialogs import ConfirmDialog, PromptDialog
from swarmdeck.ui.widgets.object_table import ObjectTable

if TYPE_CHECKING:
    from swarmdeck.core.inventory import ClusterState


def replicas_error(value: str) -> str | None:
    return None if value.isdigit() else "replicas must be a non-negative integer"


def image_error(value: str) -> str | None:
    try:
        check_image(value)
    except SwarmdeckError as exc:
        return str(exc)
    return None


class ServicesTable(ObjectTable):
    KIND = "service"
    SCOPES = ("service", "task")

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

    def objects(self, state: ClusterState) -> dict[str, Any]:
        return state.services

    def object_name(self, obj: Any) -> str:
        return obj.name

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
                                     self.deck.config.cluster(cluster).max_replicas)
            except SwarmdeckError as exc:  # a typo or a runaway: the number typed again
                again = await self.app.push_screen_wait(ConfirmDialog(
                    f"{exc.message}. Type {value} again to scale anyway:", typed=value))
                if not again:
                    ops.conclude(NotConfirmed(f"{exc.message}; not confirmed"))
                    return
                force = True
            # the count typed is the answer: no second question
            await perform(self, cluster, actions.scale({service.name: int(value)}, force=force),
                          ops=ops, asked=True)

        self._start("scale", flow)

    def action_update_image(self) -> None:
        async def flow(cluster: str, service) -> None:
            ops = await guard(self, cluster, "update image", service.name)
            if ops is None:
                return
            image = await self.app.push_screen_wait(PromptDialog(
                f"New image for {service.name} on {cluster}:", service.image,
                validate=image_error))
            if image and image != service.image:
                await perform(self, cluster, actions.update_image(service.name, image),
                              ops=ops)

        self._start("update image", flow)

    def action_restart(self) -> None:
        self._start("restart", lambda cluster, service: perform(
            self, cluster, actions.restart(service.name)))

    def action_rollback(self) -> None:
        self._start("rollback", lambda cluster, service: perform(
            self, cluster, actions.rollback(service.name)))

    def action_remove(self) -> None:
        self._start("remove service", lambda cluster, service: perform(
            self, cluster, actions.remove_service(service.name)))

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
