"""Draining a node: which tasks stop there, where they can go, and which services would end
up below their desired count, worked out before anything is written; then the drain, followed
until the tasks have moved and settled.

The plan is pure (the console and the CLI show the same one). Where a service's tasks can go
is core.placement's verdict on the cluster with this node drained: its constraints, the nodes
that are ready and active, and its maximum replicas per node. (Resource reservations are not
weighed: a node that satisfies the constraints is counted as room.)
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from swarmdeck.core.models import Node, Service, Task
from swarmdeck.core.ops.base import ClusterOps
from swarmdeck.core.ops.nodes import set_availability
from swarmdeck.core.ops.progress import baseline
from swarmdeck.core.ops.services import Started
from swarmdeck.core.placement import Placement, engine_labels_from_api, place


@dataclass(frozen=True)
class Leaving:
    """A service's tasks that stop on the drained node, and where the service stands after."""

    service: Service
    tasks: tuple[str, ...]  # `service.slot` (or the service's name, for a global service)
    desired: int  # replicas wanted (a global service: one per node, so not counted)
    can_run: int | None  # replicas that can run after the drain; None: all (or global)
    placement: Placement  # with the node drained

    @property
    def short(self) -> bool:
        return self.can_run is not None and self.can_run < self.desired

    def line(self) -> str:
        names = ", ".join(self.tasks)
        if self.service.mode in ("global", "global-job"):
            return f"{names}: stops here (a global service runs one task per node)"
        if not self.short:
            where = ", ".join(n.hostname for n in self.placement.nodes)
            return f"{names}: moves (can run on: {where})"
        why = self.placement.shortfall or self.placement.reason
        return (f"{names}: {self.service.name} ends up BELOW its desired count: "
                f"{self.can_run} of {self.desired} can run ({why})")


@dataclass(frozen=True)
class DrainPlan:
    node: Node
    leaving: tuple[Leaving, ...]

    @property
    def short(self) -> list[Leaving]:
        return [s for s in self.leaving if s.short]

    @property
    def task_count(self) -> int:
        return sum(len(s.tasks) for s in self.leaving)

    def lines(self) -> list[str]:
        if not self.leaving:
            return [f"no task runs on {self.node.hostname}: nothing moves"]
        count = self.task_count
        out = [f"{count} task{'s' if count != 1 else ''} stop on {self.node.hostname}:"]
        out += [f"  {s.line()}" for s in self.leaving]
        if self.short:
            names = ", ".join(s.service.name for s in self.short)
            out.append(f"below the desired count after the drain: {names} (the rest stay "
                       "pending until a node can take them)")
        return out


def plan_drain(node: Node, nodes: Iterable[Node], services: Iterable[Service],
               tasks: Iterable[Task],
               engine: Mapping[str, Mapping[str, str]] | None = None) -> DrainPlan:
    """What draining NODE would do, judged against the cluster's NODES, SERVICES and TASKS
    (ENGINE: node ID -> engine labels; None when unknown)."""
    drained = node.model_copy(update={"availability": "drain"})
    after = [drained if n.id == node.id else n for n in nodes]
    by_id = {s.id: s for s in services}
    here: dict[str, list[Task]] = {}
    for task in tasks:
        if task.node_id == node.id and task.desired_state == "running" \
                and task.service_id in by_id:
            here.setdefault(task.service_id, []).append(task)
    leaving = []
    for service_id, stopping in here.items():
        service = by_id[service_id]
        names = tuple(sorted(f"{service.name}.{t.slot}" if t.slot else service.name
                             for t in stopping))
        per_node = ((service.raw_spec.get("TaskTemplate") or {}).get("Placement") or {}) \
            .get("MaxReplicas") or 0
        if service.mode in ("global", "global-job"):
            placement = place(service.constraints, after, engine)
            leaving.append(Leaving(service, names, 0, None, placement))
            continue
        desired = service.replicas or 0
        placement = place(service.constraints, after, engine, replicas=desired,
                          max_per_node=per_node)
        room = len(placement.nodes) * per_node if per_node else desired
        can_run = min(desired, room) if placement.placeable else 0
        leaving.append(Leaving(service, names, desired, can_run if can_run < desired
                               else None, placement))
    return DrainPlan(node, tuple(sorted(leaving, key=lambda s: s.service.name)))


async def survey(ops: ClusterOps, ref: str) -> DrainPlan:
    """The plan against the cluster as it is now (nodes, services, tasks read together)."""
    node_data = await ops.node(ref)
    nodes, services, tasks = await asyncio.gather(
        ops.docker.get("/nodes"), ops.docker.get("/services"), ops.docker.get("/tasks"))
    return plan_drain(Node.from_api(node_data), map(Node.from_api, nodes),
                      map(Service.from_api, services), map(Task.from_api, tasks),
                      engine_labels_from_api(nodes))


async def drain(ops: ClusterOps, plan: DrainPlan) -> Started:
    """Drain PLAN's node; what to follow: each service whose tasks leave it, settled once
    none is meant to run there and the replicas that can run do (plan.short: fewer)."""
    ops.check_writable("node drain", plan.node.hostname)
    bases = {}
    for s in plan.leaving:
        base = await baseline(ops.docker, s.service.id)
        bases[s.service.id] = dataclasses.replace(base, leaving_node=plan.node.id,
                                                  can_run=s.can_run)
    summary = await set_availability(ops, plan.node.id, "drain")
    return Started(bases, summary)
