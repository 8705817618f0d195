"""The placement hint of `exec` and `port-forward` (core.task_hint, core.task_locate): the
hint file is the user's only and anything odd about it means no hint; a hint is used only
when the hinted node's own engine confirms the container (running, the hinted task's swarm
labels), and otherwise the manager's answer decides and becomes the next hint."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import time
from dataclasses import asdict, replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from swarmdeck.core import task_hint
from swarmdeck.core.destinations import Destination
from swarmdeck.core.errors import HostUnreachable, NotFound
from swarmdeck.core.inventory import ClusterState
from swarmdeck.core.models import Node, Service, SwarmInfo, Task
from swarmdeck.core.task_hint import MAX_AGE, TaskHint, TaskHints, refuted
from swarmdeck.core.task_locate import HintCheck, locate
from swarmdeck.core.transport.ssh import SSHSettings

WEB = Service(id="sid-web", name="shop_web", mode="replicated", replicas=2, image="demo:1")


def node(name: str, address: str) -> Node:
    return Node(id=f"id-{name}", hostname=name, role="worker", availability="active",
                status="ready", address=address)


NODES = {"m1": node("m1", "10.0.0.1"), "w1": node("w1", "10.0.0.2"),
         "w2": node("w2", "10.0.0.3")}


def cluster_state(web1_on: str = "w1", web1_task: str = "t1") -> ClusterState:
    """shop_web.1 on WEB1_ON (task WEB1_TASK), shop_web.2 on w2; the manager is m1."""
    tasks = [Task(id=web1_task, service_id=WEB.id, node_id=f"id-{web1_on}", slot=1,
                  state="running", desired_state="running", container_id=f"c-{web1_task}"),
             Task(id="t2", service_id=WEB.id, node_id="id-w2", slot=2, state="running",
                  desired_state="running", container_id="c-t2")]
    return ClusterState("prod", nodes={n.id: n for n in NODES.values()},
                        services={WEB.id: WEB}, tasks={t.id: t for t in tasks},
                        info=SwarmInfo(node_id="id-m1"), manager="m1 (root@10.0.0.1:22)")


SETTINGS = SSHSettings(config_files=("/etc/ssh_config",))
AS_STORED = json.loads(json.dumps(asdict(SETTINGS)))  # as the file gives it back


def hint(on: str = "w1", task: str = "t1", **changes) -> TaskHint:
    base = TaskHint("prod", "root", NODES[on].address, None, AS_STORED, "/sock",
                    f"id-{on}", on, WEB.id, WEB.name, WEB.mode, WEB.image, task, 1,
                    f"c-{task}", saved_at=time.time())
    return replace(base, **changes)


def inspect(h: TaskHint, *, running: bool = True, **labels: str) -> dict:
    """A node engine's GET /containers/{id}/json for the hinted container."""
    base = {task_hint.SERVICE_ID: h.service_id, task_hint.SERVICE_NAME: h.service,
            task_hint.TASK_ID: h.task_id, task_hint.NODE_ID: h.node_id}
    return {"Id": h.container_id, "State": {"Running": running},
            "Config": {"Labels": base | labels}}


# ---- the check on the node's engine --------------------------------------------------------
def test_a_running_container_with_the_hinted_labels_confirms_the_hint():
    assert refuted(inspect(hint()), hint()) is None


@pytest.mark.parametrize("container, why", [
    (inspect(hint(), running=False), "the container is not running"),
    (inspect(hint(), **{task_hint.TASK_ID: "t9"}),
     "its label com.docker.swarm.task.id is 't9', not 't1'"),
    (inspect(hint(), **{task_hint.SERVICE_NAME: "other"}),
     "its label com.docker.swarm.service.name is 'other', not 'shop_web'"),
    (inspect(hint(), **{task_hint.NODE_ID: "id-w2"}),
     "its label com.docker.swarm.node.id is 'id-w2', not 'id-w1'"),
    ({"State": {"Running": True}, "Config": {"Labels": {}}},
     "its label com.docker.swarm.service.id is None, not 'sid-web'"),
])
def test_anything_else_refutes_it(container, why):
    assert refuted(container, hint()) == why


