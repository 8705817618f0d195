"""A local TCP port carried to a port of a task's container: a listener on 127.0.0.1 only, and
for each connection a direct-tcpip channel of the task's node's SSH connection, from that
node to the container's address there (nothing spawned on the node).

The container's address as its node reaches it: swarm tasks are joined to the node's
docker_gwbridge, whose address the node routes; a container on the host network is the node's
own 127.0.0.1; a plain container on the default bridge has its bridge address.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import asyncssh

from swarmdeck.core.errors import ExecFailed, NotFound, UsageError
from swarmdeck.core.transport.docker import DockerEndpoint

LISTEN_HOST = "127.0.0.1"
BLOCK = 64 * 1024


@dataclass(frozen=True)
class PortSpec:
    local: int
    remote: int


def parse_ports(text: str) -> PortSpec:
    """`[LOCAL:]REMOTE` (LOCAL 0: any free port)."""
    local_text, _, remote_text = text.rpartition(":")
    try:
        remote = int(remote_text)
        local = int(local_text) if local_text else remote
    except ValueError:
        raise UsageError(f"{text!r}: give [LOCAL:]REMOTE ports, e.g. 8080 or 18080:80") \
            from None
    if not 1 <= remote <= 65535 or not 0 <= local <= 65535:
        raise UsageError(f"{text!r}: ports are 1 to 65535 (LOCAL 0: any free port)")
    return PortSpec(local, remote)


async def container_address(engine: DockerEndpoint, container_id: str) -> str:
    """Where the node reaches the container (raises ExecFailed when it cannot)."""
    try:
        container = await engine.get(f"/containers/{container_id}/json")
    except NotFound:
        raise ExecFailed(f"{engine.label}: container {container_id[:12]} is gone") from None
    networks = (container.get("NetworkSettings") or {}).get("Networks") or {}
    if "host" in networks:
        return "127.0.0.1"
    with contextlib.suppress(NotFound):
        gwbridge = await engine.get("/networks/docker_gwbridge")
        entry = (gwbridge.get("Containers") or {}).get(container["Id"])
        if entry and entry.get("IPv4Address"):
            return entry["IPv4Address"].split("/")[0]
    bridge = (networks.get("bridge") or {}).get("IPAddress")
    if bridge:
        return bridge
    raise ExecFailed(f"{engine.label}: container {container_id[:12]} has no address its node "
                     f"can reach (networks: {', '.join(networks) or 'none'})")


class Forwarder:
    """Listens on 127.0.0.1:LOCAL; each connection becomes a channel from CONN's host to
    ADDRESS:PORT. ON_NOTE: one line about a connection that could not be carried."""

    def __init__(self, conn: asyncssh.SSHClientConnection, address: str, port: int, *,
                 label: str, on_note: Callable[[str], None] = lambda _line: None) -> None:
        self.conn = conn
        self.address = address
        self.port = port
        self.label = label
        self.on_note = on_note
        self.server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task] = set()

    async def listen(self, local: int) -> int:
        """Start listening; returns the local port (the one chosen when LOCAL is 0)."""
        try:
            self.server = await asyncio.start_server(self._serve, LISTEN_HOST, local)
        except OSError as exc:
            raise UsageError(f"cannot listen on {LISTEN_HOST}:{local}: "
                             f"{exc.strerror or exc}") from None
        return self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._pipes.add(task)
        try:
            try:
                remote_reader, remote_writer = await self.conn.open_connection(
                    self.address, self.port)
            except (asyncssh.Error, OSError) as exc:
                reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) \
                    or str(exc) or type(exc).__name__
                self.on_note(f"connection to {self.address}:{self.port} from {self.label} "
                             f"failed: {reason}")
                return
            try:
                await asyncio.gather(_copy(reader, remote_writer), _copy(remote_reader, writer))
            finally:
                remote_writer.close()
        finally:
            writer.close()
            if task is not None:
                self._pipes.discard(task)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in list(self._pipes):
            task.cancel()
        if self._pipes:
            await asyncio.gather(*self._pipes, return_exceptions=True)


async def _copy(reader, writer) -> None:
    """Bytes from READER to WRITER until its end, then the end passed on (half-close)."""
    try:
        while True:
            data = await reader.read(BLOCK)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        with contextlib.suppress(OSError, asyncssh.Error):
            if writer.can_write_eof():
                writer.write_eof()
    except (OSError, asyncssh.Error):
        writer.close()
