"""What each node's own engine holds that the swarm API does not show: every container (tasks
and containers started by hand) and every volume, read from all nodes at once over the
per-node SSH connections (core.node_links), with nothing installed on the cluster.

A node that cannot be reached is one problem line, not the end of the listing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from swarmdeck.core.errors import SwarmdeckError, UsageError
from swarmdeck.core.inventory import ClusterState
from swarmdeck.core.models import Node
from swarmdeck.core.node_links import NodeAccess
from swarmdeck.core.transport.docker import DockerEndpoint

SERVICE_LABEL = "com.docker.swarm.service.name"
TASK_LABEL = "com.docker.swarm.task.name"  # service.slot.taskid (global: service.nodeid.id)
STACK_LABEL = "com.docker.stack.namespace"
T = TypeVar("T")


@dataclass(frozen=True)
class ContainerRow:
    cluster: str
    node: str
    id: str
    name: str
    image: str
    state: str  # running, exited, created...
    status: str  # "Up 3 minutes", "Exited (0) 2 hours ago"
    created: int  # unix seconds
    service: str | None  # swarm service, for a task's container
    task: str | None  # service.slot
    stack: str | None


@dataclass(frozen=True)
class VolumeRow:
    cluster: str
    node: str
    name: str
    driver: str
    mountpoint: str
    used_by: list[str] = field(default_factory=list)  # services (or containers by hand)
    containers: int = 0  # containers mounting it, stopped ones included


@dataclass(frozen=True)
class NodeProblem:
    cluster: str
    node: str
    error: str


def _task_name(labels: dict[str, str]) -> str | None:
    task = labels.get(TASK_LABEL)
    if not task:
        return None
    parts = task.split(".")
    return ".".join(parts[:2]) if len(parts) >= 3 else task


def container_rows(cluster: str, node: str, found: list[dict[str, Any]]) -> list[ContainerRow]:
    rows = []
    for c in found:
        labels = c.get("Labels") or {}
        names = c.get("Names") or []
        rows.append(ContainerRow(
            cluster, node, (c.get("Id") or "")[:12], (names[0] if names else "").lstrip("/"),
            (c.get("Image") or "").split("@", 1)[0], c.get("State") or "",
            c.get("Status") or "", int(c.get("Created") or 0), labels.get(SERVICE_LABEL),
            _task_name(labels), labels.get(STACK_LABEL)))
    return sorted(rows, key=lambda r: (r.service or "~", r.task or "", r.name))


def volume_rows(cluster: str, node: str, volumes: list[dict[str, Any]],
                containers: list[dict[str, Any]]) -> list[VolumeRow]:
    users: dict[str, set[str]] = {}
    counts: dict[str, int] = {}
    for c in containers:
        labels = c.get("Labels") or {}
        names = c.get("Names") or []
        who = labels.get(SERVICE_LABEL) or (names[0].lstrip("/") if names else c.get("Id", ""))
        for mount in c.get("Mounts") or []:
            if mount.get("Type") == "volume" and mount.get("Name"):
                users.setdefault(mount["Name"], set()).add(who)
                counts[mount["Name"]] = counts.get(mount["Name"], 0) + 1
    return sorted((VolumeRow(cluster, node, v.get("Name", ""), v.get("Driver", ""),
                             v.get("Mountpoint", ""), sorted(users.get(v.get("Name", ""), ())),
                             counts.get(v.get("Name", ""), 0))
                   for v in volumes), key=lambda r: r.name)


async def each_node(fleet: NodeAccess, cluster: str, state: ClusterState,
                    read: Callable[[Node, DockerEndpoint], Awaitable[list[T]]],
                    only: str | None = None) -> tuple[list[T], list[NodeProblem]]:
    """READ run on every node's engine at once (ONLY: the node of that hostname or ID); the
    rows, and a problem per node that could not be read."""
    nodes = sorted(state.nodes.values(), key=lambda n: n.hostname)
    if only is not None:
        nodes = [n for n in nodes if only in (n.hostname, n.id) or n.id.startswith(only)]
        if not nodes:
            raise UsageError(f"no node {only!r} in cluster {cluster}",
                             hint="nodes: " + ", ".join(sorted(n.hostname for n in
                                                               state.nodes.values())))

    async def one(node: Node) -> list[T] | NodeProblem:
        try:
            engine = await fleet.task_engine(cluster, node.id)
            return await read(node, engine)
        except SwarmdeckError as exc:
            return NodeProblem(cluster, node.hostname, str(exc))

    rows: list[T] = []
    problems: list[NodeProblem] = []
    for result in await asyncio.gather(*(one(n) for n in nodes)):
        if isinstance(result, NodeProblem):
            problems.append(result)
        else:
            rows += result
    return rows, problems


async def containers(fleet: NodeAccess, cluster: str, state: ClusterState, *,
                     all_: bool = False, node: str | None = None
                     ) -> tuple[list[ContainerRow], list[NodeProblem]]:
    async def read(n: Node, engine: DockerEndpoint) -> list[ContainerRow]:
        found = await engine.get("/containers/json", all="1" if all_ else "0")
        return container_rows(cluster, n.hostname, found or [])

    return await each_node(fleet, cluster, state, read, node)


async def volumes(fleet: NodeAccess, cluster: str, state: ClusterState, *,
                  node: str | None = None) -> tuple[list[VolumeRow], list[NodeProblem]]:
    async def read(n: Node, engine: DockerEndpoint) -> list[VolumeRow]:
        found, used = await asyncio.gather(engine.get("/volumes"),
                                           engine.get("/containers/json", all="1"))
        return volume_rows(cluster, n.hostname, (found or {}).get("Volumes") or [], used or [])

    return await each_node(fleet, cluster, state, read, node)


