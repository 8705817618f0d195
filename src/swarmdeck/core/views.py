"""What the CLI and the console show, computed once from a cluster's state.

Rows are plain frozen dataclasses: the CLI prints them (or dumps them as JSON), the console
puts them in its tables. Neither re-derives replicas, leaders or task counts on its own.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from swarmdeck.core.config import Config
from swarmdeck.core.errors import NoLeader, SwarmdeckError
from swarmdeck.core.inventory import ClusterState
from swarmdeck.core.models import Service, Task


@dataclass(frozen=True)
class ServiceRow:
    cluster: str
    id: str
    name: str
    stack: str | None
    mode: str
    image: str
    replicas_running: int
    replicas_desired: int
    completed: int | None  # jobs only
    ports: list[str]
    update_state: str | None
    created_at: datetime | None
    updated_at: datetime | None
    # replicas are missing and the newest failure is a node that could not get the image
    pull_failing: bool = False

    @property
    def converged(self) -> bool:
        return self.mode.endswith("job") or self.replicas_running >= self.replicas_desired

    @property
    def replicas_text(self) -> str:
        return replicas_text(self.replicas_running, self.replicas_desired, self.completed)


def replicas_text(running: int, desired: int, completed: int | None) -> str:
    """`2/3`, and for a job `0/1 (4 done)`."""
    text = f"{running}/{desired}"
    return text + (f" ({completed} done)" if completed is not None else "")


@dataclass(frozen=True)
class NodeRow:
    cluster: str
    id: str
    hostname: str
    role: str
    availability: str
    status: str
    leader: bool
    manager_status: str | None
    address: str
    engine_version: str
    labels: dict[str, str]
    tasks_running: int
    nano_cpus: int
    memory_bytes: int
    created_at: datetime | None


@dataclass(frozen=True)
class TaskRow:
    cluster: str
    id: str
    service: str | None
    slot: int | None
    node: str | None
    state: str
    desired_state: str
    error: str | None
    image: str
    since: datetime | None

    @property
    def name(self) -> str:
        if self.slot is not None:
            return f"{self.service}.{self.slot}"
        return self.service or "-"


@dataclass(frozen=True)
class StackRow:
    cluster: str
    name: str
    services: int
    networks: int
    project: str | None  # "project/environment" when a config environment names it


@dataclass(frozen=True)
class ClusterHealth:
    cluster: str
    status: str  # ok | error | connecting
    error: str | None
    manager: str | None
    leader: str | None
    managers_reachable: int | None
    managers_total: int | None
    nodes_ready: int | None
    nodes_total: int | None
    services_converged: int | None
    services_total: int | None
    stacks: int | None
    connected: bool = False
    age: float | None = None  # seconds since the data was last known true (the link lost)


_DIGITS = re.compile(r"(\d+)")


@lru_cache(maxsize=16384)
def natural_key(text: str) -> tuple:
    """Orders names as people do: f2 before f10, case aside. Kept per name: every frame
    sorts the same names again (1000 services: 5 ms a frame without the cache)."""
    parts = _DIGITS.split(text.lower())
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts))


def compact_age(seconds: float) -> str:
    """45s, 12m, 3h, 9d: a table's age in as few characters as it can."""
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def human_size(nbytes: int) -> str:
    """Bytes for people (binary units), "-" when unknown."""
    if not nbytes:
        return "-"
    import humanize  # here: `ls services` prints no size

    return humanize.naturalsize(nbytes, binary=True)


def service_rows(cluster: str, state: ClusterState, *, stack: str | None = None
                 ) -> list[ServiceRow]:
    rows = []
    index = state.tasks_by_service()
    for s in sorted(state.services.values(), key=lambda s: natural_key(s.name)):
        if stack is not None and s.stack != stack:
            continue
        tasks = index.get(s.id, [])
        running, desired = state.replicas(s, tasks)
        rows.append(ServiceRow(
            cluster=cluster, id=s.id, name=s.name, stack=s.stack, mode=s.mode, image=s.image,
            replicas_running=running, replicas_desired=desired,
            completed=state.completed(s, tasks) if s.mode.endswith("job") else None,
            ports=[str(p) for p in s.ports], update_state=s.update_state,
            created_at=s.created_at, updated_at=s.updated_at,
            pull_failing=running < desired and _pull_blocked(s, tasks),
        ))
    return rows


