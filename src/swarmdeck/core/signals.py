"""Who tells whom what, for one cluster kept live: the one place where the inventory, the
metrics collector and the failover heartbeat are wired to each other (Fleet.run connects
them, Fleet.show moves a cluster to the background and back).

  from                 signal                             to          effect
  -------------------  ---------------------------------  ----------  -------------------------
  inventory            nodes loaded or changed            metrics     samplers follow the nodes
                                                                      (MetricsCollector.sync)
  metrics              a node's containers changed        inventory   tasks re-read soon
                       between two samples                            (ClusterInventory.tasks_due)
  metrics              every node up is sampled           inventory   task polling drops to the
                       (watches_all_nodes, asked)                     safety net (tasks_watched)
  metrics sampler      a sample on the manager's own      heartbeat   the manager counts as heard:
                       connection                                     no ping (session.heard; see
                                                                      Fleet.metrics)
  fleet ticker         an interval passed                 listeners   service histories aggregated,
                                                                      "metrics" notified
  fleet (show)         the cluster is off screen          inventory   background: tasks on events
                                                                      only, slower ping
                                                          metrics     paused (node connections
                                                                      closed); resumed when shown
                                                          node links  connections nothing uses
                                                                      closed (a log stream, a
                                                                      shell, a forward keep theirs)

Nothing else assigns one of these objects' attributes from outside.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from swarmdeck.core.inventory import Change, ClusterInventory

if TYPE_CHECKING:
    from swarmdeck.core.metrics import MetricsCollector


class ClusterSignals:
    """The live wiring of one cluster's inventory and metrics collector."""

    def __init__(self, inventory: ClusterInventory, collector: MetricsCollector) -> None:
        self.inventory = inventory
        self.collector = collector
        self._stops: list[Callable[[], None]] = []

    def connect(self) -> None:
        inventory, collector = self.inventory, self.collector

        def nodes_changed(change: Change) -> None:
            if change.kind in ("loaded", "nodes"):
                collector.sync()

        self._stops.append(inventory.subscribe(nodes_changed))
        collector.metrics.on_containers_changed = lambda _node: inventory.tasks_due()
        inventory.tasks_watched = collector.watches_all_nodes
        # nodes loaded before the wiring (the console's first cluster is loaded early, while
        # Textual imports): sampled now, not at the next node change
        collector.sync()

    def disconnect(self) -> None:
        for stop in self._stops:
            stop()
        self._stops.clear()
        self.inventory.tasks_watched = lambda: False
        self.collector.metrics.on_containers_changed = None

    async def tick_forever(self, on_error: Callable[[Exception], None]) -> None:
        """Aggregate the service histories once per interval and tell the listeners."""
        while True:
            await asyncio.sleep(self.collector.interval)
            try:
                self.collector.tick()
            except Exception as exc:  # noqa: BLE001 - the next tick may do better; say it
                on_error(exc)
            self.inventory.notify("metrics")

    def background(self, behind: bool) -> asyncio.Future | None:
        """The cluster goes off screen (BEHIND) or comes back. Returns the pause under way,
        if one was started (the caller keeps it until it is done)."""
        self.inventory.background(behind)
        if behind and not self.collector.paused:
            return asyncio.ensure_future(self.collector.pause())
        if not behind:
            self.collector.resume()
        return None
