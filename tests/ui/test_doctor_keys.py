"""The doctor's findings lead somewhere: Enter opens the service or node a finding names,
and the finding says which console key acts on it (as the keymap binds it)."""

from __future__ import annotations

import io

from rich.console import Console
from ui_waits import wait_until

from swarmdeck.core.models import Service
from swarmdeck.ui.screens.detail import NodeScreen, ServiceScreen
from swarmdeck.ui.screens.doctor import DoctorScreen
from swarmdeck.ui.widgets.table import LiveTable

SIZE = (130, 40)


def plain(widget) -> str:
    console = Console(width=300, file=io.StringIO(), color_system=None)
    console.print(widget.content)
    return console.file.getvalue()


def drain_worker(fleet) -> str:
    state = fleet.states["staging"]
    worker = next(n for n in state.nodes.values() if n.role == "worker")
    state.nodes[worker.id] = worker.model_copy(update={"availability": "drain"})
    return worker.hostname


def add_unplaceable(fleet) -> None:
    fleet.states["staging"].services["doc-x"] = Service(
        id="doc-x", name="doc-x", mode="replicated", replicas=1,
        image="10.213.0.1:5000/swarmdeck/demo:1.0", constraints=["node.labels.none==yes"])


async def open_doctor(app, pilot) -> LiveTable:
    await pilot.pause()
    app.push_screen(DoctorScreen("staging"))
    assert await wait_until(pilot, lambda: isinstance(app.screen, DoctorScreen)
                            and bool(app.screen.findings))
    await pilot.pause()
    return app.screen.query_one("#findings", LiveTable)


def go_to(table: LiveTable, subject: str) -> None:
    keys = table.rows
    row = next(i for i, k in enumerate(keys) if table.get_cell(k, "subject").plain == subject)
    table.move_cursor(row=row)


async def test_enter_on_a_node_finding_opens_the_node_and_names_the_key(make_app, fleet,
                                                                      config):
    config.keys["node.activate"] = "V"
    hostname = drain_worker(fleet)
    app = make_app(config=config)
    async with app.run_test(size=SIZE) as pilot:
        table = await open_doctor(app, pilot)
        go_to(table, f"node {hostname}")
        await pilot.pause()
        finding = plain(app.screen.query_one("#finding"))
        assert "in the console  V on the node in the nodes pane sets it active" in finding
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: isinstance(app.screen, NodeScreen))
        assert app.screen.object_id == next(n.id for n in fleet.states["staging"].nodes
                                            .values() if n.hostname == hostname)
        await pilot.press("escape")
        assert isinstance(app.screen, DoctorScreen)


async def test_enter_on_a_service_finding_opens_the_service(make_app, fleet):
    add_unplaceable(fleet)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_doctor(app, pilot)
        go_to(table, "service doc-x")
        await pilot.pause()
        assert "P on the service in the services pane" in plain(
            app.screen.query_one("#finding"))
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: isinstance(app.screen, ServiceScreen))
        assert app.screen.object_id == "doc-x"


async def test_a_cluster_finding_opens_nothing_and_says_so(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_doctor(app, pilot)
        go_to(table, "cluster")
        await pilot.pause()
        finding = plain(app.screen.query_one("#finding"))
        assert "p on a worker in the nodes pane promotes it" in finding
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DoctorScreen)
        assert any("about the whole cluster" in str(n.message) for n in app._notifications)
