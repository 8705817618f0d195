"""Which manager to talk to, and what to say when the managers cannot lead.

A cluster lists its managers; the swarm itself reports the others (GET /info lists every
manager's address). The first that answers wins, tried in order but staggered: a silent one
(link cut) costs CONNECT_STAGGER, not a whole connect timeout. To answer is for its Docker API
to answer, not only its sshd: a manager whose dockerd died is passed over at once.

When the manager that answers says the swarm has no leader, each of the swarm's managers is
asked on its own whether its Docker API answers (its raft state cannot be read without a
leader), and the error says it plainly: "no leader: 1 of 3 managers reachable, quorum
needs 2".
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from swarmdeck.core import loop_clock
from swarmdeck.core.destinations import Destination
from swarmdeck.core.errors import (
    ConnectionLost,
    DockerUnavailable,
    NoLeader,
    NoManagerReachable,
    NotAManager,
    SwarmdeckError,
)
from swarmdeck.core.models import SwarmInfo
from swarmdeck.core.transport.session import ManagerSession, Read
from swarmdeck.core.transport.ssh import SSHSettings, resolve

T = TypeVar("T")
# seconds of silence from the connected manager before it is pinged: a little over the
# default sample interval (2 s), so that a manager whose metrics samples come on time (each
# ~2.05 s apart) is never pinged; at 2.0 an idle console pinged each manager every ~4 s
HEARTBEAT = 2.5
HEARTBEAT_CHECK = 0.25  # the shortest sleep between looks at the manager's silence
PING_TIMEOUT = 3.0  # a ping unanswered this long: the link or the host is dead
CONNECT_STAGGER = 1.5  # seconds before the next manager is tried while one is still silent
PROBE_TIMEOUT = 5.0  # seconds a manager gets to answer when quorum is being counted
SWARM_TIMEOUT = 8.0  # seconds a request for the leader may take before we find out why
INFO_GRACE = 1.5  # seconds /info gets on connecting before the session is taken without it


def check_manager(label: str, info: SwarmInfo) -> None:
    """Refuse a node that is not an active manager of a swarm (a worker, a lone engine)."""
    if info.local_state == "active" and info.control_available:
        return
    if info.local_state == "active":
        managers = ", ".join(sorted(info.remote_managers)) or \
            "see `docker node ls` on a manager"
        raise NotAManager(f"{label} is a worker, not a swarm manager",
                          hint=f"use one of the swarm's managers: {managers}")
    raise NotAManager(
        f"{label} is not part of a swarm (swarm state: {info.local_state or 'unknown'})",
        hint="point the cluster at a manager of an existing swarm")


async def open_manager(dest: Destination, ssh: SSHSettings, socket_path: str,
                       early: Sequence[Read] = ()) -> tuple[ManagerSession, SwarmInfo | None]:
    """An SSH session whose Docker API answers, and what /info says of it. /info waits for
    the swarm's leader (up to 20 s while there is none): when it is that slow the session
    is kept without it (None) and the load says what is wrong; when it answers, a node that
    is not a manager is refused here, so that the next one is tried. The ping, /info and
    EARLY (the reads of the load that asked for the session) go out at once."""
    session = await ManagerSession.open(dest, ssh, socket_path)
    if early:
        session.send_early(early)
    info_answer = asyncio.ensure_future(session.docker.get("/info"))
    try:
        async with asyncio.timeout(ssh.connect_timeout):
            await session.docker.get("/_ping")
    except TimeoutError:
        await _drop(session, info_answer)
        raise DockerUnavailable(f"{session.label}: the Docker API did not answer within "
                                f"{ssh.connect_timeout:g}s") from None
    except BaseException:
        await _drop(session, info_answer)
        raise
    info = None
    try:
        async with asyncio.timeout(INFO_GRACE):
            info = SwarmInfo.from_api(await info_answer)
        check_manager(session.label, info)
    except TimeoutError:
        pass  # a manager without a leader: reachable all the same
    except BaseException:
        await _drop(session, info_answer)
        raise
    return session, info


async def _drop(session: ManagerSession, answer: asyncio.Future) -> None:
    answer.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await answer
    await session.close(abort=True)


async def connect_first(cluster: str, destinations: Sequence[Destination], ssh: SSHSettings,
                        socket_path: str, early: Sequence[Read] = ()) -> ManagerSession:
    """Connect to the first manager that answers, in order, without waiting out a dead one:
    the next is tried after CONNECT_STAGGER seconds (or at once when one fails), and the
    first to answer wins; the others are closed."""
    errors: list[SwarmdeckError] = []
    waiting = list(destinations)
    pending: set[asyncio.Task] = set()
    winner: ManagerSession | None = None
    try:
        while winner is None and (waiting or pending):
            if waiting:
                dest = waiting.pop(0)
                pending.add(asyncio.create_task(open_manager(dest, ssh, socket_path, early),
                                                name=f"connect {dest}"))
            done, pending = await asyncio.wait(
                pending, timeout=CONNECT_STAGGER if waiting else None,
                return_when=asyncio.FIRST_COMPLETED)
            for task in done:  # in the order they finished; keep the first success
                exc = task.exception()
                if exc is None:
                    session, _info = task.result()
                    if winner is None:
                        winner = session
                    else:
                        await session.close()
                elif isinstance(exc, SwarmdeckError):
                    errors.append(exc)
                else:
                    raise exc
    finally:
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                extra, _info = await task
                await extra.close()
    if winner is not None:
        return winner
    if len(errors) == 1:
        raise errors[0]
    raise NoManagerReachable(
        f"cluster {cluster}: no manager reachable: " + "; ".join(str(e) for e in errors),
        errors)


async def ask_swarm(session: ManagerSession, call: Awaitable[T]) -> T:
    """CALL, a request only the swarm's leader can answer. A manager that lost its leader
    holds such a request 20 s before it says so: past SWARM_TIMEOUT, a ping tells a dead
    manager (ConnectionLost) from a swarm without a leader (NoLeader)."""
    try:
        async with asyncio.timeout(SWARM_TIMEOUT):
            return await call
    except TimeoutError:
        pass
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            await session.docker.get("/_ping")
    except (TimeoutError, SwarmdeckError):
        raise ConnectionLost(f"{session.label} stopped answering (no reply within "
                             f"{SWARM_TIMEOUT:g}s): link down or host stalled") from None
    raise NoLeader(504, f"{session.label}: the swarm's leader did not answer within "
                        f"{SWARM_TIMEOUT:g}s", method="GET")


async def heartbeat(session: ManagerSession,
                    pace: Callable[[], float] = lambda: HEARTBEAT) -> None:
    """Ping the manager once it has been silent PACE() seconds (HEARTBEAT; longer for a
    cluster in the background), until it stops answering (ConnectionLost): a cut link sends
    no error, it only goes silent, and SSH keepalives take ~30 s to tell. What arrives
    anyway (events, the node's metrics samples on the same connection) counts as an answer:
    an idle console sends no ping while samples flow."""
    while True:
        silent = loop_clock.now() - session.last_heard
        every = pace()
        if silent < every:
            # look again when the silence would reach the pace, not sooner (an idle console
            # wakes once per sample interval here, not once a second), and at least every
            # HEARTBEAT: a pace that shortens (the cluster is shown again) applies soon
            await asyncio.sleep(max(min(every - silent, HEARTBEAT), HEARTBEAT_CHECK))
            continue
        try:
            async with asyncio.timeout(PING_TIMEOUT):
                await session.docker.get("/_ping")
        except TimeoutError:
            raise ConnectionLost(f"{session.label} stopped answering (no reply within "
                                 f"{PING_TIMEOUT:g}s): link down or host stalled") from None
        session.heard()


def quorum_lost(error: SwarmdeckError | None) -> bool:
    """ERROR says the managers were counted and fall short of a majority (not merely an
    election among enough of them): no other manager could lead either."""
    return isinstance(error, NoLeader) and error.total is not None \
        and (error.reachable or 0) < error.total // 2 + 1


def swarm_managers(info: Mapping[str, Any]) -> dict[str, str]:
    """The swarm's managers as /info lists them: node ID -> host (its address sans port)."""
    managers = (info.get("Swarm") or {}).get("RemoteManagers") or []
    return {m["NodeID"]: m.get("Addr", "").rsplit(":", 1)[0] for m in managers
            if m.get("NodeID")}


async def candidates(configured: Sequence[Destination], reported: Iterable[str],
                     ssh: SSHSettings) -> list[Destination]:
    """The configured managers, then the hosts the swarm reported that none of them names
    (reached as the first configured manager's user, through the same ssh config)."""
    hosts = [h for h in dict.fromkeys(reported) if h]
    if not hosts:
        return list(configured)
    known: set[str | None] = {d.host for d in configured}
    known |= {await _address(d, ssh) for d in configured}
    user = configured[0].user if configured else None
    return [*configured, *(Destination(user, h, None) for h in hosts if h not in known)]


@dataclasses.dataclass(frozen=True)
class Quorum:
    reachable: int
    total: int
    unreachable: tuple[str, ...] = ()  # hosts of the managers that did not answer

    @property
    def needed(self) -> int:
        return self.total // 2 + 1

    def text(self) -> str:
        if self.reachable >= self.needed:  # a quorum answers: they are electing a leader
            return (f"no leader yet: {self.reachable} of {self.total} managers reachable, "
                    "an election is under way")
        return (f"no leader: {self.reachable} of {self.total} managers reachable, "
                f"quorum needs {self.needed}")


async def count_quorum(destinations: Sequence[Destination], members: Mapping[str, str],
                       ssh: SSHSettings, socket_path: str,
                       current: ManagerSession | None = None,
                       names: Mapping[str, str] | None = None) -> Quorum:
    """How many of the swarm's managers (MEMBERS: node ID -> address, as /info listed them)
    have a Docker API that answers. Each is reached through the configured destination with
    its address, else at that address. Without MEMBERS (never loaded), the configured
    managers are counted instead. CURRENT: the session open already (it answers). NAMES:
    node ID -> hostname, to name the silent ones."""
    quick = dataclasses.replace(ssh, connect_timeout=min(ssh.connect_timeout, PROBE_TIMEOUT))
    by_address: dict[str, Destination] = {}
    for dest in destinations:
        address = await _address(dest, ssh)
        if address:
            by_address.setdefault(address, dest)
    here = await _address(current.destination, ssh) \
        if current is not None and not current.closed else None
    if not members:  # count what the config lists
        alive = await asyncio.gather(*(_answers(d, quick, socket_path) for d in destinations))
        silent = tuple(str(d) for d, ok in zip(destinations, alive, strict=True) if not ok)
        return Quorum(sum(alive), len(destinations), silent)
    user = destinations[0].user if destinations else None

    async def member_answers(address: str) -> bool:
        if address == here:
            return True
        dest = by_address.get(address) or Destination(user, address, None)
        return await _answers(dest, quick, socket_path)

    ids = list(members)
    alive = await asyncio.gather(*(member_answers(members[n]) for n in ids))
    silent = tuple((names or {}).get(n, members[n]) for n, ok in zip(ids, alive, strict=True)
                   if not ok)
    return Quorum(sum(alive), len(ids), silent)


async def _answers(dest: Destination, ssh: SSHSettings, socket_path: str) -> bool:
    """Does DEST's Docker API answer (within the probe timeout)?"""
    try:
        async with asyncio.timeout(PROBE_TIMEOUT * 2):
            session = await ManagerSession.open(dest, ssh, socket_path)
            try:
                async with asyncio.timeout(PROBE_TIMEOUT):
                    await session.docker.get("/_ping")
            finally:
                await session.close(abort=True)
    except (SwarmdeckError, TimeoutError):
        return False
    return True


async def _address(dest: Destination, ssh: SSHSettings) -> str | None:
    """The IP address DEST reaches (after the ssh config), to match the swarm's list."""
    try:
        host = (await resolve(dest, ssh)).host
        with contextlib.suppress(ValueError):
            return str(ipaddress.ip_address(host))
        async with asyncio.timeout(PROBE_TIMEOUT):
            found = await asyncio.get_running_loop().getaddrinfo(host, None)
        return str(found[0][4][0]) if found else None
    except Exception:  # noqa: BLE001 - a destination that does not resolve matches nothing
        return None


def no_leader_error(quorum: Quorum, cause: NoLeader) -> NoLeader:
    """CAUSE (the engine's "no leader" answer) restated with the managers counted."""
    error = NoLeader(cause.status, quorum.text(), method=cause.method, path=cause.path)
    wait = "a leader is elected" if quorum.reachable >= quorum.needed \
        else "a majority of managers is back"
    error.hint = (f"changes are refused until {wait}"
                  + (f"; not answering: {', '.join(quorum.unreachable)}"
                     if quorum.unreachable else ""))
    error.reachable, error.total = quorum.reachable, quorum.total
    return error
