"""Placement constraints: docker's grammar (with errors that say what to fix), matching as
swarmkit does, which nodes can run a service and why the others cannot, and pin/unpin
through the service update path on a fake Docker API."""

from __future__ import annotations

import asyncio
import copy
import json
from types import SimpleNamespace

import pytest

from swarmdeck.cli.main import main
from swarmdeck.core.audit import AuditLog
from swarmdeck.core.errors import DockerAPIError, NotFound, ReadOnly, Refused, UsageError
from swarmdeck.core.models import Node
from swarmdeck.core.ops import placement as ops_placement
from swarmdeck.core.ops.base import ClusterOps
from swarmdeck.core.placement import (
    Constraint,
    InvalidConstraint,
    find_node,
    label_constraint,
    node_constraint,
    parse_constraint,
    pinned,
    place,
    unpinned,
)


def node(name: str, role: str = "worker", *, status: str = "ready",
         availability: str = "active", labels: dict[str, str] | None = None,
         node_id: str | None = None) -> Node:
    return Node(id=node_id or f"id-{name}", hostname=name, role=role,
                availability=availability, status=status, labels=labels or {}, os="linux",
                architecture="x86_64", address="10.0.0.9")


NODES = [node("m1", "manager"), node("w1", labels={"zone": "a", "disk": "ssd"}),
         node("w2", labels={"zone": "b"})]


# ---- parsing -----------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "key", "equal", "value"), [
    ("node.role == manager", "node.role", True, "manager"),
    ("node.labels.disk!=hdd", "node.labels.disk", False, "hdd"),
    ("  node.hostname==w1 ", "node.hostname", True, "w1"),
])
def test_constraints_parse(text, key, equal, value):
    for c in (Constraint.parse(text), parse_constraint(text)):
        assert (c.key, c.equal, c.value) == (key, equal, value)


@pytest.mark.parametrize("text", ["node.role", "==manager", "node.role==", ""])
def test_malformed_constraints_do_not_parse(text):
    assert Constraint.parse(text) is None
    with pytest.raises(InvalidConstraint, match="invalid constraint expression"):
        parse_constraint(text)


@pytest.mark.parametrize(("text", "says"), [
    ("node.role=worker", "no == or != operator"),
    ("node.role", "no == or != operator"),
    ("==worker", "'' is not a valid key"),
    ("node.hostnme==w1", "unknown key 'node.hostnme': did you mean 'node.hostname'?"),
    ("node.colour==blue", "unknown key 'node.colour'"),
    ("node.labels.==a", "unknown key 'node.labels.'"),
    ("node role==worker", "'node role' is not a valid key"),
    ("node.role!==worker", "'node.role!' is not a valid key"),
    ("node.labels.zone==a==b", "the value 'a==b' holds a character docker refuses"),
    ("node.labels.zone==a,b", "the value 'a,b' holds a character docker refuses"),
    ("node.hostname==\"w1\"", "holds a character docker refuses"),
    ("node.role==", "no value after =="),
])
def test_invalid_expressions_say_what_is_wrong(text, says):
    with pytest.raises(InvalidConstraint) as raised:
        parse_constraint(text)
    assert says in str(raised.value)
    assert raised.value.exit_code == 2  # a usage error


@pytest.mark.parametrize("text", [
    "node.id==abc123", "node.platform.os==linux", "node.platform.arch!=arm64",
    "engine.labels.gpu==yes", "NODE.Labels.Zone==a", "node.ip==10.0.0.0/24",
])
def test_every_documented_key_parses(text):
    assert str(parse_constraint(text)) == text


def test_labels_become_label_constraints():
    assert str(label_constraint("zone=a")) == "node.labels.zone==a"
    assert str(label_constraint(" disk = ssd ")) == "node.labels.disk==ssd"
    for bad in ("zone", "=a", "zone=", "zone==a"):
        with pytest.raises(InvalidConstraint, match="expected KEY=VALUE"):
            label_constraint(bad)
    with pytest.raises(InvalidConstraint, match="holds a character"):
        label_constraint("zone=a<b")


