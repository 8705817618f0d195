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
