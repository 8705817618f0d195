"""Node keys on recorded lab data and a fake Docker API: the labels prompt (only what is
named changes, the plan is shown and confirmed first), no-ops refused before any question,
the drain's plan in its confirmation."""

from __future__ import annotations

import io

import pytest
from fake_cluster import install
from rich.console import Console
from textual.widgets import Input
from ui_waits import wait_until

from swarmdeck.core.audit import AuditLog
from swarmdeck.ui.screens.dialogs import ConfirmDialog, PromptDialog
from swarmdeck.ui.screens.main import MainScreen
from swarmdeck.ui.screens.operation import OperationScreen
from swarmdeck.ui.widgets.table import LiveTable

SIZE = (130, 45)


@pytest.fixture
def docker(fleet, config):
    return install(fleet, config)


def text_of(widget) -> str:
    console = Console(width=300, file=io.StringIO(), color_system=None)
    console.print(widget.content)
    return console.file.getvalue()


async def on_node(app, pilot, hostname: str, key: str) -> None:
    table = app.screen.query_one("#nodes", LiveTable)
    assert await wait_until(pilot, lambda: len(table.rows) > 0)
    row = [str(table.get_cell(k, "hostname")).strip() for k in table.rows].index(hostname)
    table.focus()
    table.move_cursor(row=row)
    await pilot.press(key)


async def prompt_labels(app, pilot, typed: str) -> None:
    await on_node(app, pilot, "prod-w1", "l")
    assert await wait_until(pilot, lambda: isinstance(app.screen, PromptDialog))
    box = app.screen.query_one(Input)
    box.value = typed
    await pilot.press("enter")


def labels_posted(docker) -> list[dict]:
    return [body.get("Labels") for kind, _name, _p, body in docker["prod"].posts
            if kind == "nodes"]


async def test_minus_key_removes_that_label_only_after_confirming_the_plan(make_app, docker):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await prompt_labels(app, pilot, "-zone")
        assert await wait_until(pilot, lambda: isinstance(app.screen, (
            ConfirmDialog, OperationScreen)))
        assert labels_posted(docker) == []  # nothing written before the answer
        confirm = app.screen
        assert isinstance(confirm, ConfirmDialog)
        assert confirm.question == "Change the labels of prod-w1 on prod?"
        assert confirm.details == ["remove  zone (was a)", "kept    storage=ssd"]
        await pilot.press("enter")  # Confirm is the default
        assert await wait_until(pilot, lambda: isinstance(app.screen, OperationScreen)
                                and app.screen.outcome is not None)
        assert app.screen.outcome == "prod-w1: labels storage=ssd"
    assert labels_posted(docker) == [{"storage": "ssd"}]
    [entry] = AuditLog.default().read()
    assert (entry["action"], entry["params"]) == ("node label", {"add": {}, "rm": ["zone"]})


async def test_an_empty_line_changes_nothing_and_says_so(make_app, docker):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await on_node(app, pilot, "prod-w1", "l")
        assert await wait_until(pilot, lambda: isinstance(app.screen, PromptDialog))
        # the current labels are in the question, not in the line to edit
        assert "prod-w1 on prod: storage=ssd, zone=a" in app.screen.question
        app.screen.query_one(Input).value = ""
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: isinstance(app.screen, MainScreen))
        assert await wait_until(pilot, lambda: any(
            "labels of prod-w1: nothing changed" in n.message for n in app._notifications))
    assert labels_posted(docker) == []


async def test_a_typo_in_a_removal_is_shown_in_the_prompt(make_app, docker):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await prompt_labels(app, pilot, "-zoen")
        await pilot.pause()
        assert isinstance(app.screen, PromptDialog)
        assert "prod-w1 has no label 'zoen'" in text_of(app.screen.query_one("#error"))
    assert labels_posted(docker) == []