# ---- matching ----------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "matches"), [
    ("node.role==worker", True), ("node.role==MANAGER", False), ("node.role!=manager", True),
    ("node.hostname==W1", True), ("node.id==id-w1", True), ("node.platform.os==linux", True),
    ("node.platform.arch==x86_64", True), ("node.platform.arch==amd64", False),
    ("node.labels.disk==SSD", True), ("node.labels.zone==a", False),
    ("node.labels.zone!=a", True), ("node.labels.Disk==ssd", False),  # label keys: exact
    ("NODE.LABELS.disk==ssd", True),  # the prefix: any case
    ("node.ip==10.0.0.9", True), ("node.ip==10.0.0.0/24", True), ("node.ip!=10.0.0.0/24", False),
    ("node.ip==not-an-ip", False), ("node.colour==blue", False),
])
def test_constraints_match_as_swarmkit_does(text, matches):
    w1 = node("w1", labels={"disk": "ssd"})
    assert Constraint.parse(text).matches(w1, {}) is matches


def test_engine_labels_are_judged_only_when_known():
    c = Constraint.parse("engine.labels.gpu==yes")
    w1 = node("w1")
    assert c.matches(w1, None) is True
    assert c.matches(w1, {}) is False and c.matches(w1, {"gpu": "yes"}) is True


def test_nodes_that_can_run_and_why_the_others_cannot():
    nodes = [*NODES, node("w3", availability="drain", labels={"zone": "b"}),
             node("w4", availability="pause", labels={"zone": "b"}),
             node("w5", status="down", labels={"zone": "b"})]
    placed = place(["node.labels.zone==b"], nodes)
    assert placed.placeable and [n.hostname for n in placed.nodes] == ["w2"]
    assert placed.verdict() == "tasks can run on: w2"
    why = {f.node.hostname: f.why_not() for f in placed.fits}
    assert why == {"m1": "does not satisfy node.labels.zone==b",
                   "w1": "does not satisfy node.labels.zone==b", "w2": "",
                   "w3": "drained: takes no new tasks", "w4": "paused: takes no new tasks",
                   "w5": "down: not ready"}


def test_no_node_satisfies_says_so_and_that_tasks_stay_pending():
    placed = place(["node.hostname==w9"], NODES)
    assert not placed.placeable
    assert placed.verdict() == ("no node satisfies node.hostname==w9; tasks will stay "
                                "pending")
    together = place(["node.labels.zone==a", "node.labels.zone==b"], NODES)
    assert together.verdict() == (
        "no available node satisfies node.labels.zone==a, node.labels.zone==b: each "
        "constraint is met by some node, but no node meets them all; tasks will stay pending")


def test_only_a_drained_node_satisfies():
    nodes = [node("m1", "manager"), node("w2", availability="drain")]
    placed = place(["node.hostname==w2"], nodes)
    assert placed.verdict() == (
        "no available node satisfies node.hostname==w2: only nodes that are down, drained or "
        "paused satisfy them: w2 (ready, drain); tasks will stay pending")
    nothing = place([], [node("w2", status="down")])
    assert nothing.verdict() == "no node is ready and active; tasks will stay pending"


def test_replicas_beyond_max_per_node_are_named():
    placed = place(["node.role==worker"], NODES, replicas=3, max_per_node=1)
    assert placed.placeable
    assert placed.shortfall == ("only 2 of 3 replicas can be placed: at most 1 per node on "
                                "2 nodes; the rest stay pending")
    assert place(["node.role==worker"], NODES, replicas=2, max_per_node=1).shortfall == ""


# ---- changing the list -------------------------------------------------------------------

