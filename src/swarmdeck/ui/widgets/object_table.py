"""A table whose rows are one kind of cluster object (services, nodes) and whose keys act on
the highlighted one: finding the object, starting the action's worker and the custom
commands are written here once for both tables."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar

from swarmdeck.ui.deck import Deck, deck_of
from swarmdeck.ui.operations import split_key
from swarmdeck.ui.widgets.table import LiveTable

if TYPE_CHECKING:
    from swarmdeck.core.inventory import ClusterState


class ObjectTable(LiveTable):
    KIND: ClassVar[str] = ""  # "service", "node": what "no ... selected" names
    SCOPES: ClassVar[tuple[str, ...]] = ()  # the [[commands]] scopes bound on this table

    @property
    def deck(self) -> Deck:
        return deck_of(self)

    def on_mount(self) -> None:
        from swarmdeck.ui.custom import bind_commands

        bind_commands(self, self.SCOPES)  # before the table picks its sort letters

    def objects(self, state: ClusterState) -> dict[str, Any]:
        """The cluster's objects of this table's kind, by id."""
        raise NotImplementedError

    def object_name(self, obj: Any) -> str:
        """What a custom command's placeholder gets for OBJ (service name, hostname)."""
        raise NotImplementedError

    def action_custom(self, name: str) -> None:
        async def flow(cluster: str, obj: Any) -> None:
            from swarmdeck.ui.custom import find, run_command

            command = find(self.deck, name)
            if command is not None:
                await run_command(self, cluster, command, self.object_name(obj))

        self._start(f"command {name}", flow)

    def _selected(self) -> tuple[str, Any] | None:
        picked = split_key(self)
        if picked is None:
            return None
        cluster, object_id = picked
        obj = self.objects(self.deck.fleet.state(cluster)).get(object_id)
        return (cluster, obj) if obj else None

    def _start(self, action: str, flow: Callable[[str, Any], Awaitable[object]]) -> None:
        picked = self._selected()
        if picked is None:
            self.app.notify(f"no {self.KIND} selected", severity="warning")
            return
        self.run_worker(flow(*picked), group="operations", name=action)
