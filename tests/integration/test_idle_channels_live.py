"""After an idle spell the server side closes kept-alive API channels (the engine after 5
minutes of silence; here prod-m1's second sshd after 4 s, with ChannelTimeout): the first
change and the first read afterwards must work, never fail on a channel already closed."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time

import pytest

from swarmdeck.core.config import load_config
from swarmdeck.core.ops import progress, resources, services
from swarmdeck.core.ops.base import open_ops
from swarmdeck.lab import faults
from swarmdeck.lab import node as labnode

PORT = 2222
IDLE = 4  # seconds after which that sshd closes a quiet direct-streamlocal channel


def _listening() -> bool:
    out = subprocess.run(["nsenter", "--net=/var/run/netns/sdlab-prod-m1", "ss", "-Htln",
                          f"( sport = :{PORT} )"], capture_output=True, text=True).stdout
    return bool(out.strip())


@pytest.fixture
def idle_config(lab, tmp_path):
    """A cluster `idle` reached through prod-m1's second sshd, which closes API channels
    quiet for IDLE seconds."""
    node = faults.lab_node(lab, "prod-m1")
    dirs = labnode.NodeDirs(lab.dir, node)
    sshd_config = dirs.root / "sshd_idle_config"
    sshd_config.write_text(
        dirs.sshd_config.read_text().replace("Port 22\n", f"Port {PORT}\n")
        .replace("PidFile /run/sshd.pid", "PidFile /run/sshd-idle.pid")
        + f"ChannelTimeout direct-streamlocal@openssh.com={IDLE}s\n")
    faults._start_inside(node, f"/usr/sbin/sshd -D -f {sshd_config} "
                               f"-E {dirs.root}/sshd-idle.log >/dev/null 2>&1")
    deadline = time.monotonic() + 10
    while not _listening():
        assert time.monotonic() < deadline, "the idle-closing sshd did not start"
        time.sleep(0.1)
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(
        f"Host idle-m1\n    HostName {node.address}\n    Port {PORT}\n"
        f"    HostKeyAlias prod-m1\n    User root\n    IdentityFile {lab.identity}\n"
        f"    IdentitiesOnly yes\n    UserKnownHostsFile {lab.known_hosts}\n")
    config = tmp_path / "config.toml"
    config.write_text(f'[ssh]\nconfig = ["{ssh_config}"]\n'
                      '[clusters.idle]\nmanagers = ["idle-m1"]\n')
    config.chmod(0o600)
    try:
        yield load_config(config)
    finally:
        subprocess.run(["pkill", "-f", str(sshd_config)], check=False)


def _replicas(lab) -> int:
    return int(lab.docker_on("prod-m1", "service", "inspect", "shop_worker", "--format",
                             "{{.Spec.Mode.Replicated.Replicas}}").strip())


async def test_the_first_change_after_an_idle_spell_lands_and_is_reported_so(lab, idle_config):
    before = _replicas(lab)
    ops = await open_ops(idle_config, "idle")
    try:
        await asyncio.gather(*(ops.docker.get("/services") for _ in range(4)))
        assert len(ops.docker._idle) >= 2
        await asyncio.sleep(IDLE + 3)
        # the mechanism is real: the server closed every idle channel meanwhile
        assert all(http.closed_by_peer() for http, _ in ops.docker._idle)
        started = await services.scale(ops, {"shop_worker": before + 1})
        outcomes = []
        async for round_ in progress.watch(ops.docker, started.services, timeout=90):
            outcomes = [p.outcome for p in round_]
        assert outcomes == [progress.CONVERGED]
        assert _replicas(lab) == before + 1  # the cluster agrees
        assert [e["result"] for e in ops.audit.read()][-1] == "ok"
        # and a read after another idle spell (the `n` view)
        await asyncio.sleep(IDLE + 3)
        found = await resources.fetch(ops)
        assert found.networks
    finally:
        with contextlib.suppress(Exception):
            await ops.session.close()
        lab.docker_on("prod-m1", "service", "scale", "--detach", f"shop_worker={before}")
