"""Keys of the console against the live lab: `y` shows a label set with the docker CLI a
moment before (read from the manager, not from the inventory), a secret's inspect holds no
data, `:tasks` lists the tasks `docker service ps` lists, and Enter on a task shows its own
last log lines, read from its node."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid

from test_console_live import wait_until
from test_console_ops_live import select

from swarmdeck.core.config import load_config
from swarmdeck.core.fleet import Fleet
from swarmdeck.ui.app import SwarmdeckApp
from swarmdeck.ui.screens.inspect import InspectScreen
from swarmdeck.ui.screens.task import TaskScreen
from swarmdeck.ui.screens.tasks import TasksScreen
from swarmdeck.ui.widgets.logview import LogView

SIZE = (140, 40)


def console(lab) -> SwarmdeckApp:
    config = load_config(lab.config_file)
    return SwarmdeckApp(config, Fleet(config), start_cluster="prod")


async def command(pilot, text: str) -> None:
    await pilot.press("colon", *text, "enter")
    await pilot.pause()


async def test_y_shows_a_label_set_with_the_docker_cli(lab):
    value = uuid.uuid4().hex[:10]
    await asyncio.to_thread(lab.docker_on, "prod-m1", "service", "update", "--detach",
                            "--label-add", f"swarmdeck.test.inspect={value}", "shop_web")
    try:
        app = console(lab)
        async with app.run_test(size=SIZE) as pilot:
            assert await wait_until(pilot, lambda: select(app, "#services", "shop_web"), 20)
            await pilot.press("y")
            assert await wait_until(pilot, lambda: isinstance(app.screen, InspectScreen)
                                    and app.screen.found is not None, 20)
            assert f"swarmdeck.test.inspect: {value}" in app.screen.document.text
            await pilot.press("t")
            labels = json.loads(app.screen.document.text)["Spec"]["Labels"]
            expected = json.loads(await asyncio.to_thread(
                lab.docker_on, "prod-m1", "service", "inspect", "shop_web", "--format",
                "{{json .Spec.Labels}}"))
            assert labels == expected
    finally:
        await asyncio.to_thread(lab.docker_on, "prod-m1", "service", "update", "--detach",
                                "--label-rm", "swarmdeck.test.inspect", "shop_web")


async def test_a_secrets_inspect_holds_no_data(lab):
    name = f"inspect-{uuid.uuid4().hex[:8]}"
    config = load_config(lab.config_file)
    setup = Fleet(config)
    ops = await setup.ops("prod")
    await ops.docker.request("POST", "/secrets/create", body={
        "Name": name, "Data": base64.b64encode(b"do-not-show-me").decode()})
    await setup.close()
    try:
        app = console(lab)
        async with app.run_test(size=SIZE) as pilot:
            await command(pilot, "secrets")
            screen = app.screen
            assert await wait_until(pilot, lambda: screen.resources is not None, 20)
            table = screen.query_one("#secrets")
            row = next(i for i, k in enumerate(table.rows)
                       if table.get_cell(k, "name").plain == name)
            table.move_cursor(row=row)
            await pilot.press("y")
            assert await wait_until(pilot, lambda: isinstance(app.screen, InspectScreen)
                                    and app.screen.found is not None, 20)
            text = app.screen.document.text
            assert f"Name: {name}" in text and "do-not-show-me" not in text
    finally:
        await asyncio.to_thread(lab.docker_on, "prod-m1", "secret", "rm", name)


async def test_tasks_and_a_tasks_own_lines(lab):
    def docker_tasks() -> dict[str, str]:
        listed = lab.docker_on("prod-m1", "service", "ps", "shop_worker", "--no-trunc",
                               "--format", "{{.ID}} {{.Node}}")
        return dict(line.split() for line in listed.splitlines() if line.strip())

    expected = await asyncio.to_thread(docker_tasks)
    app = console(lab)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_until(pilot, lambda: select(app, "#services", "shop_worker"), 20)
        await command(pilot, "tasks /shop_worker")
        assert await wait_until(pilot, lambda: isinstance(app.screen, TasksScreen), 10)
        table = app.screen.table
        # docker's list is read again while they differ: an earlier test's scale may still
        # be adding or pruning tasks (the two lists are compared as of the same moment)
        deadline = time.monotonic() + 20
        while set(table.rows) != set(expected) and time.monotonic() < deadline:
            await pilot.pause(0.5)
            expected = await asyncio.to_thread(docker_tasks)
        assert set(table.rows) == set(expected), (sorted(table.rows), sorted(expected))
        for key in table.rows:
            assert table.get_cell(key, "node").plain == expected[key]
        running = next(k for k in table.rows if table.get_cell(k, "state").plain == "running")
        table.move_cursor(row=table.rows.index(running))
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: isinstance(app.screen, TaskScreen)
                                and app.screen.logs_read, 30)
        lines = list(app.screen.query_one(LogView).plain_lines())
        assert lines and all("worker processed job" in line for line in lines)
        assert "read from node" in str(app.screen.query_one("#task-logs").border_title)
