"""Choosing a manager: in order, but a silent one (link cut) does not hold up the next, a
manager whose dockerd is dead is passed over, the swarm's own list of managers is used when
the configured ones fail; a lost quorum is said plainly and refused; a silent link ends the
following within seconds."""

from __future__ import annotations

import asyncio

import pytest

from swarmdeck.core import failover, loop_clock
from swarmdeck.core import inventory as inv
from swarmdeck.core.audit import AuditLog
from swarmdeck.core.destinations import Destination
from swarmdeck.core.doctor import diagnose
from swarmdeck.core.errors import (
    ConnectionLost,
    DockerUnavailable,
    HostUnreachable,
    NoLeader,
    Refused,
    TransportError,
)
from swarmdeck.core.models import Node
from swarmdeck.core.ops.base import ClusterOps
from swarmdeck.core.transport.ssh import SSHSettings
from swarmdeck.core.views import cluster_health

# A virtual clock (looptime): the sleeps, timeouts, heartbeats and backoffs below take no
# real time and do not depend on the machine's load; loop_clock.now() reads the same clock.
pytestmark = pytest.mark.looptime

IDS = {"m1": "id1", "m2": "id2", "m3": "id3", "10.0.0.13": "id3"}
MEMBERS = [{"NodeID": "id1", "Addr": "10.0.0.11:2377"}, {"NodeID": "id2", "Addr": "10.0.0.12:2377"},
           {"NodeID": "id3", "Addr": "10.0.0.13:2377"}]


class FakeDocker:
    def __init__(self, host: str, docker_up: bool) -> None:
        self.host = host
        self.docker_up = docker_up

    async def get(self, path: str, **_params):
        if not self.docker_up:
            raise DockerUnavailable(f"{self.host}: docker is not running")
        if path == "/_ping":
            return "OK"
        assert path == "/info"
        return {"Swarm": {"NodeID": IDS.get(self.host, self.host), "LocalNodeState": "active",
                          "ControlAvailable": True, "RemoteManagers": MEMBERS}}

    async def close(self) -> None:
        pass


class FakeSession:
    def __init__(self, host: str, docker_up: bool = True) -> None:
        self.host = host
        self.label = host
        self.destination = Destination(None, host, None)
        self.closed = False
        self.docker = FakeDocker(host, docker_up)
        self.last_heard = 0.0

    def heard(self) -> None:
        self.last_heard = loop_clock.now()

    async def close(self, *, abort: bool = False) -> None:
        self.closed = True


def cluster(behaviour: dict[str, float | None | str], monkeypatch, stagger=0.2,
            configured: list[str] | None = None):
    """BEHAVIOUR: host -> seconds until it connects, None: refused at once, "no docker":
    sshd answers but dockerd is gone."""
    opened: list[str] = []
    sessions: list[FakeSession] = []

    async def open_(dest, ssh, socket_path):
        opened.append(dest.host)
        delay = behaviour[dest.host]
        if delay is None:
            raise HostUnreachable(f"ssh to {dest.host}: connection refused")
        if delay != "no docker":
            await asyncio.sleep(delay)
        session = FakeSession(dest.host, docker_up=delay != "no docker")
        sessions.append(session)
        return session

    monkeypatch.setattr(failover.ManagerSession, "open", staticmethod(open_))
    monkeypatch.setattr(failover, "CONNECT_STAGGER", stagger)
    dests = [Destination(None, h, None) for h in (configured or behaviour)]
    return inv.ClusterInventory("prod", dests, SSHSettings()), opened, sessions


async def test_the_first_manager_is_preferred(monkeypatch):
    inventory, opened, _ = cluster({"m1": 0.01, "m2": 0.01, "m3": 0.01}, monkeypatch)
    assert (await inventory.connect()).host == "m1"
    assert opened == ["m1"]


async def test_a_silent_manager_costs_the_stagger_not_the_timeout(monkeypatch):
    inventory, opened, _ = cluster({"m1": float("inf"), "m2": 0.01, "m3": 0.01},
                                   monkeypatch)
    started = loop_clock.now()
    session = await inventory.connect()
    assert session.host == "m2" and loop_clock.now() - started < 1.0
    assert opened == ["m1", "m2"]


async def test_a_refused_manager_moves_on_at_once(monkeypatch):
    inventory, opened, _ = cluster({"m1": None, "m2": 0.01}, monkeypatch, stagger=5)
    started = loop_clock.now()
    assert (await inventory.connect()).host == "m2"
    assert loop_clock.now() - started < 0.5


