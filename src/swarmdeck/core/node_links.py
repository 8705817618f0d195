"""The Docker engine of each node of a cluster, over one SSH connection per node, opened on
first use and kept: the logs of a replica are read from the engine that runs it.

A node is reached as the cluster's metrics setting says: ssh to the address the swarm
reports ("direct"), or through the manager's connection ("manager", a ProxyJump over the
session already open). The connected manager's own node is not dialled again: its session
serves it. A failed dial is remembered for a while (the same error, not a new attempt per
caller), so a node that cannot be reached costs one try per RETRY seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Protocol

import asyncssh

from swarmdeck.core import loop_clock
from swarmdeck.core.destinations import Destination
from swarmdeck.core.errors import HostUnreachable, SwarmdeckError
from swarmdeck.core.transport.docker import DockerEndpoint
from swarmdeck.core.transport.ssh import Resolved, connect

if TYPE_CHECKING:
    from swarmdeck.core.inventory import ClusterState

RETRY = 10.0  # seconds before a node that could not be reached is dialled again
REAP_QUICK = 10.0  # seconds a cluster sent to the background is looked at every 0.1 s
REAP_SLOW = 2.0  # then, while a connection is still in use, every this many seconds


class NodeAccess(Protocol):
    """What reaching a cluster's nodes needs of a fleet: core.fleet.Fleet has it, and so
    has the console's (ui.app.FleetSource, recorded data in tests)."""

    def state(self, name: str) -> ClusterState: ...
    async def task_engine(self, name: str, node_id: str) -> DockerEndpoint: ...
    async def node_connection(self, name: str, node_id: str
                              ) -> asyncssh.SSHClientConnection: ...


class NodeLinks:
    def __init__(self, inventory, *, via: str = "direct") -> None:
        """INVENTORY: the cluster's ClusterInventory (its state names the nodes, its session
        is the way in). VIA: "manager" to hop through the manager's connection."""
        self.inventory = inventory
        self.via = via
        self._conns: dict[str, tuple[asyncssh.SSHClientConnection, DockerEndpoint]] = {}
        self._failed: dict[str, tuple[float, SwarmdeckError]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._reaper: asyncio.Future | None = None
        self.resolved: dict[str, Resolved] = {}  # where each node's SSH went (ssh config)

    async def engine(self, node_id: str, session) -> DockerEndpoint:
        """The Docker API of NODE_ID's engine (raises SwarmdeckError saying why not).
        SESSION: the inventory's live manager session (the way in, and the manager's own
        node)."""
        if self._managers_own(node_id):
            return session.docker
        lock = self._locks.setdefault(node_id, asyncio.Lock())
        async with lock:
            held = self._conns.get(node_id)
            if held is not None and not held[0].is_closed():
                return held[1]
            failed = self._failed.get(node_id)
            if failed is not None and loop_clock.now() - failed[0] < RETRY:
                raise failed[1]
            try:
                conn, endpoint = await self._dial(node_id, session)
            except SwarmdeckError as exc:
                self._failed[node_id] = (loop_clock.now(), exc)
                raise
            self._keep(node_id, conn, endpoint)
            return endpoint

    async def connection(self, node_id: str, session) -> asyncssh.SSHClientConnection:
        """NODE_ID's SSH connection itself (to run a command there): the manager's session
        for its own node, else the node's, dialled on first use."""
        if self._managers_own(node_id):
            return session.conn
        await self.engine(node_id, session)
        return self._conns[node_id][0]

    def adopt(self, node_id: str, conn: asyncssh.SSHClientConnection,
              endpoint: DockerEndpoint, resolved: Resolved | None = None) -> None:
        """Keep CONN, already open to NODE_ID (core.task_locate dialled it; RESOLVED: where
        it went), as that node's connection: the next use of the node takes it instead of
        dialling, and close() closes it."""
        if resolved is not None:
            self.resolved[node_id] = resolved
        held = self._conns.get(node_id)
        if held is not None and held[0] is not conn:
            held[0].close()
        self._keep(node_id, conn, endpoint)

    def _keep(self, node_id: str, conn: asyncssh.SSHClientConnection,
              endpoint: DockerEndpoint) -> None:
        """NODE_ID's connection from now on (dialled, or adopted); in the background it is
        closed again once its user is done."""
        self._failed.pop(node_id, None)
        self._conns[node_id] = (conn, endpoint)
        if self.inventory.in_background:
            self.reap()

    def dials_for(self, node_id: str) -> bool:
        """Does NODE_ID need a connection of its own (it is not the manager's node)?"""
        return not self._managers_own(node_id)

    def _managers_own(self, node_id: str) -> bool:
        """NODE_ID is the connected manager's own node: its session serves it."""
        info = self.inventory.state.info
        return info is not None and info.node_id == node_id

    async def _dial(self, node_id: str, session) -> tuple[asyncssh.SSHClientConnection,
                                                         DockerEndpoint]:
        node = self.inventory.state.nodes.get(node_id)
        if node is None:
            raise HostUnreachable(f"node {node_id[:12]} is not in the cluster")
        if not node.address:
            raise HostUnreachable(f"{node.hostname}: the swarm reports no address for it")
        destination = Destination(session.resolved.user, node.address, None)
        tunnel = session.conn if self.via == "manager" else None
        conn, resolved = await connect(destination, self.inventory.ssh, tunnel=tunnel)
        self.resolved[node_id] = resolved
        return conn, DockerEndpoint(conn, f"{node.hostname} ({resolved.label})",
                                    self.inventory.socket_path)

    def forget(self, node_id: str) -> None:
        """Drop NODE_ID's connection (its engine stopped answering): the next use dials."""
        held = self._conns.pop(node_id, None)
        if held is not None:
            held[0].abort()

    def reap(self) -> None:
        """The cluster is in the background (its inventory says so): close its node
        connections as soon as nothing uses them. Each closes once it carries no channel but
        its endpoint's kept-alive ones; one in use (a shell, a port-forward, a log stream
        still ending) is looked at again until it is free. A connection opened while the
        cluster stays in the background is reaped the same way; shown again, the reaping
        stops. Only this process's own bookkeeping is read: nothing is sent."""
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.ensure_future(self._reap())

    async def _reap(self) -> None:
        started = loop_clock.now()
        while self._conns and self.inventory.in_background:
            for node_id, (conn, endpoint) in list(self._conns.items()):
                endpoint.drop_idle()  # a request may have put one back meanwhile
                if _open_channels(conn) == 0:
                    del self._conns[node_id]
                    conn.close()
            if not self._conns:
                return
            # a stream being stopped ends within moments; a shell may take hours
            quick = loop_clock.now() - started < REAP_QUICK
            await asyncio.sleep(0.1 if quick else REAP_SLOW)

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
        conns, self._conns = list(self._conns.values()), {}
        for conn, endpoint in conns:
            with contextlib.suppress(Exception):
                await endpoint.close()
            conn.close()


def _open_channels(conn: asyncssh.SSHClientConnection) -> int:
    """Channels open on CONN (asyncssh keeps no public count; when it cannot be read, the
    connection counts as in use and is kept)."""
    channels = getattr(conn, "_channels", None)
    return len(channels) if isinstance(channels, dict) else 1