# ---- the hint file ------------------------------------------------------------------------
@pytest.fixture
def hints(tmp_path) -> TaskHints:
    return TaskHints.default(Path("/etc/swarmdeck.toml"), "prod", "shop_web", None,
                             env={"XDG_CACHE_HOME": str(tmp_path / "cache")})


def test_a_hint_is_kept_for_its_target_in_a_file_only_the_user_can_read(hints, tmp_path):
    saved = hint(saved_at=1000.0)
    hints.remember(saved)
    assert hints.path == tmp_path / "cache" / "swarmdeck" / "task-hints.json"
    assert stat.S_IMODE(hints.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(hints.path.parent.stat().st_mode) == 0o700
    assert hints.recall(now=1000.0 + 60) == saved
    other = TaskHints(hints.path, hints.key.replace("shop_web", "shop_api"))
    assert other.recall(now=1000.0) is None  # another target has none
    assert [p.name for p in hints.path.parent.iterdir()] == ["task-hints.json"]


def test_a_hint_past_its_age_is_not_used(hints):
    hints.remember(hint(saved_at=1000.0))
    assert hints.recall(now=1000.0 + MAX_AGE + 1) is None
    assert hints.recall(now=999.0 - 3600) is None  # from the future: a clock gone back


@pytest.mark.parametrize("spoil", ["mode", "damaged", "not-json-object", "symlink", "owner"])
def test_a_hint_file_not_to_be_trusted_is_ignored(hints, tmp_path, spoil):
    hints.remember(hint(saved_at=1000.0))
    assert hints.recall(now=1000.0) is not None
    if spoil == "mode":
        hints.path.chmod(0o644)  # readable by others: someone else may have written it
    elif spoil == "damaged":
        hints.path.write_text('{"half')
    elif spoil == "not-json-object":
        hints.path.write_text("[1, 2]")
    elif spoil == "symlink":
        real = tmp_path / "elsewhere.json"
        hints.path.rename(real)
        hints.path.symlink_to(real)
    elif spoil == "owner":
        if os.getuid() != 0:
            pytest.skip("giving a file to another user needs root")
        os.chown(hints.path, 4242, 4242)
    assert hints.recall(now=1000.0) is None


def test_a_hint_with_missing_fields_is_no_hint(hints):
    hints.path.parent.mkdir(parents=True, mode=0o700)
    fd = os.open(hints.path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, json.dumps({hints.key: {"host": "10.0.0.2", "saved_at": 1000.0}}).encode())
    os.close(fd)
    assert hints.recall(now=1000.0) is None


def test_an_unwritable_cache_costs_nothing_but_the_hint(hints):
    hints.path.parent.parent.mkdir(parents=True)
    hints.path.parent.write_text("a file where the directory should be")
    hints.remember(hint())  # no error
    assert hints.recall() is None


def test_forget_drops_only_that_target(hints):
    other = TaskHints(hints.path, "other")
    hints.remember(hint(saved_at=1000.0))
    other.remember(hint(saved_at=1000.0))
    hints.forget()
    assert hints.recall(now=1000.0) is None and other.recall(now=1000.0) is not None


# ---- locate: the hint checked on its node, beside the manager ----------------------------
class FakeConn:
    def __init__(self, host: str) -> None:
        self.host = host
        self.closed = False

    def close(self) -> None:
        self.closed = True


class FakeEndpoint:
    """A node's engine: CONTAINERS[host] is what its inspect answers (None: no such
    container); it answers once GATE is set."""

    containers: dict[str, dict | None] = {}
    gate: asyncio.Event | None = None

    def __init__(self, conn: FakeConn, label: str, socket_path: str) -> None:
        self.conn, self.label = conn, label
        self.spares = 0

    def prewarm(self, count: int) -> None:
        self.spares += count

    async def get(self, path: str) -> dict:
        if FakeEndpoint.gate is not None:
            await FakeEndpoint.gate.wait()
        found = FakeEndpoint.containers.get(self.conn.host)
        if found is None:
            raise NotFound(404, f"No such container: {path.split('/')[2]}")
        return found


class FakeLinks:
    def __init__(self) -> None:
        self.adopted: dict[str, FakeConn] = {}
        self.resolved: dict = {}

    def adopt(self, node_id: str, conn, endpoint, resolved=None) -> None:
        self.adopted[node_id] = conn
        if resolved is not None:
            self.resolved[node_id] = resolved

    def dials_for(self, node_id: str) -> bool:
        return node_id != "id-m1"


class FakeFleet:
    """The manager answers with STATE once LOADED is set; a node's engine is the adopted
    connection's, else a new one ("dialled")."""

    def __init__(self, state: ClusterState, *, metrics: str = "direct") -> None:
        self.state = state
        self.loaded = asyncio.Event()
        self.load_cancelled = False
        self.links = FakeLinks()
        self.dialled: list[str] = []
        session = SimpleNamespace(destination=Destination(None, "m1-alias"),
                                  resolved=SimpleNamespace(user="root", host="10.0.0.1",
                                                           port=22, proxied=False))
        self.config = SimpleNamespace(clusters={"prod": SimpleNamespace(metrics=metrics)})
        self._inventory = SimpleNamespace(load=self._load, ssh=SETTINGS, socket_path="/sock",
                                          session=session)

    def inventory(self, name: str):
        return self._inventory

    async def _load(self) -> ClusterState:
        try:
            await self.loaded.wait()
        except asyncio.CancelledError:
            self.load_cancelled = True
            raise
        return self.state

    def node_links(self, name: str) -> FakeLinks:
        return self.links

    async def task_engine(self, name: str, node_id: str):
        conn = self.links.adopted.get(node_id)
        if conn is None:
            self.dialled.append(node_id)
            conn = FakeConn(node_id)
            self.links.resolved[node_id] = SimpleNamespace(
                host=NODES[node_id[3:]].address, port=22, proxied=False)
        return FakeEndpoint(conn, node_id, "/sock")


@pytest.fixture
def nodes(monkeypatch):
    """Each hinted dial made; a host in DOWN cannot be reached."""
    dials: list[str] = []
    down: set[str] = set()

    async def connect(dest: Destination, settings, sock=None):
        dials.append(dest.host)
        if dest.host in down:
            raise HostUnreachable(f"ssh to {dest.host}: connection refused")
        return FakeConn(dest.host), SimpleNamespace(label=f"root@{dest.host}:22", host=dest.host,
                                                   port=22, proxied=False)

    monkeypatch.setattr("swarmdeck.core.task_locate.connect", connect)
    monkeypatch.setattr("swarmdeck.core.task_locate.DockerEndpoint", FakeEndpoint)
    FakeEndpoint.containers, FakeEndpoint.gate = {}, None
    return SimpleNamespace(dials=dials, down=down)


def _locate(fleet: FakeFleet, hints: TaskHints | None, *, manager_first: bool = False,
            ahead=None):
    async def run():
        if manager_first:
            FakeEndpoint.gate = asyncio.Event()
            fleet.loaded.set()
            job = asyncio.ensure_future(locate(fleet, "prod", "shop_web", node=None,
                                               hints=hints, ahead=ahead))
            await asyncio.sleep(0.01)
            FakeEndpoint.gate.set()
            return await job
        job = asyncio.ensure_future(locate(fleet, "prod", "shop_web", node=None, hints=hints,
                                           ahead=ahead))
        await asyncio.sleep(0.01)  # the hint's check answers first, when it can
        fleet.loaded.set()
        return await job
    return asyncio.run(run())


def test_a_confirmed_hint_is_used_without_waiting_for_the_manager(hints, nodes):
    h = hint()
    hints.remember(h)
    FakeEndpoint.containers = {"10.0.0.2": inspect(h)}
    fleet = FakeFleet(cluster_state())
    found = _locate(fleet, hints)
    assert (found.target.replica, found.target.container_id, found.target.node.hostname) \
        == ("shop_web.1", "c-t1", "w1")
    assert found.manager is None and fleet.load_cancelled
    assert nodes.dials == ["10.0.0.2"] and fleet.dialled == []
    assert fleet.links.adopted["id-w1"].host == "10.0.0.2"  # closed with the fleet
    assert found.engine.spares == 2  # the exec's create and start need not open channels


def test_a_stale_hint_falls_back_to_the_manager_and_its_answer_is_the_next_hint(hints, nodes):
    """The hint points at w2, whose engine has no such container: shop_web.1 runs on w1
    (the manager says so) and that is where it goes."""
    hints.remember(hint(on="w2", task="t-old"))
    fleet = FakeFleet(cluster_state())
    found = _locate(fleet, hints)
    assert (found.target.replica, found.target.container_id, found.target.node.hostname,
            found.manager) == ("shop_web.1", "c-t1", "w1", "m1 (root@10.0.0.1:22)")
    assert nodes.dials == ["10.0.0.3"] and fleet.dialled == ["id-w1"]
    assert fleet.links.adopted == {}  # w2's connection is not w1's
    next_hint = hints.recall()
    assert next_hint is not None
    assert (next_hint.host, next_hint.node_id, next_hint.task_id, next_hint.container_id,
            next_hint.dial) == ("10.0.0.2", "id-w1", "t1", "c-t1", ["10.0.0.2", 22])


def test_a_replaced_task_on_the_hinted_node_reuses_its_connection(hints, nodes):
    """Same node, new task (the container restarted): the old container is gone there;
    the manager names the new one and the node's connection, already open, serves it."""
    hints.remember(hint(task="t-old"))
    FakeEndpoint.containers = {"10.0.0.2": inspect(hint(task="t-new"), running=True)}
    fleet = FakeFleet(cluster_state(web1_task="t-new"))
    found = _locate(fleet, hints)
    assert found.target.container_id == "c-t-new" and found.manager is not None
    assert fleet.dialled == [] and "id-w1" in fleet.links.adopted


def test_a_stopped_container_is_not_used(hints, nodes):
    h = hint()
    hints.remember(h)
    FakeEndpoint.containers = {"10.0.0.2": inspect(h, running=False)}
    fleet = FakeFleet(cluster_state(web1_on="m1", web1_task="t5"))
    found = _locate(fleet, hints)
    assert (found.target.container_id, found.target.node.hostname) == ("c-t5", "m1")
    assert fleet.links.adopted == {}  # the manager's own node: its session serves it
    assert (hints.recall().host, hints.recall().dial) == ("m1-alias", ["10.0.0.1", 22])


def test_a_hinted_node_out_of_reach_costs_nothing(hints, nodes):
    hints.remember(hint())
    nodes.down.add("10.0.0.2")
    fleet = FakeFleet(cluster_state())
    found = _locate(fleet, hints)
    assert found.target.container_id == "c-t1" and fleet.dialled == ["id-w1"]


def test_the_manager_answering_first_decides(hints, nodes):
    """The manager answers before the hinted node's engine: its choice stands (here another
    replica than the hint's) and the hinted connection, on another node, is closed."""
    hints.remember(hint(on="w2", task="t2", slot=2))
    FakeEndpoint.containers = {"10.0.0.3": inspect(hint(on="w2", task="t2"))}
    fleet = FakeFleet(cluster_state())
    found = _locate(fleet, hints, manager_first=True)
    assert (found.target.replica, found.manager) == ("shop_web.1", "m1 (root@10.0.0.1:22)")
    assert fleet.links.adopted == {}


def test_no_hint_is_used_or_kept_when_nodes_are_reached_through_the_manager(hints, nodes):
    h = hint()
    hints.remember(h)
    FakeEndpoint.containers = {"10.0.0.2": inspect(h)}
    fleet = FakeFleet(cluster_state(), metrics="manager")
    found = _locate(fleet, hints)
    assert found.manager is not None and nodes.dials == []


def test_a_hint_made_with_other_settings_is_not_used(hints, nodes):
    """The config changed since (another ssh config, or the hint is another cluster's):
    the hint is not dialled, the manager decides."""
    h = hint(ssh=AS_STORED | {"config_files": ["/elsewhere"]})
    hints.remember(h)
    FakeEndpoint.containers = {"10.0.0.2": inspect(h)}
    fleet = FakeFleet(cluster_state())
    found = _locate(fleet, hints)
    assert found.manager is not None and nodes.dials == []
    assert hints.recall().ssh == AS_STORED  # the manager's answer, with today's settings


def test_an_early_check_is_used_when_the_config_agrees(hints, nodes):
    """exec and port-forward start the check before the config is read (cli.early)."""
    h = hint()
    FakeEndpoint.containers = {"10.0.0.2": inspect(h)}
    fleet = FakeFleet(cluster_state())

    async def run():
        early = HintCheck(h)
        return await locate(fleet, "prod", "shop_web", node=None, hints=hints, early=early)
    found = asyncio.run(run())
    assert found.manager is None and nodes.dials == ["10.0.0.2"]


def test_work_sent_ahead_is_used_only_once_the_hint_is_confirmed(hints, nodes):
    """The exec's create goes out beside the check (it starts nothing by itself); its
    result is handed over only with a confirmed hint."""
    sent: list[tuple[str, str]] = []

    async def ahead(engine, container_id):
        sent.append((engine.conn.host, container_id))
        return "exec-1"

    async def confirmed():
        fleet = FakeFleet(cluster_state())  # the manager does not answer
        found = await locate(fleet, "prod", "shop_web", node=None, hints=hints, ahead=ahead)
        return found, await found.ahead

    h = hint()
    hints.remember(h)
    FakeEndpoint.containers = {"10.0.0.2": inspect(h)}
    found, exec_id = asyncio.run(confirmed())
    assert found.manager is None and exec_id == "exec-1"
    assert sent == [("10.0.0.2", "c-t1")]

    sent.clear()
    hints.remember(hint(on="w2", task="t-old"))  # stale: no such container on w2
    found = _locate(FakeFleet(cluster_state()), hints, ahead=ahead)
    assert found.manager is not None and found.ahead is None
    assert found.target.container_id == "c-t1"


def test_the_early_socket_dials_only_a_plain_address():
    assert hint().early_socket() is None  # no address kept
    assert hint(dial=["node-1.example", 22]).early_socket() is None  # a name: not looked up
    server = socket.create_server(("127.0.0.1", 0))
    try:
        sock = hint(dial=["127.0.0.1", server.getsockname()[1]]).early_socket()
        assert sock is not None and not sock.getblocking()
        sock.close()
    finally:
        server.close()


def test_the_check_hands_its_early_socket_to_the_ssh_login(hints, nodes, monkeypatch):
    """The TCP handshake made while asyncssh was imported carries the login; a socket that
    could not connect is dropped and the login dials as usual."""
    handed: list = []
    seen = {}

    async def connect(dest, settings, sock=None):
        handed.append(sock is not None and sock.getpeername()[1] == seen["port"])
        return FakeConn(dest.host), SimpleNamespace(label=f"root@{dest.host}:22", host=dest.host,
                                                   port=22, proxied=False)

    monkeypatch.setattr("swarmdeck.core.task_locate.connect", connect)
    server = socket.create_server(("127.0.0.1", 0))
    seen["port"] = server.getsockname()[1]
    closed = socket.create_server(("127.0.0.1", 0))
    refused = closed.getsockname()[1]
    closed.close()

    async def run(h):
        check = HintCheck(h, h.early_socket())
        return await check.result

    try:
        h = hint(dial=["127.0.0.1", seen["port"]])
        FakeEndpoint.containers = {"10.0.0.2": inspect(h)}
        assert asyncio.run(run(h)).container is not None
        assert asyncio.run(run(hint(dial=["127.0.0.1", refused]))) is not None
    finally:
        server.close()
    assert handed == [True, False]
