"""What the screens and widgets need of the console, without importing the app: ui.app
imports the screens, and they import this (never ui.app), so the imports of ui/ run one way.

- FleetSource: what the console needs from the core (core.fleet.Fleet, recorded data in
  tests).
- Deck: the console app as screens see it, with the state and rules they share (the
  config, the fleet, the read-only rule, the port-forwards). ui.app.SwarmdeckApp is the one
  Deck; it adds the wiring (keys, mounting, redraws, crashes).
- DeckScreen: the base of every full screen: the cluster it shows (the app redraws the
  screens showing a cluster that changed) and refresh_data(), called then.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar, cast

from textual.app import App
from textual.dom import DOMNode
from textual.screen import Screen

from swarmdeck.core.config import ClusterConfig, Config
from swarmdeck.core.errors import HostKeyError
from swarmdeck.core.inventory import ClusterState, Listener
from swarmdeck.core.metrics import ClusterMetrics
from swarmdeck.core.port_forward import Forwards

ResultType = TypeVar("ResultType")


class FleetSource(Protocol):
    """What the console needs from the core (core.fleet.Fleet, or recorded data in tests)."""

    @property
    def names(self) -> list[str]: ...
    def state(self, name: str) -> ClusterState: ...
    def subscribe(self, listener: Listener): ...
    async def run(self, name: str) -> None: ...
    def reconnect(self, name: str) -> None: ...
    def show(self, names: Iterable[str]) -> None: ...
    def add_cluster(self, name: str, cluster: ClusterConfig) -> None: ...
    async def ops(self, name: str, *, read_only_flag: bool = False): ...
    def logs(self, name: str, service_id: str, *, tail: int | str = 100): ...
    def metrics(self, name: str): ...
    async def task_engine(self, name: str, node_id: str): ...
    async def node_connection(self, name: str, node_id: str): ...
    async def task_logs(self, name: str, task_id: str, *, tail: int = 50): ...
    async def close(self) -> None: ...


class Deck(App):
    """The console app as its screens and widgets see it."""

    def __init__(self, config: Config, fleet: FleetSource, *, start_cluster: str | None = None,
                 read_only: bool = False) -> None:
        super().__init__()
        self.config = config
        self.fleet = fleet
        self.read_only = read_only
        self.start_cluster = start_cluster or fleet.names[0]
        # hosts whose key CHANGED, met on any path while the console runs (even one the
        # console got around by another manager): the header keeps saying it
        self.changed_keys: dict[str, HostKeyError] = {}
        self.forwards = Forwards()  # the active port-forwards, closed when the console quits

    def cluster_metrics(self, cluster: str) -> ClusterMetrics | None:
        if self.config.clusters.get(cluster) and self.config.clusters[cluster].metrics == "off":
            return None
        return self.fleet.metrics(cluster).metrics

    def is_read_only(self, cluster: str) -> bool:
        return self.read_only_reason(cluster) is not None

    def read_only_reason(self, cluster: str) -> str | None:
        if self.read_only:
            return "--read-only"
        cfg = self.config.clusters.get(cluster)
        if cfg and cfg.read_only:
            return f"read_only = true for [clusters.{cluster}] in the config"
        return None

    def add_cluster(self, name: str, cluster: ClusterConfig) -> None:
        """A cluster just written to the config (`:ctx add`): in the fleet, followed live."""
        self.config.clusters[name] = cluster
        self.fleet.add_cluster(name, cluster)
        self.run_worker(self.fleet.run(name), name=f"inventory {name}", group="inventory",
                        exit_on_error=False)


def screen_cluster(screen: object) -> str:
    """The cluster SCREEN shows ("" for a screen of none, or not one of the console's)."""
    return screen.cluster if isinstance(screen, DeckScreen) else ""


def deck_of(node: DOMNode) -> Deck:
    """The console app NODE belongs to."""
    return cast(Deck, node.app)


class DeckScreen(Screen[ResultType]):
    """A full screen of the console. CLUSTER: the cluster it shows ("" for none); with
    ALL_CLUSTERS, every one. The app calls refresh_data() when a cluster it shows changed
    (once per burst of changes)."""

    cluster: str = ""
    all_clusters: bool = False

    @property
    def deck(self) -> Deck:
        return cast(Deck, self.app)

    def shows(self, cluster: str) -> bool:
        return self.all_clusters or self.cluster == cluster

    def refresh_data(self) -> None:
        """The data shown changed: draw it again (a screen that follows nothing keeps
        this)."""