async def test_removing_a_label_a_service_needs_names_it_first(make_app, docker, fleet):
    state = fleet.state("prod")
    worker = next(s for s in state.services.values() if s.name == "shop_worker")
    state.services[worker.id] = worker.model_copy(
        update={"constraints": ["node.labels.storage==ssd"]})
    # the cluster itself (the plan before the question is read from it)
    docker["prod"].service("shop_worker")["Spec"]["TaskTemplate"]["Placement"][
        "Constraints"] = ["node.labels.storage==ssd"]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await prompt_labels(app, pilot, "-storage")
        assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        confirm = app.screen
        assert confirm.danger
        assert confirm.question.startswith("shop_worker would have no node to run on")
        assert any("shop_worker (uses node.labels.storage==ssd): becomes UNPLACEABLE" in line
                   for line in confirm.details)
        await pilot.press("enter")  # a dangerous question defaults to Cancel
        await pilot.pause(0.2)
    assert labels_posted(docker) == []


@pytest.mark.parametrize("hostname, key, says", [
    ("prod-w1", "m", "prod-w1 is already a worker: nothing to change"),
    ("prod-m2", "p", "prod-m2 is already a manager: nothing to change"),
    ("prod-w1", "v", "prod-w1 is already active: nothing to change"),
])
async def test_a_change_that_changes_nothing_is_refused_before_asking(make_app, docker,
                                                                      hostname, key, says):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await on_node(app, pilot, hostname, key)
        assert await wait_until(pilot, lambda: any(says in n.message
                                                   for n in app._notifications))
        await pilot.pause(0.2)
        assert isinstance(app.screen, MainScreen)  # no question was asked
        told = next(n for n in app._notifications if says in n.message)
        assert told.severity == "information"  # said, not warned: nothing is wrong
    assert docker["prod"].posts == [] and AuditLog.default().read() == []


async def test_drained_and_paused_nodes_are_not_drained_or_paused_again(make_app, docker,
                                                                        fleet):
    state = fleet.state("prod")
    for hostname, availability in (("prod-w1", "drain"), ("prod-w2", "pause")):
        found = next(n for n in state.nodes.values() if n.hostname == hostname)
        state.nodes[found.id] = found.model_copy(update={"availability": availability})
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        for hostname, key, says in (("prod-w1", "w", "prod-w1 is already drained"),
                                    ("prod-w2", "z", "prod-w2 is already paused")):
            await on_node(app, pilot, hostname, key)
            assert await wait_until(pilot, lambda says=says: any(
                says in n.message for n in app._notifications))
            assert isinstance(app.screen, MainScreen)
    assert docker["prod"].posts == []


async def test_drain_shows_the_tasks_that_move_then_follows_them(make_app, docker):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await on_node(app, pilot, "prod-w1", "w")
        assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        confirm = app.screen
        assert confirm.question == "Drain node prod-w1 on prod? Its tasks stop there."
        assert confirm.details == [
            "2 tasks stop on prod-w1:",
            "  monitoring_agent: stops here (a global service runs one task per node)",
            "  shop_worker.3: moves (can run on: prod-m1, prod-m2, prod-m3, prod-w2)"]
        assert not confirm.danger
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: isinstance(app.screen, OperationScreen)
                                and app.screen.outcome is not None)
        view = app.screen
        assert view.outcome == "drain prod-w1: done"
        assert "  shop_worker: 3/3 running -> converged" in view.lines
        assert "  monitoring_agent: 4/4 running -> converged" in view.lines
    [(kind, name, _params, body)] = docker["prod"].posts
    assert (kind, name, body["Availability"]) == ("nodes", "prod-w1", "drain")


async def test_drain_names_the_services_it_leaves_short(make_app, docker, fleet):
    state = fleet.state("prod")
    collector = next(s for s in state.services.values() if s.name == "monitoring_collector")
    state.services[collector.id] = collector.model_copy(
        update={"constraints": ["node.hostname==prod-m1"]})
    # the cluster itself (the plan before the question is read from it)
    docker["prod"].service("monitoring_collector")["Spec"]["TaskTemplate"].setdefault(
        "Placement", {})["Constraints"] = ["node.hostname==prod-m1"]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await on_node(app, pilot, "prod-m1", "w")
        assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        confirm = app.screen
        assert confirm.danger
        assert confirm.question.startswith(
            "monitoring_collector would end up below the desired count.")
        assert any(line.startswith("  monitoring_collector.1: monitoring_collector ends up "
                                   "BELOW its desired count: 0 of 1 can run")
                   for line in confirm.details)
        await pilot.press("escape")
    assert docker["prod"].posts == []
