"""A local TCP port carried to a port of a task's container: a listener on 127.0.0.1 only, and
for each connection a direct-tcpip channel of the task's node's SSH connection, from that
node to the container's address there (nothing spawned on the node).

If the task is replaced, new connections go to the new task: each new connection asks the
node's engine whether the container still runs (while its channel opens, so it costs no
time), and the task is found again when it does not or when the channel cannot be opened.
Connections and bytes are counted for the console's list and the CLI's last line.

The container's address as its node reaches it: swarm tasks are joined to the node's
docker_gwbridge, whose address the node routes; a container on the host network is the node's
own 127.0.0.1; a plain container on the default bridge has its bridge address.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncssh

from swarmdeck.core.errors import ExecFailed, NotFound, SwarmdeckError, UsageError
from swarmdeck.core.transport.docker import DockerEndpoint

LISTEN_HOST = "127.0.0.1"
BLOCK = 256 * 1024  # bytes read at a time from either end
# What the node may send on a channel before we acknowledge: a channel carries at most one
# window per round trip. asyncssh's (and OpenSSH's) 2 MiB held a 32 MB download at 50 ms
# RTT to 15-19 MB/s (ssh -L: 19-30); 8 MiB gave 52-60 MB/s (bench/port_forward.py). Bigger
# packets (128-256 KiB) changed nothing measurable. At most this much waits per channel when
# the local client reads slower than the node sends.
WINDOW = 8 * 1024 * 1024


async def gwbridge(engine: DockerEndpoint, _container_id: str = "") -> dict:
    """The node's docker_gwbridge network ({} where it has none)."""
    with contextlib.suppress(NotFound):
        return await engine.get("/networks/docker_gwbridge")
    return {}


async def container_address(engine: DockerEndpoint, container_id: str,
                            inspected: dict | None = None,
                            bridge: Awaitable[dict] | None = None) -> str:
    """Where the node reaches the container (raises ExecFailed when it cannot). The
    container and the node's docker_gwbridge are read at once: one round trip, not two
    (none when INSPECTED holds the container and BRIDGE the network, read just now)."""
    async def read_container() -> dict:
        if inspected is not None:
            return inspected
        return await engine.get(f"/containers/{container_id}/json")

    read: list[Any] = list(await asyncio.gather(read_container(), bridge or gwbridge(engine),
                                                return_exceptions=True))
    found, bridge_net = read
    if isinstance(found, NotFound):
        raise ExecFailed(f"{engine.label}: container {container_id[:12]} is gone") from None
    for result in (found, bridge_net):
        if isinstance(result, BaseException):
            raise result
    assert isinstance(found, dict) and isinstance(bridge_net, dict)
    networks = (found.get("NetworkSettings") or {}).get("Networks") or {}
    if "host" in networks:
        return "127.0.0.1"
    entry = (bridge_net.get("Containers") or {}).get(found["Id"])
    if entry and entry.get("IPv4Address"):
        return entry["IPv4Address"].split("/")[0]
    on_bridge = (networks.get("bridge") or {}).get("IPAddress")
    if on_bridge:
        return on_bridge
    raise ExecFailed(f"{engine.label}: container {container_id[:12]} has no address its node "
                     f"can reach (networks: {', '.join(networks) or 'none'})")


@dataclass(frozen=True)
class Route:
    """Where a connection goes: CONN's host on to ADDRESS; the task's CONTAINER_ID on NODE
    (with ENGINE, its node's Docker API, to ask whether it still runs)."""
    conn: asyncssh.SSHClientConnection
    address: str
    node: str
    replica: str = ""
    container_id: str = ""
    engine: DockerEndpoint | None = None


async def route_to(target, engine: DockerEndpoint, inspected: dict | None = None,
                   bridge: Awaitable[dict] | None = None) -> Route:
    """The route to TARGET's container (a core.task_exec.ExecTarget) through ENGINE
    (INSPECTED, BRIDGE: the container and the node's gwbridge as ENGINE described them just
    now, if it did)."""
    address = await container_address(engine, target.container_id, inspected, bridge)
    return Route(engine.conn, address, target.node.hostname, target.replica,
                 target.container_id, engine)


def task_router(fleet, cluster: str, ref: str, *, node: str | None,
                fresh: bool) -> Callable[[], Awaitable[Route]]:
    """Finds REF's task again (SERVICE[.SLOT], on NODE): the cluster read anew when FRESH
    (the CLI), else the fleet's live state (the console)."""
    from swarmdeck.core.task_exec import pick_task

    async def find() -> Route:
        state = await fleet.inventory(cluster).load() if fresh else fleet.state(cluster)
        target = pick_task(state, ref, node=node)
        return await route_to(target, await fleet.task_engine(cluster, target.node.id))
    return find


async def _running(route: Route) -> bool:
    """False only when ROUTE's engine says its container is gone or stopped."""
    if route.engine is None:
        return True
    try:
        container = await route.engine.get(f"/containers/{route.container_id}/json")
    except NotFound:
        return False
    except SwarmdeckError:
        return True  # unknown: the channel's own opening says whether it works
    return bool((container.get("State") or {}).get("Running"))


