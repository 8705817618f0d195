"""CPU and memory of nodes and tasks: ONE long-running command per node, over one SSH
channel, that reads the node's /proc and the cgroup files of every container and prints a
sample each interval. Never one stats stream per container.

Works on cgroup v1 (cpuacct.usage, memory.usage_in_bytes) and v2 (cpu.stat, memory.current)
whatever the cgroup parent (docker/, system.slice/docker-ID.scope, a custom parent). Where
several nodes share one cgroup tree (the lab), a node's containers are told apart by the
inventory: only containers of tasks the swarm placed on that node count for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncssh

from swarmdeck.core.destinations import Destination
from swarmdeck.core.errors import SwarmdeckError
from swarmdeck.core.inventory import ClusterState
from swarmdeck.core.transport.ssh import SSHSettings, connect

# POSIX sh, builtins only in the loop (no process per container per sample).
SAMPLER = r"""
interval="$1"
root="${2:-/sys/fs/cgroup}"
if [ -f "$root/cgroup.controllers" ]; then v=2; else v=1; fi
echo "V $v"
# Where this engine's own containers are listed (readable as root), keep only those: hosts
# that share one cgroup tree (the lab's nodes) then send only their own lines.
own="${3:-/var/lib/docker/containers}"
[ -r "$own" ] && [ -x "$own" ] || own=""
stat_value() { # FILE KEY: the value of KEY in a "key value" file
    while read -r k val _; do [ "$k" = "$2" ] && { echo "$val"; return; }; done < "$1"
    echo 0
}
container_id() { # a cgroup dir -> the 64-hex container id in its name, or nothing
    b="${1##*/}"; b="${b#docker-}"; b="${b%.scope}"
    case "$b" in *[!0-9a-f]*) return;; esac
    [ "${#b}" -eq 64 ] || return
    [ -z "$own" ] || [ -d "$own/$b" ] || return
    echo "$b"
}
nl='
'
# Each sample is gathered in a variable and written once: one SSH packet per sample.
while :; do
    # the FIRST field: seconds since boot (a monotonic clock). The second is idle time
    # summed over every CPU, which is no clock at all.
    read -r up _ < /proc/uptime
    read -r line < /proc/stat
    total=$(stat_value /proc/meminfo MemTotal:)
    available=$(stat_value /proc/meminfo MemAvailable:)
    out="T $up${nl}S $line${nl}M $total $available"
    if [ "$v" = 1 ]; then
        for d in "$root"/cpuacct/*/* "$root"/cpuacct/*/*/*; do
            [ -f "$d/cpuacct.usage" ] || continue
            id=$(container_id "$d"); [ -n "$id" ] || continue
            m="$root/memory/${d#"$root"/cpuacct/}"
            read -r cpu < "$d/cpuacct.usage"
            mem=0; [ -f "$m/memory.usage_in_bytes" ] && read -r mem < "$m/memory.usage_in_bytes"
            inactive=0
            [ -f "$m/memory.stat" ] && inactive=$(stat_value "$m/memory.stat" total_inactive_file)
            out="$out${nl}C $id $cpu $mem $inactive"
        done
    else
        for d in "$root"/*/* "$root"/*/*/*; do
            [ -f "$d/cpu.stat" ] || continue
            id=$(container_id "$d"); [ -n "$id" ] || continue
            usec=$(stat_value "$d/cpu.stat" usage_usec)
            mem=0; [ -f "$d/memory.current" ] && read -r mem < "$d/memory.current"
            inactive=0
            [ -f "$d/memory.stat" ] && inactive=$(stat_value "$d/memory.stat" inactive_file)
            out="$out${nl}C $id ${usec}000 $mem $inactive"
        done
    fi
    printf '%s\nE\n' "$out"
    sleep "$interval"
