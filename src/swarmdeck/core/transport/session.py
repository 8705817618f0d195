"""A session with one manager: its SSH connection and the Docker API behind it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Iterable
from typing import Any

import asyncssh

from swarmdeck.core import loop_clock
from swarmdeck.core.destinations import Destination
from swarmdeck.core.errors import ConnectionLost, TransportError
from swarmdeck.core.transport.docker import DEFAULT_SOCKET, DockerEndpoint
from swarmdeck.core.transport.http import build_path
from swarmdeck.core.transport.ssh import Resolved, SSHSettings, connect

Read = tuple[str, dict[str, Any]]  # a GET: its path and its parameters


class ManagerSession:
    def __init__(self, destination: Destination, conn: asyncssh.SSHClientConnection,
                 resolved: Resolved, socket_path: str = DEFAULT_SOCKET) -> None:
        self.destination = destination
        self.conn = conn
        self.resolved = resolved
        self.docker = DockerEndpoint(conn, resolved.label, socket_path)
        # when something last arrived from the manager (monotonic): the liveness check
        # pings only after a silence
        self.last_heard = loop_clock.now()
        self._early: dict[str, asyncio.Future[Any]] = {}

    def send_early(self, reads: Iterable[Read]) -> None:
        """Send READS now, beside the session's own first checks, for the load that opened
        it: their answers come in the same round trip as the checks' instead of one after
        (3 round trips fewer on a fresh connect). Each answer is taken once (`get`); those
        never taken are dropped when the session closes."""
        for path, params in reads:
            answer = asyncio.ensure_future(self.docker.get(path, **params))
            answer.add_done_callback(_seen)
            self._early[build_path(path, params)] = answer

    def get(self, path: str, **params: Any) -> Awaitable[Any]:
        """A read: the answer sent early for it when this session was opened, else a new
        request."""
        early = self._early.pop(build_path(path, params), None)
        if early is not None and not early.cancelled():
            return early
        return self.docker.get(path, **params)

    def drop_early(self) -> None:
        early, self._early = self._early, {}
        for answer in early.values():
            answer.cancel()

    def heard(self) -> None:
        """Something arrived from the manager just now."""
        self.last_heard = loop_clock.now()

    @classmethod
    async def open(cls, destination: Destination, settings: SSHSettings,
                   socket_path: str = DEFAULT_SOCKET) -> ManagerSession:
        conn, resolved = await connect(destination, settings)
        return cls(destination, conn, resolved, socket_path)

    @property
    def label(self) -> str:
        return self.resolved.label

    @property
    def closed(self) -> bool:
        return self.conn.is_closed()

    async def wait_closed(self) -> None:
        await self.conn.wait_closed()

    async def run(self, command: str, timeout: float = 60) -> str:
        """Run a command on the manager's host over the same connection."""
        try:
            result = await self.conn.run(command, check=False, timeout=timeout)
        except asyncssh.TimeoutError:
            raise TransportError(f"{self.label}: `{command}` took longer than {timeout:g}s") \
                from None
        except (asyncssh.Error, OSError) as exc:
            raise ConnectionLost(f"lost connection to {self.label}: {exc}") from None
        if result.exit_status != 0:
            raise TransportError(
                f"{self.label}: `{command}` failed ({result.exit_status}): "
                f"{str(result.stderr or '').strip()[:200]}"
            )
        return str(result.stdout or "")

    async def close(self, *, abort: bool = False) -> None:
        """ABORT: the link is dead or the peer gone; drop it at once instead of waiting for
        a goodbye that will not come."""
        self.drop_early()
        await self.docker.close()
        if abort:
            self.conn.abort()
            return
        self.conn.close()
        with contextlib.suppress(TimeoutError, asyncio.TimeoutError, asyncssh.Error, OSError):
            await asyncio.wait_for(self.conn.wait_closed(), 2)


def _seen(answer: asyncio.Future[Any]) -> None:
    """An early answer nobody took may have failed: that is not worth a warning."""
    if not answer.cancelled():
        answer.exception()