async def test_a_manager_whose_dockerd_is_dead_is_passed_over(monkeypatch):
    # its sshd lets us in; the session must still not be the one chosen
    inventory, opened, sessions = cluster({"m1": "no docker", "m2": 0.01}, monkeypatch,
                                          stagger=5)
    started = loop_clock.now()
    assert (await inventory.connect()).host == "m2"
    assert loop_clock.now() - started < 0.5
    assert sessions[0].host == "m1" and sessions[0].closed


async def test_a_late_second_winner_is_closed(monkeypatch):
    # m1 is slow but connects before m2 (started later) would: m1 wins, nothing leaks
    inventory, _opened, sessions = cluster({"m1": 0.3, "m2": 0.3}, monkeypatch, stagger=0.2)
    session = await inventory.connect()
    assert session.host == "m1"
    await asyncio.sleep(0.4)
    assert all(s.closed for s in sessions if s is not session)


async def test_every_manager_down_names_each(monkeypatch):
    inventory, _, _ = cluster({"m1": None, "m2": None}, monkeypatch)
    with pytest.raises(TransportError, match="no manager reachable: ssh to m1.*; ssh to m2"):
        await inventory.connect()


async def test_managers_the_swarm_reported_are_tried_after_the_configured_ones(monkeypatch):
    inventory, opened, _ = cluster({"m1": None, "10.0.0.12": None, "10.0.0.13": 0.01},
                                   monkeypatch, configured=["m1"])
    inventory.swarm_managers = failover.swarm_managers({"Swarm": {"RemoteManagers": MEMBERS}})
    # m1's own address (10.0.0.11) is not in the behaviour: it must not be dialled twice
    monkeypatch.setattr(failover, "resolve", _resolving({"m1": "10.0.0.11"}))
    assert (await inventory.connect()).host == "10.0.0.13"
    assert opened == ["m1", "10.0.0.12", "10.0.0.13"]


def _resolving(table: dict[str, str]):
    async def resolve(dest, ssh):
        return type("R", (), {"host": table.get(dest.host, dest.host)})()
    return resolve


async def test_no_leader_counts_the_managers_that_answer(monkeypatch):
    inventory, _, _ = cluster({"m1": "no docker", "m2": None, "m3": 0.01}, monkeypatch)
    monkeypatch.setattr(failover, "resolve", _resolving(
        {"m1": "10.0.0.11", "m2": "10.0.0.12", "m3": "10.0.0.13"}))
    inventory.swarm_managers = failover.swarm_managers({"Swarm": {"RemoteManagers": MEMBERS}})
    error = await inventory.explain(NoLeader(503, "m3: the swarm has no leader"))
    assert isinstance(error, NoLeader)
    assert error.message == "no leader: 1 of 3 managers reachable, quorum needs 2"
    assert (error.reachable, error.total) == (1, 3)
    assert "10.0.0.11" in str(error) and "10.0.0.12" in str(error)


def _three_managers() -> dict[str, Node]:
    nodes = [Node(id=f"id{i}", hostname=f"m{i}", role="manager", availability="active",
                  status="ready", leader=i == 1, reachability="reachable") for i in (1, 2, 3)]
    return {n.id: n for n in nodes}


def _lost() -> NoLeader:
    return failover.no_leader_error(failover.Quorum(1, 3, ("m1", "m2")),
                                    NoLeader(503, "m3: the swarm has no leader"))


def test_the_header_and_the_doctor_say_no_leader_over_stale_data():
    state = inv.ClusterState("prod", nodes=_three_managers(), loaded_at=1000.0,
                             connected=False, error=_lost())
    health = cluster_health("prod", state, now=1010.0)
    assert health.status == "stale" and health.leader is None
    assert (health.managers_reachable, health.managers_total) == (1, 3)
    assert health.error.startswith("no leader: 1 of 3 managers reachable, quorum needs 2")
    findings = diagnose(state, now=1010.0)
    quorum = [f for f in findings if f.check == "managers.quorum"]
    assert quorum and quorum[0].what == "no leader: 1 of 3 managers reachable, quorum needs 2"
    assert "cluster.stale" in {f.check for f in findings}
    assert "managers.leader" not in {f.check for f in findings}  # said once, plainly


def test_a_mutation_without_leader_is_refused_and_audited(tmp_path):
    audit = AuditLog(tmp_path / "audit.jsonl")
    ops = ClusterOps("prod", FakeSession("m3"), audit=audit, no_leader=_lost().message)
    with pytest.raises(Refused, match="scale refused: cluster prod: no leader: 1 of 3 "
                                      "managers reachable, quorum needs 2"):
        ops.check_writable("scale", "web")
    [entry] = audit.read()
    assert entry["result"] == "refused" and entry["error"].startswith("no leader: 1 of 3")