def _pull_blocked(service: Service, tasks: list[Task]) -> bool:
    # imported here: the doctor's image checks (placement, registries) matter only for a
    # service short of replicas, and `ls services` of a converged swarm does without them
    from swarmdeck.core import doctor_images

    return doctor_images.pull_blocked(service, tasks)


@dataclass(frozen=True)
class MemoryScale:
    """What a service's memory sparkline is drawn against: its full height."""

    top: int  # bytes
    basis: str  # what TOP is, for people: "limit 64 MiB x 2 tasks"

    def describe(self) -> str:
        return f"{human_size(self.top)}: {self.basis}"


def memory_scales(state: ClusterState, node_memory: Mapping[str, int] | None = None
                  ) -> dict[str, MemoryScale]:
    """Service ID -> the scale of its memory sparkline (services with running tasks only).
    Its memory is the sum over its running tasks, so: its memory limit times its running
    tasks when it has a limit, else the memory of the nodes they run on (NODE_MEMORY: node
    ID -> bytes as sampled; the swarm's figure otherwise). One pass over the tasks."""
    node_memory = node_memory or {}
    running: dict[str, list[str | None]] = {}
    for t in state.tasks.values():
        if t.is_running:
            running.setdefault(t.service_id, []).append(t.node_id)
    scales = {}
    for service_id, nodes in running.items():
        service = state.services.get(service_id)
        if service is None:
            continue
        limit = (((service.raw_spec.get("TaskTemplate") or {}).get("Resources") or {})
                 .get("Limits") or {}).get("MemoryBytes") or 0
        count = len(nodes)
        if limit:
            scales[service_id] = MemoryScale(
                limit * count, f"limit {human_size(limit)} x {count} task"
                               f"{'s' if count != 1 else ''}")
            continue
        hosts = sorted({n for n in nodes if n and n in state.nodes},
                       key=lambda n: state.nodes[n].hostname)
        total = sum(node_memory.get(n) or state.nodes[n].memory_bytes for n in hosts)
        if total:
            names = ", ".join(state.nodes[n].hostname for n in hosts)
            scales[service_id] = MemoryScale(total, f"no limit; memory of {names}")
    return scales


def node_rows(cluster: str, state: ClusterState) -> list[NodeRow]:
    running: dict[str, int] = {}
    for t in state.tasks.values():
        if t.is_running and t.node_id:
            running[t.node_id] = running.get(t.node_id, 0) + 1
    return [
        NodeRow(
            cluster=cluster, id=n.id, hostname=n.hostname, role=n.role,
            availability=n.availability, status=n.status, leader=n.leader,
            manager_status=n.manager_status or None, address=n.address,
            engine_version=n.engine_version, labels=n.labels,
            tasks_running=running.get(n.id, 0), nano_cpus=n.nano_cpus,
            memory_bytes=n.memory_bytes, created_at=n.created_at,
        )
        for n in sorted(state.nodes.values(),
                        key=lambda n: (n.role != "manager", natural_key(n.hostname)))
    ]


def task_rows(cluster: str, state: ClusterState, *, stack: str | None = None,
              service_id: str | None = None, node_id: str | None = None,
              history: bool = True) -> list[TaskRow]:
    def order(t):  # by service, slot, node, newest first
        service = state.services.get(t.service_id)
        stamp = t.updated_at.timestamp() if t.updated_at else 0.0
        return (service.name if service else "", t.slot or 0, t.node_id or "", -stamp)

    rows = []
    for t in sorted(state.tasks.values(), key=order):
        service = state.services.get(t.service_id)
        if stack is not None and (service is None or service.stack != stack):
            continue
        if service_id is not None and t.service_id != service_id:
            continue
        if node_id is not None and t.node_id != node_id:
            continue
        if not history and not t.is_current:
            continue
        rows.append(TaskRow(
            cluster=cluster, id=t.id, service=service.name if service else None, slot=t.slot,
            node=state.node_name(t.node_id) or None, state=t.state,
            desired_state=t.desired_state, error=t.error or None, image=t.image,
            since=t.timestamp,
        ))
    return rows


