"""`docker stats` for a whole swarm: CPU and memory of every service (summed over its
running tasks) and every node, from the same per-node samplers the console uses.

CPU of a service is a percent of ONE core, as `docker stats` gives it for a container (two
busy cores read 200 %); CPU of a node is a percent of the whole node (all its cores).
Memory is what the kernel counts as in use: a container's cgroup usage minus its inactive
file cache (as `docker stats` computes it), a node's MemTotal minus MemAvailable.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass

from swarmdeck.core.errors import SwarmdeckError, UsageError
from swarmdeck.core.fleet import Fleet
from swarmdeck.core.inventory import ClusterState
from swarmdeck.core.metrics import ClusterMetrics

# how long to wait for every reachable node's first rate beyond two sample intervals
SETTLE_GRACE = 15.0


@dataclass(frozen=True)
class StatRow:
    cluster: str
    kind: str  # "service" | "node"
    name: str
    cpu_percent: float | None  # None: no figure (the node sends no samples: see `note`)
    memory_bytes: int | None
    tasks: int | None = None  # services: running tasks measured
    note: str = ""  # why a figure is missing or partial


def stat_rows(cluster: str, state: ClusterState, metrics: ClusterMetrics,
              wanted: Iterable[str] = ()) -> list[StatRow]:
    """Rows of one cluster: its services, then its nodes, by name. WANTED: only these
    service names or node hostnames (empty: all)."""
    names = set(wanted)
    rows: list[StatRow] = []
    for service in sorted(state.services.values(), key=lambda s: s.name):
        if names and service.name not in names:
            continue
        running = [t for t in state.tasks_of(service.id) if t.is_running and t.container_id]
        cpu, mem, measured, unmeasured = 0.0, 0, 0, 0
        for task in running:
            series = metrics.containers.get(task.container_id or "")
            point = series.last if series is not None else None
            if point is None:
                unmeasured += 1
                continue
            cpu, mem, measured = cpu + point.cpu, mem + point.mem, measured + 1
        note = f"{unmeasured} running task(s) not measured" if unmeasured else ""
        have = measured or not running
        rows.append(StatRow(cluster, "service", service.name, cpu if have else None,
                            mem if have else None, measured, note))
    for node in sorted(state.nodes.values(), key=lambda n: n.hostname):
        if names and node.hostname not in names:
            continue
        series = metrics.nodes.get(node.id)
        point = series.last if series is not None else None
        note = metrics.problems.get(node.id, "")
        if point is None and not note:
            note = "node is down" if node.status == "down" else "no sample yet"
        rows.append(StatRow(cluster, "node", node.hostname,
                            point.cpu if point else None, point.mem if point else None,
                            None, note))
    return rows


def check_wanted(states: dict[str, ClusterState], wanted: Iterable[str]) -> None:
    """A name that is no service and no node of the chosen clusters is a typo."""
    from swarmdeck.core.ops.base import did_you_mean

    known = {s.name for st in states.values() for s in st.services.values()}
    known |= {n.hostname for st in states.values() for n in st.nodes.values()}
    for name in wanted:
        if name not in known:
            raise UsageError(f"no service or node {name!r}"
                             f"{did_you_mean(name, sorted(known), 'services and nodes')}")


def settled(state: ClusterState, metrics: ClusterMetrics) -> bool:
    """Has every node that is up given a rate (two samples), or said why it cannot?"""
    return all(node.id in metrics.problems
               or (node.id in metrics.nodes and metrics.nodes[node.id].last is not None)
               for node in state.nodes.values() if node.status != "down")


async def follow_stats(fleet: Fleet, names: list[str], *, once: bool = False
                       ) -> AsyncGenerator[tuple[dict[str, ClusterState],
                                                 dict[str, SwarmdeckError]], None]:
    """Yield (states, errors) once every chosen cluster's nodes have given a rate, then
    (unless ONCE) after each sample interval. A cluster that cannot be loaded, or whose
    metrics are off, is in errors."""
    results = await fleet.load(names)
    errors = {n: r for n, r in results.items() if isinstance(r, SwarmdeckError)}
    states = {n: r for n, r in results.items() if isinstance(r, ClusterState)}
    for name in list(states):
        if fleet.config.clusters[name].metrics == "off":
            errors[name] = SwarmdeckError(
                f'metrics are off for this cluster (metrics = "off" in [clusters.{name}])')
            del states[name]
    runners = [asyncio.create_task(fleet.run(n), name=f"stats {n}") for n in states]
    try:
        if not states:
            yield states, errors
            return
        interval = max(fleet.metrics(n).interval for n in states)
        deadline = time.monotonic() + 2 * interval + SETTLE_GRACE
        while time.monotonic() < deadline and not all(
                settled(fleet.state(n), fleet.metrics(n).metrics) for n in states):
            await asyncio.sleep(0.1)
        while True:
            yield {n: fleet.state(n) for n in states}, errors
            if once:
                return
            await asyncio.sleep(interval)
    finally:
        for runner in runners:
            runner.cancel()
        for runner in runners:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await runner