class SilentDocker:
    """A manager whose link went silent: pings never come back."""

    async def get(self, path: str, **_params):
        await asyncio.sleep(3600)


async def test_a_silent_link_ends_the_following_within_the_ping_timeout():
    session = FakeSession("m1")
    session.heard()
    session.docker = SilentDocker()
    started = loop_clock.now()
    with pytest.raises(ConnectionLost, match="m1 stopped answering"):
        await failover.heartbeat(session)
    # silent HEARTBEAT, then a ping unanswered PING_TIMEOUT: the product's figures
    took = loop_clock.now() - started
    assert failover.HEARTBEAT + failover.PING_TIMEOUT <= took \
        <= failover.HEARTBEAT + failover.PING_TIMEOUT + failover.HEARTBEAT_CHECK + 0.01


class SlowInfoDocker(FakeDocker):
    """A manager without a leader: /_ping answers, /info waits (20 s in Docker)."""

    async def get(self, path: str, **params):
        if path == "/info":
            await asyncio.sleep(3600)
        return await super().get(path, **params)


async def test_a_manager_whose_info_waits_for_a_leader_is_still_reachable(monkeypatch):
    monkeypatch.setattr(failover, "INFO_GRACE", 0.1)

    async def open_(dest, ssh, socket_path):
        session = FakeSession(dest.host)
        session.docker = SlowInfoDocker(dest.host, True)
        return session

    monkeypatch.setattr(failover.ManagerSession, "open", staticmethod(open_))
    session, info = await failover.open_manager(Destination(None, "m3", None), SSHSettings(),
                                                "/run/docker.sock")
    assert session.host == "m3" and info is None and not session.closed


@pytest.mark.parametrize(("pings", "error"), [(True, NoLeader), (False, ConnectionLost)])
async def test_a_request_for_the_leader_that_hangs_says_why(monkeypatch, pings, error):
    monkeypatch.setattr(failover, "SWARM_TIMEOUT", 0.1)
    monkeypatch.setattr(failover, "PROBE_TIMEOUT", 0.1)
    session = FakeSession("m3")
    if not pings:
        session.docker = SilentDocker()
    with pytest.raises(error):
        await failover.ask_swarm(session, asyncio.sleep(3600))


async def test_the_first_error_of_a_load_does_not_wait_for_the_slow_requests():
    async def fails():
        raise NoLeader(503, "no leader")

    started = loop_clock.now()
    with pytest.raises(NoLeader):
        await inv._all_or_first_error(asyncio.sleep(3600), fails())
    assert loop_clock.now() - started < 0.5


async def test_before_any_load_the_configured_managers_are_counted(monkeypatch):
    # a fresh CLI run meets a swarm without a leader: the swarm's list is not known yet
    inventory, _, _ = cluster({"m1": "no docker", "m2": None, "m3": 0.01}, monkeypatch)
    error = await inventory.explain(NoLeader(503, "m3: the swarm has no leader"))
    assert error.message == "no leader: 1 of 3 managers reachable, quorum needs 2"
    assert "not answering: m1, m2" in str(error)


def test_only_a_counted_minority_keeps_the_session():
    # short of a majority, no other manager can lead either: the session is kept for the
    # next try (and for operations using it); an election among enough managers is not that
    lost = _lost()
    election = failover.no_leader_error(failover.Quorum(2, 3), NoLeader(503, "no leader"))
    assert failover.quorum_lost(lost)
    assert not failover.quorum_lost(election) and election.message.startswith("no leader yet")
    assert not failover.quorum_lost(NoLeader(503, "uncounted"))
    assert not failover.quorum_lost(ConnectionLost("gone"))


async def test_reconnecting_backs_off_exponentially_with_jitter(monkeypatch):
    monkeypatch.setattr(inv, "FIRST_RETRY", 0.02)
    inventory = inv.ClusterInventory("prod", [Destination(None, "m1", None)], SSHSettings())
    tries: list[float] = []

    async def load():
        tries.append(loop_clock.now())
        raise HostUnreachable("ssh to m1: connection refused")

    inventory.load = load
    runner = asyncio.create_task(inventory.run(max_backoff=0.3))
    await asyncio.sleep(1.5)
    await inventory.close()
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    gaps = [b - a for a, b in zip(tries, tries[1:], strict=False)]
    # 0.02 doubling (x0.5-1.5 jitter) up to the 0.3 cap: never a tight loop, never longer
    assert 6 <= len(tries) <= 14, gaps
    assert gaps[0] < 0.05 and max(gaps) <= 0.3 * 1.5 + 0.05 and min(gaps) >= 0.009
    assert sum(gaps[-3:]) > 3 * 0.3 * 0.5 - 0.01  # the cap is reached and held