def test_pinning_adds_and_replaces_only_what_cannot_hold_together():
    hw1 = parse_constraint("node.hostname==w1")
    assert pinned([], hw1) == ["node.hostname==w1"]
    assert pinned(["node.hostname == W1"], hw1) == ["node.hostname == W1"]  # already there
    # a service cannot be on two nodes, nor a label have two values: the new one wins
    assert pinned(["node.role==worker", "node.hostname==w2"], hw1) == [
        "node.role==worker", "node.hostname==w1"]
    assert pinned(["node.id==id-w2"], hw1) == ["node.hostname==w1"]
    assert pinned(["node.hostname!=w2"], hw1) == ["node.hostname!=w2", "node.hostname==w1"]
    zone_b = label_constraint("zone=b")
    assert pinned(["node.labels.zone==a", "node.labels.disk==ssd"], zone_b) == [
        "node.labels.disk==ssd", "node.labels.zone==b"]
    assert pinned(["node.labels.Zone==a"], zone_b) == ["node.labels.Zone==a",
                                                        "node.labels.zone==b"]


def test_unpinning_by_node_label_expression_or_all():
    current = ["node.hostname==w1", "node.id==id-w1", "node.labels.zone==a",
               "node.labels.zone!=c", "node.role == worker"]
    w1 = find_node(NODES, "w1")
    assert unpinned(current, node=w1) == current[2:]
    assert unpinned(current, node_ref="W1") == current[1:]  # a node that is gone: by name
    assert unpinned(current, label="zone") == [*current[:2], current[4]]
    assert unpinned(current, label="zone=A") == [*current[:2], *current[3:]]
    assert unpinned(current, constraint=parse_constraint("node.role==worker")) == current[:4]
    assert unpinned(current, everything=True) == []


def test_a_node_is_pinned_by_hostname_unless_that_is_ambiguous():
    assert str(node_constraint(NODES[1], NODES)) == "node.hostname==w1"
    assert str(node_constraint(NODES[1], NODES, by_id=True)) == "node.id==id-w1"
    twins = [*NODES, node("w1", node_id="id-w1-bis")]
    assert str(node_constraint(twins[1], twins)) == "node.id==id-w1"
    assert find_node(NODES, "id-w2") is NODES[2] and find_node(NODES, "id-w") is None
    assert find_node(NODES, "w9") is None


# ---- pin / unpin through the update path -------------------------------------------------

def api_node(n: Node) -> dict:
    return {"ID": n.id, "Description": {"Hostname": n.hostname,
                                        "Platform": {"OS": "linux", "Architecture": "x86_64"}},
            "Spec": {"Role": n.role, "Availability": n.availability, "Labels": n.labels},
            "Status": {"State": n.status}}


class FakeDocker:
    """A service and the nodes; an update must carry the current version."""

    def __init__(self, constraints: list[str] | None = None) -> None:
        task = {"ContainerSpec": {"Image": "app:1"}}
        if constraints is not None:
            task["Placement"] = {"Constraints": constraints}
        self.service = {"ID": "sid-app", "Version": {"Index": 10},
                        "Spec": {"Name": "app", "Mode": {"Replicated": {"Replicas": 2}},
                                 "TaskTemplate": task}}
        self.nodes = [api_node(n) for n in NODES]
        self.posts: list[tuple[str, dict, dict]] = []

    async def get(self, path, **_params):
        await asyncio.sleep(0)
        if path == "/nodes":
            return copy.deepcopy(self.nodes)
        if path == "/services":
            return [copy.deepcopy(self.service)]
        if path.rpartition("/")[2] in ("app", "sid-app"):
            return copy.deepcopy(self.service)
        raise NotFound(404, f"service {path} not found")

    async def request(self, method, path, *, params=None, body=None, headers=None):
        if params["version"] != self.service["Version"]["Index"]:
            raise DockerAPIError(500, "rpc error: code = Unknown desc = update out of sequence")
        self.posts.append((path, params, body))
        self.service["Spec"] = body
        self.service["Version"]["Index"] += 1


