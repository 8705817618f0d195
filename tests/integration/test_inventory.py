"""The live inventory on the real lab: one connection, events, task reconcile, isolation."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time

from swarmdeck.core.config import load_config
from swarmdeck.core.errors import SwarmdeckError
from swarmdeck.core.fleet import Fleet
from swarmdeck.core.inventory import ClusterState


def ssh_sessions_on(node_netns: str) -> int:
    """Established TCP connections to the node's sshd, counted from inside its netns."""
    out = subprocess.run(
        ["nsenter", f"--net=/var/run/netns/{node_netns}", "ss", "-Htn", "state", "established",
         "( sport = :22 )"], capture_output=True, text=True, check=True).stdout
    return len([line for line in out.splitlines() if line.strip()])


async def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.1)
    return predicate()


async def test_follows_a_scale_made_with_docker_over_one_connection(lab):
    fleet = Fleet(load_config(lab.config_file))
    inv = fleet.inventory("prod")
    changes = []
    inv.subscribe(changes.append)
    before = ssh_sessions_on("sdlab-prod-m1")
    try:
        state = await inv.load()
        follower = asyncio.create_task(inv.follow())
        worker = next(s for s in state.services.values() if s.name == "shop_worker")
        assert state.replicas(worker) == (3, 3)
        lab.docker_on("prod-m1", "service", "scale", "--detach", "shop_worker=5")

        def scaled() -> bool:
            svc = state.services[worker.id]
            return svc.replicas == 5 and state.replicas(svc) == (5, 5)

        assert await wait_for(scaled, 30), state.replicas(state.services[worker.id])
        kinds = {c.kind for c in changes}
        assert {"loaded", "services", "tasks"} <= kinds
        # everything above travelled over ONE ssh connection, channels to the socket only
        assert ssh_sessions_on("sdlab-prod-m1") - before == 1
        assert inv.session.docker.via == "stream-local"
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
    finally:
        # not detached: returns once converged, so later tests see a settled cluster
        lab.docker_on("prod-m1", "service", "scale", "shop_worker=3", timeout=120)
        await fleet.close()


async def test_unreachable_cluster_neither_blocks_nor_breaks_the_others(tmp_path, lab):
    config = tmp_path / "config.toml"
    config.write_text(
        f'[ssh]\nconfig = ["{lab.ssh_config}"]\nconnect_timeout = 3\n'
        '[clusters.prod]\nmanagers = ["prod-m1"]\n'
        '[clusters.staging]\nmanagers = ["staging-m1"]\n'
        '[clusters.ghost]\nmanagers = ["root@10.213.0.250"]\n'
    )
    fleet = Fleet(load_config(config))
    try:
        started = time.monotonic()
        results = await fleet.load()
        elapsed = time.monotonic() - started
    finally:
        await fleet.close()
    assert isinstance(results["prod"], ClusterState) and results["prod"].nodes
    assert isinstance(results["staging"], ClusterState) and len(results["staging"].nodes) == 2
    assert isinstance(results["ghost"], SwarmdeckError)
    assert elapsed < 6  # the three ran at once: bounded by the ghost's 3 s timeout


async def test_falls_through_to_the_next_manager(tmp_path, lab):
    config = tmp_path / "config.toml"
    config.write_text(
        f'[ssh]\nconfig = ["{lab.ssh_config}"]\nconnect_timeout = 3\n'
        '[clusters.prod]\nmanagers = ["root@10.213.0.11:2999", "prod-m2"]\n'
    )
    fleet = Fleet(load_config(config))
    try:
        state = (await fleet.load())["prod"]
    finally:
        await fleet.close()
    assert isinstance(state, ClusterState), state
    assert state.manager and "prod-m2" in state.manager
    assert state.info.hostname == "prod-m2"