class Forwarder:
    """Listens on 127.0.0.1:LOCAL; each connection becomes a channel from CONN's host to
    ADDRESS:PORT. ON_NOTE: one line about a connection that could not be carried, or a
    task found again. REROUTE: finds the task again (task_router) when it is replaced."""

    def __init__(self, conn: asyncssh.SSHClientConnection | Route, address: str = "",
                 port: int = 0, *, label: str = "",
                 on_note: Callable[[str], None] = lambda _line: None,
                 reroute: Callable[[], Awaitable[Route]] | None = None) -> None:
        self.route = conn if isinstance(conn, Route) else Route(conn, address, label)
        self.port = port
        self.on_note = on_note
        self.reroute = reroute
        self.server: asyncio.Server | None = None
        self.local = 0
        self.since = time.time()
        self.open = 0  # connections being carried now
        self.total = 0  # connections accepted
        self.bytes_in = 0  # from the container
        self.bytes_out = 0  # to the container
        self._pipes: set[asyncio.Task] = set()
        self._rerouting = asyncio.Lock()

    @property
    def conn(self) -> asyncssh.SSHClientConnection:
        return self.route.conn

    @property
    def address(self) -> str:
        return self.route.address

    @property
    def label(self) -> str:
        return self.route.node

    async def listen(self, local: int) -> int:
        """Start listening; returns the local port (the one chosen when LOCAL is 0)."""
        try:
            self.server = await asyncio.start_server(self._serve, LISTEN_HOST, local)
        except OSError as exc:
            raise UsageError(f"cannot listen on {LISTEN_HOST}:{local}: "
                             f"{exc.strerror or exc}") from None
        self.local = self.server.sockets[0].getsockname()[1]
        self.since = time.time()
        return self.local

    def summary(self) -> str:
        """Connections and bytes so far, in one line."""
        return (f"{self.total} connection{'s' if self.total != 1 else ''}, "
                f"{self.bytes_in} bytes in, {self.bytes_out} bytes out")

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._pipes.add(task)
        self.total += 1
        self.open += 1
        _no_delay(writer)
        try:
            try:
                remote_reader, remote_writer = await self._connect()
            except (asyncssh.Error, OSError, SwarmdeckError) as exc:
                reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) \
                    or str(exc) or type(exc).__name__
                self.on_note(f"connection to {self.address}:{self.port} from {self.label} "
                             f"failed: {reason}")
                return
            try:
                await asyncio.gather(_copy(reader, remote_writer, self._sent),
                                     _copy(remote_reader, writer, self._received))
            finally:
                remote_writer.close()
        finally:
            self.open -= 1
            writer.close()
            if task is not None:
                self._pipes.discard(task)

    def _sent(self, size: int) -> None:
        self.bytes_out += size

    def _received(self, size: int) -> None:
        self.bytes_in += size

    async def _connect(self):
        """A channel to the task's container: the route as it is, or found again when its
        container no longer runs or the channel cannot be opened."""
        route = self.route
        opening = asyncio.ensure_future(self._open(route))
        if self.reroute is None:
            return await opening
        if not await _running(route):  # asked while the channel opens
            opening.add_done_callback(_close_unused)
            return await self._open(await self._found_again(route))
        try:
            return await opening
        except (asyncssh.Error, OSError):
            again = await self._found_again(route)
            if again == route:
                raise
            return await self._open(again)

    async def _open(self, route: Route):
        return await route.conn.open_connection(route.address, self.port, window=WINDOW)

    async def _found_again(self, old: Route) -> Route:
        """The task found again, once for every connection that met OLD gone."""
        assert self.reroute is not None
        async with self._rerouting:
            if self.route == old:
                new = await self.reroute()
                if new != old:
                    self.on_note(f"{old.replica or old.address} was replaced: now forwarding "
                                 f"to {new.replica} {new.address}:{self.port} on {new.node}")
                self.route = new
            return self.route

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in list(self._pipes):
            task.cancel()
        if self._pipes:
            await asyncio.gather(*self._pipes, return_exceptions=True)


def _no_delay(writer: asyncio.StreamWriter) -> None:
    """Small writes (an HTTP request) leave at once rather than behind Nagle's wait."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _close_unused(opening: asyncio.Future) -> None:
    if not opening.cancelled() and opening.exception() is None:
        opening.result()[1].close()


async def _copy(reader, writer, count: Callable[[int], None]) -> None:
    """Bytes from READER to WRITER until its end, then the end passed on (half-close);
    COUNT is told each chunk's size."""
    try:
        while True:
            data = await reader.read(BLOCK)
            if not data:
                break
            count(len(data))
            writer.write(data)
            await writer.drain()
        with contextlib.suppress(OSError, asyncssh.Error):
            if writer.can_write_eof():
                writer.write_eof()
    except (OSError, asyncssh.Error):
        writer.close()


# ---- the forwards a long-lived process keeps (the console's app.forwards) -----------------
CLOSE_WAIT = 3.0  # seconds to wait, when the process quits, for each forward's audit line


@dataclass(eq=False)
class ActiveForward:
    cluster: str
    ref: str  # as asked: SERVICE[.SLOT]
    forwarder: Forwarder
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def key(self) -> str:
        return str(self.forwarder.local)


class Forwards:
    """The console's active forwards, newest last."""

    def __init__(self) -> None:
        self.active: list[ActiveForward] = []
        self._ended: set[asyncio.Event] = set()  # set once a forward's audit line is written

    def find(self, key: str) -> ActiveForward | None:
        return next((f for f in self.active if f.key == key), None)

    def stop(self, key: str) -> bool:
        forward = self.find(key)
        if forward is not None:
            forward.stop.set()
        return forward is not None

    async def close_all(self) -> None:
        """Every forward stopped and its port closed (the console quits)."""
        waits = list(self._ended)
        for forward in list(self.active):
            forward.stop.set()
            await forward.forwarder.close()
        if waits:
            await asyncio.wait([asyncio.ensure_future(e.wait()) for e in waits],
                               timeout=CLOSE_WAIT)