done
"""


@dataclass
class NodeSample:
    uptime: float = 0.0
    cpu_total: int = 0  # jiffies, all fields of the /proc/stat cpu line
    cpu_idle: int = 0  # idle + iowait
    mem_total: int = 0
    mem_available: int = 0
    containers: dict[str, tuple[int, int]] = field(default_factory=dict)  # id -> (cpu_ns, mem)


def parse_sample(lines: list[str]) -> NodeSample:
    sample = NodeSample()
    for line in lines:
        kind, _, rest = line.partition(" ")
        parts = rest.split()
        try:
            if kind == "T":
                sample.uptime = float(parts[0])
            elif kind == "S":
                values = [int(v) for v in parts[1:]]
                sample.cpu_total = sum(values[:8])
                sample.cpu_idle = values[3] + (values[4] if len(values) > 4 else 0)
            elif kind == "M":
                sample.mem_total, sample.mem_available = int(parts[0]) * 1024, \
                    int(parts[1]) * 1024
            elif kind == "C":
                cid, cpu, mem, inactive = parts[0], int(parts[1]), int(parts[2]), int(parts[3])
                sample.containers[cid] = (cpu, max(0, mem - inactive))
        except (ValueError, IndexError):
            continue  # a line cut by a dying link: skip it, the next sample is whole
    return sample


@dataclass(frozen=True)
class Point:
    cpu: float  # percent of one core (containers) or of the whole node (nodes)
    mem: int  # bytes in use


class Series:
    """A bounded history of points."""

    def __init__(self, size: int) -> None:
        self.points: deque[Point] = deque(maxlen=size)
        self.count = 0  # points ever added: tells a view whether to redraw

    def add(self, point: Point) -> None:
        self.points.append(point)
        self.count += 1

    @property
    def last(self) -> Point | None:
        return self.points[-1] if self.points else None

    # list() copies the deque atomically: a view thread may read while samples arrive
    def cpu(self) -> list[float]:
        return [p.cpu for p in list(self.points)]

    def mem(self) -> list[int]:
        return [p.mem for p in list(self.points)]


class ClusterMetrics:
    """Histories for one cluster's nodes, containers and services (bounded)."""

    def __init__(self, history: int = 150) -> None:
        self.history = history
        self.nodes: dict[str, Series] = {}
        self.containers: dict[str, Series] = {}
        self.services: dict[str, Series] = {}
        self.node_memory: dict[str, int] = {}
        self.problems: dict[str, str] = {}  # node id -> why there are no metrics
        self._previous: dict[str, NodeSample] = {}
        self.sampled_at: dict[str, float] = {}  # node id -> monotonic time of its last sample
        # called when a node's set of containers changed between two samples (a task
        # started or ended there): the inventory re-reads tasks then, not on a timer
        self.on_containers_changed: Callable[[str], None] | None = None

    def _series(self, table: dict[str, Series], key: str) -> Series:
        if key not in table:
            table[key] = Series(self.history)
        return table[key]

    def add_sample(self, node_id: str, sample: NodeSample, own: set[str]) -> None:
        """OWN: container ids of tasks the inventory places on this node."""
        before = self._previous.get(node_id)
        self._previous[node_id] = sample
        self.sampled_at[node_id] = time.monotonic()
        self.problems.pop(node_id, None)
        if before is None or sample.uptime <= before.uptime:
            return
        if self.on_containers_changed is not None \
                and sample.containers.keys() != before.containers.keys():
            self.on_containers_changed(node_id)
        elapsed_ns = (sample.uptime - before.uptime) * 1e9
        total = sample.cpu_total - before.cpu_total
        busy = total - (sample.cpu_idle - before.cpu_idle)
        node_cpu = 100.0 * busy / total if total > 0 else 0.0
        self.node_memory[node_id] = sample.mem_total
        self._series(self.nodes, node_id).add(
            Point(node_cpu, sample.mem_total - sample.mem_available))
        for cid, (cpu_ns, mem) in sample.containers.items():
            if cid not in own:
                continue
            previous = before.containers.get(cid)
            if previous is None:
                continue
            cpu = max(0.0, 100.0 * (cpu_ns - previous[0]) / elapsed_ns)
            self._series(self.containers, cid).add(Point(cpu, mem))

    def aggregate(self, state: ClusterState) -> None:
        """One point per service: the sum over its running tasks' containers."""
        sums: dict[str, list[float]] = {}
        for task in state.tasks.values():
            if not task.is_running or not task.container_id:
                continue
            series = self.containers.get(task.container_id)
            if series is None or series.last is None:
                continue
            cpu, mem = sums.setdefault(task.service_id, [0.0, 0])
            sums[task.service_id] = [cpu + series.last.cpu, mem + series.last.mem]
        for service_id, (cpu, mem) in sums.items():
            self._series(self.services, service_id).add(Point(cpu, int(mem)))
        live = {t.container_id for t in state.tasks.values() if t.is_running}
        for cid in [c for c in self.containers if c not in live]:
            del self.containers[cid]  # bounded: gone containers leave no history behind


