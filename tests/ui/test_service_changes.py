"""Service keys on recorded lab data and a fake Docker API: a rollback shows what it would
change (the previous spec against the current one) before asking."""

from __future__ import annotations

import copy

import pytest
from fake_cluster import install
from ui_waits import wait_until

from swarmdeck.ui.screens.dialogs import ConfirmDialog
from swarmdeck.ui.screens.main import MainScreen
from swarmdeck.ui.screens.operation import OperationScreen
from swarmdeck.ui.widgets.table import LiveTable

SIZE = (130, 45)
IMAGE = "10.213.0.1:5000/swarmdeck/demo"


@pytest.fixture
def docker(fleet, config):
    return install(fleet, config)


async def on_service(app, pilot, name: str, key: str) -> None:
    table = app.screen.query_one("#services", LiveTable)
    assert await wait_until(pilot, lambda: len(table.rows) > 0)
    row = [str(table.get_cell(k, "name")).strip() for k in table.rows].index(name)
    table.focus()
    table.move_cursor(row=row)
    await pilot.press(key)


def give_a_previous_spec(docker) -> None:
    """shop_web as if updated to 1.1 with a password in its env: the recorded spec is the
    previous one."""
    service = docker["prod"].service("shop_web")
    service["PreviousSpec"] = copy.deepcopy(service["Spec"])
    container = service["Spec"]["TaskTemplate"]["ContainerSpec"]
    container["Image"] = f"{IMAGE}:1.1"
    container["Env"] = ["DB_PASSWORD=hunter2"]
    service["Spec"]["Mode"]["Replicated"]["Replicas"] = 3


async def test_rollback_shows_what_it_changes_before_asking(make_app, docker):
    give_a_previous_spec(docker)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await on_service(app, pilot, "shop_web", "b")
        assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        confirm = app.screen
        assert confirm.question == "Roll shop_web on prod back to its previous spec?"
        assert confirm.details == ["what changes (now -> after the rollback):",
                                   f"  image: {IMAGE}:1.1 -> {IMAGE}:1.0",
                                   "  replicas: 3 -> 2",
                                   "  env removed: DB_PASSWORD"]
        assert docker["prod"].posts == []
        await pilot.press("y")
        assert await wait_until(pilot, lambda: isinstance(app.screen, OperationScreen)
                                and app.screen.outcome is not None)
        assert app.screen.outcome == "rollback shop_web: done"
    [(kind, name, params, _body)] = docker["prod"].posts
    assert (kind, name, params["rollback"]) == ("services", "shop_web", "previous")


async def test_rollback_without_a_previous_spec_asks_nothing(make_app, docker):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await on_service(app, pilot, "shop_web", "b")
        assert await wait_until(pilot, lambda: any(
            "shop_web has no previous spec to roll back to" in n.message
            for n in app._notifications))
        assert isinstance(app.screen, MainScreen)
    assert docker["prod"].posts == []
