"""Console tests on data recorded from the lab (tests/fixtures), with a pinned clock, so
screens are deterministic without a cluster. The live-lab console test is in integration/."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from swarmdeck.core.config import load_config
from swarmdeck.core.inventory import Change, ClusterState
from swarmdeck.core.logs import Demuxer, parse_line
from swarmdeck.core.metrics import ClusterMetrics, Point
from swarmdeck.core.models import Network, Node, Service, SwarmInfo, Task
from swarmdeck.ui import clock
from swarmdeck.ui.app import SwarmdeckApp

FIXTURES = Path(__file__).parent.parent / "fixtures"
# a moment shortly after the fixtures were recorded: ages read "N minutes"
PINNED_NOW = 1795934700.0


def recorded_state(name: str) -> ClusterState:
    folder = FIXTURES / f"lab_{name}"

    def load(part: str):
        return json.loads((folder / f"{part}.json").read_text())

    state = ClusterState(name)
    state.nodes = {n.id: n for n in map(Node.from_api, load("nodes"))}
    state.services = {s.id: s for s in map(Service.from_api, load("services"))}
    state.tasks = {t.id: t for t in map(Task.from_api, load("tasks"))}
    state.networks = {n.id: n for n in map(Network.from_api, load("networks"))}
    state.info = SwarmInfo.from_api(load("info"))
    state.manager = f"{name}-m1 (root@lab)"
    state.connected = True
    state.loaded_at = PINNED_NOW - 1
    return state


class RecordedFleet:
    """The console's FleetSource over recorded states; tests change them and emit()."""

    def __init__(self) -> None:
        self.states = {"prod": recorded_state("prod"), "staging": recorded_state("staging")}
        self.listeners = []
        self.stopped = asyncio.Event()
        self.log_requests: list[tuple[str, str]] = []
        self.collected: dict[str, SimpleNamespace] = {}
        self.added: list[str] = []

    @property
    def names(self) -> list[str]:
        return list(self.states)

    def state(self, name: str) -> ClusterState:
        return self.states[name]

    def subscribe(self, listener):
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def show(self, names) -> None:
        self.shown = list(names)  # the clusters the console says it looks at

    def emit(self, cluster: str, kind: str = "services") -> None:
        for listener in list(self.listeners):
            listener(Change(cluster, kind))

    async def run(self, name: str) -> None:
        await self.stopped.wait()

    def add_cluster(self, name: str, cluster) -> None:
        """A cluster added while the console runs: nothing recorded of it, not loaded."""
        self.states[name] = ClusterState(name)
        self.added.append(name)

    async def logs(self, name: str, service_id: str, *, tail=100, follow=True):
        self.log_requests.append((name, service_id))
        if self.states[name].services[service_id].name != "shop_worker":
            await self.stopped.wait()  # the recording holds only shop_worker's lines
        raw = (FIXTURES / "lab_prod" / "worker_logs.bin").read_bytes()
        demux = Demuxer()
        for stream, line in demux.feed(raw):
            yield parse_line(line, stream)
        await self.stopped.wait()

    async def task_logs(self, name: str, task_id: str, *, tail: int = 50):
        """The recorded lines of that task (the recording holds only shop_worker's)."""
        from swarmdeck.core.task_logs import TaskLines

        raw = (FIXTURES / "lab_prod" / "worker_logs.bin").read_bytes()
        lines = [parse_line(line, stream) for stream, line in Demuxer().feed(raw)]
        mine = [line for line in lines if line.task_id == task_id]
        return TaskLines(mine[-tail:], source="the recording")

    def metrics(self, name: str):
        if name not in self.collected:
            self.collected[name] = SimpleNamespace(metrics=synthetic_metrics(self.states[name]))
        return self.collected[name]

    async def close(self) -> None:
        self.stopped.set()


def synthetic_metrics(state: ClusterState) -> ClusterMetrics:
    """Deterministic histories shaped like the lab's: the snapshot shows sparklines."""
    metrics = ClusterMetrics(history=20)
    for i, node in enumerate(sorted(state.nodes.values(), key=lambda n: n.hostname)):
        metrics.node_memory[node.id] = 8 << 30
        for step in range(12):
            metrics._series(metrics.nodes, node.id).add(
                Point(5.0 + (step * (i + 3)) % 17, (1 << 30) + step * (i + 1) * (16 << 20)))
    for i, service in enumerate(sorted(state.services.values(), key=lambda s: s.name)):
        if service.mode.endswith("job"):
            continue
        for step in range(12):
            metrics._series(metrics.services, service.id).add(
                Point(0.5 * ((step + i) % 6), (4 << 20) + ((step * 7 + i) % 5) * (1 << 20)))
    return metrics


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: PINNED_NOW)


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(
        '[clusters.prod]\nmanagers = ["prod-m1"]\n'
        '[clusters.staging]\nmanagers = ["staging-m1"]\nread_only = true\n'
        '[projects.shop.environments.production]\ncluster = "prod"\nstack = "shop"\n'
        'compose = "shop.yml"\n'
        '[projects.shop.environments.staging]\ncluster = "staging"\nstack = "shop"\n'
        'compose = "shop.yml"\n'
    )
    path.chmod(0o600)
    return load_config(path)


@pytest.fixture
def fleet():
    return RecordedFleet()


@pytest.fixture
def make_app(config, fleet):
    def make(**kwargs) -> SwarmdeckApp:
        return SwarmdeckApp(kwargs.pop("config", config), fleet, **kwargs)
    return make
