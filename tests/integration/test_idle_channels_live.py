"""After an idle spell the server side closes kept-alive API channels (the engine after 5
minutes of silence; here prod-m1's second sshd after 4 s, with ChannelTimeout): the first
change and the first read afterwards must work, never fail on a channel already closed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import time

import pytest
from test_console_live import wait_until
from test_console_ops_live import finished, select

from swarmdeck.core.audit import AuditLog
from swarmdeck.core.config import load_config
from swarmdeck.core.fleet import Fleet, open_ops
from swarmdeck.core.ops import progress, resources, services
from swarmdeck.lab import faults
from swarmdeck.lab import node as labnode
from swarmdeck.ui.app import SwarmdeckApp
from swarmdeck.ui.screens.dialogs import PromptDialog
from swarmdeck.ui.screens.resources import ResourcesScreen
from swarmdeck.ui.widgets.health import HealthBar
from swarmdeck.ui.widgets.table import LiveTable

PORT = 2222
IDLE = 4  # seconds after which that sshd closes a quiet direct-streamlocal channel


def _listening() -> bool:
    out = subprocess.run(["nsenter", "--net=/var/run/netns/sdlab-prod-m1", "ss", "-Htln",
                          f"( sport = :{PORT} )"], capture_output=True, text=True).stdout
    return bool(out.strip())


@pytest.fixture
def idle_config(lab, tmp_path):
    """A cluster `idle` reached through prod-m1's second sshd, which closes API channels
    (the event stream too) quiet for IDLE seconds; and `staging` as usual."""
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
    config.write_text(f'[ssh]\nconfig = ["{ssh_config}", "{lab.ssh_config}"]\n'
                      '[clusters.idle]\nmanagers = ["idle-m1"]\n'
                      '[clusters.staging]\nmanagers = ["staging-m1"]\n')
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


def _header(app) -> str:
    return app.screen.query_one(HealthBar).render().plain


async def test_an_idle_console_answers_its_first_keys_truly(lab, idle_config):
    """The console on both clusters, left idle three times as long as the server keeps a
    quiet channel: every pooled API channel and the quiet event stream are closed by the
    server meanwhile (the real mechanism, at 4 s instead of minutes). The header never says
    STALE for it; then the first keys work: a scale lands and is reported done (the cluster
    agrees, the audit says ok), `n` lists the networks, and the other cluster is live."""
    before = _replicas(lab)
    app = SwarmdeckApp(idle_config, Fleet(idle_config), start_cluster="idle")
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            assert await wait_until(pilot, lambda: select(app, "#services", "shop_worker"),
                                    30)
            inventory = app.fleet.inventory("idle")
            seen: list[str] = []
            reopened = _Reopened()
            logger = logging.getLogger("swarmdeck.core.inventory")
            level = logger.level
            logger.setLevel(logging.INFO)
            logger.addHandler(reopened)
            try:
                idle_until = time.monotonic() + 3 * IDLE + 2
                while time.monotonic() < idle_until:
                    seen.append(_header(app))
                    await pilot.pause(0.25)
            finally:
                logger.removeHandler(reopened)
                logger.setLevel(level)
            assert not [h for h in seen if "STALE" in h], [h for h in seen if "STALE" in h]
            # really closed by the server: the quiet event stream (opened again at once), and
            # every pooled channel quiet longer than the server allows (a request made in the
            # spell, e.g. a task re-read after another test's container ended, leaves a
            # younger one open: not what this test is about)
            assert reopened.count >= 1, "the server never closed the quiet event stream"
            now = time.monotonic()
            quiet = [http for http, since in inventory.session.docker._idle
                     if now - since > IDLE + 1]
            assert all(http.closed_by_peer() for http in quiet)

            assert select(app, "#services", "shop_worker")
            await pilot.press("s")
            assert await wait_until(pilot, lambda: isinstance(app.screen, PromptDialog), 10)
            app.screen.query_one("#value").value = str(before + 1)
            await pilot.press("enter")
            assert await finished(pilot, app) == f"scale shop_worker to {before + 1}: done"
            assert await asyncio.to_thread(_replicas, lab) == before + 1
            assert [e["result"] for e in AuditLog.default().read()][-1] == "ok"

            await pilot.pause(IDLE + 2)  # idle again, then the `n` view
            await pilot.press("n")
            assert await wait_until(pilot, lambda: isinstance(app.screen, ResourcesScreen)
                                    and len(app.screen.query_one("#networks", LiveTable).rows)
                                    > 0, 15)
            await pilot.press("escape")
            await pilot.press("c")  # the other cluster, idle all along too
            assert await wait_until(pilot, lambda: _header(app).startswith("staging")
                                    and "via staging-m1" in _header(app)
                                    and "STALE" not in _header(app), 15), _header(app)
    finally:
        await asyncio.to_thread(lab.docker_on, "prod-m1", "service", "scale", "--detach",
                                f"shop_worker={before}")


class _Reopened(logging.Handler):
    """Counts the inventory's "event stream closed ...; opened again" lines."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "opened again" in record.getMessage():
            self.count += 1
