"""`swarmdeck stats` against the kernel's and docker's own figures, on the lab.

A service held to 0.3 CPU that burns all of it must read what its cgroup counter says over
the same window (within 5 points), and what `docker stats` says for its container."""

from __future__ import annotations

import contextlib
import glob
import json
import time
from pathlib import Path

import pytest

from swarmdeck.lab.topology import DEMO_IMAGE

SERVICE = "cpuburn"
NODE = "prod-w2"


def _container_id(lab) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ids = lab.docker_on(NODE, "ps", "-q", "--no-trunc", "--filter",
                            f"label=com.docker.swarm.service.name={SERVICE}").split()
        if ids:
            return ids[0]
        time.sleep(0.5)
    raise AssertionError(f"{SERVICE} has no running container on {NODE} after 60 s")


def _cgroup_file(container: str, controller: str, name: str) -> Path:
    found = glob.glob(f"/sys/fs/cgroup/{controller}/**/{container}/{name}", recursive=True)
    assert found, f"no {controller} cgroup of {container[:12]} (cgroup v1 expected on the lab)"
    return Path(found[0])


@pytest.fixture
def burning(lab):
    with contextlib.suppress(Exception):  # one left by an interrupted run
        lab.docker_on("prod-m1", "service", "rm", SERVICE)
    lab.docker_on("prod-m1", "service", "create", "--detach", "--name", SERVICE,
                  "--replicas", "1", "--limit-cpu", "0.3",
                  "--constraint", f"node.hostname=={NODE}", "--restart-condition", "none",
                  f"{DEMO_IMAGE}:1.0", "sh", "-c", "while :; do :; done")
    try:
        yield _container_id(lab)
    finally:
        lab.docker_on("prod-m1", "service", "rm", SERVICE)


def test_service_cpu_reads_what_its_cgroup_counter_says(lab, swarmdeck, burning):
    usage = _cgroup_file(burning, "cpuacct", "cpuacct.usage")
    time.sleep(2)  # past the container's start
    pairs = []
    for _ in range(2):
        used0, t0 = int(usage.read_text()), time.monotonic()
        result = swarmdeck("stats", "-c", "prod", SERVICE, NODE, "--once", "--json")
        used1, t1 = int(usage.read_text()), time.monotonic()
        assert result.returncode == 0, result.stderr
        rows = {r["kind"]: r for r in json.loads(result.stdout)}
        kernel = 100 * (used1 - used0) / ((t1 - t0) * 1e9)
        pairs.append((round(rows["service"]["cpu_percent"], 1), round(kernel, 1)))
        print(f"swarmdeck {rows['service']['cpu_percent']:.1f} % / cgroup {kernel:.1f} %")
        assert rows["service"]["tasks"] == 1
        assert rows["service"]["cpu_percent"] == pytest.approx(kernel, abs=5), pairs
        assert 0 < rows["node"]["cpu_percent"] <= 100
    # held to 0.3 CPU, burning all of it: the kernel itself says about 30 %
    assert any(k > 20 for _, k in pairs), pairs


def test_service_cpu_and_memory_read_what_docker_stats_says(lab, swarmdeck, burning):
    time.sleep(2)
    result = swarmdeck("stats", "-c", "prod", SERVICE, "--once", "--json")
    theirs = lab.docker_on(NODE, "stats", "--no-stream", "--format", "{{json .}}", burning)
    assert result.returncode == 0, result.stderr
    ours = json.loads(result.stdout)[0]
    docker = json.loads(theirs)
    docker_cpu = float(docker["CPUPerc"].rstrip("%"))
    print(f"swarmdeck {ours['cpu_percent']:.1f} % / docker stats {docker_cpu:.1f} %")
    assert ours["cpu_percent"] == pytest.approx(docker_cpu, abs=5)
    # memory: the cgroup's usage without its inactive file cache, as docker stats counts it
    memory = _cgroup_file(burning, "memory", "memory.usage_in_bytes")
    stat = dict(line.split() for line in
                (memory.parent / "memory.stat").read_text().splitlines())
    kernel_mem = int(memory.read_text()) - int(stat["total_inactive_file"])
    assert ours["memory_bytes"] == pytest.approx(kernel_mem, rel=0.25, abs=256 * 1024)


def test_stats_names_what_it_does_not_know(swarmdeck):
    result = swarmdeck("stats", "-c", "prod", "shop_wbe", "--once")
    assert result.returncode == 2
    assert "no service or node 'shop_wbe'" in result.stderr
    assert "did you mean 'shop_web'" in result.stderr
    assert "Traceback" not in result.stderr
