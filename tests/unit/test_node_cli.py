"""`swarmdeck node ...` over a fake Docker API on recorded lab data: the plan is printed
before the question, only what is named changes, no-ops are refused before asking."""

from __future__ import annotations

import argparse
from types import SimpleNamespace

import pytest
from fake_cluster import FakeDocker

from swarmdeck.cli import ops as cli_ops
from swarmdeck.core.audit import AuditLog
from swarmdeck.core.errors import UsageError
from swarmdeck.core.ops.base import ClusterOps


@pytest.fixture
def docker() -> FakeDocker:
    return FakeDocker("prod")


@pytest.fixture
def ops(docker, tmp_path) -> ClusterOps:
    return ClusterOps("prod", SimpleNamespace(docker=docker, label="prod-m1 (fake)"),
                      audit=AuditLog(tmp_path / "audit.jsonl"))


def node_args(action: str, node: str, **more) -> argparse.Namespace:
    return argparse.Namespace(node_action=action, node=node, yes=more.pop("yes", True),
                              detach=False, timeout=30, **more)


def node_labels(docker: FakeDocker, hostname: str) -> dict:
    return docker.node(hostname)["Spec"].get("Labels") or {}


async def test_rm_one_label_prints_the_plan_and_keeps_the_others(ops, docker, capsys):
    assert await cli_ops._node(ops, node_args("label", "prod-w1", labels=[],
                                              rm=["zone"])) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == ["labels of prod-w1 on prod:", "  remove  zone (was a)",
                                "  kept    storage=ssd", "prod-w1: labels storage=ssd"]
    assert node_labels(docker, "prod-w1") == {"storage": "ssd"}


async def test_the_plan_is_shown_before_refusing_without_a_terminal(ops, docker, capsys,
                                                                     monkeypatch):
    monkeypatch.setattr("sys.stdin", SimpleNamespace(isatty=lambda: False))
    service = docker.service("shop_worker")
    service["Spec"]["TaskTemplate"]["Placement"]["Constraints"] = ["node.labels.storage==ssd"]
    with pytest.raises(UsageError, match="shop_worker would have no node to run on"):
        await cli_ops._node(ops, node_args("label", "prod-w1", labels=["disk=nvme"],
                                           rm=["storage"], yes=False))
    out = capsys.readouterr().out
    assert "  add     disk=nvme" in out and "  remove  storage (was ssd)" in out
    assert "shop_worker (uses node.labels.storage==ssd): becomes UNPLACEABLE" in out
    assert node_labels(docker, "prod-w1") == {"storage": "ssd", "zone": "a"}


async def test_setting_what_is_already_there_asks_nothing(ops, docker, capsys):
    assert await cli_ops._node(ops, node_args("label", "prod-w1", labels=["zone=a"], rm=[],
                                              yes=False)) == 0
    assert "nothing to change" in capsys.readouterr().out
    assert docker.posts == []


@pytest.mark.parametrize("action, hostname, says", [
    ("demote", "prod-w1", "prod-w1 is already a worker: nothing to change"),
    ("promote", "prod-m1", "prod-m1 is already a manager: nothing to change"),
    ("activate", "prod-w2", "prod-w2 is already active: nothing to change"),
])
async def test_no_ops_are_refused_before_asking(ops, docker, capsys, monkeypatch, action,
                                                hostname, says):
    # no terminal and no --yes: asking would fail, so reaching the question would show
    monkeypatch.setattr("sys.stdin", SimpleNamespace(isatty=lambda: False))
    assert await cli_ops._node(ops, node_args(action, hostname, yes=False)) == 0
    assert capsys.readouterr().out.strip() == says
    assert docker.posts == []


async def test_drained_node_is_not_drained_again(ops, docker, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", SimpleNamespace(isatty=lambda: False))
    docker.node("prod-w1")["Spec"]["Availability"] = "drain"
    assert await cli_ops._node(ops, node_args("drain", "prod-w1", yes=False)) == 0
    assert capsys.readouterr().out.strip() == "prod-w1 is already drained: nothing to change"


async def test_drain_prints_the_plan_then_follows_the_tasks(ops, docker, capsys):
    assert await cli_ops._node(ops, node_args("drain", "prod-w1")) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:4] == [
        "drain prod-w1 on prod:", "  2 tasks stop on prod-w1:",
        "    monitoring_agent: stops here (a global service runs one task per node)",
        "    shop_worker.3: moves (can run on: prod-m1, prod-m2, prod-m3, prod-w2)"]
    assert "prod-w1: availability active -> drain" in out
    assert "  shop_worker: 3/3 running -> converged" in out
    assert "  monitoring_agent: 4/4 running -> converged" in out
