"""The deploy history in the console, on recorded lab data and a fake Docker API that keeps
the revisions as the cluster does (swarm configs, core.ops.history): `h` on an environment
lists them with the one running now, `v` shows a revision against what runs, `d` deploys
one again through the deploy's own preview and question; a read-only cluster refuses it.
The live proof (a real rollback, checked with docker service inspect) is
tests/integration/test_history_console_live.py."""

from __future__ import annotations

import copy

import pytest
from fake_cluster import install
from test_help_keys import help_text, section
from ui_waits import wait_until

from swarmdeck.core.audit import AuditLog
from swarmdeck.core.ops import history
from swarmdeck.core.ops.compose import StackPlan
from swarmdeck.ui.screens.dialogs import ConfirmDialog
from swarmdeck.ui.screens.history import RUNNING, HistoryScreen, RevisionScreen
from swarmdeck.ui.screens.operation import OperationScreen
from swarmdeck.ui.widgets.projects import ProjectsTree

SIZE = (130, 40)


def keep(fake, number: int, when: str, specs: dict[str, dict]) -> None:
    """Revision NUMBER of stack shop, as `deploy` would have stored it."""
    images = {k: s["TaskTemplate"]["ContainerSpec"]["Image"] for k, s in specs.items()}
    rev = history.Revision(number, when, "ana@jump1", "3f2a9c1d0b7e" if number == 1 else None,
                           "shop", "production", "shop", images)
    spec = history.config_spec(rev, StackPlan("shop", specs, {}, {}, {}))
    fake.configs.append({"ID": f"rev{number}", "Spec": spec, "Version": {"Index": 1}})


@pytest.fixture
def docker(fleet, config):
    fakes = install(fleet, config)
    for name in ("prod", "staging"):
        running = {s["Spec"]["Name"].removeprefix("shop_"): copy.deepcopy(s["Spec"])
                   for s in fakes[name].services
                   if (s["Spec"].get("Labels") or {}).get("com.docker.stack.namespace")
                   == "shop"}
        first = copy.deepcopy(running)
        first["web"]["TaskTemplate"]["ContainerSpec"]["Env"] = ["VERSION=one",
                                                                "DB_PASSWORD=hunter2"]
        keep(fakes[name], 1, "2026-11-26T09:15:00Z", first)
        keep(fakes[name], 2, "2026-11-29T04:45:00Z", running)  # what runs (the recording)
    return fakes


async def open_history(app, pilot, environment: str = "production") -> HistoryScreen:
    tree = app.screen.query_one(ProjectsTree)
    assert await wait_until(pilot, lambda: tree.last_line > 0)
    for line in range(tree.last_line + 1):
        node = tree.get_node_at_line(line)
        if node and node.data and node.data.environment == environment:
            tree.focus()
            tree.move_cursor(node)
            break
    await pilot.pause()
    await pilot.press("h")
    assert await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen))
    screen = app.screen
    assert await wait_until(pilot, lambda: screen.table.row_count == 2)
    return screen


def cells(screen: HistoryScreen) -> list[list[str]]:
    table = screen.table
    return [[str(table.get_cell(key, column)).strip() for column in
             ("revision", "now", "age", "time", "user", "commit", "images")]
            for key in table.rows]


