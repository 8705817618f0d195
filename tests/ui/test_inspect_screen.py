"""`y`: an object as docker holds it, read from a fake manager API serving the objects
recorded from the lab: YAML and JSON, search, copy, secret and config data left out,
cluster text made inert."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from ui_waits import wait_until

from swarmdeck.core import inspect
from swarmdeck.core.audit import AuditLog
from swarmdeck.core.errors import NotFound
from swarmdeck.core.ops.base import ClusterOps
from swarmdeck.ui.screens.detail import ServiceScreen
from swarmdeck.ui.screens.inspect import InspectScreen
from swarmdeck.ui.screens.main import MainScreen

SIZE = (120, 36)
FIXTURES = Path(__file__).parent.parent / "fixtures"
WEB = "shop_web"


class RecordedDocker:
    """GET /KIND/ID (and /KIND) from the objects recorded from the lab (plus any a test
    adds)."""

    def __init__(self) -> None:
        self.objects: dict[str, list[dict]] = {}
        for cluster in ("prod", "staging"):
            for kind in ("services", "nodes", "tasks", "networks"):
                data = json.loads((FIXTURES / f"lab_{cluster}" / f"{kind}.json").read_text())
                self.objects.setdefault(kind, []).extend(data)
        self.objects["secrets"] = [{"ID": "sec1", "Spec": {"Name": "db_password",
                                                           "Data": "c2VjcmV0"}}]
        self.objects["configs"] = []
        self.paths: list[str] = []

    async def get(self, path, **_params):
        await asyncio.sleep(0)
        self.paths.append(path)
        kind, _, ident = path.strip("/").partition("/")
        if not ident:
            return copy.deepcopy(self.objects.get(kind, []))
        for obj in self.objects.get(kind, []):
            if ident in (obj.get("ID"), obj.get("Id")):
                return copy.deepcopy(obj)
        raise NotFound(404, f"no such {kind[:-1]}: {ident}")


@pytest.fixture
def docker(fleet):
    fake = RecordedDocker()

    async def ops(name, *, read_only_flag=False):
        return ClusterOps(name, SimpleNamespace(docker=fake, label=f"{name}-m1 (fake)"),
                          audit=AuditLog.default(), read_only=None)

    fleet.ops = ops
    return fake


def service_id(fleet, name: str, cluster: str = "prod") -> str:
    return next(s.id for s in fleet.states[cluster].services.values() if s.name == name)


def shown(app) -> str:
    return app.screen.document.text


async def open_on_web(app, pilot, fleet) -> InspectScreen:
    await pilot.pause()
    services = app.screen.query_one("#services")
    services.focus()
    services.move_cursor(row=services.rows.index(service_id(fleet, WEB)))
    await pilot.press("y")
    assert await wait_until(pilot, lambda: isinstance(app.screen, InspectScreen)
                            and app.screen.found is not None)
    await pilot.pause()
    return app.screen


async def test_y_on_a_service_shows_its_spec_with_a_label(make_app, fleet, docker):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_on_web(app, pilot, fleet)
        assert docker.paths[-1] == f"/services/{service_id(fleet, WEB)}"
        text = shown(app)
        assert "swarmdeck.demo.tier: frontend" in text  # a label of its spec, in YAML
        assert text.startswith("ID: ")
        assert "Spec:\n  Name: shop_web" in text
        await pilot.press("t")
        assert '"swarmdeck.demo.tier": "frontend"' in shown(app)
        assert json.loads(shown(app))["Spec"]["Name"] == WEB
        assert "JSON" in str(screen.query_one("#inspect-header").content)
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_search_steps_through_matches_and_copy_takes_the_text(make_app, fleet, docker):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_on_web(app, pilot, fleet)
        await pilot.press("slash", *"replicas", "enter")
        doc = screen.document
        lines = [doc.lines[n] for n, _s, _e in doc.matches]
        assert len(lines) >= 2 and all("replicas" in line.lower() for line in lines)
        first = doc.current
        await pilot.press("n")
        assert doc.current == (first + 1) % len(doc.matches)
        await pilot.press("N", "N")
        assert doc.current == (first - 1) % len(doc.matches)
        assert f"search {doc.current + 1}/{len(doc.matches)}" in \
            str(screen.query_one("#inspect-header").content)
        await pilot.press("c")
        assert app.clipboard == doc.text
        assert "swarmdeck.demo.tier: frontend" in app.clipboard


async def test_a_long_document_scrolls_to_the_match(make_app, fleet, docker):
    app = make_app()
    async with app.run_test(size=(100, 14)) as pilot:
        screen = await open_on_web(app, pilot, fleet)
        doc = screen.document
        assert doc.scroll_y == 0
        last_line = len(doc.lines) - 1
        await pilot.press("slash", *doc.lines[last_line].strip()[:12], "enter")
        line = doc.matches[doc.current][0]
        assert line > 10 and doc.scroll_y <= line < doc.scroll_y + doc.size.height


async def test_a_secret_is_shown_without_its_data():
    docker = RecordedDocker()
    found = await inspect.fetch(docker, "secret", "sec1")
    assert found["Spec"]["Data"] == "<left out: secret data is not shown here>"
    assert "c2VjcmV0" not in inspect.render(found) + inspect.render(found, "json")
    assert docker.objects["secrets"][0]["Spec"]["Data"] == "c2VjcmV0"  # not changed in place


async def test_cluster_text_is_made_inert(make_app, fleet, docker):
    web = next(o for o in docker.objects["services"] if o["Spec"]["Name"] == WEB)
    web["Spec"]["Labels"]["evil"] = "x\u202eexe.txt \x1b]52;c;AAAA\x07"
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_on_web(app, pilot, fleet)
        text = shown(app)
        assert "\x1b" not in text and "\u202e" not in text
        assert "<U+202E>" in text
        await pilot.press("t")
        assert "\x1b" not in shown(app) and "\u202e" not in shown(app)


async def test_y_in_the_service_screen_and_when_the_read_fails(make_app, fleet, docker):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.push_screen(ServiceScreen("prod", service_id(fleet, WEB)))
        await pilot.pause()
        await pilot.press("y")
        assert await wait_until(pilot, lambda: isinstance(app.screen, InspectScreen)
                                and app.screen.found is not None)
        assert "Name: shop_web" in shown(app)
        await pilot.press("escape")
        docker.objects["services"].clear()  # removed meanwhile
        await pilot.press("y")
        assert await wait_until(pilot, lambda: isinstance(app.screen, InspectScreen)
                                and "could not read it" in str(
                                    app.screen.query_one("#inspect-header").content))
        assert "no such service" in str(app.screen.query_one("#inspect-header").content)


async def test_y_on_the_nodes_pane_and_in_the_all_clusters_view(make_app, fleet, docker):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        nodes = app.screen.query_one("#nodes")
        nodes.focus()
        nodes.move_cursor(row=1)
        node = fleet.states["prod"].nodes[nodes.selected_key]
        await pilot.press("y")
        assert await wait_until(pilot, lambda: isinstance(app.screen, InspectScreen)
                                and app.screen.found is not None)
        assert docker.paths[-1] == f"/nodes/{node.id}"
        assert f"Hostname: {node.hostname}" in shown(app)
        await pilot.press("escape", "A")
        services = app.screen.query_one("#services")
        services.focus()
        staging_web = f"staging/{service_id(fleet, WEB, 'staging')}"
        assert await wait_until(pilot, lambda: staging_web in services.rows)
        services.move_cursor(row=services.rows.index(staging_web))
        await pilot.press("y")
        assert await wait_until(pilot, lambda: isinstance(app.screen, InspectScreen)
                                and app.screen.found is not None)
        assert app.screen.cluster == "staging"
        assert docker.paths[-1] == f"/services/{service_id(fleet, WEB, 'staging')}"


async def test_y_on_a_secret_in_the_resources_screen(make_app, fleet, docker):
    from swarmdeck.ui.screens.resources import ResourcesScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = ResourcesScreen("prod", focus="secrets")
        await app.push_screen(screen)
        assert await wait_until(pilot, lambda: screen.resources is not None)
        await pilot.press("y")
        assert await wait_until(pilot, lambda: isinstance(app.screen, InspectScreen)
                                and app.screen.found is not None)
        assert "Name: db_password" in shown(app)
        assert "c2VjcmV0" not in shown(app)
        assert "Data: '<left out: secret data is not shown here>'" in shown(app)


async def test_y_on_a_task_in_the_tasks_view_and_in_the_task_screen(make_app, fleet, docker):
    from swarmdeck.ui.screens.task import TaskScreen
    from swarmdeck.ui.screens.tasks import TasksScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = TasksScreen("prod")
        await app.push_screen(screen)
        await pilot.pause()
        key = screen.table.selected_key
        await pilot.press("y")
        assert await wait_until(pilot, lambda: isinstance(app.screen, InspectScreen)
                                and app.screen.found is not None)
        assert docker.paths[-1] == f"/tasks/{key}"
        assert f"ID: {key}" in shown(app)
        await pilot.press("escape", "enter")
        assert await wait_until(pilot, lambda: isinstance(app.screen, TaskScreen))
        await pilot.press("y")
        assert await wait_until(pilot, lambda: isinstance(app.screen, InspectScreen)
                                and app.screen.found is not None)
        assert docker.paths[-1] == f"/tasks/{key}"


async def test_ctrl_p_on_the_inspect_screen_lists_its_actions_not_its_scrolling(
        make_app, fleet, docker):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_on_web(app, pilot, fleet)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Search", "YAML/JSON", "Copy", "Command"} <= titles
        assert not {"Document: Up", "Document: Page down"} & titles


async def test_y_on_an_event_inspects_its_object(make_app, fleet, docker):
    from swarmdeck.core.events import ClusterEvent
    from swarmdeck.ui import clock
    from swarmdeck.ui.screens.events import EventsScreen

    web = service_id(fleet, WEB)
    fleet.states["prod"].events.add(ClusterEvent(
        time_ns=int((clock.now() - 60) * 1e9), type="service", action="update",
        actor_id=web, name=WEB))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("e")
        assert await wait_until(pilot, lambda: isinstance(app.screen, EventsScreen)
                                and app.screen.table.rows)
        await pilot.press("y")
        assert await wait_until(pilot, lambda: isinstance(app.screen, InspectScreen)
                                and app.screen.found is not None)
        assert docker.paths[-1] == f"/services/{web}"
        assert "swarmdeck.demo.tier: frontend" in shown(app)
