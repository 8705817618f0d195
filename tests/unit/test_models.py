"""Parsing the Docker API's JSON (recorded from the lab's prod cluster) into models."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from swarmdeck.core.inventory import ClusterState
from swarmdeck.core.models import Network, Node, Service, SwarmInfo, Task, parse_time, split_image

FIXTURES = Path(__file__).parent.parent / "fixtures" / "lab_prod"


def load(name: str):
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def state() -> ClusterState:
    st = ClusterState("prod")
    st.nodes = {n.id: n for n in map(Node.from_api, load("nodes"))}
    st.services = {s.id: s for s in map(Service.from_api, load("services"))}
    st.tasks = {t.id: t for t in map(Task.from_api, load("tasks"))}
    st.networks = {n.id: n for n in map(Network.from_api, load("networks"))}
    st.info = SwarmInfo.from_api(load("info"))
    return st


def test_parse_time_keeps_microseconds_of_nanosecond_stamps():
    t = parse_time("2026-11-29T06:00:01.123456789Z")
    assert t == datetime(2026, 11, 29, 6, 0, 1, 123456, tzinfo=UTC)
    assert parse_time("0001-01-01T00:00:00Z") is None
    assert parse_time("") is None
    assert parse_time("garbage") is None


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-29T06:00:01Z", datetime(2026, 11, 29, 6, 0, 1, tzinfo=UTC)),
    ("2026-11-29T06:00:01.5Z", datetime(2026, 11, 29, 6, 0, 1, 500000, tzinfo=UTC)),
    ("2026-11-29T08:00:01.123456789+02:00",
     datetime(2026, 11, 29, 6, 0, 1, 123456, tzinfo=UTC)),
    ("2026-11-29T06:00:01.123456789", datetime(2026, 11, 29, 6, 0, 1, 123456, tzinfo=UTC)),
    ("2026-11-29 06:00", datetime(2026, 11, 29, 6, 0, tzinfo=UTC)),
    ("2026-11-29Z", datetime(2026, 11, 29, tzinfo=UTC)),
])
def test_parse_time_reads_the_engines_and_the_users_forms(text, expected):
    assert parse_time(text) == expected


def test_split_image_separates_digest():
    assert split_image("reg:5000/a/b:1.0@sha256:abc") == ("reg:5000/a/b:1.0", "sha256:abc")
    assert split_image("busybox") == ("busybox", None)


def test_nodes_roles_leader_and_labels(state):
    by_name = {n.hostname: n for n in state.nodes.values()}
    assert sorted(by_name) == ["prod-m1", "prod-m2", "prod-m3", "prod-w1", "prod-w2"]
    assert [n.hostname for n in state.nodes.values() if n.leader] == ["prod-m1"]
    assert by_name["prod-m2"].manager_status == "reachable"
    assert by_name["prod-w1"].role == "worker" and by_name["prod-w1"].manager_status == ""
    assert by_name["prod-w1"].labels == {"zone": "a", "storage": "ssd"}
    assert by_name["prod-m1"].address == "10.213.0.11"
    assert by_name["prod-m1"].engine_version.startswith("20.10")
    assert all(n.status == "ready" and n.availability == "active" for n in by_name.values())


def test_services_modes_stacks_ports(state):
    by_name = {s.name: s for s in state.services.values()}
    web = by_name["shop_web"]
    assert (web.stack, web.short_name, web.mode, web.replicas) == ("shop", "web", "replicated", 2)
    assert web.image == "10.213.0.1:5000/swarmdeck/demo:1.0" and web.image_digest
    assert [str(p) for p in web.ports] == ["host:8080->8080/tcp"]
    assert web.endpoint_mode == "dnsrr"
    assert by_name["monitoring_agent"].mode == "global"
    assert by_name["monitoring_collector"].constraints == ["node.role == manager"]
    job = by_name["backup-once"]
    assert job.mode == "replicated-job" and job.stack is None


def test_replicas_counted_from_tasks(state):
    by_name = {s.name: s for s in state.services.values()}
    assert state.replicas(by_name["shop_web"]) == (2, 2)
    assert state.replicas(by_name["shop_worker"]) == (3, 3)
    assert state.replicas(by_name["monitoring_agent"]) == (5, 5)


def test_stacks_group_services_and_networks(state):
    stacks = {s.name: s for s in state.stacks()}
    assert sorted(stacks) == ["monitoring", "shop"]
    assert stacks["shop"].services == ["shop_web", "shop_worker"]
    assert stacks["shop"].networks == ["shop_default"]


def test_tasks_reference_nodes_and_services(state):
    for t in state.tasks.values():
        assert t.service_id in state.services
        if t.node_id:
            assert t.node_id in state.nodes
    web = next(s for s in state.services.values() if s.name == "shop_web")
    nodes = {state.node_name(t.node_id) for t in state.tasks_of(web.id) if t.is_running}
    assert len(nodes) == 2  # max_replicas_per_node: 1


def test_info_says_manager(state):
    info = state.info
    assert info.local_state == "active" and info.control_available
    assert info.hostname == "prod-m1" and info.managers == 3 and info.nodes == 5


def test_networks_are_swarm_scoped_overlays(state):
    names = {n.name: n for n in state.networks.values()}
    assert names["shop_default"].driver == "overlay"
    assert names["shop_default"].stack == "shop"
    assert names["ingress"].ingress


def test_unknown_fields_and_missing_sections_do_not_crash():
    node = Node.from_api({"ID": "x"})
    assert node.role == "worker" and node.status == "unknown" and not node.leader
    svc = Service.from_api({"ID": "y", "Spec": {"Name": "n", "Mode": {}}})
    assert svc.mode == "replicated" and svc.ports == []
    task = Task.from_api({"ID": "z"})
    assert task.state == "unknown" and task.node_id is None
