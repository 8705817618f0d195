"""What `swarmdeck init` offers: the ssh config's Hosts (patterns left out, Include followed),
docker contexts over ssh://, and the managers that answered grouped by swarm."""

from __future__ import annotations

import json
from pathlib import Path

from swarmdeck.core.destinations import Destination
from swarmdeck.core.discovery import Candidate, Probe, candidates, ssh_hosts, swarms
from swarmdeck.core.errors import NotAManager
from swarmdeck.core.models import SwarmInfo


def test_ssh_hosts_skip_patterns_and_follow_include(isolated_env: Path) -> None:
    ssh = isolated_env / ".ssh"
    (ssh / "conf.d").mkdir(parents=True)
    (ssh / "config").write_text(
        "# mine\nHost bastion\n  HostName 10.0.0.1\nHost=web-* !db *.lan db1 \"db2\"\n"
        "Include conf.d/*.conf\nMatch host x\n  User y\nhost prod-m1\n")
    (ssh / "conf.d" / "lab.conf").write_text("Host lab-m1 lab-m2\nHost bastion\n")
    (ssh / "conf.d" / "loop.conf").write_text("Include conf.d/loop.conf\nHost looped\n")
    assert ssh_hosts(env={"HOME": str(isolated_env)}) == [
        "bastion", "db1", "db2", "lab-m1", "lab-m2", "looped", "prod-m1"]
    assert ssh_hosts([str(ssh / "conf.d" / "lab.conf")]) == ["lab-m1", "lab-m2", "bastion"]
    assert ssh_hosts(["/nonexistent"]) == []


def test_candidates_are_ssh_contexts_then_hosts(isolated_env: Path) -> None:
    for name, host in (("edge", "ssh://ops@edge:2222"), ("local", "unix:///var/run/d.sock")):
        meta = isolated_env / ".docker" / "contexts" / "meta" / name
        meta.mkdir(parents=True)
        (meta / "meta.json").write_text(json.dumps(
            {"Name": name, "Endpoints": {"docker": {"Host": host}}}))
    (isolated_env / ".ssh").mkdir()
    (isolated_env / ".ssh" / "config").write_text("Host m1\n")
    found = candidates()
    assert [(c.label, c.destination, c.source) for c in found] == [
        ("edge", Destination("ops", "edge", 2222), "docker context edge (ssh://ops@edge:2222)"),
        ("m1", Destination(None, "m1"), "ssh config Host m1")]


def manager(swarm: str) -> SwarmInfo:
    return SwarmInfo(cluster_id=swarm, nodes=3, managers=3, local_state="active",
                     control_available=True)


def test_swarms_group_managers_and_name_them() -> None:
    def host(alias: str) -> Candidate:
        return Candidate(Destination(None, alias), f"Host {alias}", alias=alias)

    probes = [
        Probe(Candidate(Destination("ops", "10.0.0.1"), "ctx", context="prodctx"),
              info=manager("P")),
        Probe(host("prod-m1"), info=manager("P")),
        Probe(host("prod-m2"), info=manager("P")),
        Probe(host("prod-w1"), error=NotAManager("worker")),
        Probe(Candidate(Destination(None, "s"), "ctx", context="stage"), info=manager("S")),
        Probe(host("db-manager3"), info=manager("D")),
        Probe(host("taken-m1"), info=manager("T")),
    ]
    found = swarms(probes, taken=["taken"])
    assert [(s.name, s.entry.describe(), s.info.cluster_id, len(s.found_through))
            for s in found] == [
        ("prodctx", "managers prod-m1, prod-m2", "P", 3),  # Hosts: failover between them
        ("stage", "docker context stage", "S", 1),
        ("db", "managers db-manager3", "D", 1),
        ("taken-2", "managers taken-m1", "T", 1),
    ]
