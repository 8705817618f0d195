"""A cluster's live state: one parallel initial fetch, then the Docker events stream.

Swarm emits events for services, nodes, networks, secrets and configs, not for tasks; tasks
are reconciled with ONE request per cluster per interval (and soon after a service event),
never one request per service. Listeners are told what changed; the core never knows who
listens (the console, the CLI, a test). Every event of the stream (the manager's container
events too) is also kept in the state's bounded EventLog, for the events view (`events`
changes): the view follows this stream, not a second one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from swarmdeck.core import failover, loop_clock
from swarmdeck.core.destinations import Destination
from swarmdeck.core.errors import (
    ConnectionLost,
    DockerAPIError,
    NoLeader,
    NotFound,
    SwarmdeckError,
)
from swarmdeck.core.events import BACKLOG, EVENT_TYPES, ClusterEvent, EventLog
from swarmdeck.core.events import read as read_events
from swarmdeck.core.models import Network, Node, Service, Stack, SwarmInfo, Task
from swarmdeck.core.transport.docker import DEFAULT_SOCKET
from swarmdeck.core.transport.session import ManagerSession, Read
from swarmdeck.core.transport.ssh import SSHSettings

log = logging.getLogger(__name__)
MANAGER_RECHECK = 10.0  # seconds between node re-reads while a manager or node is down
# what a load reads, in one parallel round (sent with the connection's checks when it opens)
LOAD_READS: tuple[Read, ...] = (
    ("/info", {}), ("/nodes", {}), ("/services", {}), ("/tasks", {}),
    ("/networks", {"filters": {"scope": ["swarm"]}}),
)


@dataclass(frozen=True)
class Change:
    """What an update touched: `kind` is loaded, services, nodes, tasks, networks or
    connection; `ids` are the objects concerned (empty: the whole collection)."""

    cluster: str
    kind: str
    ids: frozenset[str] = frozenset()


@dataclass(repr=False)
class ClusterState:
    name: str
    nodes: dict[str, Node] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    tasks: dict[str, Task] = field(default_factory=dict)
    networks: dict[str, Network] = field(default_factory=dict)
    info: SwarmInfo | None = None
    api_version: str | None = None  # the manager engine's (some spec fields need a newer one)
    manager: str | None = None  # label of the manager we are connected to
    loaded_at: float | None = None  # time.time() of the last full or event update
    # time.time() the live link was lost (None while connected): the data was true until
    # then, however long before that the last event came
    lost_at: float | None = None
    connected: bool = False
    error: SwarmdeckError | None = None
    events: EventLog = field(default_factory=EventLog)  # shared by snapshots, not copied

    def __repr__(self) -> str:
        # counts, not every model: asyncio.run reprs what its coroutine returned (twice), and
        # the whole state of 300 services is 0.8 MB of text, 60 ms of `swarmdeck ls`
        return (f"<ClusterState {self.name!r}: {len(self.nodes)} nodes, {len(self.services)} "
                f"services, {len(self.tasks)} tasks, {len(self.networks)} networks, "
                f"{'connected' if self.connected else 'not connected'}>")

    @property
    def loaded(self) -> bool:
        return self.loaded_at is not None

    def snapshot(self) -> ClusterState:
        """A copy whose collections another thread can read while this one changes."""
        return replace(self, nodes=dict(self.nodes), services=dict(self.services),
                       tasks=dict(self.tasks), networks=dict(self.networks))

    def leader(self) -> Node | None:
        return next((n for n in self.nodes.values() if n.leader), None)

    def tasks_of(self, service_id: str) -> list[Task]:
        return [t for t in self.tasks.values() if t.service_id == service_id]

    def tasks_by_service(self) -> dict[str, list[Task]]:
        """One pass over the tasks, for views that look at every service."""
        index: dict[str, list[Task]] = {}
        for t in self.tasks.values():
            index.setdefault(t.service_id, []).append(t)
        return index

    def replicas(self, service: Service, tasks: list[Task] | None = None) -> tuple[int, int]:
        """(running, desired) as `docker service ls` counts them. TASKS: the service's
        tasks when the caller has them indexed already."""
        tasks = self.tasks_of(service.id) if tasks is None else tasks
        current = running = 0
        for t in tasks:
            if t.desired_state == "running":
                current += 1
                if t.state == "running" and self._node_up(t.node_id):
                    running += 1
        if service.mode in ("replicated", "replicated-job") and service.replicas is not None:
            desired = service.replicas if service.mode == "replicated" else \
                min(service.replicas, current or service.replicas)
            return running, desired
        return running, current

    def completed(self, service: Service, tasks: list[Task] | None = None) -> int:
        """Tasks of a job that ran to completion."""
        tasks = self.tasks_of(service.id) if tasks is None else tasks
        return sum(1 for t in tasks if t.state == "complete")

    def _node_up(self, node_id: str | None) -> bool:
        node = self.nodes.get(node_id or "")
        return node is None or node.status != "down"

    def stacks(self) -> list[Stack]:
        names: dict[str, list[str]] = {}
        for s in self.services.values():
            if s.stack:
                names.setdefault(s.stack, []).append(s.name)
        nets: dict[str, list[str]] = {}
        for n in self.networks.values():
            if n.stack:
                nets.setdefault(n.stack, []).append(n.name)
        return [Stack(name=k, services=sorted(v), networks=sorted(nets.get(k, [])))
                for k, v in sorted(names.items())]

    def node_name(self, node_id: str | None) -> str:
        node = self.nodes.get(node_id or "")
        return node.hostname if node else (node_id or "")[:12]


Listener = Callable[[Change], None]


FIRST_RETRY = 0.3  # seconds before the first new try after a loss; doubles on each failure
STEADY = 10.0  # seconds a connection must have held for the backoff to start over
REOPEN_AFTER = 1.0  # an event stream that lived this long and closed is opened again at once
NO_LEADER_RETRY = 5.0  # the most to wait between tries while a reachable manager has no leader
# seconds between task re-reads while every node's containers are watched (its metrics
# sampler reports them): a change there asks for the re-read, this is only the safety net
WATCHED_TASK_REFRESH = 30.0
# A cluster kept in the background (the console shows another): no task re-read but on its
# events, and a liveness ping only after this much silence (see failover.heartbeat)
BACKGROUND_HEARTBEAT = 30.0
CONTAINER_ACTIONS = ("start", "die", "destroy", "oom")  # container events that move a task


class ClusterInventory:
    def __init__(self, name: str, destinations: Sequence[Destination], ssh: SSHSettings,
                 *, task_refresh: float = 5.0, socket_path: str = DEFAULT_SOCKET) -> None:
        self.name = name
        self.destinations = list(destinations)
        self.ssh = ssh
        self.task_refresh = task_refresh
        self.socket_path = socket_path
        self.state = ClusterState(name)
        self.session: ManagerSession | None = None
        self._listeners: list[Listener] = []
        self._tasks_due = asyncio.Event()  # a task read is asked for
        self._wake = asyncio.Event()  # the task pump should look again (asked, or new pace)
        self._repaced = False  # the cluster went to the background or came back
        # true while something else reports every node's container changes (the metrics
        # samplers): the task re-read then waits for those reports instead of polling
        self.tasks_watched: Callable[[], bool] = lambda: False
        self._tasks_moving = True
        # nobody is looking at this cluster now (the console shows another): see background()
        self.in_background = False
        self._retry = asyncio.Event()
        self._connecting = asyncio.Lock()
        self._closed = False
        self._first_load: asyncio.Future[ClusterState] | None = None  # see load_early
        self.swarm_managers: dict[str, str] = {}  # node ID -> host, as the swarm lists them
        self.server_time: float | None = None  # the manager's clock at the last load
        self._lost_manager: Destination | None = None  # the manager whose session was lost

    # ---- listeners ---------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def notify(self, kind: str, ids: set[str] | frozenset[str] = frozenset()) -> None:
        """Tell listeners what changed (also used by the fleet for metrics ticks)."""
        if kind not in ("connection", "metrics"):
            self.state.loaded_at = time.time()
        change = Change(self.name, kind, frozenset(ids))
        for listener in list(self._listeners):
            try:
                listener(change)
            except Exception:  # noqa: BLE001 - one broken listener must not stop the rest
                log.exception("inventory listener failed")

    # ---- connecting --------------------------------------------------------------------
    async def connect(self, early: Sequence[Read] = ()) -> ManagerSession:
        """The open session, or one to the first manager that answers: the configured ones
        in order, then those the swarm reported at the last load (see core.failover).
        EARLY: reads to send as a new session opens (the load's)."""
        async with self._connecting:  # callers at once (the loop, an operation) share one
            if self.session and not self.session.closed:
                return self.session
            targets = await failover.candidates(
                self.destinations, self.swarm_managers.values(), self.ssh)
            if self._lost_manager in targets:  # it just went silent: tried last, so that a
                # cut link costs no stagger waiting on it again
                targets.remove(self._lost_manager)
                targets.append(self._lost_manager)
            self.session = await failover.connect_first(self.name, targets, self.ssh,
                                                        self.socket_path, early)
            return self.session

    async def explain(self, error: SwarmdeckError) -> SwarmdeckError:
        """A "no leader" answer restated with the managers counted (each one asked)."""
        if not isinstance(error, NoLeader) or error.total is not None:
            return error
        names = {n.id: n.hostname for n in self.state.nodes.values()}
        quorum = await failover.count_quorum(self.destinations, self.swarm_managers,
                                             self.ssh, self.socket_path, self.session, names)
        return failover.no_leader_error(quorum, error)

    async def leaderless(self, session: ManagerSession) -> str | None:
        """Why changes cannot be made now through SESSION (the swarm has no leader), or None.
        One request that needs the leader; an election in progress gets the read retries'
        time."""
        try:
            await failover.ask_swarm(session, session.docker.get(
                "/nodes", filters={"role": ["manager"]}))
        except NoLeader as exc:
            return str(await self.explain(exc))
        return None

    # ---- loading -----------------------------------------------------------------------
    async def load(self) -> ClusterState:
        """Connect if needed and fetch everything in one parallel round."""
        try:
            session = await self.connect(LOAD_READS)
            self.state.manager = session.label  # the one in use, even while it cannot load
            info_raw, nodes, services, tasks, networks = await failover.ask_swarm(
                session, _all_or_first_error(*(session.get(path, **params)
                                               for path, params in LOAD_READS)))
            info = SwarmInfo.from_api(info_raw)
            failover.check_manager(session.label, info)
            self.swarm_managers = failover.swarm_managers(info_raw) or self.swarm_managers
        except SwarmdeckError as exc:
            error = await self.explain(exc)
            self.state.error = error
            self._lost()
            self.notify("connection")
            if error is exc:
                raise
            raise error from None
        st = self.state
        st.info = info
        st.api_version = getattr(session.docker, "api_version", None)
        st.manager = session.label
        st.nodes = {n.id: n for n in map(Node.from_api, nodes)}
        st.services = {s.id: s for s in map(Service.from_api, services)}
        st.tasks = {t.id: t for t in map(Task.from_api, tasks)}
        st.networks = {n.id: n for n in map(Network.from_api, networks)}
        st.connected = True
        st.lost_at = None
        st.error = None
        self.server_time = _unix_seconds(info_raw.get("SystemTime"))
        self.notify("loaded")
        return st

    # ---- following ---------------------------------------------------------------------
    async def follow(self) -> None:
        """Apply events and reconcile tasks until the connection drops (raises) or close()."""
        assert self.session is not None, "load() first"
        session = self.session
        await self._record_backlog(session)
        # whichever ends first ends the following: the stream dropped, the task refresh
        # failed (no leader any more), or the manager stopped answering pings (link cut)
        parts = [asyncio.create_task(coro, name=f"{self.name}-{what}") for what, coro in (
            ("events", self._apply_events(session)), ("tasks", self._reconcile_tasks()),
            ("heartbeat", failover.heartbeat(session, self._heartbeat_pace)),
            ("managers", self._recheck_managers(session)))]
        try:
            done, _ = await asyncio.wait(parts, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for part in parts:
                part.cancel()
            for part in parts:
                with contextlib.suppress(asyncio.CancelledError, SwarmdeckError):
                    await part
        for part in done:
            failed = part.exception()
            if failed is not None:
                raise failed
        raise ConnectionLost(f"following {session.label} stopped")

    async def _record_backlog(self, session: ManagerSession) -> None:
        """Keep the events from a little before this connect (after a reconnect: from the
        last one kept, so a drop leaves no hole), read once up to the load's time; the
        stream then goes on from there."""
        now = self.server_time
        if now is None:
            return
        ring = self.state.events
        if ring.started is None:
            ring.started = now
        since = max(now - BACKLOG, ring.last_time or 0.0)
        try:
            async for event in read_events(session.docker, since=since, until=now):
                ring.add(event)
        except DockerAPIError as exc:  # the view starts emptier; following still works
            log.warning("cluster %s: past events not read: %s", self.name, exc)
        self.notify("events")

    async def _apply_events(self, session: ManagerSession) -> None:
        """Follow the event stream. A stream closed while the SSH connection lives (an sshd
        with ChannelTimeout closes a channel quiet that long; a quiet cluster sends no
        events) is opened again at once from the last event seen: the ring drops the
        repeats, nothing is marked stale. A stream that ends again at once, or a connection
        that is gone, ends the following (the caller reconnects)."""
        ring = self.state.events
        since = self.server_time
        resumed = False
        while True:
            opened = loop_clock.now()
            try:
                async for event in read_events(session.docker, EVENT_TYPES, since=since):
                    session.heard()
                    since = event.time
                    new = ring.add(event)
                    if new:
                        self.notify("events", {event.actor_id})
                    if new or not resumed:
                        await self._on_event(session, event)
                lost: SwarmdeckError = ConnectionLost(
                    f"event stream from {session.label} ended")
            except ConnectionLost as exc:
                lost = exc
            if session.closed or loop_clock.now() - opened < REOPEN_AFTER:
                raise lost
            log.info("cluster %s: event stream closed (%s); opened again", self.name, lost)
            resumed = True

    async def _on_event(self, session: ManagerSession, event: ClusterEvent) -> None:
        kind, obj_id = event.type, event.actor_id
        if kind == "container":
            # tasks come from /tasks; one of this manager's containers starting or ending
            # means one of its tasks moved
            if event.action in CONTAINER_ACTIONS:
                self.tasks_due()
            return
        if not obj_id:
            return
        docker = session.docker
        st = self.state
        removed = event.action in ("remove", "destroy")
        if kind == "service":
            await self._refetch(st.services, obj_id, f"/services/{obj_id}", Service.from_api,
                                removed, docker)
            if removed:
                st.tasks = {k: t for k, t in st.tasks.items() if t.service_id != obj_id}
            self.notify("services", {obj_id})
            self.tasks_due()
        elif kind == "node":
            await self._refetch(st.nodes, obj_id, f"/nodes/{obj_id}", Node.from_api, removed,
                                docker)
            self.notify("nodes", {obj_id})
            self.tasks_due()
        elif kind == "network":
            await self._refetch(st.networks, obj_id, f"/networks/{obj_id}", Network.from_api,
                                removed, docker)
            if obj_id in st.networks and st.networks[obj_id].scope != "swarm":
                del st.networks[obj_id]  # node-local networks are not the swarm's
            self.notify("networks", {obj_id})
        else:
            self.notify(kind or "other", {obj_id})

    @staticmethod
    async def _refetch(table: dict, obj_id: str, path: str, parse, removed: bool,
                       docker) -> None:
        """Refresh the one object an event named (or drop it when it is gone)."""
        if removed:
            table.pop(obj_id, None)
            return
        try:
            table[obj_id] = parse(await docker.get(path))
        except NotFound:
            table.pop(obj_id, None)

    async def _recheck_managers(self, session: ManagerSession) -> None:
        """While a manager is not reachable (or a node is down), read the nodes again every
        MANAGER_RECHECK seconds: swarm sends no event when a manager becomes reachable
        again, and the header, the doctor and the quorum checks read this state."""
        while True:
            await asyncio.sleep(MANAGER_RECHECK)
            nodes = self.state.nodes.values()
            if all(n.status != "down" and (n.role != "manager" or n.reachability == "reachable")
                   for n in nodes):
                continue
            raw = await failover.ask_swarm(session, session.docker.get("/nodes"))
            fresh = {n.id: n for n in map(Node.from_api, raw)}
            changed = _changed_keys(self.state.nodes, fresh)
            if changed:
                self.state.nodes = fresh
                self.notify("nodes", changed)

    def tasks_due(self) -> None:
        """Ask for a task re-read soon (a service, node or container changed)."""
        self._tasks_due.set()
        self._wake.set()

    @property
    def tasks_moving(self) -> bool:
        """Did the last task read find changes (then tasks are read again every
        task_refresh until they are still, in the background too)?"""
        return self._tasks_moving

    def background(self, flag: bool) -> None:
        """FLAG: nobody looks at this cluster for now. It then keeps its one connection and
        its event stream (services, nodes and networks stay current) but re-reads tasks only
        when an event asks for it, and pings only after BACKGROUND_HEARTBEAT s of silence.
        Brought back to the foreground, it re-reads its tasks at once."""
        if flag == self.in_background:
            return
        self.in_background = flag
        self._repaced = True  # a timer set at the old pace is dropped
        self._wake.set()
        if not flag:
            self.tasks_due()

    def _heartbeat_pace(self) -> float:
        return BACKGROUND_HEARTBEAT if self.in_background else failover.HEARTBEAT

    async def _reconcile_tasks(self) -> None:
        while True:
            # while tasks move (the last read changed some), keep looking every
            # task_refresh; once they are still and watched, only the safety net is left;
            # in the background, only events ask (no timer)
            wait: float | None = max(self.task_refresh, WATCHED_TASK_REFRESH) \
                if self.tasks_watched() and not self._tasks_moving else self.task_refresh
            if self.in_background and not self._tasks_moving:
                wait = None
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancel that comes
            # as the wait ends, and follow() then waited for this pump forever
            if not (self._tasks_due.is_set() or self._repaced):
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._wake.wait()
            self._wake.clear()
            if self._repaced and not self._tasks_due.is_set():
                self._repaced = False
                continue  # the pace changed: wait again at the new one, no read
            self._repaced = False
            if self._tasks_due.is_set():
                await asyncio.sleep(0.3)  # let a burst of service events settle first
                self._tasks_due.clear()
            await self.refresh_tasks()

    async def refresh_tasks(self) -> None:
        if self.session is None:
            return
        raw = await failover.ask_swarm(self.session, self.session.docker.get("/tasks"))
        new = {t.id: t for t in map(Task.from_api, raw)}
        old = self.state.tasks
        changed = _changed_keys(old, new)
        self.state.tasks = new
        self._tasks_moving = bool(changed)
        if changed:
            self.notify("tasks", changed)

    def _lost(self) -> None:
        """The live link is gone (or could not be made again): the first loss is the moment
        the data stopped being followed."""
        if self.state.connected or self.state.lost_at is None:
            self.state.lost_at = time.time()
        self.state.connected = False

    # ---- running for a long time -------------------------------------------------------
    def load_early(self) -> None:
        """Start the first load now (the console dials while Textual is imported); run()
        takes it as its own first load. On the running loop."""
        if self._first_load is None:
            self._first_load = asyncio.ensure_future(self.load())
            self._first_load.add_done_callback(
                lambda f: f.cancelled() or f.exception())  # run() raises it, if it runs

    async def run(self, *, max_backoff: float = 30.0) -> None:
        """Load and follow forever, reconnecting with backoff and jitter after a loss."""
        delay = FIRST_RETRY
        while not self._closed:
            loaded: float | None = None
            try:
                first, self._first_load = self._first_load, None
                await (first if first is not None else self.load())
                loaded = loop_clock.now()
                await self.follow()
            except SwarmdeckError as exc:
                self.state.error = await self.explain(exc)
            except Exception as exc:  # noqa: BLE001 - a bug must not end the following
                # silently: the cluster is marked stale, the error is shown and written down,
                # and the loop starts over with the usual backoff
                self.state.error = unexpected_error(self.name, exc)
            # a connection that held a while starts the backoff over; one that fails again
            # at once keeps doubling it (no tight loop of loads)
            if loaded is not None and loop_clock.now() - loaded > STEADY:
                delay = FIRST_RETRY
            if self._closed:
                return
            self._lost()
            self.notify("connection")
            if not failover.quorum_lost(self.state.error):
                if self.session is not None:
                    self._lost_manager = self.session.destination
                await self._drop_session(abort=True)
            # else the manager answers and no other can lead either: keep its session (an
            # operation may be using it) and ask it again after the wait
            with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                await asyncio.wait_for(self._retry.wait(), delay * random.uniform(0.5, 1.5))
            # a manager that answers but has no leader is asked again sooner: the quorum
            # comes back by itself once the other managers do
            cap = NO_LEADER_RETRY if isinstance(self.state.error, NoLeader) else max_backoff
            delay = FIRST_RETRY if self._retry.is_set() else min(delay * 2, cap)
            self._retry.clear()

    def retry_now(self) -> None:
        """Cut the wait before the next connection attempt short (after a fix such as a newly
        trusted host key)."""
        self._retry.set()

    async def _drop_session(self, *, abort: bool = False) -> None:
        if self.session is not None:
            session, self.session = self.session, None
            await session.close(abort=abort)

    async def close(self) -> None:
        self._closed = True
        await self._drop_session()


def _changed_keys(old: dict[str, Any], new: dict[str, Any]) -> set[str]:
    """Keys whose object is new, different, or gone between two reads of a table."""
    return {k for k, v in new.items() if old.get(k) != v} | (old.keys() - new.keys())


def unexpected_error(cluster: str, exc: BaseException) -> SwarmdeckError:
    """An error nobody planned for, as one line for the header: written to a report file
    (no local values) that the line names."""
    from swarmdeck.core.crash import report

    said = report(exc, context="internal error while following the cluster")
    log.error("cluster %s: %s", cluster, said)
    return SwarmdeckError(said, hint="retried by itself; please report the file")


async def _all_or_first_error(*calls: Awaitable[Any]) -> list[Any]:
    """Every call's result, or the first error as soon as one fails (the others cancelled):
    without a leader /nodes fails at once while /info waits its 20 s for one."""
    tasks = [asyncio.ensure_future(c) for c in calls]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in tasks:
            task.cancel()
    errors = [e for t in tasks if t in done and (e := t.exception()) is not None]
    if errors:
        raise errors[0]
    return [t.result() for t in tasks]


def _unix_seconds(server_time: str | None) -> float:
    """`SystemTime` of /info as unix seconds (what /events?since= takes)."""
    from swarmdeck.core.models import parse_time

    parsed = parse_time(server_time)
    return parsed.timestamp() if parsed else time.time()
