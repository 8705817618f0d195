"""What a rollback would change, from a service's spec now to its previous one, on recorded
lab data: told with deploy's spec comparison, secrets masked; refused with no previous spec."""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from fake_cluster import FakeDocker

from swarmdeck.cli import ops as cli_ops
from swarmdeck.core.audit import AuditLog
from swarmdeck.core.errors import Refused, UsageError
from swarmdeck.core.ops.base import ClusterOps
from swarmdeck.core.ops.rollback import plan_rollback

FIXTURES = Path(__file__).parent.parent / "fixtures" / "lab_prod"
IMAGE = "10.213.0.1:5000/swarmdeck/demo"
NETWORKS = {"lalp39ci5nen03qyvjys6z8q4": "shop_default"}


def shop_web() -> dict:
    services = json.loads((FIXTURES / "services.json").read_text())
    return copy.deepcopy(next(s for s in services if s["Spec"]["Name"] == "shop_web"))


def updated(data: dict) -> dict:
    """shop_web after an update outside its stack file: the previous spec is the recorded
    one; the stack's image label still names 1.0."""
    data["PreviousSpec"] = copy.deepcopy(data["Spec"])
    spec = data["Spec"]
    container = spec["TaskTemplate"]["ContainerSpec"]
    container["Image"] = f"{IMAGE}:1.1@sha256:" + "b" * 64
    container["Env"] = ["DB_PASSWORD=hunter2", "MODE=fast"]
    spec["Mode"]["Replicated"]["Replicas"] = 3
    spec["EndpointSpec"]["Ports"][0]["PublishedPort"] = 8081
    spec["TaskTemplate"]["Placement"]["Constraints"] = ["node.role==worker"]
    spec["TaskTemplate"]["Resources"]["Limits"]["MemoryBytes"] = 128 << 20
    return data


def test_the_rollback_is_told_from_now_to_the_previous_spec():
    plan = plan_rollback(updated(shop_web()), NETWORKS)
    assert plan.lines() == [
        "what changes (now -> after the rollback):",
        f"  image: {IMAGE}:1.1 -> {IMAGE}:1.0",
        "  replicas: 3 -> 2",
        "  env removed: DB_PASSWORD",
        "  env removed: MODE",
        "  ports added: host:8080->8080/tcp",
        "  ports removed: host:8081->8080/tcp",
        "  constraints removed: node.role==worker",
        "  resources changed: limits memory=128 MiB -> 64 MiB",
    ]


def test_secret_looking_values_are_masked():
    data = updated(shop_web())
    data["PreviousSpec"]["TaskTemplate"]["ContainerSpec"]["Env"] = [
        "DB_PASSWORD=old-secret", "API_KEY=abc123", "MODE=slow"]
    text = "\n".join(plan_rollback(data, NETWORKS).lines())
    assert "env changed: DB_PASSWORD (value hidden)" in text
    assert "env added: API_KEY=****" in text and "env changed: MODE=fast -> slow" in text
    for secret in ("hunter2", "old-secret", "abc123"):
        assert secret not in text


def test_no_previous_spec_is_refused_before_asking():
    with pytest.raises(Refused, match="shop_web has no previous spec to roll back to"):
        plan_rollback(shop_web(), NETWORKS)


def test_the_same_spec_says_so():
    data = shop_web()
    data["PreviousSpec"] = copy.deepcopy(data["Spec"])
    data["PreviousSpec"]["TaskTemplate"]["ForceUpdate"] = 1  # a restart: not a spec change
    assert plan_rollback(data, NETWORKS).lines() == [
        "its previous spec is the same as the current one: nothing in the spec changes"]


def fake_ops(docker: FakeDocker, tmp_path: Path) -> ClusterOps:
    return ClusterOps("prod", SimpleNamespace(docker=docker, label="prod-m1 (fake)"),
                      audit=AuditLog(tmp_path / "audit.jsonl"))


def rollback_args(yes: bool) -> argparse.Namespace:
    return argparse.Namespace(service="shop_web", yes=yes, detach=True, timeout=30)


async def test_the_cli_prints_the_changes_before_asking(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", SimpleNamespace(isatty=lambda: False))
    docker = FakeDocker("prod")
    service = docker.service("shop_web")
    service.update(updated(copy.deepcopy(service)))
    with pytest.raises(UsageError, match="refused without confirmation"):
        await cli_ops._rollback(fake_ops(docker, tmp_path), rollback_args(yes=False))
    out = capsys.readouterr().out.splitlines()
    assert out[:3] == ["what changes (now -> after the rollback):",
                       f"  image: {IMAGE}:1.1 -> {IMAGE}:1.0", "  replicas: 3 -> 2"]
    assert docker.posts == []


async def test_the_cli_refuses_without_a_previous_spec_before_asking(tmp_path, monkeypatch):
    monkeypatch.setattr("sys.stdin", SimpleNamespace(isatty=lambda: False))
    docker = FakeDocker("prod")
    with pytest.raises(Refused, match="no previous spec"):
        await cli_ops._rollback(fake_ops(docker, tmp_path), rollback_args(yes=False))
