"""Operations through the console's keys against the live lab: the dialog, the change on
the cluster (checked with the docker CLI), the progress view's outcome, the audit line."""

from __future__ import annotations

import asyncio
import contextlib

from test_console_live import wait_until
from textual.widgets import Button, Input

from swarmdeck.core.audit import AuditLog
from swarmdeck.core.config import load_config
from swarmdeck.core.errors import LabError
from swarmdeck.core.fleet import Fleet
from swarmdeck.ui.app import SwarmdeckApp
from swarmdeck.ui.screens.dialogs import ConfirmDialog, PromptDialog
from swarmdeck.ui.screens.operation import OperationScreen
from swarmdeck.ui.widgets.table import LiveTable

IMAGE = "10.213.0.1:5000/swarmdeck/demo:1.0"


def select(app, table_id: str, name: str) -> bool:
    table = app.screen.query_one(table_id, LiveTable)
    column = "name" if table_id == "#services" else "hostname"
    for row, key in enumerate(table.rows):
        if str(table.get_cell(key, column)).strip() == name:
            table.focus()
            table.move_cursor(row=row)
            return True
    return False


async def finished(pilot, app) -> str:
    assert await wait_until(pilot, lambda: isinstance(app.screen, OperationScreen)
                            and app.screen.outcome is not None, 120)
    outcome = app.screen.outcome
    await pilot.press("escape")
    return outcome


async def test_scale_through_the_console(lab):
    config = load_config(lab.config_file)
    app = SwarmdeckApp(config, Fleet(config), start_cluster="prod")
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            assert await wait_until(pilot, lambda: select(app, "#services", "shop_worker"), 20)
            await pilot.press("s")
            assert await wait_until(pilot, lambda: isinstance(app.screen, PromptDialog), 10)
            box = app.screen.query_one(Input)
            assert box.value == "3"
            box.value = "lots"
            await pilot.press("enter")
            assert "non-negative integer" in str(app.screen.query_one("#error").render())
            box.value = "4"
            await pilot.press("enter")
            outcome = await finished(pilot, app)
            assert outcome == "scale shop_worker to 4: done"
            replicas = await asyncio.to_thread(
                lab.docker_on, "prod-m1", "service", "inspect", "shop_worker", "--format",
                "{{.Spec.Mode.Replicated.Replicas}}")
            assert replicas.strip() == "4"
    finally:
        await asyncio.to_thread(lab.docker_on, "prod-m1", "service", "scale", "shop_worker=3",
                                timeout=120)
    entries = AuditLog.default().read()
    assert [(e["action"], e["target"], e["params"], e["result"]) for e in entries] == [
        ("scale", "shop_worker", {"replicas": 4, "from": 3}, "ok")]


async def test_remove_asks_for_the_name_then_removes(lab):
    await asyncio.to_thread(
        lab.docker_on, "prod-m1", "service", "create", "--detach", "--name", "doomed",
        "--endpoint-mode", "dnsrr", IMAGE, "sleep", "3600")
    config = load_config(lab.config_file)
    app = SwarmdeckApp(config, Fleet(config), start_cluster="prod")
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            assert await wait_until(pilot, lambda: select(app, "#services", "doomed"), 20)
            await pilot.press("x")
            assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), 10)
            confirm = app.screen.query_one("#yes", Button)
            app.screen.query_one("#typed", Input).value = "doome"
            await pilot.pause()
            assert confirm.disabled
            await pilot.press("escape")  # cancelled: nothing happens
            await pilot.pause(0.5)
            names = await asyncio.to_thread(lab.docker_on, "prod-m1", "service", "ls",
                                            "--format", "{{.Name}}")
            assert "doomed" in names.split()

            await pilot.press("x")
            assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), 10)
            app.screen.query_one("#typed", Input).value = "doomed"
            await pilot.pause()
            assert not app.screen.query_one("#yes", Button).disabled
            await pilot.press("enter")
            assert await finished(pilot, app) == "removed service doomed"
            # the console follows the removal by itself
            assert await wait_until(pilot, lambda: not select(app, "#services", "doomed"), 15)
    finally:
        with contextlib.suppress(LabError):
            await asyncio.to_thread(lab.docker_on, "prod-m1", "service", "rm", "doomed")


async def test_drain_and_activate_a_node_with_keys(lab):
    config = load_config(lab.config_file)
    app = SwarmdeckApp(config, Fleet(config), start_cluster="prod")

    async def availability() -> str:
        out = await asyncio.to_thread(lab.docker_on, "prod-m1", "node", "inspect", "prod-w1",
                                      "--format", "{{.Spec.Availability}}")
        return out.strip()

    try:
        async with app.run_test(size=(140, 40)) as pilot:
            assert await wait_until(pilot, lambda: select(app, "#nodes", "prod-w1"), 20)
            for key, wanted in (("w", "drain"), ("v", "active")):
                await pilot.press(key)
                assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog),
                                        10)
                await pilot.click("#yes")
                assert "prod-w1" in await finished(pilot, app)
                assert await availability() == wanted
                assert await wait_until(pilot, lambda: select(app, "#nodes", "prod-w1"), 5)
    finally:
        with contextlib.suppress(LabError):
            await asyncio.to_thread(lab.docker_on, "prod-m1", "node", "update",
                                    "--availability", "active", "prod-w1")


