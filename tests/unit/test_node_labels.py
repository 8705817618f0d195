"""Node labels: what the console's prompt and the CLI's arguments ask for, and the plan
(added, changed, removed, services whose placement uses the keys) on recorded lab data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swarmdeck.core.errors import UsageError
from swarmdeck.core.models import Node, Service, Task
from swarmdeck.core.ops.node_labels import (
    LabelEdits,
    label_edits,
    parse_label_edits,
    plan_labels,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "lab_prod"


def recorded(name: str) -> list[dict]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def cluster(constraints: dict[str, list[str]] | None = None):
    """prod as recorded (prod-w1: storage=ssd, zone=a; prod-w2: zone=b), with CONSTRAINTS
    (service name -> constraints) put on services."""
    nodes = [Node.from_api(n) for n in recorded("nodes")]
    services = []
    for data in recorded("services"):
        service = Service.from_api(data)
        if constraints and service.name in constraints:
            service = service.model_copy(update={"constraints": constraints[service.name]})
        services.append(service)
    tasks = [Task.from_api(t) for t in recorded("tasks")]
    return nodes, services, tasks


def node(nodes: list[Node], hostname: str) -> Node:
    return next(n for n in nodes if n.hostname == hostname)


def test_minus_key_removes_that_key_only():
    assert parse_label_edits("-zone") == LabelEdits({}, ("zone",))
    nodes, services, tasks = cluster()
    plan = plan_labels(node(nodes, "prod-w1"), parse_label_edits("-zone"), nodes, services,
                       tasks)
    assert plan.removed == {"zone": "a"} and not plan.added and not plan.changed
    assert plan.after == {"storage": "ssd"}
    assert plan.lines() == ["remove  zone (was a)", "kept    storage=ssd"]


def test_an_empty_line_changes_nothing():
    assert parse_label_edits("   ").empty
    nodes, services, tasks = cluster()
    plan = plan_labels(node(nodes, "prod-w1"), parse_label_edits(""), nodes, services, tasks)
    assert not plan.changes and plan.after == {"storage": "ssd", "zone": "a"}
    assert plan.lines() == ["nothing to change"]


def test_set_add_change_and_remove_together():
    edits = parse_label_edits("zone=b disk=nvme -storage")
    assert edits == LabelEdits({"zone": "b", "disk": "nvme"}, ("storage",))
    nodes, services, tasks = cluster()
    plan = plan_labels(node(nodes, "prod-w1"), edits, nodes, services, tasks)
    assert plan.added == {"disk": "nvme"}
    assert plan.changed == {"zone": ("a", "b")}
    assert plan.removed == {"storage": "ssd"}
    assert plan.after == {"zone": "b", "disk": "nvme"}
    assert plan.lines() == ["add     disk=nvme", "change  zone: a -> b",
                            "remove  storage (was ssd)"]


def test_setting_the_same_value_is_not_a_change():
    nodes, services, tasks = cluster()
    plan = plan_labels(node(nodes, "prod-w1"), parse_label_edits("zone=a"), nodes, services,
                       tasks)
    assert not plan.changes
    assert plan.lines() == ["already so: zone=a", "nothing to change"]


@pytest.mark.parametrize("text, says", [
    ("zone", "use KEY=VALUE to set a label, -zone to remove it"),
    ("-zone=a", "-KEY removes a label, give no value"),
    ("-", "'' is not a valid label key"),
    ("=a", "'' is not a valid label key"),
    ("zone=b -zone", "both set and removed"),
])
def test_what_the_prompt_refuses(text, says):
    with pytest.raises(UsageError, match=says):
        parse_label_edits(text)


def test_removing_a_label_the_node_lacks_is_refused():
    nodes, services, tasks = cluster()
    with pytest.raises(UsageError, match=r"prod-w1 has no label 'zoen' \(its labels: "
                                         r"storage, zone\)"):
        plan_labels(node(nodes, "prod-w1"), parse_label_edits("-zoen"), nodes, services,
                    tasks)


def test_cli_arguments_make_the_same_edits():
    assert label_edits(["zone=b", "disk="], ["old"]) == \
        LabelEdits({"zone": "b", "disk": ""}, ("old",))
    with pytest.raises(UsageError, match="expected KEY=VALUE"):
        label_edits(["zone"])


def test_removing_a_label_a_service_needs_makes_it_unplaceable():
    nodes, services, tasks = cluster({"shop_worker": ["node.labels.storage==ssd"],
                                      "shop_web": ["node.labels.zone!=c"]})
    plan = plan_labels(node(nodes, "prod-w1"), parse_label_edits("-storage"), nodes,
                       services, tasks)
    [worker] = plan.affected  # shop_web's constraint is on another key: not listed
    assert worker.service.name == "shop_worker" and worker.unplaceable
    assert worker.moving == 1  # slot 3 runs on prod-w1
    assert plan.unplaceable == [worker]
    assert plan.lines()[-2:] == [
        "services whose constraints use these labels:",
        "  shop_worker (uses node.labels.storage==ssd): becomes UNPLACEABLE, no node would "
        "satisfy its constraints; its 1 task on this node stops and stays pending"]


def test_a_changed_label_moves_tasks_to_the_nodes_that_still_match():
    nodes, services, tasks = cluster({"shop_worker": ["node.labels.zone!=b"]})
    plan = plan_labels(node(nodes, "prod-w1"), parse_label_edits("zone=b"), nodes,
                       services, tasks)
    [worker] = plan.affected
    assert not worker.unplaceable and worker.moving == 1
    assert worker.line() == ("shop_worker (uses node.labels.zone!=b): its 1 task on this "
                             "node moves (it can run on: prod-m1, prod-m2, prod-m3)")


def test_services_without_running_tasks_are_not_listed():
    # backup-once is a finished job: nothing of it runs, nothing to place
    nodes, services, tasks = cluster({"backup-once": ["node.labels.storage==ssd"]})
    plan = plan_labels(node(nodes, "prod-w1"), parse_label_edits("-storage"), nodes,
                       services, tasks)
    assert plan.affected == ()
