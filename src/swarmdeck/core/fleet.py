"""All configured clusters: one inventory each, loaded concurrently.

One unreachable cluster never blocks or breaks the others: each load has its own error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, NoReturn

from swarmdeck.core.config import ClusterConfig, Config
from swarmdeck.core.errors import ConnectionLost, SwarmdeckError
from swarmdeck.core.inventory import Change, ClusterInventory, ClusterState, Listener
from swarmdeck.core.transport.session import Read
from swarmdeck.core.transport.ssh import SSHSettings

if TYPE_CHECKING:
    from swarmdeck.core.audit import AuditLog
    from swarmdeck.core.log_follow import StreamNote
    from swarmdeck.core.logs import LogLine
    from swarmdeck.core.metrics import MetricsCollector
    from swarmdeck.core.node_links import NodeLinks
    from swarmdeck.core.ops.base import (
        ClusterOps,  # imported where used: `swarmdeck ls` and the changes sample and read none
    )
    from swarmdeck.core.signals import ClusterSignals
    from swarmdeck.core.task_logs import TaskLines
    from swarmdeck.core.transport.docker import DockerEndpoint

log = logging.getLogger(__name__)
# seconds the clusters off screen wait at most for the first screen's to load before they
# start (they start at once when it has loaded, failed, or the screen moved on)
FIRST_SCREEN_WAIT = 3.0


def ssh_settings(config: Config, cluster: str | None) -> SSHSettings:
    """How CLUSTER's managers are reached (None: a host of no cluster yet, as [ssh] says)."""
    ssh = config.ssh
    return SSHSettings.chosen(
        config.clusters[cluster].ssh_config if cluster is not None else None, ssh.config,
        connect_timeout=ssh.connect_timeout,
        keepalive_interval=ssh.keepalive_interval,
        keepalive_count_max=ssh.keepalive_count_max,
    )


class _Misconfigured(ClusterInventory):
    """A cluster whose config entry cannot work (a manager's host no DNS can hold): every
    connection attempt fails at once with ERROR, which names the key to fix. It shows as
    that cluster's error; the other clusters work."""

    def __init__(self, name: str, error: SwarmdeckError, ssh: SSHSettings) -> None:
        super().__init__(name, [], ssh)
        self.error = error

    async def connect(self, early: Sequence[Read] = ()) -> NoReturn:
        raise self.error


