"""Metrics on the lab: one sampler per node, only that node's containers, through the
manager when asked, and an unreachable node reported once."""

from __future__ import annotations

import asyncio
import subprocess
import time

from swarmdeck.core.config import load_config
from swarmdeck.core.fleet import Fleet


def write_config(tmp_path, lab, *, via: str, known_hosts=None):
    ssh_config = lab.ssh_config
    if known_hosts is not None:
        ssh_config = tmp_path / "ssh_config"
        ssh_config.write_text(lab.ssh_config.read_text().replace(
            str(lab.known_hosts), str(known_hosts)))
    path = tmp_path / "config.toml"
    path.write_text(f'[ssh]\nconfig = ["{ssh_config}"]\n[metrics]\ninterval = 0.5\n'
                    f'[clusters.prod]\nmanagers = ["prod-m1"]\nmetrics = "{via}"\n')
    path.chmod(0o600)
    return load_config(path)


def peers_of(netns: str) -> list[str]:
    out = subprocess.run(["nsenter", f"--net=/var/run/netns/{netns}", "ss", "-Htn", "state",
                          "established", "( sport = :22 )"],
                         capture_output=True, text=True, check=True).stdout
    return [line.split()[-1].rsplit(":", 1)[0] for line in out.splitlines() if line.strip()]


async def run_for(fleet: Fleet, seconds: float, until=None):
    task = asyncio.create_task(fleet.run("prod"))
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not (until and until()):
        await asyncio.sleep(0.2)
    return task


async def stop(fleet: Fleet, task: asyncio.Task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await fleet.close()


async def test_every_node_streams_and_only_its_own_containers_count(tmp_path, lab):
    fleet = Fleet(write_config(tmp_path, lab, via="direct"))
    metrics = fleet.metrics("prod").metrics
    state = fleet.state("prod")
    task = await run_for(fleet, 20, until=lambda: len(metrics.nodes) == 5 and all(
        len(s.points) >= 2 for s in metrics.nodes.values()) and metrics.services)
    try:
        assert {state.node_name(n) for n in metrics.nodes} == {
            "prod-m1", "prod-m2", "prod-m3", "prod-w1", "prod-w2"}
        assert all(0 <= p.cpu <= 100 and p.mem > 0
                   for s in metrics.nodes.values() for p in s.points)
        running = {t.container_id for t in state.tasks.values() if t.is_running}
        # staging's containers share the cgroup tree: none may be counted here
        assert metrics.containers and set(metrics.containers) <= running
        web = next(s for s in state.services.values() if s.name == "shop_web")
        assert metrics.services[web.id].last.mem > 0
        samplers = subprocess.run(["pgrep", "-fc", "sampler 0.5"], capture_output=True,
                                  text=True).stdout.strip()
        assert samplers == "5"  # one stream per node, not per container
        assert metrics.problems == {}
    finally:
        await stop(fleet, task)


async def test_metrics_through_the_manager(tmp_path, lab):
    fleet = Fleet(write_config(tmp_path, lab, via="manager"))
    metrics = fleet.metrics("prod").metrics
    task = await run_for(fleet, 20, until=lambda: len(metrics.nodes) == 5)
    try:
        assert len(metrics.nodes) == 5
        assert "10.213.0.11" in peers_of("sdlab-prod-w1")  # prod-w1 is reached from prod-m1
    finally:
        await stop(fleet, task)


async def test_unreachable_node_says_why_once(tmp_path, lab):
    known = tmp_path / "known_hosts"
    known.write_text("".join(line for line in lab.known_hosts.read_text().splitlines(True)
                             if not line.startswith("prod-w2,")))
    fleet = Fleet(write_config(tmp_path, lab, via="direct", known_hosts=known))
    metrics = fleet.metrics("prod").metrics
    state = fleet.state("prod")
    task = await run_for(fleet, 20, until=lambda: len(metrics.nodes) == 4 and metrics.problems)
    try:
        await asyncio.sleep(2)
        problems = {state.node_name(n): why for n, why in metrics.problems.items()}
        assert list(problems) == ["prod-w2"]
        assert "unknown host key" in problems["prod-w2"]
        assert len(metrics.nodes) == 4
    finally:
        await stop(fleet, task)
