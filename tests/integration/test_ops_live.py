"""The operations through the real `swarmdeck` command against the lab: each change is
checked with the docker CLI on a lab node, refusals change nothing, every attempt is audited.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

import pytest
from cli_checks import ok, refused

from swarmdeck.core.errors import LabError
from swarmdeck.lab import faults

IMAGE_1_0 = "10.213.0.1:5000/swarmdeck/demo:1.0"
IMAGE_1_1 = "10.213.0.1:5000/swarmdeck/demo:1.1"


def audit_lines() -> list[dict]:
    path = Path(os.environ["XDG_STATE_HOME"]) / "swarmdeck" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() \
        else []


def replicas(lab, service: str) -> int:
    out = lab.docker_on("prod-m1", "service", "inspect", service,
                        "--format", "{{.Spec.Mode.Replicated.Replicas}}")
    return int(out.strip())


def image_of(lab, service: str) -> str:
    out = lab.docker_on("prod-m1", "service", "inspect", service,
                        "--format", "{{.Spec.TaskTemplate.ContainerSpec.Image}}")
    return out.strip().split("@")[0]


def running_tasks(lab, service: str) -> set[str]:
    out = lab.docker_on("prod-m1", "service", "ps", service, "--filter",
                        "desired-state=running", "--format", "{{.ID}} {{.CurrentState}}")
    return {line.split()[0] for line in out.splitlines() if "Running" in line}


def test_scale_update_rollback_restart(lab, swarmdeck):
    out = ok(swarmdeck("scale", "-c", "prod", "shop_worker=4", "--yes"))
    assert "shop_worker 3 -> 4" in out and "4/4 running -> converged" in out
    assert replicas(lab, "shop_worker") == 4
    ok(swarmdeck("scale", "-c", "prod", "shop_worker=3", "--yes"))
    assert replicas(lab, "shop_worker") == 3

    out = ok(swarmdeck("update", "-c", "prod", "shop_web", "--image", IMAGE_1_1, "--yes",
                       timeout=120))
    assert "converged" in out and image_of(lab, "shop_web") == IMAGE_1_1
    out = ok(swarmdeck("rollback", "-c", "prod", "shop_web", "--yes", timeout=120))
    assert "rolled back" in out and image_of(lab, "shop_web") == IMAGE_1_0

    before = running_tasks(lab, "shop_worker")
    out = ok(swarmdeck("restart", "-c", "prod", "shop_worker", "--yes", timeout=120))
    assert "update completed -> converged" in out
    after = running_tasks(lab, "shop_worker")
    assert len(after) == 3 and not before & after  # every task replaced

    actions = [(e["action"], e["target"], e["result"]) for e in audit_lines()]
    assert actions == [("scale", "shop_worker", "ok"), ("scale", "shop_worker", "ok"),
                       ("update image", "shop_web", "ok"), ("rollback", "shop_web", "ok"),
                       ("restart", "shop_worker", "ok")]
    assert all(e["cluster"] == "prod" and e["manager"] for e in audit_lines())
    table = ok(swarmdeck("audit"))
    assert "update image  shop_web" in table and f"image={IMAGE_1_1}" in table
    last = [json.loads(line) for line in ok(swarmdeck("audit", "--json", "-n", "2")).splitlines()]
    assert [e["action"] for e in last] == ["rollback", "restart"]


def test_detach_returns_at_once(lab, swarmdeck):
    try:
        out = ok(swarmdeck("scale", "-c", "prod", "shop_worker=2", "--yes", "--detach"))
        assert out.strip() == "scaled shop_worker 3 -> 2"
    finally:
        ok(swarmdeck("scale", "-c", "prod", "shop_worker=3", "--yes"))


def test_remove_a_service_and_a_stack(lab, swarmdeck):
    for name in ("scratch_a", "scratch_b"):
        lab.docker_on("prod-m1", "service", "create", "--detach", "--name", name,
                      "--label", "com.docker.stack.namespace=scratch", "--endpoint-mode",
                      "dnsrr", IMAGE_1_0, "sleep", "3600")
    lab.docker_on("prod-m1", "service", "create", "--detach", "--name", "loner",
                  "--endpoint-mode", "dnsrr", IMAGE_1_0, "sleep", "3600")
    try:
        refused(swarmdeck("rm", "service", "-c", "prod", "lonr", "--yes"), 2,
                "did you mean 'loner'")
        out = ok(swarmdeck("rm", "service", "-c", "prod", "loner", "--yes"))
        assert out.strip() == "removed service loner"
        refused(swarmdeck("rm", "stack", "-c", "prod", "scrath", "--yes"), 2,
                "did you mean 'scratch'")
        out = ok(swarmdeck("rm", "stack", "-c", "prod", "scratch", "--yes"))
        assert "scratch_a" in out and "scratch_b" in out
        names = lab.docker_on("prod-m1", "service", "ls", "--format", "{{.Name}}").split()
        assert not {"loner", "scratch_a", "scratch_b"} & set(names)
        assert "shop_web" in names  # nothing else went
    finally:
        for name in ("scratch_a", "scratch_b", "loner"):
            with contextlib.suppress(LabError):
                lab.docker_on("prod-m1", "service", "rm", name)


def test_read_only_refuses_every_change_and_audits_it(lab, swarmdeck, tmp_path):
    changes = [
        ("scale", "-c", "prod", "shop_worker=5", "--yes"),
        ("update", "-c", "prod", "shop_web", "--image", IMAGE_1_1, "--yes"),
        ("restart", "-c", "prod", "shop_web", "--yes"),
        ("rollback", "-c", "prod", "shop_web", "--yes"),
        ("rm", "service", "-c", "prod", "shop_web", "--yes"),
        ("rm", "stack", "-c", "prod", "shop", "--yes"),
        ("node", "drain", "-c", "prod", "prod-w1", "--yes"),
        ("node", "promote", "-c", "prod", "prod-w1", "--yes"),
        ("node", "label", "-c", "prod", "prod-w1", "a=b", "--yes"),
        ("node", "rm", "-c", "prod", "prod-w1", "--yes"),
        ("token", "rotate", "worker", "-c", "prod", "--yes"),
    ]
    for change in changes:
        refused(swarmdeck("--read-only", *change), 1, "refused: cluster prod is read-only")
    # the same through the config: read_only = true on the cluster
    config = tmp_path / "config.toml"
    config.write_text(lab.config_file.read_text().replace(
        "[clusters.prod]\n", "[clusters.prod]\nread_only = true\n"))
    config.chmod(0o600)
    refused(swarmdeck("scale", "-c", "prod", "shop_worker=5", "--yes", config=config), 1,
            "read_only = true")
    assert replicas(lab, "shop_worker") == 3
    assert image_of(lab, "shop_web") == IMAGE_1_0
    nodes = lab.docker_on("prod-m1", "node", "ls", "--format", "{{.Hostname}} "
                          "{{.Availability}} {{.ManagerStatus}}")
    assert "prod-w1 Active \n" in nodes + "\n" or "prod-w1 Active" in nodes
    lines = audit_lines()
    assert len(lines) == len(changes) + 1
    assert {e["result"] for e in lines} == {"refused"}


def test_no_terminal_and_no_yes_changes_nothing(lab, swarmdeck):
    refused(swarmdeck("scale", "-c", "prod", "shop_worker=5"), 2, "pass --yes")
    refused(swarmdeck("node", "drain", "-c", "prod", "prod-w1"), 2, "pass --yes")
    assert replicas(lab, "shop_worker") == 3


@pytest.mark.parametrize("args, says", [
    (("scale", "-c", "prod", "shop_worker=-1", "--yes"), "non-negative integer"),
    (("scale", "-c", "prod", "shop_worker=many", "--yes"), "non-negative integer"),
    (("scale", "-c", "prod", "shop_wroker=2", "--yes"), "did you mean 'shop_worker'"),
    (("scale", "-c", "prod", "monitoring_agent=2", "--yes"), "global service"),
    (("update", "-c", "prod", "shop_web", "--image", "Not An Image", "--yes"),
     "not a valid image reference"),
    (("node", "drain", "-c", "prod", "prod-w9", "--yes"), "no node 'prod-w9'"),
    (("node", "label", "-c", "prod", "prod-w1", "novalue", "--yes"), "KEY=VALUE"),
    (("scale", "-c", "nope", "shop_worker=2", "--yes"), "unknown cluster 'nope'"),
    (("scale", "shop_worker=2", "--yes"), "which cluster?"),
    (("rollback", "-c", "prod", "monitoring_collector", "--yes"), "no previous spec"),
    (("node", "demote", "-c", "staging", "staging-m1", "--yes"), "last manager"),
])
def test_bad_input_says_what_to_fix(lab, swarmdeck, args, says):
    result = swarmdeck(*args)
    assert result.returncode in (1, 2), result.stderr
    assert says in result.stderr and "Traceback" not in result.stderr


def wait_for(predicate, timeout: float, what: str, lab=None) -> None:
    """LAB: on a time-out, say how prod's swarm looked from each manager (a stuck raft)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            views = ""
            if lab is not None:
                for manager in ("prod-m1", "prod-m2", "prod-m3"):
                    try:
                        views += f"\n{manager}: " + lab.docker_on(
                            manager, "node", "ls", "--format",
                            "{{.Hostname}} {{.Status}} {{.Availability}} {{.ManagerStatus}}")
                    except LabError as exc:
                        views += f"\n{manager}: {exc}"
            raise AssertionError(f"timed out waiting until {what}{views}")
        time.sleep(0.5)