class NodeCollector:
    """Keeps one node's sampler running; a failure is recorded once and retried slowly."""

    def __init__(self, node_id: str, destination: Destination, ssh: SSHSettings,
                 metrics: ClusterMetrics, own_containers: Callable[[], set[str]],
                 interval: float, tunnel: Callable[[], asyncssh.SSHClientConnection | None],
                 shared: Callable[[str], object | None] = lambda _node: None) -> None:
        """SHARED: the inventory's manager session when it is this node's (its samples then
        ride that connection, and count as the manager being heard)."""
        self.node_id = node_id
        self.shared = shared
        self.destination = destination
        self.ssh = ssh
        self.metrics = metrics
        self.own_containers = own_containers
        self.interval = interval
        self.tunnel = tunnel

    async def run(self) -> None:
        delay = 5.0
        while True:
            try:
                await self._sample_forever()
            except SwarmdeckError as exc:
                self.metrics.problems[self.node_id] = str(exc)
            except (asyncssh.Error, OSError) as exc:
                self.metrics.problems[self.node_id] = f"metrics stream lost: {exc}"
            except Exception as exc:  # noqa: BLE001 - a bug must not end the sampling quietly
                from swarmdeck.core.crash import report

                self.metrics.problems[self.node_id] = report(
                    exc, context="internal error in the metrics sampler")
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, 120.0)

    async def _sample_forever(self) -> None:
        session = self.shared(self.node_id)
        if session is not None:  # the connected manager: no second connection to it
            conn, heard = session.conn, session.heard
        else:
            conn, _ = await connect(self.destination, self.ssh, tunnel=self.tunnel())
            heard = None
        process = None
        try:
            process = await conn.create_process(
                f"sh -c {_quote(SAMPLER)} sampler {self.interval:g}")
            while True:
                # one read per sample, not one per line: the sample ends with a lone "E"
                try:
                    block = await process.stdout.readuntil("\nE\n")
                except asyncio.IncompleteReadError:
                    break
                lines = [line for line in block.splitlines()
                         if line.startswith(("T", "S", "M", "C"))]
                if heard is not None:
                    heard()
                self.metrics.add_sample(self.node_id, parse_sample(lines),
                                        self.own_containers())
            raise SwarmdeckError(f"the metrics sampler on {self.destination} stopped")
        finally:
            if session is None:
                conn.close()
            elif process is not None:
                process.close()  # the sampler only: the connection is the inventory's


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


class MetricsCollector:
    """Starts a collector per node of a cluster as the inventory reports nodes."""

    def __init__(self, state: ClusterState, ssh: SSHSettings, *, interval: float = 2.0,
                 history: int = 150, via: str = "direct",
                 manager_connection: Callable[[], asyncssh.SSHClientConnection | None],
                 user: Callable[[], str | None],
                 manager_session: Callable[[str], object | None] = lambda _node: None
                 ) -> None:
        """Listeners learn of new points from whoever calls tick() (the fleet, once per
        interval), not from each node's samples."""
        self.state = state
        self.ssh = ssh
        self.interval = interval
        self.via = via
        self.metrics = ClusterMetrics(history)
        self.manager_connection = manager_connection
        self.manager_session = manager_session
        self.user = user
        self._tasks: dict[str, asyncio.Task] = {}
        self.paused = False  # no samplers while nobody looks at the cluster (see pause())

    def own_containers(self, node_id: str) -> set[str]:
        return {t.container_id for t in self.state.tasks.values()
                if t.node_id == node_id and t.container_id}

    def sync(self) -> None:
        """Match collectors to the nodes the inventory knows (call on node changes)."""
        if self.paused:
            return
        for node in self.state.nodes.values():
            if node.id in self._tasks or not node.address or node.status == "down":
                continue
            destination = Destination(self.user(), node.address, None)
            tunnel = self.manager_connection if self.via == "manager" else (lambda: None)
            collector = NodeCollector(
                node.id, destination, self.ssh, self.metrics,
                lambda nid=node.id: self.own_containers(nid), self.interval, tunnel,
                self.manager_session)
            self._tasks[node.id] = asyncio.create_task(collector.run(),
                                                       name=f"metrics {node.hostname}")
        for node_id in [n for n in self._tasks if n not in self.state.nodes]:
            self._tasks.pop(node_id).cancel()

    def tick(self) -> None:
        self.metrics.aggregate(self.state)

    def watches_all_nodes(self) -> bool:
        """Does every node that is up send samples (each sample lists its containers)?"""
        fresh = time.monotonic() - 3 * self.interval
        seen = self.metrics.sampled_at
        up = [n.id for n in self.state.nodes.values() if n.status != "down"]
        return bool(up) and all(seen.get(n, 0.0) >= fresh and n not in self.metrics.problems
                                for n in up)

    async def pause(self) -> None:
        """Stop sampling (and close the nodes' connections) until resume(); the histories
        are kept, with a gap where nothing was sampled."""
        self.paused = True
        await self.close()

    def resume(self) -> None:
        if self.paused:
            self.paused = False
            self.sync()

    async def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
