"""Finding the task `exec` and `port-forward` use, and its node's engine, fast: the task's
placement hint (core.task_hint) is checked on the hinted node while a manager is asked, and
the first sure answer wins.

- The hinted node is dialled (HintCheck, which may start before the config is read) and its
  engine asked for the hinted container. Only an answer confirming it (running, the hinted
  task's swarm labels: core.task_hint.refuted) makes the hint the answer; the manager's load
  is then dropped.
- Otherwise the manager's answer decides, as without a hint; the hinted node's connection
  serves the task if the task is on that node (that node's engine said which node it is).
- AHEAD, work on the hinted container that changes nothing by itself (the exec's create: no
  process starts until the start), may be sent beside the check, to save its round trip.
  Its result is used only once the check has confirmed the hint, and dropped otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from swarmdeck.core.destinations import Destination
from swarmdeck.core.errors import ExecFailed, NotFound, SwarmdeckError
from swarmdeck.core.task_hint import NODE_ID, TaskHint, TaskHints, refuted
from swarmdeck.core.transport.docker import DockerEndpoint
from swarmdeck.core.transport.ssh import Resolved, connect

if TYPE_CHECKING:
    import asyncssh

    from swarmdeck.core.fleet import Fleet
    from swarmdeck.core.node_links import NodeAccess
    from swarmdeck.core.task_exec import ExecTarget

# work sent on the hinted container's engine beside its check: (engine, container ID)
Ahead = Callable[[DockerEndpoint, str], Awaitable[Any]]


@dataclass
class Located:
    """The task to use and its node's engine; MANAGER: the manager that answered (None when
    the hint, checked on the node, was enough)."""
    target: ExecTarget
    engine: DockerEndpoint
    manager: str | None
    hint: TaskHint | None = None  # the hint used, or the one the manager's answer became
    container: dict[str, Any] | None = None  # the node's inspect of it, when read
    ahead: asyncio.Future | None = None  # AHEAD's result, when the hint was used


@dataclass
class _Checked:
    conn: asyncssh.SSHClientConnection
    engine: DockerEndpoint
    container: dict[str, Any] | None  # None: the engine did not confirm the hint
    node_id: str | None  # the node the engine's answer says it is (None: it said nothing)
    resolved: Resolved | None = None  # where its SSH went


class HintCheck:
    """HINT's node dialled and its engine asked for the hinted container, in the background,
    from the hint alone (it may start before the config is read). CONNECTED: the node's
    engine once logged in; RESULT: what the engine said (None: the node could not be
    reached or asked)."""

    def __init__(self, hint: TaskHint, sock: socket.socket | None = None) -> None:
        """SOCK: the hint's early_socket(), if one is being made."""
        self.hint = hint
        self.sock = sock
        self.connected: asyncio.Future[DockerEndpoint] = \
            asyncio.get_running_loop().create_future()
        self.result: asyncio.Future[_Checked | None] = asyncio.ensure_future(self._run())

    async def _run(self) -> _Checked | None:
        hint = self.hint
        try:
            try:
                conn, resolved = await connect(hint.destination, hint.settings,
                                               sock=await self._connected_socket())
            except (SwarmdeckError, TypeError):  # TypeError: settings of another version
                return None
            engine = DockerEndpoint(conn, f"{hint.hostname} ({resolved.label})",
                                    hint.socket_path)
            engine.prewarm(2)  # the exec's create and start, or a forward's first connection
            self.connected.set_result(engine)
            try:
                container = await engine.get(f"/containers/{hint.container_id}/json")
            except NotFound:
                return _Checked(conn, engine, None, None, resolved)
            except SwarmdeckError:
                conn.close()
                return None
            except BaseException:
                conn.close()
                raise
        finally:
            self.connected.cancel()  # no-op once set: AHEAD waits no longer
            if self.sock is not None:
                self.sock.close()  # not taken (a failure, a cancel); no-op once it was
        node_id = ((container.get("Config") or {}).get("Labels") or {}).get(NODE_ID)
        confirmed = refuted(container, hint) is None
        return _Checked(conn, engine, container if confirmed else None, node_id, resolved)

    async def _connected_socket(self) -> socket.socket | None:
        """The early socket once its TCP handshake is done, or None (not made, or failed:
        asyncssh then dials as it would have)."""
        sock, self.sock = self.sock, None
        if sock is None:
            return None
        assert self.hint.dial is not None
        host, port = self.hint.dial
        try:
            async with asyncio.timeout(self.hint.settings.connect_timeout):
                await asyncio.get_running_loop().sock_connect(sock, (host, port))
        except (OSError, TimeoutError):
            sock.close()
            return None
        return sock

    async def discard(self) -> None:
        """Stop the check and close the connection it made."""
        await discard(self.result)