def join_refusal(exc: LabError) -> str:
    """What the daemon answered a `swarm join` (the command line itself names --token)."""
    return str(exc).partition(" failed: ")[2]


def test_node_availability_labels_and_roles(lab, swarmdeck):
    def node_field(name: str, field: str) -> str:
        return lab.docker_on("prod-m1", "node", "inspect", name, "--format", field).strip()

    # a promotion needs a healthy raft: earlier tests kill managers' daemons
    faults.wait_swarm_healthy(lab, "prod", 120)
    try:
        # a drain is followed until its tasks have moved: give it time
        out = ok(swarmdeck("node", "drain", "-c", "prod", "prod-w2", "--yes", timeout=240))
        assert "active -> drain" in out
        assert node_field("prod-w2", "{{.Spec.Availability}}") == "drain"
        wait_for(lambda: not lab.docker_on("prod-m1", "node", "ps", "prod-w2", "--filter",
                                           "desired-state=running", "-q").strip(),
                 60, "prod-w2's tasks moved")
        ok(swarmdeck("node", "pause", "-c", "prod", "prod-w2", "--yes"))
        assert node_field("prod-w2", "{{.Spec.Availability}}") == "pause"
        ok(swarmdeck("node", "activate", "-c", "prod", "prod-w2", "--yes"))
        assert node_field("prod-w2", "{{.Spec.Availability}}") == "active"

        ok(swarmdeck("node", "label", "-c", "prod", "prod-w2", "zone=b", "disk=ssd", "--yes"))
        assert json.loads(node_field("prod-w2", "{{json .Spec.Labels}}")) == \
            {"zone": "b", "disk": "ssd"}
        ok(swarmdeck("node", "label", "-c", "prod", "prod-w2", "--rm", "zone", "--yes"))
        assert json.loads(node_field("prod-w2", "{{json .Spec.Labels}}")) == {"disk": "ssd"}

        ok(swarmdeck("node", "promote", "-c", "prod", "prod-w2", "--yes"))
        assert node_field("prod-w2", "{{.Spec.Role}}") == "manager"
        reachability = "{{if .ManagerStatus}}{{.ManagerStatus.Reachability}}{{end}}"
        wait_for(lambda: node_field("prod-w2", reachability) == "reachable", 120,
                 "prod-w2 is a reachable manager", lab)
        ok(swarmdeck("node", "demote", "-c", "prod", "prod-w2", "--yes"))
        assert node_field("prod-w2", "{{.Spec.Role}}") == "worker"
    finally:
        with contextlib.suppress(LabError):
            lab.docker_on("prod-m1", "node", "update", "--availability", "active",
                          "--label-rm", "disk", "prod-w2")
        # never leave prod-w2 a manager for the next tests (they count prod's managers)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with contextlib.suppress(LabError):
                if node_field("prod-w2", "{{.Spec.Role}}") == "worker":
                    break
                lab.docker_on("prod-m1", "node", "demote", "prod-w2")
            time.sleep(1)
        with contextlib.suppress(LabError):
            faults.wait_swarm_healthy(lab, "prod", 120)