class TasksDocker(FakeDocker):
    """A manager whose /tasks answers are counted; the task list is what the test sets."""

    def __init__(self) -> None:
        super().__init__("m1", True)
        self.reads = 0
        self.tasks: list[dict] = []

    async def get(self, path: str, **params):
        if path == "/tasks":
            self.reads += 1
            return self.tasks
        return await super().get(path, **params)


async def test_tasks_are_polled_only_while_nothing_else_watches_them(monkeypatch):
    monkeypatch.setattr(inv, "WATCHED_TASK_REFRESH", 3600.0)
    inventory = inv.ClusterInventory("prod", [Destination(None, "m1", None)], SSHSettings(),
                                     task_refresh=0.05)
    session = FakeSession("m1")
    session.docker = docker = TasksDocker()
    inventory.session = session
    pump = asyncio.create_task(inventory._reconcile_tasks())
    try:
        await asyncio.sleep(0.3)
        assert docker.reads >= 3  # nothing watches: polled every task_refresh
        inventory.tasks_watched = lambda: True
        await asyncio.sleep(0.2)  # the read in flight ends; the still tasks stop the polling
        settled = docker.reads
        await asyncio.sleep(0.3)
        assert docker.reads == settled
        inventory.tasks_due()  # a node's containers changed
        await asyncio.sleep(0.45)
        assert docker.reads == settled + 1
    finally:
        pump.cancel()


async def test_a_cluster_in_the_background_reads_tasks_only_when_asked(monkeypatch):
    """Nobody looks at it: no task polling at all (not even the watched safety net), a read
    on each event that asks; shown again, a read at once and polling as before."""
    inventory = inv.ClusterInventory("prod", [Destination(None, "m1", None)], SSHSettings(),
                                     task_refresh=0.05)
    session = FakeSession("m1")
    session.docker = docker = TasksDocker()
    inventory.session = session
    inventory.background(True)
    pump = asyncio.create_task(inventory._reconcile_tasks())
    try:
        await asyncio.sleep(0.2)  # the first read finds the tasks still
        settled = docker.reads
        await asyncio.sleep(0.4)  # eight task_refresh periods: not one read
        assert docker.reads == settled <= 2
        inventory.tasks_due()  # an event asks
        await asyncio.sleep(0.45)
        assert docker.reads == settled + 1
        inventory.background(False)  # shown again: read at once, then polled
        await asyncio.sleep(0.45)
        assert docker.reads >= settled + 3
    finally:
        pump.cancel()


async def test_in_the_background_not_even_the_safety_net_reads_tasks():
    """With the product's figures on the virtual clock: watched or not, a still cluster in
    the background reads no task in ten minutes; in the foreground the watched safety net
    reads them every WATCHED_TASK_REFRESH."""
    inventory = inv.ClusterInventory("prod", [Destination(None, "m1", None)], SSHSettings())
    session = FakeSession("m1")
    session.docker = docker = TasksDocker()
    inventory.session = session
    inventory.tasks_watched = lambda: True
    pump = asyncio.create_task(inventory._reconcile_tasks())
    try:
        await asyncio.sleep(2 * inventory.task_refresh)  # a first read, a second finds it still
        assert not inventory.tasks_moving
        inventory.background(True)
        settled = docker.reads
        await asyncio.sleep(600)
        assert docker.reads == settled
        inventory.background(False)  # shown: read at once, then the safety net's pace
        await asyncio.sleep(1 + 3 * inv.WATCHED_TASK_REFRESH)
        assert docker.reads == settled + 1 + 3
    finally:
        pump.cancel()


class CountingDocker(FakeDocker):
    def __init__(self) -> None:
        super().__init__("m1", True)
        self.pings = 0

    async def get(self, path: str, **params):
        self.pings += path == "/_ping"
        return await super().get(path, **params)


async def test_no_ping_while_the_manager_is_heard_from():
    """Samples or events arriving on the connection are proof enough; once they stop, the
    manager is pinged, once per HEARTBEAT of silence."""
    session = FakeSession("m1")
    session.docker = docker = CountingDocker()
    beat = asyncio.create_task(failover.heartbeat(session))
    try:
        for _ in range(60):  # a minute of data arriving every second
            session.heard()
            await asyncio.sleep(1.0)
        assert docker.pings == 0
        await asyncio.sleep(10 * failover.HEARTBEAT + 0.1)  # silence: a ping per HEARTBEAT
        assert docker.pings == 10
    finally:
        beat.cancel()