async def test_add_node_with_keys(lab):
    """`a` on the nodes pane: the host, the role, confirm; spare-2 joins staging."""
    config = load_config(lab.config_file)
    app = SwarmdeckApp(config, Fleet(config), start_cluster="staging")
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            assert await wait_until(pilot, lambda: select(app, "#nodes", "staging-w1"), 20)
            await pilot.press("a")
            assert await wait_until(pilot, lambda: isinstance(app.screen, PromptDialog), 10)
            app.screen.query_one(Input).value = "spare-2"
            await pilot.press("enter")
            assert await wait_until(pilot, lambda: isinstance(app.screen, PromptDialog)
                                    and app.screen.query_one(Input).value == "worker", 10)
            await pilot.press("enter")
            assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), 10)
            await pilot.click("#yes")
            outcome = await finished(pilot, app)
            assert outcome == "joined spare-2 to staging as a worker: ready"
            # the new node appears in the nodes pane by itself
            assert await wait_until(pilot, lambda: select(app, "#nodes", "spare-2"), 20)
    finally:
        with contextlib.suppress(LabError):
            await asyncio.to_thread(lab.docker_on, "spare-2", "swarm", "leave", "--force")
        ids = (await asyncio.to_thread(lab.docker_on, "staging-m1", "node", "ls", "--filter",
                                       "name=spare-2", "-q")).split()
        for node_id in ids:
            with contextlib.suppress(LabError):
                await asyncio.to_thread(lab.docker_on, "staging-m1", "node", "rm", "--force",
                                        node_id)


async def test_update_image_then_rollback_with_keys(lab):
    config = load_config(lab.config_file)
    app = SwarmdeckApp(config, Fleet(config), start_cluster="prod")

    async def image() -> str:
        out = await asyncio.to_thread(
            lab.docker_on, "prod-m1", "service", "inspect", "shop_web", "--format",
            "{{.Spec.TaskTemplate.ContainerSpec.Image}}")
        return out.strip().split("@")[0]

    try:
        async with app.run_test(size=(140, 40)) as pilot:
            assert await wait_until(pilot, lambda: select(app, "#services", "shop_web"), 20)
            await pilot.press("u")
            assert await wait_until(pilot, lambda: isinstance(app.screen, PromptDialog), 10)
            box = app.screen.query_one(Input)
            assert box.value == IMAGE
            box.value = "Not An Image"
            await pilot.press("enter")
            assert "not a valid image reference" in str(app.screen.query_one("#error").render())
            box.value = IMAGE.replace(":1.0", ":1.1")
            await pilot.press("enter")
            assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), 10)
            await pilot.click("#yes")
            assert await finished(pilot, app) == "update shop_web: done"
            assert await image() == IMAGE.replace(":1.0", ":1.1")

            assert await wait_until(pilot, lambda: select(app, "#services", "shop_web"), 10)
            await pilot.press("b")
            assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), 10)
            await pilot.click("#yes")
            assert await finished(pilot, app) == "rollback shop_web: done"
            assert await image() == IMAGE
    finally:
        if await image() != IMAGE:
            await asyncio.to_thread(lab.docker_on, "prod-m1", "service", "update", "--image",
                                    IMAGE, "shop_web", timeout=120)


async def test_rotate_the_worker_token_with_t(lab):
    config = load_config(lab.config_file)
    app = SwarmdeckApp(config, Fleet(config), start_cluster="staging")

    async def token() -> str:
        out = await asyncio.to_thread(lab.docker_on, "staging-m1", "swarm", "join-token", "-q",
                                      "worker")
        return out.strip()

    before = await token()
    async with app.run_test(size=(140, 40)) as pilot:
        assert await wait_until(pilot, lambda: select(app, "#services", "shop_web"), 20)
        await pilot.press("t")
        assert await wait_until(pilot, lambda: isinstance(app.screen, PromptDialog), 10)
        await pilot.press("enter")  # worker
        assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), 10)
        await pilot.click("#yes")
        assert await wait_until(pilot, lambda: isinstance(app.screen, OperationScreen)
                                and app.screen.outcome is not None, 30)
        outcome = app.screen.outcome
    after = await token()
    assert after != before
    assert outcome.startswith("rotated the worker join token of staging: now SWMTKN-1-…")
    assert after not in outcome and after[-4:] in outcome  # masked on screen