def make_ops(tmp_path, docker, read_only: str | None = None) -> ClusterOps:
    return ClusterOps("prod", SimpleNamespace(docker=docker, label="m1 (fake)"),
                      audit=AuditLog(tmp_path / "audit.jsonl"), read_only=read_only)


def audit(tmp_path) -> list[dict]:
    path = tmp_path / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() \
        else []


def constraints_of(docker: FakeDocker) -> list[str]:
    return docker.service["Spec"]["TaskTemplate"].get("Placement", {}).get("Constraints", [])


async def test_pin_to_a_node_posts_the_spec_with_its_version_and_is_audited(tmp_path):
    docker = FakeDocker(["node.role==worker"])
    ops = make_ops(tmp_path, docker)
    started = await ops_placement.pin(ops, "app", node="w2")
    path, params, body = docker.posts[0]
    assert path == "/services/sid-app/update" and params == {"version": 10}
    assert body["TaskTemplate"]["Placement"]["Constraints"] == [
        "node.role==worker", "node.hostname==w2"]
    assert body["TaskTemplate"]["ContainerSpec"] == {"Image": "app:1"}  # the rest kept
    assert started.summary == ("app: constraints node.role==worker -> node.role==worker, "
                               "node.hostname==w2; tasks can run on: w2")
    assert list(started.services) == ["sid-app"]  # followed: some node can run it
    [entry] = audit(tmp_path)
    assert (entry["action"], entry["target"], entry["result"]) == ("pin", "app", "ok")
    assert entry["params"] == {"constraints": ["node.role==worker", "node.hostname==w2"],
                               "from": ["node.role==worker"]}


async def test_pin_by_id_and_by_label(tmp_path):
    docker = FakeDocker()
    ops = make_ops(tmp_path, docker)
    await ops_placement.pin(ops, "app", node="id-w1")
    assert constraints_of(docker) == ["node.id==id-w1"]
    await ops_placement.pin(ops, "app", label="zone=a")
    assert constraints_of(docker) == ["node.id==id-w1", "node.labels.zone==a"]
    again = await ops_placement.pin(ops, "app", label="zone=a")
    assert again.summary.endswith("nothing to change") and len(docker.posts) == 2


async def test_invalid_expression_or_unknown_node_changes_nothing(tmp_path):
    docker = FakeDocker()
    ops = make_ops(tmp_path, docker)
    with pytest.raises(InvalidConstraint, match="invalid constraint expression"):
        await ops_placement.pin(ops, "app", constraint="node.labels.zone=a")
    with pytest.raises(UsageError, match="no node 'w11' in cluster prod: did you mean 'w1'"):
        await ops_placement.pin(ops, "app", node="w11")
    with pytest.raises(InvalidConstraint, match="invalid constraint expression"):
        await ops_placement.set_constraints(ops, "app", ["node.role==worker", "bad"])
    with pytest.raises(UsageError, match="pin to what"):
        await ops_placement.pin(ops, "app", node="w1", label="zone=a")
    assert docker.posts == [] and audit(tmp_path) == []


async def test_a_constraint_no_node_satisfies_is_refused_unless_forced(tmp_path):
    docker = FakeDocker(["node.labels.zone==a"])
    ops = make_ops(tmp_path, docker)
    with pytest.raises(Refused) as refused:
        await ops_placement.pin(ops, "app", constraint="node.labels.disk==hdd")
    assert str(refused.value).startswith(
        "pin app refused: no node satisfies node.labels.disk==hdd; tasks will stay pending")
    assert refused.value.exit_code == 1 and docker.posts == []
    started = await ops_placement.pin(ops, "app", constraint="node.labels.disk==hdd",
                                      force=True)
    assert constraints_of(docker) == ["node.labels.zone==a", "node.labels.disk==hdd"]
    assert started.services == {}  # nothing would converge: not followed
    assert "tasks will stay pending" in started.summary


