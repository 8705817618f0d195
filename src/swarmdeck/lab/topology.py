"""What the lab is made of: clusters, nodes, names and addresses.

Pure data, no side effects: the rest of the lab reads names and addresses from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from swarmdeck.core.errors import UsageError

BRIDGE = "sdlab0"
NETNS_PREFIX = "sdlab-"
VETH_PREFIX = "sdl-"
SUBNET_PREFIX = "10.213.0"
BRIDGE_IP = f"{SUBNET_PREFIX}.1"
PREFIX_LEN = 24
REGISTRY = f"{BRIDGE_IP}:5000"
DEMO_IMAGE = f"{REGISTRY}/swarmdeck/demo"
# cgroup parent for every lab container, so a killed lab's containers can be found and ended
CGROUP_PARENT = "swarmdeck-lab"
# Address pools: node-local bridges and each swarm's overlays stay inside 10.213.0.0/16.
NODE_BRIDGE_IP = "10.213.250.1/24"
NODE_ADDRESS_POOL = "10.213.224.0/19"
SWARM_POOLS = ["10.213.64.0/18", "10.213.128.0/18", "10.213.192.0/19"]
# Solo clusters (one-node swarms added to a running lab, e.g. for the ten-cluster bench):
# addresses .100 up, overlays in 10.213.16.0/22, 10.213.20.0/22, ... (below every other pool).
MAX_SOLO = 12

DEFAULT_CLUSTERS = (("prod", 3, 2), ("staging", 1, 1))
DEFAULT_SPARES = 2
_NAME = re.compile(r"^[a-z][a-z0-9]{0,7}$")


@dataclass(frozen=True)
class LabNode:
    name: str
    address: str
    cluster: str | None  # None for a spare host that is in no swarm yet
    role: str  # "manager", "worker" or "spare"

    @property
    def netns(self) -> str:
        return f"{NETNS_PREFIX}{self.name}"

    @property
    def veth(self) -> str:
        return f"{VETH_PREFIX}{self.name}"


@dataclass(frozen=True)
class LabCluster:
    name: str
    managers: int
    workers: int


@dataclass
class LabSpec:
    clusters: list[LabCluster] = field(
        default_factory=lambda: [LabCluster(n, m, w) for n, m, w in DEFAULT_CLUSTERS]
    )
    spares: int = DEFAULT_SPARES

    def nodes(self) -> list[LabNode]:
        out: list[LabNode] = []

        def add(name: str, cluster: str | None, role: str) -> None:
            out.append(LabNode(name, f"{SUBNET_PREFIX}.{11 + len(out)}", cluster, role))

        for c in self.clusters:
            for i in range(1, c.managers + 1):
                add(f"{c.name}-m{i}", c.name, "manager")
            for i in range(1, c.workers + 1):
                add(f"{c.name}-w{i}", c.name, "worker")
        for i in range(1, self.spares + 1):
            add(f"spare-{i}", None, "spare")
        return out

    def to_dict(self) -> dict:
        return {
            "clusters": [[c.name, c.managers, c.workers] for c in self.clusters],
            "spares": self.spares,
        }

    @classmethod
    def from_dict(cls, data: dict) -> LabSpec:
        return cls([LabCluster(n, m, w) for n, m, w in data["clusters"]], data["spares"])


def parse_cluster_option(text: str) -> LabCluster:
    """`NAME:MANAGERS:WORKERS`, e.g. `prod:3:2`."""
    parts = text.split(":")
    if len(parts) != 3 or not _NAME.match(parts[0]):
        raise UsageError(
            f"bad --cluster {text!r}: expected NAME:MANAGERS:WORKERS with a short lowercase "
            "name, e.g. prod:3:2"
        )
    try:
        managers, workers = int(parts[1]), int(parts[2])
    except ValueError:
        raise UsageError(f"bad --cluster {text!r}: MANAGERS and WORKERS must be numbers") from None
    if not 1 <= managers <= 7 or not 0 <= workers <= 20:
        raise UsageError(f"bad --cluster {text!r}: managers must be 1-7 and workers 0-20")
    return LabCluster(parts[0], managers, workers)


def make_spec(cluster_options: list[str] | None, spares: int | None) -> LabSpec:
    spec = LabSpec()
    if cluster_options:
        spec.clusters = [parse_cluster_option(o) for o in cluster_options]
        names = [c.name for c in spec.clusters]
        if len(set(names)) != len(names):
            raise UsageError("each --cluster needs a different name")
        if len(spec.clusters) > len(SWARM_POOLS):
            raise UsageError(f"the lab runs at most {len(SWARM_POOLS)} clusters")
    if spares is not None:
        if not 0 <= spares <= 10:
            raise UsageError("--spares must be between 0 and 10")
        spec.spares = spares
    if len(spec.nodes()) > 200:
        raise UsageError("too many lab nodes: at most 200")
    return spec


def solo_node(name: str, index: int) -> LabNode:
    """The one node of solo cluster NAME, the INDEXth solo cluster of the lab."""
    return LabNode(f"{name}-m1", f"{SUBNET_PREFIX}.{100 + index}", name, "manager")


def solo_pool(index: int) -> str:
    return f"10.213.{16 + 4 * index}.0/22"


def check_solo_names(names: list[str], taken: list[str], existing: int) -> None:
    for name in names:
        if not _NAME.match(name):
            raise UsageError(f"bad solo cluster name {name!r}: a short lowercase name "
                             "(a letter, then up to 7 letters or digits), e.g. solo1")
        if name in taken:
            raise UsageError(f"the lab already has a cluster named {name!r}")
    if len(set(names)) != len(names):
        raise UsageError("each solo cluster needs a different name")
    if existing + len(names) > MAX_SOLO:
        raise UsageError(f"the lab runs at most {MAX_SOLO} solo clusters "
                         f"({existing} already up)")


def default_lab_dir() -> Path:
    return Path("/var/lib/swarmdeck-lab")