async def test_a_cluster_in_the_background_is_pinged_at_its_own_slower_pace():
    session = FakeSession("m1")
    session.docker = docker = CountingDocker()
    pace = [inv.BACKGROUND_HEARTBEAT]
    beat = asyncio.create_task(failover.heartbeat(session, lambda: pace[0]))
    try:
        session.heard()
        await asyncio.sleep(inv.BACKGROUND_HEARTBEAT - 0.1)
        assert docker.pings == 0  # silent nearly 30 s: not yet
        await asyncio.sleep(5 * inv.BACKGROUND_HEARTBEAT)
        assert docker.pings == 5  # then one ping per 30 s of silence
        pace[0] = failover.HEARTBEAT  # shown again: the short pace applies within HEARTBEAT
        await asyncio.sleep(failover.HEARTBEAT + 0.1)
        assert docker.pings == 6
    finally:
        beat.cancel()


async def test_no_ping_while_samples_come_at_the_default_interval():
    """The manager's own metrics samples come a little over the sample interval apart (the
    sampler sleeps the interval after each sample): they alone keep it from being pinged."""
    from swarmdeck.core.config import MetricsConfig

    gap = MetricsConfig().interval * 1.05  # a sample's time to gather and travel
    session = FakeSession("m1")
    session.docker = docker = CountingDocker()
    beat = asyncio.create_task(failover.heartbeat(session))
    try:
        for _ in range(100):
            session.heard()
            await asyncio.sleep(gap)
        assert docker.pings == 0
    finally:
        beat.cancel()


async def test_the_manager_that_went_silent_is_tried_last(monkeypatch):
    """After a lost session, the next connection tries the other managers first: a cut link
    would otherwise cost the connect stagger waiting on the silent one again."""
    from swarmdeck.core import failover
    from swarmdeck.core.destinations import Destination
    from swarmdeck.core.inventory import ClusterInventory
    from swarmdeck.core.transport.ssh import SSHSettings

    m1, m2, m3 = (Destination("root", f"prod-m{i}", None) for i in (1, 2, 3))
    inventory = ClusterInventory("prod", [m1, m2, m3], SSHSettings())
    tried: list[list[Destination]] = []

    async def connect_first(cluster, targets, ssh, socket_path, early=()):
        tried.append(list(targets))
        return object()

    monkeypatch.setattr(failover, "connect_first", connect_first)
    await inventory.connect()
    inventory.session = None
    inventory._lost_manager = m1
    await inventory.connect()
    assert tried == [[m1, m2, m3], [m2, m3, m1]]


class RoundTripDocker(FakeDocker):
    """A manager 50 ms away: every answer takes one round trip."""

    def __init__(self, host: str) -> None:
        super().__init__(host, True)
        self.asked: list[str] = []

    async def get(self, path: str, **params):
        self.asked.append(path)
        await asyncio.sleep(0.05)
        if path in ("/_ping", "/info"):
            return await super().get(path)
        return [{"asked": path}]


async def test_a_load_on_a_fresh_connection_waits_one_round_trip_not_three(monkeypatch):
    """The load's reads go out with the connection's ping and /info, not after them; each
    early answer serves the load once, and a later read asks the manager again."""
    from swarmdeck.core.transport.session import ManagerSession
    from swarmdeck.core.transport.ssh import Resolved

    docker = RoundTripDocker("m1")

    async def open_(dest, ssh, socket_path):
        session = ManagerSession(dest, object(), Resolved("m1", "m1", 22, "root", (), None))
        session.docker = docker
        return session

    monkeypatch.setattr(failover.ManagerSession, "open", staticmethod(open_))
    started = loop_clock.now()
    session, info = await failover.open_manager(
        Destination(None, "m1", None), SSHSettings(), "/run/docker.sock",
        early=[("/nodes", {}), ("/tasks", {})])
    assert info is not None and info.node_id == "id1"
    nodes, tasks = await asyncio.gather(session.get("/nodes"), session.get("/tasks"))
    assert (nodes, tasks) == ([{"asked": "/nodes"}], [{"asked": "/tasks"}])
    assert loop_clock.now() - started == pytest.approx(0.05, abs=0.01)  # one round trip
    assert sorted(docker.asked) == ["/_ping", "/info", "/nodes", "/tasks"]
    assert await session.get("/nodes") == [{"asked": "/nodes"}]
    assert docker.asked[-1] == "/nodes" and len(docker.asked) == 5  # asked anew