async def test_unpin_removes_and_is_never_refused_for_what_remains(tmp_path):
    docker = FakeDocker(["node.hostname==w9", "node.labels.zone==a", "node.role==worker"])
    ops = make_ops(tmp_path, docker)
    started = await ops_placement.unpin(ops, "app", label="zone")
    assert constraints_of(docker) == ["node.hostname==w9", "node.role==worker"]
    assert "tasks will stay pending" in started.summary  # still w9: said, not refused
    with pytest.raises(UsageError, match=r"app has no constraint on 'w1' \(its constraints: "
                                         r"node.hostname==w9, node.role==worker\)"):
        await ops_placement.unpin(ops, "app", node="w1")
    await ops_placement.unpin(ops, "app", node="w9")
    assert constraints_of(docker) == ["node.role==worker"]
    await ops_placement.unpin(ops, "app", everything=True)
    assert "Constraints" not in docker.service["Spec"]["TaskTemplate"]["Placement"]
    assert [e["action"] for e in audit(tmp_path)] == ["unpin", "unpin", "unpin"]


async def test_read_only_refuses_before_reading_and_is_audited(tmp_path):
    docker = FakeDocker()
    ops = make_ops(tmp_path, docker, read_only="--read-only")
    with pytest.raises(ReadOnly):
        await ops_placement.pin(ops, "app", node="w1")
    assert docker.posts == []
    assert [(e["action"], e["result"]) for e in audit(tmp_path)] == [("pin", "refused")]


async def test_a_service_changed_since_it_was_read_is_not_overwritten(tmp_path):
    docker = FakeDocker()
    ops = make_ops(tmp_path, docker)
    found = await ops_placement.survey(ops, "app")
    docker.service["Version"]["Index"] = 11  # someone else updated it meanwhile
    change = ops_placement.plan_pin(found, "prod", node="w1")
    with pytest.raises(Refused, match="app changed since its placement was read"):
        await ops_placement.apply(ops, change)
    assert docker.posts == []


def test_plans_name_their_action():
    found = ops_placement.Survey.from_api(FakeDocker(["node.role==worker"]).service,
                                          [api_node(n) for n in NODES])
    assert ops_placement.plan(found, ["node.role==worker", "node.hostname==w1"]).action == "pin"
    assert ops_placement.plan(found, []).action == "unpin"
    change = ops_placement.plan(found, ["node.hostname==w1"])
    assert change.action == "set constraints"
    assert change.lines() == ["constraints now:  node.role==worker",
                              "after the change: node.hostname==w1",
                              "tasks can run on: w1"]


# ---- the command line --------------------------------------------------------------------

@pytest.fixture
def unreachable_config(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[clusters.prod]\nmanagers = ['root@192.0.2.1']\n")  # TEST-NET: no host
    path.chmod(0o600)
    return str(path)


def test_cli_refuses_an_invalid_expression_before_connecting(unreachable_config, capsys):
    code = main(["--config", unreachable_config, "pin", "app", "--constraint",
                 "node.role=worker", "--yes"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("swarmdeck: invalid constraint expression 'node.role=worker': "
                          "no == or != operator (expected KEY==VALUE")
    assert main(["--config", unreachable_config, "pin", "app", "--label", "zone", "--yes"]) == 2
    assert "expected KEY=VALUE" in capsys.readouterr().err
    assert main(["--config", unreachable_config, "unpin", "app", "--constraint", "x",
                 "--yes"]) == 2


def test_cli_needs_exactly_one_target(unreachable_config, capsys):
    for argv in (["pin", "app"], ["pin", "app", "--node", "w1", "--label", "a=b"],
                 ["unpin", "app", "--all", "--node", "w1"]):
        with pytest.raises(SystemExit) as done:
            main(["--config", unreachable_config, *argv])
        assert done.value.code == 2
    assert "one of the arguments" in capsys.readouterr().err
