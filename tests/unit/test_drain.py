"""Draining a node, on recorded lab data: the tasks that stop there, where they can go, the
services left below their desired count; no-ops named before any question; following the
drain until no task is meant to run on the node."""

from __future__ import annotations

import json
from pathlib import Path

from swarmdeck.core.models import Node, Service, Task
from swarmdeck.core.ops.drain import plan_drain
from swarmdeck.core.ops.nodes import already
from swarmdeck.core.ops.progress import CONVERGED, SHORT, Baseline, _progress

FIXTURES = Path(__file__).parent.parent / "fixtures" / "lab_prod"


def recorded(name: str) -> list[dict]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def cluster(specs: dict[str, dict] | None = None):
    """prod as recorded; SPECS: service name -> fields of its model to replace."""
    nodes = [Node.from_api(n) for n in recorded("nodes")]
    services = []
    for data in recorded("services"):
        service = Service.from_api(data)
        if specs and service.name in specs:
            service = service.model_copy(update=specs[service.name])
        services.append(service)
    return nodes, services, [Task.from_api(t) for t in recorded("tasks")]


def node(nodes, hostname: str) -> Node:
    return next(n for n in nodes if n.hostname == hostname)


def test_a_worker_drain_moves_its_replicas_and_stops_its_global_task():
    nodes, services, tasks = cluster()
    plan = plan_drain(node(nodes, "prod-w1"), nodes, services, tasks)
    assert plan.task_count == 2 and plan.short == []
    assert plan.lines() == [
        "2 tasks stop on prod-w1:",
        "  monitoring_agent: stops here (a global service runs one task per node)",
        "  shop_worker.3: moves (can run on: prod-m1, prod-m2, prod-m3, prod-w2)"]


def test_services_left_below_their_desired_count_are_named():
    # shop_web: 2 replicas, at most 1 per node, only on workers; collector pinned to prod-w1
    nodes, services, tasks = cluster({
        "shop_web": {"constraints": ["node.role==worker"]},
        "monitoring_collector": {"constraints": ["node.hostname==prod-w1"]}})
    w1 = node(nodes, "prod-w1").id
    pinned = {s.id for s in services if s.name in ("shop_web", "monitoring_collector")}
    tasks = [t.model_copy(update={"node_id": w1}) if t.service_id in pinned and t.slot == 1
             else t for t in tasks]  # as their constraints would have placed them
    plan = plan_drain(node(nodes, "prod-w1"), nodes, services, tasks)
    short = {s.service.name: (s.desired, s.can_run) for s in plan.short}
    assert short == {"shop_web": (2, 1), "monitoring_collector": (1, 0)}
    lines = plan.lines()
    assert ("  shop_web.1: shop_web ends up BELOW its desired count: 1 of 2 can run (only 1 "
            "of 2 replicas can be placed: at most 1 per node on 1 node; the rest stay "
            "pending)") in lines
    assert any(line.startswith("  monitoring_collector.1: monitoring_collector ends up BELOW "
                               "its desired count: 0 of 1 can run (") for line in lines)
    assert lines[-1] == ("below the desired count after the drain: monitoring_collector, "
                         "shop_web (the rest stay pending until a node can take them)")


def test_a_node_with_nothing_running_moves_nothing():
    nodes, services, tasks = cluster()
    plan = plan_drain(node(nodes, "prod-w1"), nodes, services,
                      [t for t in tasks if t.node_id != node(nodes, "prod-w1").id])
    assert plan.lines() == ["no task runs on prod-w1: nothing moves"]


def test_no_ops_are_named_before_asking():
    nodes, _services, _tasks = cluster()
    worker, manager = node(nodes, "prod-w1"), node(nodes, "prod-m1")
    assert already(worker, role="worker") == "prod-w1 is already a worker: nothing to change"
    assert already(manager, role="manager") == "prod-m1 is already a manager: nothing to change"
    assert already(worker, availability="active") == \
        "prod-w1 is already active: nothing to change"
    drained = worker.model_copy(update={"availability": "drain"})
    assert already(drained, availability="drain") == \
        "prod-w1 is already drained: nothing to change"
    paused = worker.model_copy(update={"availability": "pause"})
    assert already(paused, availability="pause") == "prod-w1 is already paused: nothing to change"
    assert already(worker, role="manager") is None
    assert already(worker, availability="drain") is None
    assert already(paused, availability="active") is None


def service(replicas: int) -> dict:
    return {"ID": "s1", "Spec": {"Name": "shop_web", "Mode": {"Replicated": {
        "Replicas": replicas}}}}


def task(node: str | None, state: str = "running", desired: str = "running") -> Task:
    return Task(id=f"{node}-{state}-{desired}", service_id="s1", node_id=node, state=state,
                desired_state=desired)


def test_a_drain_is_followed_until_no_task_is_meant_to_run_on_the_node():
    base = Baseline(leaving_node="w1")
    # just after the drain: both replicas still run, one on w1: not settled
    before = _progress("s1", service(2), base, [task("w1"), task("w2")])
    assert before.outcome is None and before.line() == \
        "shop_web: 2/2 running, 1 still on the drained node"
    # the task on w1 is shut down, its replacement is starting on m1
    moving = [task("w1", "running", "shutdown"), task("w2"), task("m1", "starting")]
    assert _progress("s1", service(2), base, moving).outcome is None
    moved = [task("w1", "shutdown", "shutdown"), task("w2"), task("m1")]
    assert _progress("s1", service(2), base, moved).outcome == CONVERGED


def test_a_drain_that_leaves_too_little_room_settles_below_the_count():
    base = Baseline(leaving_node="w1", can_run=1)
    stuck = [task("w1", "shutdown", "shutdown"), task("w2"), task(None, "pending")]
    p = _progress("s1", service(2), base, stuck)
    assert p.outcome == SHORT
    assert p.line() == "shop_web: 1/2 running -> settled below the desired count"
    # while the task is still on the node it is not settled
    assert _progress("s1", service(2), base, [task("w1"), task("w2")]).outcome is None
