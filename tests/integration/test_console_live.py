"""The console against the live lab: real services and nodes on screen, and a change made
with `docker` appears without any key pressed."""

from __future__ import annotations

import asyncio

from waits import wait_until

from swarmdeck.core.config import load_config
from swarmdeck.core.fleet import Fleet
from swarmdeck.ui.app import SwarmdeckApp
from swarmdeck.ui.widgets.table import LiveTable


def cells(app, selector: str, column: str) -> dict[str, str]:
    table = app.screen.query_one(selector, LiveTable)
    name_col = "name" if selector == "#services" else "hostname"
    return {str(table.get_cell(k, name_col)).strip(): str(table.get_cell(k, column)).strip()
            for k in table.rows}




async def test_console_shows_the_lab_and_follows_a_docker_scale(lab):
    config = load_config(lab.config_file)
    app = SwarmdeckApp(config, Fleet(config), start_cluster="prod")
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            assert await wait_until(pilot, lambda: "shop_worker" in cells(
                app, "#services", "replicas"), 20)
            services = cells(app, "#services", "replicas")
            theirs = lab.docker_on("prod-m1", "service", "ls", "--format", "{{.Name}}").split()
            assert set(services) == set(theirs)
            assert services["shop_web"] == "2/2"
            nodes = cells(app, "#nodes", "role")  # role and manager status: "leader"
            assert set(nodes) == {"prod-m1", "prod-m2", "prod-m3", "prod-w1", "prod-w2"}
            # the leader swarm names (tests that kill managers' daemons may have moved it)
            leader = lab.docker_on("prod-m1", "node", "ls", "--filter", "role=manager",
                                   "--format", "{{.Hostname}} {{.ManagerStatus}}")
            [theirs_leader] = [line.split()[0] for line in leader.splitlines()
                               if line.endswith("Leader")]
            assert [n for n, status in nodes.items() if status == "leader"] == [theirs_leader]

            lab.docker_on("prod-m1", "service", "scale", "--detach", "shop_worker=4")
            # no key pressed from here on
            assert await wait_until(
                pilot, lambda: cells(app, "#services", "replicas")["shop_worker"] == "4/4", 30
            ), cells(app, "#services", "replicas")
    finally:
        await asyncio.to_thread(lab.docker_on, "prod-m1", "service", "scale", "shop_worker=3",
                                timeout=120)


async def test_lost_link_marks_panes_stale_then_recovers(tmp_path, lab):
    """The link to the manager is cut (a proxy in front of its sshd drops every connection):
    the panes keep their data marked STALE, then recover by themselves."""
    from swarmdeck.lab.proxy import DelayProxy

    proxy = DelayProxy(("10.213.0.1", 2299), ("10.213.0.11", 22), delay=0.0)
    await proxy.start()
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(
        "Host m1-via-proxy\n    HostName 10.213.0.1\n    Port 2299\n    HostKeyAlias prod-m1\n"
        f"    User root\n    IdentityFile {lab.identity}\n"
        f"    UserKnownHostsFile {lab.known_hosts}\n")
    path = tmp_path / "config.toml"
    path.write_text(f'[ssh]\nconfig = ["{ssh_config}"]\n[clusters.prod]\n'
                    'managers = ["m1-via-proxy"]\nmetrics = "off"\n')
    path.chmod(0o600)
    config = load_config(path)
    app = SwarmdeckApp(config, Fleet(config))
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            services = app.screen.query_one("#services", LiveTable)
            assert await wait_until(pilot, lambda: services.row_count >= 5, 20)
            cut = proxy.cut()
            assert cut >= 1
            assert await wait_until(pilot, lambda: "STALE" in services.border_title, 15), \
                services.border_title
            assert services.row_count >= 5  # the last known data stays on screen
            assert await wait_until(pilot, lambda: "STALE" not in services.border_title, 30)
            assert "shop_worker" in cells(app, "#services", "replicas")
    finally:
        await proxy.close()
