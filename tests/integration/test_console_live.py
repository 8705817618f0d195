"""The console against the live lab: real services and nodes on screen, and a change made
with `docker` appears without any key pressed."""

from __future__ import annotations

import asyncio
import time

from swarmdeck.core.config import load_config
from swarmdeck.core.fleet import Fleet
from swarmdeck.ui.app import SwarmdeckApp
from swarmdeck.ui.widgets.table import LiveTable


def cells(app, selector: str, column: str) -> dict[str, str]:
    table = app.screen.query_one(selector, LiveTable)
    name_col = "name" if selector == "#services" else "hostname"
    return {str(table.get_cell(k, name_col)).strip(): str(table.get_cell(k, column)).strip()
            for k in table.rows}


async def wait_until(pilot, predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await pilot.pause(0.2)
    return predicate()


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
            nodes = cells(app, "#nodes", "manager")
            assert nodes["prod-m1"] == "leader" and set(nodes) == {
                "prod-m1", "prod-m2", "prod-m3", "prod-w1", "prod-w2"}

            lab.docker_on("prod-m1", "service", "scale", "--detach", "shop_worker=4")
            # no key pressed from here on
            assert await wait_until(
                pilot, lambda: cells(app, "#services", "replicas")["shop_worker"] == "4/4", 30
            ), cells(app, "#services", "replicas")
    finally:
        await asyncio.to_thread(lab.docker_on, "prod-m1", "service", "scale", "shop_worker=3",
                                timeout=120)