class Fleet:
    def __init__(self, config: Config, env: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.env = os.environ if env is None else env
        self.inventories: dict[str, ClusterInventory] = {}
        self.collectors: dict[str, MetricsCollector] = {}
        self.links: dict[str, NodeLinks] = {}
        self.shown: set[str] | None = None  # None: every cluster is looked at (see show())
        self._pausing: set[asyncio.Future] = set()
        self.signals: dict[str, ClusterSignals] = {}  # of the clusters running with metrics
        # each listener and how to stop it hearing each cluster (a cluster added later too)
        self._listeners: list[tuple[Listener, list[Callable[[], None]]]] = []
        # open once the clusters shown first have loaded (or failed, or FIRST_SCREEN_WAIT
        # passed, or the screen moved on): the clusters off screen start after it, so that
        # their handshakes and loads do not slow the screen the operator waits for
        self._first_screen: asyncio.Event | None = None

    def inventory(self, name: str) -> ClusterInventory:
        if name not in self.inventories:
            cluster = self.config.cluster(name)
            if cluster.problem is not None:
                self.inventories[name] = _Misconfigured(name, cluster.problem,
                                                        ssh_settings(self.config, name))
                return self.inventories[name]
            self.inventories[name] = ClusterInventory(
                name,
                cluster.manager_destinations(self.env),
                ssh_settings(self.config, name),
                task_refresh=self.config.inventory.task_refresh,
                socket_path=cluster.docker_socket,
            )
        return self.inventories[name]

    async def load(self, names: Iterable[str] | None = None
                   ) -> dict[str, ClusterState | SwarmdeckError]:
        """Load the named clusters (default: all) at once; each result is its state or the
        error that stopped it."""
        chosen = list(names) if names is not None else list(self.config.clusters)
        inventories = [self.inventory(n) for n in chosen]
        results = await asyncio.gather(*(inv.load() for inv in inventories),
                                       return_exceptions=True)
        out: dict[str, ClusterState | SwarmdeckError] = {}
        for name, result in zip(chosen, results, strict=True):
            if isinstance(result, SwarmdeckError | ClusterState):
                out[name] = result
            elif isinstance(result, BaseException):
                raise result
        return out

    @property
    def names(self) -> list[str]:
        return list(self.config.clusters)

    def state(self, name: str) -> ClusterState:
        return self.inventory(name).state

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Listen to every cluster's changes; returns the function that stops listening."""
        stops = [self.inventory(n).subscribe(listener) for n in self.names]
        entry = (listener, stops)
        self._listeners.append(entry)

        def unsubscribe() -> None:
            for stop in stops:
                stop()
            if entry in self._listeners:
                self._listeners.remove(entry)

        return unsubscribe

    def add_cluster(self, name: str, cluster: ClusterConfig) -> None:
        """A cluster added to the config while the fleet runs (the console's `:ctx add`):
        every listener hears it too; run(NAME) keeps it live."""
        self.config.clusters[name] = cluster
        inventory = self.inventory(name)
        for listener, stops in self._listeners:
            stops.append(inventory.subscribe(listener))

    async def run(self, name: str) -> None:
        """Keep one cluster's inventory live (load, follow, reconnect) and, unless the
        cluster says metrics = "off", its nodes' metrics, until closed. How the two tell
        each other what changed: core.signals."""
        from swarmdeck.core.signals import ClusterSignals

        if self.shown is not None and name not in self.shown:
            await self._first_screen_done()
        inventory = self.inventory(name)
        inventory.background(self.shown is not None and name not in self.shown)
        cluster = self.config.clusters[name]
        if cluster.metrics == "off":
            await inventory.run()
            return
        collector = self.metrics(name)
        collector.paused = inventory.in_background  # off screen from the start: no samplers
        signals = self.signals[name] = ClusterSignals(inventory, collector)
        signals.connect()

        def tick_failed(exc: Exception) -> None:
            from swarmdeck.core.crash import report

            log.error("cluster %s: %s", name, report(
                exc, context="internal error in the metrics aggregation"))

        ticker = asyncio.create_task(signals.tick_forever(tick_failed))
        try:
            await inventory.run()
        finally:
            signals.disconnect()
            self.signals.pop(name, None)
            ticker.cancel()
            await collector.close()

    async def _first_screen_done(self) -> None:
        """Until the clusters shown first have loaded or failed once (at most
        FIRST_SCREEN_WAIT seconds), or the screen shows others."""
        if self._first_screen is None:
            done = asyncio.Event()
            waited = [self.inventory(n) for n in self.shown or () if n in self.config.clusters]
            stops: list[Callable[[], None]] = []

            def answered() -> bool:  # loaded, or failed once
                return all(inv.state.loaded or inv.state.error is not None for inv in waited)

            def heard(change: Change) -> None:
                if change.kind in ("loaded", "connection") and answered():
                    done.set()

            for inv in waited:
                stops.append(inv.subscribe(heard))
            self._first_screen = done  # the others wait on it from now (set in any case)
            if answered():
                done.set()
            try:
                async with asyncio.timeout(FIRST_SCREEN_WAIT):
                    await done.wait()
            except TimeoutError:
                pass
            finally:
                done.set()
                for stop in stops:
                    stop()
        else:
            await self._first_screen.wait()

    def show(self, names: Iterable[str]) -> None:
        """The clusters somebody looks at now (the console's screen). The others go to the
        background: one connection and their event stream each, no metrics samplers (their
        node connections close, and those logs opened once nothing uses them), no task
        polling. Shown again, they re-read their tasks and sample at once (core.signals)."""
        shown = set(names)
        if shown == self.shown:
            return
        if self.shown is not None and self._first_screen is not None:
            self._first_screen.set()  # the screen moved on: every cluster starts now
        self.shown = shown
        for name in self.names:
            behind = name not in shown
            signals = self.signals.get(name)
            pending = []
            if signals is None:  # not running yet, or without metrics
                self.inventory(name).background(behind)
            else:
                pending.append(signals.background(behind))
            if behind and name in self.links:  # the node connections logs left open
                self.links[name].reap()
            for future in pending:
                if future is not None:
                    self._pausing.add(future)
                    future.add_done_callback(self._pausing.discard)

    def reconnect(self, name: str) -> None:
        """Try the cluster's managers again now rather than after the backoff (a host key
        was just trusted)."""
        self.inventory(name).retry_now()

    def metrics(self, name: str) -> MetricsCollector:
        """The cluster's metrics collector (its histories are empty until run() starts)."""
        from swarmdeck.core.metrics import MetricsCollector

        if name not in self.collectors:
            inventory = self.inventory(name)

            def manager_connection():
                session = inventory.session
                return session.conn if session and not session.closed else None

            def user() -> str | None:
                return inventory.session.resolved.user if inventory.session else None

            def manager_session(node_id: str):
                """The live manager session when it is NODE_ID's: its sampler shares it."""
                session, info = inventory.session, inventory.state.info
                if session is None or session.closed or info is None:
                    return None
                return session if info.node_id == node_id else None

            self.collectors[name] = MetricsCollector(
                inventory.state, ssh_settings(self.config, name),
                interval=self.config.metrics.interval, history=self.config.metrics.history,
                via=self.config.clusters[name].metrics,
                manager_connection=manager_connection, user=user,
                manager_session=manager_session,
            )
        return self.collectors[name]

    async def ops(self, name: str, *, read_only_flag: bool = False):
        """A ClusterOps on the cluster's live manager session (connecting if needed)."""
        return await open_ops(self.config, name, read_only_flag=read_only_flag, fleet=self)

    def node_links(self, name: str) -> NodeLinks:
        """One SSH connection per node of the cluster, opened on first use (logs)."""
        from swarmdeck.core.node_links import NodeLinks

        if name not in self.links:
            via = "manager" if self.config.clusters[name].metrics == "manager" else "direct"
            self.links[name] = NodeLinks(self.inventory(name), via=via)
        return self.links[name]

    async def task_engine(self, name: str, node_id: str) -> DockerEndpoint:
        """The Docker API of NODE_ID's engine in cluster NAME: over that node's own SSH
        connection, or the manager's session for the manager's own node (exec)."""
        session = await self.inventory(name).connect()
        return await self.node_links(name).engine(node_id, session)

    async def node_connection(self, name: str, node_id: str):
        """NODE_ID's SSH connection in cluster NAME (custom commands run there)."""
        session = await self.inventory(name).connect()
        return await self.node_links(name).connection(node_id, session)

    def follow_logs(self, name: str, services: Sequence[tuple[str, str]], *,
                    follow: bool = True, tail: int | str = 100, since: str | None = None,
                    max_backoff: float = 30.0) -> AsyncGenerator[LogLine | StreamNote, None]:
        """SERVICES' lines (every replica), merged in time order, resumed without loss or
        repeat after a drop: read from each replica's node, or (logs = "manager") from the
        manager's service stream. Their tasks must be known (loaded) when following starts;
        new replicas are picked up as the inventory sees them (keep it running)."""
        from swarmdeck.core import log_follow
        from swarmdeck.core.replica_logs import follow_replicas

        inventory = self.inventory(name)
        if self.config.clusters[name].logs == "nodes":
            return follow_replicas(inventory, self.node_links(name), services, follow=follow,
                                   tail=tail, since=since, max_backoff=max_backoff)

        async def connect():
            return (await inventory.connect()).docker

        return log_follow.follow_logs(connect, services, follow=follow, tail=tail, since=since,
                                      max_backoff=max_backoff)

    async def logs(self, name: str, service_id: str, *, tail: int | str = 100,
                   follow: bool = True) -> AsyncIterator[LogLine | StreamNote]:
        """A service's log lines (every replica), as follow_logs gives them."""
        inventory = self.inventory(name)
        if inventory.session is None or inventory.session.closed:
            raise ConnectionLost(f"cluster {name} is not connected")
        service = inventory.state.services.get(service_id)
        label = service.name if service else service_id[:12]
        async with contextlib.aclosing(self.follow_logs(
                name, [(service_id, label)], tail=tail, follow=follow)) as items:
            async for item in items:
                yield item

    async def task_logs(self, name: str, task_id: str, *, tail: int = 50) -> TaskLines:
        """The last lines of one task (core.task_logs), from its node when logs are read
        there, else through the manager."""
        inventory = self.inventory(name)
        from swarmdeck.core.task_logs import recent_task_lines

        return await recent_task_lines(inventory, self.node_links(name), task_id, tail=tail,
                                       from_nodes=self.config.clusters[name].logs == "nodes")

    async def close(self) -> None:
        await asyncio.gather(*self._pausing, return_exceptions=True)
        await asyncio.gather(*(inv.close() for inv in self.inventories.values()),
                             *(links.close() for links in self.links.values()),
                             return_exceptions=True)


async def open_ops(config: Config, cluster: str, *, read_only_flag: bool = False,
                   fleet: Fleet | None = None, audit: AuditLog | None = None) -> ClusterOps:
    """A cluster's ops: through FLEET's live session (the console), or a fleet of its own
    (a CLI command). An unknown cluster is a clear error before any connection."""
    from swarmdeck.core.ops.base import ops_on  # the changes: loaded only when one is made

    config.cluster(cluster)
    fleet = fleet or Fleet(config)
    return await ops_on(config, cluster, fleet.inventory(cluster),
                        read_only_flag=read_only_flag, audit=audit)
