"""`swarmdeck doctor` on the lab's staging swarm: what it finds in a real cluster and in
throwaway `doc-` services made to be wrong. The lab's own services are never touched."""

from __future__ import annotations

import contextlib
import json
import time

from swarmdeck.core.errors import LabError

MANAGER = "staging-m1"
NODES = ("staging-m1", "staging-w1")
IMAGE = "10.213.0.1:5000/swarmdeck/demo:1.0"


def doctor_json(swarmdeck) -> tuple[int, list[dict]]:
    proc = swarmdeck("doctor", "-c", "staging", "--json")
    assert proc.returncode in (0, 1), proc.stderr
    data = json.loads(proc.stdout)
    assert [c["cluster"] for c in data] == ["staging"]
    assert proc.returncode == (0 if data[0]["ok"] else 1)
    return proc.returncode, data[0]["findings"]


def wait_for_finding(swarmdeck, check: str, subject: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        _, findings = doctor_json(swarmdeck)
        found = [f for f in findings if f["check"] == check and f["subject"] == subject]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no {check} for {subject} in {findings}"
        time.sleep(2)


def create(lab, name: str, *args: str) -> None:
    lab.docker_on(MANAGER, "service", "create", "--detach", "--name", name,
                  "--endpoint-mode", "dnsrr", *args)


def remove(lab, name: str) -> None:
    with contextlib.suppress(LabError):
        lab.docker_on(MANAGER, "service", "rm", name)


def test_one_manager_is_a_warning_that_explains_fault_tolerance(swarmdeck):
    proc = swarmdeck("doctor", "-c", "staging")
    assert proc.returncode in (0, 1), proc.stderr
    out = proc.stdout
    assert out.startswith("staging · 2 nodes, 1 manager, ")
    assert "  WARNING  1 manager: the swarm tolerates no manager failure" in out
    assert "1 tolerates 0" in out and "docker node promote" in out
    assert proc.returncode == (1 if "\n  ERROR " in out else 0)  # warnings alone: 0
    code, findings = doctor_json(swarmdeck)
    count = next(f for f in findings if f["check"] == "managers.count")
    assert count["severity"] == "warning" and count["subject"] == "cluster"
    assert set(count) == {"severity", "check", "subject", "what", "why", "fix"}


def test_a_constraint_no_node_satisfies(lab, swarmdeck):
    create(lab, "doc-nolabel", "--constraint", "node.labels.doc-none==yes", IMAGE,
           "sleep", "3600")
    try:
        found = wait_for_finding(swarmdeck, "service.placement", "service doc-nolabel")
        assert found["severity"] == "error"
        assert found["what"] == ("doc-nolabel: nodes missing labels that placement "
                                 "constraints need (node.labels.doc-none==yes)")
        assert "docker node update --label-add doc-none=yes NODE" in found["fix"]
        proc = swarmdeck("doctor", "-c", "staging")
        assert proc.returncode == 1  # an error
        assert "ERROR    doc-nolabel: nodes missing labels that placement constraints" \
               in proc.stdout
    finally:
        remove(lab, "doc-nolabel")
    _, findings = doctor_json(swarmdeck)
    assert not [f for f in findings if "doc-nolabel" in f["subject"]]


def test_an_image_nodes_cannot_pull(lab, swarmdeck):
    missing = IMAGE.replace(":1.0", ":doc-missing")
    create(lab, "doc-nopull", "--no-resolve-image", missing, "sleep", "3600")
    try:
        found = wait_for_finding(swarmdeck, "service.image_pull", "service doc-nopull")
        assert found["severity"] == "error"
        assert found["what"].startswith(f"doc-nopull: nodes cannot get image {missing} (")
        # the manager's registry lookup tells why (test_registries_live.py checks each cause)
        assert "the tag or the repository does not exist" in found["why"]
        assert f"docker push {missing}" in found["fix"]
    finally:
        remove(lab, "doc-nopull")


def test_a_local_image_without_registry_on_both_nodes(lab, swarmdeck):
    for node in NODES:
        lab.docker_on(node, "pull", "-q", IMAGE)
        lab.docker_on(node, "tag", IMAGE, "doc-local:1.0")
    # --no-resolve-image: like an image built on the nodes, never pushed anywhere
    create(lab, "doc-local", "--no-resolve-image", "--replicas", "2",
           "--replicas-max-per-node", "1", "doc-local:1.0", "sleep", "3600")
    try:
        found = wait_for_finding(swarmdeck, "service.local_image", "service doc-local")
        assert found["severity"] == "warning"
        assert "doc-local:1.0 names no registry and is not pinned to a digest" \
            in found["what"]
        assert "staging-m1, staging-w1" in found["why"]
    finally:
        remove(lab, "doc-local")
        for node in NODES:
            with contextlib.suppress(LabError):
                lab.docker_on(node, "image", "rm", "doc-local:1.0")