def test_token_rotation_refuses_the_old_token_and_node_rm(lab, swarmdeck):
    """A real join with the old token is refused after rotation, the new one works, the
    nodes already in stay; then `node rm` drains, lets the new node leave and removes it."""
    manager = "10.213.0.11:2377"
    shown = ok(swarmdeck("token", "show", "worker", "-c", "prod")).strip()
    old = ok(swarmdeck("token", "show", "worker", "-c", "prod", "--reveal")).strip()
    assert old.startswith("SWMTKN-1-") and shown != old and shown.endswith(old[-4:])
    before = lab.docker_on("prod-m1", "node", "ls", "--format", "{{.Hostname}} {{.Status}}")
    out = ok(swarmdeck("token", "rotate", "worker", "-c", "prod", "--yes", "--reveal"))
    new = out.strip().rsplit(" ", 1)[-1]
    assert new.startswith("SWMTKN-1-") and new != old
    assert ok(swarmdeck("token", "show", "worker", "-c", "prod", "--reveal")).strip() == new
    try:
        with pytest.raises(LabError) as refusal:
            lab.docker_on("spare-2", "swarm", "join", "--token", old, manager)
        assert "token" in join_refusal(refusal.value).lower(), refusal.value
        lab.docker_on("spare-2", "swarm", "join", "--token", new, manager)
        wait_for(lambda: "spare-2 Ready" in lab.docker_on(
            "prod-m1", "node", "ls", "--format", "{{.Hostname}} {{.Status}}"), 60,
            "spare-2 is ready", lab)
        after = lab.docker_on("prod-m1", "node", "ls", "--format", "{{.Hostname}} {{.Status}}")
        assert set(before.splitlines()) < set(after.splitlines())  # everyone stayed

        out = ok(swarmdeck("node", "rm", "-c", "prod", "spare-2", "--yes", timeout=240))
        assert "removed node spare-2" in out and "forced" not in out
        assert "leaving the swarm" in out
        assert "spare-2" not in lab.docker_on("prod-m1", "node", "ls")
        assert "inactive" in lab.docker_on("spare-2", "info", "--format",
                                           "{{.Swarm.LocalNodeState}}")
    finally:
        with contextlib.suppress(LabError):
            lab.docker_on("spare-2", "swarm", "leave", "--force")
        ids = lab.docker_on("prod-m1", "node", "ls", "--filter", "name=spare-2", "-q").split()
        for node_id in ids:
            with contextlib.suppress(LabError):
                lab.docker_on("prod-m1", "node", "rm", "--force", node_id)
    text = json.dumps(audit_lines())
    assert old not in text and new not in text  # tokens never reach the audit log


