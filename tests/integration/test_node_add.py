"""Adding a host to a swarm on the real lab: spare-1 joins staging; every preflight failure
names its step and leaves the cluster as it was. Each test puts staging back to its 2 nodes
and spare-1 out of any swarm, whatever happened."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time

import pytest

from swarmdeck.core.audit import AuditLog
from swarmdeck.core.config import load_config
from swarmdeck.core.destinations import parse_destination
from swarmdeck.core.errors import (
    DockerUnavailable,
    HostUnreachable,
    ReadOnly,
    Refused,
    SwarmdeckError,
    UsageError,
)
from swarmdeck.core.fleet import open_ops, ssh_settings
from swarmdeck.core.ops.base import ClusterOps
from swarmdeck.core.ops.join import _check_reach, add_node
from swarmdeck.core.transport.session import ManagerSession

STEPS = ["connect", "docker", "swarm", "advertise", "reach", "join", "ready"]


@pytest.fixture
async def staging(lab, tmp_path):
    config = load_config(lab.config_file)
    ops = await open_ops(config, "staging", audit=AuditLog(tmp_path / "audit.jsonl"))
    try:
        yield ops, ssh_settings(config, "staging")
    finally:
        await ops.session.close()


def staging_nodes(lab) -> list[tuple[str, str, str]]:
    """(ID, hostname, status) of every node staging-m1 lists."""
    out = lab.docker_on("staging-m1", "node", "ls", "--format",
                        "{{.ID}} {{.Hostname}} {{.Status}}")
    return sorted(tuple(line.split()) for line in out.splitlines() if line.strip())


def swarm_state(lab, node: str) -> str:
    return lab.docker_on(node, "info", "--format", "{{.Swarm.LocalNodeState}}").strip()


def put_back(lab, hostname: str) -> None:
    """The host leaves whatever swarm it joined; staging forgets it."""
    with contextlib.suppress(SwarmdeckError):  # not in a swarm: nothing to leave
        lab.docker_on(hostname, "swarm", "leave", "--force")
    deadline = time.monotonic() + 60
    while True:
        stale = [i for i, name, _status in staging_nodes(lab) if name == hostname]
        if not stale:
            break
        assert time.monotonic() < deadline, f"staging still lists {hostname}: {stale}"
        for node_id in stale:
            with contextlib.suppress(SwarmdeckError):
                lab.docker_on("staging-m1", "node", "rm", "--force", node_id)
        time.sleep(0.5)
    assert swarm_state(lab, hostname) == "inactive"


def audit_lines(ops: ClusterOps) -> list[dict]:
    return ops.audit.read()


async def test_spare_joins_staging_as_a_ready_worker(lab, staging):
    ops, settings = staging
    assert swarm_state(lab, "spare-1") == "inactive", "spare-1 should start in no swarm"
    token = (await ops.swarm())["JoinTokens"]["Worker"]
    progress: list[str] = []
    try:
        node = await add_node(ops, "spare-1", "worker", settings=settings,
                              progress=progress.append)

        assert node["Description"]["Hostname"] == "spare-1"
        assert node["Spec"]["Role"] == "worker"
        assert node["Status"]["State"] == "ready"
        assert node["Status"]["Addr"] == "10.213.0.18"  # found through `ip route get`
        listed = {(name, status) for _id, name, status in staging_nodes(lab)}
        assert ("spare-1", "Ready") in listed
        assert swarm_state(lab, "spare-1") == "active"

        started = [line.split(":")[0] for line in progress
                   if line.split(":")[0] in STEPS]
        assert list(dict.fromkeys(started)) == STEPS
        assert not any(token in line or "SWMTKN" in line for line in progress)

        entries = [e for e in audit_lines(ops) if e["action"] == "node add"]
        assert len(entries) == 1
        assert entries[0]["target"] == "spare-1" and entries[0]["result"] == "ok"
        assert entries[0]["params"]["role"] == "worker"
        text = ops.audit.path.read_text()
        assert token not in text and "SWMTKN" not in text and token[-8:] not in text
    finally:
        put_back(lab, "spare-1")
    assert sorted(name for _id, name, _s in staging_nodes(lab)) == ["staging-m1", "staging-w1"]


async def test_unreachable_host_fails_at_connect(lab, staging):
    ops, settings = staging
    before = staging_nodes(lab)
    quick = dataclasses.replace(settings, connect_timeout=2)
    started = time.monotonic()
    with pytest.raises(HostUnreachable) as caught:
        await add_node(ops, "10.213.0.250", "worker", settings=quick)
    assert time.monotonic() - started < 15
    message = str(caught.value)
    assert message.startswith("connect: ssh to ") and "10.213.0.250" in message, message
    assert staging_nodes(lab) == before
    (entry,) = audit_lines(ops)
    assert entry["result"] == "error" and entry["error"].startswith("connect: ")


async def test_host_in_another_swarm_is_refused_before_any_change(lab, staging):
    ops, settings = staging
    before = staging_nodes(lab)
    prod_w1_id = lab.docker_on("prod-w1", "info", "--format", "{{.Swarm.NodeID}}").strip()
    try:
        with pytest.raises(Refused) as caught:
            await add_node(ops, "prod-w1", "worker", settings=settings)
        message = str(caught.value)
        assert message.startswith("swarm: prod-w1 is already in another swarm"), message
        assert prod_w1_id[:12] in message
        assert "docker swarm leave" in message
        assert staging_nodes(lab) == before
        assert swarm_state(lab, "prod-w1") == "active"
        assert lab.docker_on("prod-w1", "info", "--format",
                             "{{.Swarm.NodeID}}").strip() == prod_w1_id
    finally:
        # should prod-w1 ever have been moved, staging must not keep it
        assert "prod-w1" not in {name for _id, name, _s in staging_nodes(lab)}


async def test_engine_without_its_socket_fails_at_docker(lab, staging):
    """The cluster's docker_socket is where the new host's engine is looked for: a path
    with nothing behind it reads as a daemon that is not running, not as an SSH problem."""
    ops, settings = staging
    session = ops.session
    elsewhere = ManagerSession(session.destination, session.conn, session.resolved,
                               "/run/swarmdeck-no-such.sock")  # same connection: not closed
    odd = ClusterOps(ops.cluster, elsewhere, audit=ops.audit)
    with pytest.raises(DockerUnavailable) as caught:
        await add_node(odd, "spare-1", "worker", settings=settings)
    message = str(caught.value)
    assert message.startswith("docker: the Docker daemon is not running on "), message
    assert "/run/swarmdeck-no-such.sock" in message and "systemctl start docker" in message
    assert swarm_state(lab, "spare-1") == "inactive"


async def test_reach_probe_tells_open_from_closed_ports(lab, staging):
    """The probe runs on the new host (spare-1 has bash but no nc): a manager port that
    refuses fails the step for a manager, and only warns for a worker that reaches another."""
    _ops, settings = staging
    host = await ManagerSession.open(parse_destination("spare-1"), settings)
    try:
        with pytest.raises(HostUnreachable) as caught:
            await _check_reach(host, "spare-1", "manager",
                               ["10.213.0.16:2377", "10.213.0.16:2378"], print)
        assert "cannot reach the manager 10.213.0.16:2378 (checked with bash" \
            in str(caught.value)
        warnings: list[str] = []
        await _check_reach(host, "spare-1", "worker", ["10.213.0.16:2378", "10.213.0.16:2377"],
                           warnings.append)
        assert warnings == ["reach: warning: spare-1 cannot reach 10.213.0.16:2378 (checked "
                            "with bash); joining through the others"]
    finally:
        await host.close()


async def test_bad_role_is_a_usage_error_and_touches_nothing(lab, staging):
    ops, settings = staging
    with pytest.raises(UsageError) as caught:
        await add_node(ops, "spare-1", "leader", settings=settings)
    assert "role 'leader'" in str(caught.value)
    assert "worker or manager" in str(caught.value)
    assert audit_lines(ops) == []
    assert swarm_state(lab, "spare-1") == "inactive"


async def test_read_only_cluster_refuses_and_audits(lab, staging):
    ops, settings = staging
    locked = ClusterOps(ops.cluster, ops.session, audit=ops.audit, read_only="test")
    before = staging_nodes(lab)
    progress: list[str] = []
    try:
        with pytest.raises(ReadOnly) as caught:
            await add_node(locked, "spare-1", "worker", settings=settings,
                           progress=progress.append)
        assert "node add refused: cluster staging is read-only (test)" in str(caught.value)
        assert progress == []  # refused before even connecting
        (entry,) = audit_lines(ops)
        assert (entry["action"], entry["target"], entry["result"]) == \
            ("node add", "spare-1", "refused")
        assert json.dumps(entry).count("SWMTKN") == 0
        assert staging_nodes(lab) == before
        assert swarm_state(lab, "spare-1") == "inactive"
    finally:
        if swarm_state(lab, "spare-1") != "inactive":
            put_back(lab, "spare-1")