async def test_h_lists_the_revisions_newest_first_with_the_running_one(make_app, docker):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_history(app, pilot)
        digest = "demo:1.0@63c050b12b8f"
        assert cells(screen) == [
            ["2", RUNNING, "2h", "2026-11-29 04:45", "ana@jump1", "-",
             f"web={digest}, worker={digest}"],
            ["1", "", "2d", "2026-11-26 09:15", "ana@jump1", "3f2a9c1d0b7e",
             f"web={digest}, worker={digest}"]]
        assert "running now: revision 2" in str(screen.query_one("#history-title").render())

        await pilot.press("j", "v")  # revision 1: what deploying it would change
        assert await wait_until(pilot, lambda: isinstance(app.screen, RevisionScreen))
        text = app.screen.document.text
        assert "- update service shop_web" in text
        assert "env added: VERSION=one" in text
        assert "DB_PASSWORD=****" in text and "hunter2" not in text
        assert "commit: 3f2a9c1d0b7e" in text
        await pilot.press("escape")
        assert isinstance(app.screen, HistoryScreen)

        await pilot.press("question_mark")  # the view's keys, as its footer shows them
        text = help_text(app)
        own = section(text, "History screen")
        for key, wanted in (("d", "history.deploy"), ("v", "history.view"),
                            ("r", "history.refresh")):
            assert next(line for line in own.splitlines() if wanted in line).split()[0] == key
        assert ":history|hist [PROJECT [ENV]]" in text
        await pilot.press("escape")
    assert docker["prod"].posts == []  # looking changes nothing


async def test_d_deploys_a_revision_again_through_the_preview_and_question(make_app, docker):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_history(app, pilot)
        await pilot.press("j", "d")
        assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        confirm = app.screen
        assert confirm.question == ("Deploy shop/production (revision 1 again) as stack shop "
                                    "on prod?")
        assert confirm.details == [
            "deploy stack shop on cluster prod", "  update service shop_web",
            "      env added: DB_PASSWORD=****", "      env added: VERSION=one",
            "  unchanged service shop_worker"]
        assert docker["prod"].posts == []  # nothing before the answer
        await pilot.press("y")
        assert await wait_until(pilot, lambda: isinstance(app.screen, OperationScreen)
                                and app.screen.outcome is not None)
        assert app.screen.outcome == "deploy shop/production (revision 1 again): done"
        assert any("recorded as revision 3 of shop (again revision 1)" in line
                   for line in app.screen.lines)
        await pilot.press("escape")
        assert await wait_until(pilot, lambda: screen.table.row_count == 3)
    [update, recorded] = docker["prod"].posts
    assert update[:2] == ("services", "shop_web")
    assert update[3]["TaskTemplate"]["ContainerSpec"]["Env"] == ["VERSION=one",
                                                                 "DB_PASSWORD=hunter2"]
    assert recorded[:2] == ("configs", "sdh.shop.3")
    [entry] = AuditLog.default().read()
    assert (entry["action"], entry["target"], entry["result"]) == ("deploy", "shop", "ok")


async def test_a_read_only_cluster_refuses_the_deploy_and_says_why(make_app, docker):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_history(app, pilot, "staging")
        await pilot.press("j", "d")
        assert await wait_until(pilot, lambda: any(
            "deploy refused: cluster staging is read-only" in n.message
            for n in app._notifications))
        assert isinstance(app.screen, HistoryScreen)
    assert docker["staging"].posts == []
    [entry] = AuditLog.default().read()
    assert (entry["action"], entry["target"], entry["result"], entry["error"]) == (
        "deploy", "shop", "refused", "read-only")


async def test_history_command_and_its_mistakes(make_app, docker):
    from swarmdeck.ui import commands

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert commands.run(app, ":history") == ("which project? :history PROJECT [ENV] (or "
                                                 "select one in the projects pane)")
        assert commands.run(app, ":history shop staging") is None
        assert await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        assert (app.screen.cluster, app.screen.environment) == ("staging", "staging")
        assert commands.run(app, ":history shop") == \
            "which environment of shop? :history shop ENV"
        assert commands.run(app, ":history shp") == \
            "no project 'shp' in the config: did you mean 'shop'?"
        assert commands.run(app, ":history shop prodution") == \
            "project shop has no environment 'prodution': did you mean 'production'?"
        assert isinstance(app.screen, HistoryScreen)  # a mistake changed nothing
        assert app.screen.environment == "staging"


def test_history_view_80x24(snap_compare, make_app, docker):
    async def open_it(pilot):
        await open_history(pilot.app, pilot)
        await pilot.pause(0.3)

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=open_it)
