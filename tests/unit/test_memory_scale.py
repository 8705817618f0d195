"""What a service's memory sparkline is drawn against, on recorded lab data: its memory limit
times its running tasks, else the memory of the nodes its tasks run on; never its own peak."""

from __future__ import annotations

import json
from pathlib import Path

from swarmdeck.core.inventory import ClusterState
from swarmdeck.core.models import Node, Service, Task
from swarmdeck.core.views import memory_scales

FIXTURES = Path(__file__).parent.parent / "fixtures" / "lab_prod"
GIB = 1 << 30


def prod() -> ClusterState:
    def load(part: str) -> list[dict]:
        return json.loads((FIXTURES / f"{part}.json").read_text())

    nodes = [Node.from_api(n) for n in load("nodes")]
    services = [Service.from_api(s) for s in load("services")]
    tasks = [Task.from_api(t) for t in load("tasks")]
    return ClusterState("prod", nodes={n.id: n for n in nodes},
                        services={s.id: s for s in services}, tasks={t.id: t for t in tasks})


def by_name(state: ClusterState) -> dict[str, str]:
    return {s.name: s.id for s in state.services.values()}


def test_a_limit_times_the_running_tasks():
    state = prod()
    scales = memory_scales(state)
    ids = by_name(state)
    web, worker = scales[ids["shop_web"]], scales[ids["shop_worker"]]
    assert (web.top, web.basis) == (2 * (64 << 20), "limit 64.0 MiB x 2 tasks")
    assert (worker.top, worker.basis) == (3 * (32 << 20), "limit 32.0 MiB x 3 tasks")
    assert web.describe() == "128.0 MiB: limit 64.0 MiB x 2 tasks"


def test_no_limit_the_memory_of_its_nodes_as_sampled():
    state = prod()
    ids = by_name(state)
    sampled = {n.id: 8 * GIB for n in state.nodes.values()}
    scales = memory_scales(state, sampled)
    collector = scales[ids["monitoring_collector"]]  # one task, on prod-m1
    assert (collector.top, collector.basis) == (8 * GIB, "no limit; memory of prod-m1")
    agent = scales[ids["monitoring_agent"]]  # global: every node
    assert agent.top == 5 * 8 * GIB
    assert agent.basis == "no limit; memory of prod-m1, prod-m2, prod-m3, prod-w1, prod-w2"
    # not sampled (yet): the swarm's own figure for the node
    assert memory_scales(state)[ids["monitoring_collector"]].top == 25276063744


def test_nothing_running_has_no_scale():
    state = prod()
    assert by_name(state)["backup-once"] not in memory_scales(state)  # a finished job
