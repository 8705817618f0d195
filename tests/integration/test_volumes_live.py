"""Volumes and containers on every node, read from each node's own engine: a volume that
exists only on a worker is listed with that node and the service using it; the doctor flags
an unpinned service keeping data in a local volume and not a pinned one; a volume in use is
not removed, an unused one is (audited); `ls containers` shows a task's container."""

from __future__ import annotations

import contextlib
import json
import time

from swarmdeck.core.audit import AuditLog
from swarmdeck.core.errors import LabError

IMAGE = "10.213.0.1:5000/swarmdeck/demo:1.0"
MANAGER = "prod-m1"


def docker(lab, *args: str) -> str:
    return lab.docker_on(MANAGER, *args, timeout=120)


def running(lab, service: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = docker(lab, "service", "ps", service, "--format", "{{.CurrentState}}")
        if states.startswith("Running"):
            return
        time.sleep(0.5)
    raise AssertionError(f"{service} did not start: {states}")


def test_volumes_containers_and_the_local_volume_finding(lab, swarmdeck):
    try:
        docker(lab, "service", "create", "--name", "rt_pinned", "--detach", "--replicas", "1",
               "--constraint", "node.hostname==prod-w1",
               "--mount", "type=volume,source=rt_data,target=/data", IMAGE, "sleep", "3600")
        docker(lab, "service", "create", "--name", "rt_loose", "--detach", "--replicas", "1",
               "--constraint", "node.role==worker",
               "--mount", "type=volume,source=rt_loose_data,target=/data",
               IMAGE, "sleep", "3600")
        running(lab, "rt_pinned")
        running(lab, "rt_loose")

        done = swarmdeck("volume", "ls", "-c", "prod", "--json")
        assert done.returncode == 0, done.stderr
        rows = json.loads(done.stdout)
        [data] = [r for r in rows if r["name"] == "rt_data"]
        assert data["node"] == "prod-w1" and data["used_by"] == ["rt_pinned"]
        assert data["cluster"] == "prod" and data["driver"] == "local"
        assert data["mountpoint"].endswith("/rt_data/_data")
        # the docker CLI on that node agrees, and no other node has it
        assert "rt_data" in lab.docker_on("prod-w1", "volume", "ls", "-q").split()
        assert "rt_data" not in lab.docker_on("prod-w2", "volume", "ls", "-q").split()

        done = swarmdeck("ls", "containers", "-c", "prod", "--node", "prod-w1", "--json")
        assert done.returncode == 0, done.stderr
        tasks = {r["task"] for r in json.loads(done.stdout)}
        assert "rt_pinned.1" in tasks

        done = swarmdeck("doctor", "-c", "prod", "--json")
        findings = [f for c in json.loads(done.stdout) for f in c["findings"]
                    if f["check"] == "service.local_volume"]
        assert [f["subject"] for f in findings] == ["service rt_loose"], findings
        assert "rt_loose_data" in findings[0]["what"] and "swarmdeck pin" in findings[0]["fix"]

        done = swarmdeck("volume", "rm", "rt_data", "--node", "prod-w1", "--yes", "-c", "prod")
        assert done.returncode != 0 and "in use by rt_pinned" in done.stderr, done.stderr
        assert "rt_data" in lab.docker_on("prod-w1", "volume", "ls", "-q").split()

        docker(lab, "service", "rm", "rt_pinned")
        deadline = time.monotonic() + 60
        while lab.docker_on("prod-w1", "ps", "-aq", "--filter",
                            "label=com.docker.swarm.service.name=rt_pinned").strip():
            assert time.monotonic() < deadline, "rt_pinned's container stayed"
            time.sleep(0.5)
        done = swarmdeck("volume", "rm", "rt_data", "--node", "prod-w1", "--yes", "-c", "prod")
        assert done.returncode == 0, done.stderr
        assert "removed volume rt_data from node prod-w1" in done.stdout
        assert "rt_data" not in lab.docker_on("prod-w1", "volume", "ls", "-q").split()
        results = [(e["target"], e["result"]) for e in AuditLog.default().read()
                   if e["action"] == "volume remove"]
        assert results == [("rt_data@prod-w1", "refused"), ("rt_data@prod-w1", "ok")]
    finally:
        for service in ("rt_pinned", "rt_loose"):
            with contextlib.suppress(LabError):
                docker(lab, "service", "rm", service)
        deadline = time.monotonic() + 60  # a volume goes once no container holds it
        for node in ("prod-w1", "prod-w2"):
            while lab.docker_on(node, "ps", "-aq", "--filter", "volume=rt_loose_data").strip() \
                    and time.monotonic() < deadline:
                time.sleep(0.5)
            for volume in ("rt_data", "rt_loose_data"):
                with contextlib.suppress(LabError):
                    lab.docker_on(node, "volume", "rm", volume)