def managed_stacks(config: Config) -> dict[tuple[str, str], str]:
    """(cluster, stack) -> "project/environment" for every configured environment."""
    return {(env.cluster, env.stack): f"{project}/{env_name}"
            for project, env_name, env in config.environments()}


def stack_rows(cluster: str, state: ClusterState, managed: Mapping[tuple[str, str], str],
               *, stack: str | None = None) -> list[StackRow]:
    return [
        StackRow(cluster=cluster, name=s.name, services=len(s.services),
                 networks=len(s.networks), project=managed.get((cluster, s.name)))
        for s in state.stacks() if stack is None or s.name == stack
    ]


def cluster_health(cluster: str, state: ClusterState | None,
                   error: SwarmdeckError | None = None, now: float | None = None,
                   services: list[ServiceRow] | None = None) -> ClusterHealth:
    """SERVICES: the cluster's service rows when the caller has built them already."""
    if state is None or not state.loaded:
        reason = error or (state.error if state else None)
        return ClusterHealth(cluster, "error" if reason else "connecting",
                             str(reason) if reason else None, manager=None, leader=None,
                             managers_reachable=None, managers_total=None, nodes_ready=None,
                             nodes_total=None, services_converged=None, services_total=None,
                             stacks=None)
    leader = state.leader()
    managers = [n for n in state.nodes.values() if n.role == "manager"]
    reachable = sum(1 for n in managers if n.reachability == "reachable")
    total = len(managers)
    lost = state.error if isinstance(state.error, NoLeader) and not state.connected else None
    if lost is not None:  # the last known leader is gone: show the counted managers
        leader = None
        if lost.total is not None:
            reachable, total = lost.reachable or 0, lost.total
    services = service_rows(cluster, state) if services is None else services
    now = time.time() if now is None else now
    return ClusterHealth(
        cluster=cluster,
        status="ok" if state.connected else "stale",
        error=str(state.error) if state.error and not state.connected else None,
        manager=state.manager,
        leader=leader.hostname if leader else None,
        managers_reachable=reachable,
        managers_total=total,
        nodes_ready=sum(1 for n in state.nodes.values() if n.status == "ready"),
        nodes_total=len(state.nodes),
        services_converged=sum(1 for s in services if s.converged),
        services_total=len(services),
        stacks=len(state.stacks()),
        connected=state.connected,
        # stale since the link was lost: until then the events kept the data true
        age=(now - (state.lost_at or state.loaded_at)) if state.loaded_at else None,
    )


@dataclass
class ProjectNode:
    """One level of the projects tree: cluster -> project -> environment -> stack."""

    label: str
    kind: str  # cluster | project | environment | stack | unmanaged
    cluster: str
    stack: str | None = None
    children: list[ProjectNode] = field(default_factory=list)
    project: str | None = None  # environment nodes: what `deploy` needs
    environment: str | None = None
    drifted: bool | None = None  # environment nodes: the running stack differs from its file


def project_tree(config: Config, states: Mapping[str, ClusterState | None],
                 clusters: Iterable[str],
                 drift: Callable[[str, str, ClusterState | None], bool | None] | None = None
                 ) -> list[ProjectNode]:
    """Configured projects per cluster, then the stacks no project names (unmanaged).
    DRIFT(project, environment, state): whether an environment's stack differs from its
    compose file (None: not known)."""
    out = []
    for cluster in clusters:
        node = ProjectNode(cluster, "cluster", cluster)
        projects: dict[str, ProjectNode] = {}
        named: set[str] = set()
        for project, env_name, env in config.environments():
            if env.cluster != cluster:
                continue
            p = projects.setdefault(project, ProjectNode(project, "project", cluster))
            p.children.append(ProjectNode(
                f"{env_name}  ({env.stack})", "environment", cluster, env.stack,
                project=project, environment=env_name,
                drifted=drift(project, env_name, states.get(cluster)) if drift else None))
            named.add(env.stack)
        node.children.extend(projects.values())
        state = states.get(cluster)
        if state is not None:
            unmanaged = [s.name for s in state.stacks() if s.name not in named]
            if unmanaged:
                group = ProjectNode("unmanaged", "unmanaged", cluster)
                group.children = [ProjectNode(name, "stack", cluster, name)
                                  for name in unmanaged]
                node.children.append(group)
        out.append(node)
    return out
