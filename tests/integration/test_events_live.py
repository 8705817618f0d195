"""Events on the lab: a scale made with docker (over ssh on a manager) shows up in the open
events view without a key pressed, and in `swarmdeck events`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import time

import pytest
from cli_checks import ok
from waits import wait_until

from swarmdeck.core.config import load_config
from swarmdeck.core.errors import LabError
from swarmdeck.core.fleet import Fleet
from swarmdeck.ui.app import SwarmdeckApp
from swarmdeck.ui.screens.events import EventsScreen
from swarmdeck.ui.widgets.table import LiveTable

IMAGE = "10.213.0.1:5000/swarmdeck/demo:1.0"


@pytest.fixture
def service(lab):
    # a name of its own per run: the events of an earlier run are still in the engine's
    name = f"ev-scale-{os.getpid()}-{int(time.time()) % 10_000}"
    lab.docker_on("prod-m1", "service", "create", "--detach", "--name", name,
                  "--endpoint-mode", "dnsrr", "--stop-grace-period", "1s", IMAGE,
                  "sleep", "3600")
    try:
        yield name
    finally:
        with contextlib.suppress(LabError):
            lab.docker_on("prod-m1", "service", "rm", name)


def ssh_docker(lab, *args: str) -> str:
    done = subprocess.run(["ssh", "-F", str(lab.ssh_config), "prod-m1", "docker", *args],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def rows(app) -> list[dict[str, str]]:
    table = app.screen.query_one("#events", LiveTable)
    return [{c: table.get_cell(key, c).plain for c in table.column_keys} for key in table.rows]


def scaled(app, name: str) -> bool:
    return any(r["type"] == "service" and r["action"] == "update" and r["name"] == name
               and "replicas 1 -> 2" in r["details"] for r in rows(app))




async def test_the_events_view_shows_a_scale_done_with_docker(lab, service, swarmdeck):
    config = load_config(lab.config_file)
    app = SwarmdeckApp(config, Fleet(config), start_cluster="prod")
    async with app.run_test(size=(160, 40)) as pilot:
        state = app.fleet.state("prod")
        # recording starts once the inventory follows the cluster
        assert await wait_until(pilot, lambda: state.events.started is not None, 30)
        await pilot.press("e")
        assert await wait_until(pilot, lambda: isinstance(app.screen, EventsScreen), 5)
        assert await wait_until(pilot, lambda: any(
            r["name"] == service and r["action"] == "create" for r in rows(app)), 10), \
            "the service's creation, from the events read at connect or since"
        assert not scaled(app, service)

        await asyncio.to_thread(ssh_docker, lab, "service", "scale", "--detach",
                                f"{service}=2")
        # no key pressed from here on
        assert await wait_until(pilot, lambda: scaled(app, service), 20), rows(app)[-10:]
        row = next(r for r in rows(app) if r["name"] == service and "replicas" in r["details"])
        assert row["age"].endswith("ago")
        assert app.screen.table.selected_key == app.screen.table.rows[-1]  # following

    out = ok(swarmdeck("events", "--cluster", "prod", "--since", "1m"))
    lines = [line for line in out.splitlines() if f" {service} " in line]
    assert any("service" in line and "update" in line and "replicas 1 -> 2" in line
               for line in lines), out
    found = json.loads(ok(swarmdeck("events", "-c", "prod", "--since", "1m", "--type",
                                    "service", "--json")))
    assert {"old": "1", "new": "2"} in [e["changes"].get("replicas") for e in found
                                        if e["name"] == service]
    assert {e["type"] for e in found} == {"service"}