def _forget_node(lab, cluster_manager: str, host: str) -> None:
    """Undo a join whatever state it reached: demote, leave, remove."""
    with contextlib.suppress(LabError):
        lab.docker_on(cluster_manager, "node", "demote", host)
    with contextlib.suppress(LabError):
        lab.docker_on(host, "swarm", "leave", "--force")
    ids = lab.docker_on(cluster_manager, "node", "ls", "--filter", f"name={host}", "-q").split()
    for node_id in ids:
        with contextlib.suppress(LabError):
            lab.docker_on(cluster_manager, "node", "rm", "--force", node_id)


def test_node_add_as_a_manager_then_node_rm(lab, swarmdeck):
    """spare-1 joins prod as a manager through `node add` (preflight, join, ready); then
    `node rm` drains it, demotes it, lets it leave over SSH and removes it."""
    faults.wait_swarm_healthy(lab, "prod", 120)  # a manager joins only a healthy raft
    try:
        out = ok(swarmdeck("node", "add", "spare-1", "-c", "prod", "--role", "manager",
                           "--yes", timeout=180))
        assert "joined spare-1 to prod as a manager: ready" in out
        for step in ("connect", "docker", "swarm", "advertise", "reach", "join", "ready"):
            assert f"  {step}:" in out, out
        nodes = lab.docker_on("prod-m1", "node", "ls", "--format",
                              "{{.Hostname}} {{.Status}} {{.ManagerStatus}}")
        assert "spare-1 Ready Reachable" in nodes

        again = swarmdeck("node", "add", "spare-1", "-c", "prod", "--yes")
        assert again.returncode == 1 and "swarm: spare-1 is already" in again.stderr

        out = ok(swarmdeck("node", "rm", "-c", "prod", "spare-1", "--yes", timeout=240))
        assert "demoting" in out and "leaving the swarm" in out
        assert "removed node spare-1" in out and "forced" not in out
        assert "spare-1" not in lab.docker_on("prod-m1", "node", "ls")
        assert lab.docker_on("spare-1", "info", "--format",
                             "{{.Swarm.LocalNodeState}}").strip() == "inactive"
        managers = lab.docker_on("prod-m1", "node", "ls", "--filter", "role=manager", "-q")
        assert len(managers.split()) == 3
    finally:
        _forget_node(lab, "prod-m1", "spare-1")
    actions = [(e["action"], e["target"], e["result"]) for e in audit_lines()]
    assert actions == [("node add", "spare-1", "ok"), ("node add", "spare-1", "error"),
                       ("node remove", "spare-1", "ok")]


def test_node_add_refuses_an_unreachable_host(lab, swarmdeck, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(lab.config_file.read_text().replace(
        "[ssh]\n", "[ssh]\nconnect_timeout = 3\n"))
    config.chmod(0o600)
    result = swarmdeck("node", "add", "root@10.213.0.250", "-c", "staging", "--yes",
                       config=config)
    assert result.returncode == 1 and "connect:" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert len(lab.docker_on("staging-m1", "node", "ls", "-q").split()) == 2


def test_a_failing_update_rolls_back_and_says_why(lab, swarmdeck):
    """shop_web's update_config says failure_action: rollback; an image that does not exist
    fails its first task, swarm rolls back, and the command says so with the task error."""
    try:
        result = swarmdeck("update", "-c", "prod", "shop_web", "--image",
                           "10.213.0.1:5000/swarmdeck/demo:missing", "--yes", timeout=240)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "rolled back" in result.stderr and "Traceback" not in result.stderr
        assert "task error" in result.stdout + result.stderr
        assert image_of(lab, "shop_web") == IMAGE_1_0
    finally:
        if image_of(lab, "shop_web") != IMAGE_1_0:
            lab.docker_on("prod-m1", "service", "update", "--image", IMAGE_1_0, "shop_web",
                          timeout=180)