async def locate(fleet: Fleet, cluster: str, ref: str, *, node: str | None,
                 hints: TaskHints | None, early: HintCheck | None = None,
                 ahead: Ahead | None = None) -> Located:
    """REF's task (on NODE) and its node's engine. With a hint (EARLY: its check, started
    before the config was read, used when the config agrees with the hint) its node is
    checked while the manager is asked; see the module's doc. The manager's answer is
    remembered as the next hint. Errors are the manager path's: a hint that fails is
    dropped, never reported."""
    from swarmdeck.core.task_exec import pick_task

    inventory = fleet.inventory(cluster)
    direct = fleet.config.clusters[cluster].metrics != "manager"  # nodes dialled directly
    checking = early
    hint = early.hint if early is not None else \
        (hints.recall() if hints is not None else None)
    if hint is not None and not (direct and hint.fits(cluster, inventory.ssh,
                                                      inventory.socket_path)):
        hint = None
        if checking is not None:
            await checking.discard()
            checking = None
    if hint is not None and checking is None:
        checking = HintCheck(hint)
    loading = asyncio.ensure_future(inventory.load())
    sent = asyncio.ensure_future(_ahead(checking, ahead)) \
        if checking is not None and ahead is not None else None
    try:
        if checking is not None:
            racing: set[asyncio.Future[Any]] = {loading, checking.result}
            await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)
            checked = checking.result.result() if checking.result.done() else None
            if checked is not None and checked.container is not None:
                assert hint is not None
                await discard(loading)
                fleet.node_links(cluster).adopt(hint.node_id, checked.conn, checked.engine)
                return Located(hint.target(), checked.engine, None, hint, checked.container,
                               sent)
        if sent is not None:
            await discard(sent)
        state = await loading
        target = pick_task(state, ref, node=node)
        if checking is not None:
            assert hint is not None
            await _reuse(fleet, cluster, target, hint, checking)
        engine = await engine_of(fleet, cluster, target)
    except BaseException:
        for job in (loading, sent, checking.result if checking is not None else None):
            if job is not None:
                await discard(job)
        raise
    found = None
    session = inventory.session
    if hints is not None and direct and session is not None:
        own = state.info is not None and state.info.node_id == target.node.id
        way = session.destination if own else \
            Destination(session.resolved.user, target.node.address, None)
        same = hint is not None and hint.container_id == target.container_id
        resolved = session.resolved if own else \
            fleet.node_links(cluster).resolved.get(target.node.id)
        found = TaskHint.of(cluster, target, way, inventory.ssh, inventory.socket_path,
                            hint.shell if same and hint is not None else None,
                            _plain_address(resolved))
        hints.remember(found)
    return Located(target, engine, state.manager, found)


def _plain_address(resolved: Resolved | None) -> tuple[str, int] | None:
    """The IP address and port an SSH connection went to after the ssh config (RESOLVED),
    when a plain TCP connection reaches it (no ProxyJump or ProxyCommand, no name to look
    up); None when unknown (the node's connection was adopted from a hint: its hint keeps
    the address it had)."""
    if resolved is None or resolved.proxied:
        return None
    try:
        ipaddress.ip_address(resolved.host)
    except ValueError:
        return None
    return resolved.host, resolved.port


async def _ahead(checking: HintCheck, ahead: Ahead) -> Any:
    engine = await checking.connected
    return await ahead(engine, checking.hint.container_id)


async def engine_of(fleet: NodeAccess, cluster: str, target: ExecTarget) -> DockerEndpoint:
    """TARGET's node's engine, or ExecFailed saying which node cannot be reached and why."""
    try:
        return await fleet.task_engine(cluster, target.node.id)
    except SwarmdeckError as exc:
        raise ExecFailed(f"{target.replica} runs on {target.node.hostname}, which "
                         f"cannot be reached: {exc}") from None


async def _reuse(fleet: Fleet, cluster: str, target: ExecTarget, hint: TaskHint,
                 checking: HintCheck) -> None:
    """The manager answered first, or the hint was wrong: the hinted node's connection
    serves the task when the task is on that node (its engine said so: the container's
    node label), else it is closed."""
    links = fleet.node_links(cluster)
    if target.node.id != hint.node_id or not links.dials_for(target.node.id):
        await checking.discard()
        return
    checked = await checking.result  # the dial the task's engine needs anyway
    if checked is None:
        return
    if checked.node_id == target.node.id:
        links.adopt(target.node.id, checked.conn, checked.engine, checked.resolved)
    else:
        checked.conn.close()


async def discard(future: asyncio.Future) -> None:
    """Stop FUTURE (a check's, the manager's load, work sent ahead) and close the
    connection it made."""
    future.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        result = await future
        if isinstance(result, _Checked):
            result.conn.close()
