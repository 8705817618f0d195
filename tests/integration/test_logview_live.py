"""The live logs screen on the lab: every replica of a service, each line tagged with the
replica and the node it runs on, none lost."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import defaultdict

from swarmdeck.core.config import load_config
from swarmdeck.core.errors import LabError
from swarmdeck.core.fleet import Fleet
from swarmdeck.ui.app import SwarmdeckApp
from swarmdeck.ui.screens.logs import LogsScreen
from swarmdeck.ui.widgets.logview import TEXT

IMAGE = "10.213.0.1:5000/swarmdeck/demo:1.0"
SERVICE = "lv-numbers"
LINES = 150
WRITER = (f"i=0; while [ $i -lt {LINES} ]; do i=$((i+1)); echo \"n $i\"; sleep 0.02; done; "
          "sleep 3600")


def running_replicas(lab) -> set[str]:
    out = lab.docker_on("prod-m1", "service", "ps", SERVICE, "--filter",
                        "desired-state=running", "--format",
                        "{{.Name}}@{{.Node}} {{.CurrentState}}")
    return {line.split()[0] for line in out.splitlines() if " Running" in line}


async def test_logs_screen_shows_every_replica_tagged_with_its_node(lab):
    await asyncio.to_thread(
        lab.docker_on, "prod-m1", "service", "create", "--detach", "--name", SERVICE,
        "--replicas", "3", "--endpoint-mode", "dnsrr", "--stop-grace-period", "1s",
        IMAGE, "sh", "-c", WRITER)
    try:
        deadline = time.monotonic() + 90
        expected: set[str] = set()
        while len(expected) < 3 and time.monotonic() < deadline:
            expected = await asyncio.to_thread(running_replicas, lab)
            await asyncio.sleep(0.5)
        assert len(expected) == 3, expected
        config = load_config(lab.config_file)
        app = SwarmdeckApp(config, Fleet(config), start_cluster="prod")
        async with app.run_test(size=(140, 40)) as pilot:
            state = app.fleet.state("prod")
            while time.monotonic() < deadline and not any(
                    s.name == SERVICE for s in state.services.values()):
                await pilot.pause(0.2)
            service = next(s for s in state.services.values() if s.name == SERVICE)
            screen = LogsScreen("prod", [(service.id, SERVICE)], SERVICE, tail="all")
            await app.push_screen(screen)
            view = screen.view

            def numbers() -> dict[str, list[int]]:
                seen: dict[str, list[int]] = defaultdict(list)
                for entry in view.snapshot():
                    if view.label_of(entry):
                        seen[view.label_of(entry)].append(int(entry[TEXT].split()[1]))
                return seen

            while time.monotonic() < deadline and not (
                    set(numbers()) == expected and all(
                        n and n[-1] == LINES for n in numbers().values())):
                await pilot.pause(0.3)
            seen = numbers()
            assert set(seen) == expected  # service.slot@node, as `docker service ps` says
            for label, got in seen.items():
                assert got == list(range(1, LINES + 1)), label  # every line, in order, once
            await pilot.pause(0.2)
            drawn = [view.render_line(y).text for y in range(view.size.height)]
            tags = {m[0] for line in drawn
                    for m in [re.search(rf"{SERVICE}\.\d@prod-\w+", line)] if m}
            assert tags and tags <= expected
            screen._update_header()
            header = str(screen.query_one("#logs-header").render())
            assert SERVICE in header and "following" in header
            assert f"{3 * LINES:,} lines" in header and "not streaming" not in header
    finally:
        with contextlib.suppress(LabError):
            await asyncio.to_thread(lab.docker_on, "prod-m1", "service", "rm", SERVICE)
