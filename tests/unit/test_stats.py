"""stats rows: services sum their running tasks' containers, nodes their own figure, and a
missing figure says why instead of reading 0."""

from __future__ import annotations

import pytest

from swarmdeck.core.errors import UsageError
from swarmdeck.core.inventory import ClusterState
from swarmdeck.core.metrics import ClusterMetrics, Point
from swarmdeck.core.models import Node, Service, Task
from swarmdeck.core.stats import check_wanted, settled, stat_rows


def state() -> ClusterState:
    st = ClusterState("c")
    st.nodes = {i: Node(id=i, hostname=h, role="worker", availability="active", status=s)
                for i, h, s in (("n1", "w1", "ready"), ("n2", "w2", "ready"),
                                ("n3", "w3", "down"))}
    st.services = {"s1": Service(id="s1", name="web", mode="replicated", replicas=3),
                   "s2": Service(id="s2", name="idle", mode="replicated", replicas=0)}
    st.tasks = {f"t{i}": Task(id=f"t{i}", service_id="s1", node_id=node, state=state,
                              desired_state="running", container_id=f"c{i}")
                for i, node, state in ((1, "n1", "running"), (2, "n2", "running"),
                                       (3, "n2", "running"), (4, "n1", "shutdown"))}
    return st


def test_services_sum_their_running_tasks_and_say_what_was_not_measured():
    metrics = ClusterMetrics()
    for cid, cpu, mem in (("c1", 30.0, 100), ("c2", 12.5, 50), ("c4", 99.0, 999)):
        metrics._series(metrics.containers, cid).add(Point(cpu, mem))
    metrics._series(metrics.nodes, "n1").add(Point(40.0, 1 << 30))
    metrics.problems["n2"] = "ssh refused"
    rows = {(r.kind, r.name): r for r in stat_rows("c", state(), metrics)}
    web = rows["service", "web"]
    assert (web.cpu_percent, web.memory_bytes, web.tasks) == (42.5, 150, 2)
    assert web.note == "1 running task(s) not measured"  # c3: no figure yet
    idle = rows["service", "idle"]
    assert (idle.cpu_percent, idle.memory_bytes, idle.tasks) == (0.0, 0, 0)
    assert rows["node", "w1"].cpu_percent == 40.0
    assert rows["node", "w2"].cpu_percent is None and rows["node", "w2"].note == "ssh refused"
    assert rows["node", "w3"].note == "node is down"
    assert [r.name for r in stat_rows("c", state(), metrics, ["web", "w1"])] == ["web", "w1"]


def test_settled_once_every_up_node_has_a_rate_or_a_reason():
    metrics = ClusterMetrics()
    assert not settled(state(), metrics)
    metrics._series(metrics.nodes, "n1").add(Point(1.0, 1))
    assert not settled(state(), metrics)
    metrics.problems["n2"] = "unreachable"
    assert settled(state(), metrics)  # n3 is down: nothing to wait for


def test_an_unknown_name_is_a_usage_error_with_a_suggestion():
    with pytest.raises(UsageError, match="did you mean 'web'"):
        check_wanted({"c": state()}, ["wbe"])
    check_wanted({"c": state()}, ["web", "w3"])
