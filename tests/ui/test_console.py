"""Pilot tests: navigation, filtering, focus, help, palette, live updates, read-only."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from textual.content import Content
from textual.widgets import Input
from ui_waits import wait_until

from swarmdeck.core.audit import AuditLog
from swarmdeck.core.models import Service
from swarmdeck.ui.screens.detail import NodeScreen, ServiceScreen
from swarmdeck.ui.screens.help import HelpScreen
from swarmdeck.ui.screens.main import MainScreen
from swarmdeck.ui.widgets.logs import LogPane
from swarmdeck.ui.widgets.table import LiveTable

SIZE = (120, 36)


def plain(widget) -> str:
    """What a Static shows, as text (its content may be a Rich table or Text)."""
    console = Console(width=200, file=io.StringIO(), color_system=None)
    console.print(widget.content)
    return console.file.getvalue()



def table(app, selector: str) -> LiveTable:
    return app.screen.query_one(selector, LiveTable)


def title(t: LiveTable) -> str:
    """A table's title as shown (border_title reads back as markup)."""
    return Content.from_markup(t.border_title or "").plain


def column(app, selector: str, key: str) -> list[str]:
    t = table(app, selector)
    return [str(t.get_cell(row_key, key)).strip() for row_key in t.rows]


async def test_first_screen_shows_services_nodes_and_health(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert column(app, "#services", "name") == [
            "backup-once", "monitoring_agent", "monitoring_collector", "shop_web", "shop_worker"]
        assert column(app, "#nodes", "hostname") == [
            "prod-m1", "prod-m2", "prod-m3", "prod-w1", "prod-w2"]
        assert column(app, "#services", "replicas")[3] == "2/2"
        health = plain(app.screen.query_one("#health"))
        assert "managers 3/3 leader prod-m1" in health and "nodes 5/5" in health
        assert app.screen.focused is table(app, "#services")


async def test_jk_enter_and_escape(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("j", "j", "j")
        assert table(app, "#services").selected_key == next(
            s.id for s in app.fleet.state("prod").services.values() if s.name == "shop_web")
        await pilot.press("k")
        await pilot.press("enter")
        assert isinstance(app.screen, ServiceScreen)
        summary = plain(app.screen.query_one("#summary"))
        assert "monitoring_collector" in summary and "node.role == manager" in summary
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_node_detail_lists_its_tasks(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("tab")  # services -> nodes
        assert app.screen.focused is table(app, "#nodes")
        await pilot.press("j", "j", "j", "enter")  # prod-w1
        assert isinstance(app.screen, NodeScreen)
        assert "prod-w1" in plain(app.screen.query_one("#summary"))
        tasks = [str(c) for c in column(app, "#tasks", "node")]
        assert tasks and set(tasks) == {"prod-w1"}


async def test_filter_is_instant_and_escape_clears_it(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash")
        box = app.screen.query_one("#services-filter", Input)
        assert box.display and app.screen.focused is box
        await pilot.press(*"work")
        assert column(app, "#services", "name") == ["shop_worker"]
        await pilot.press("enter")  # keep the filter, back to the table
        assert app.screen.focused is table(app, "#services")
        assert column(app, "#services", "name") == ["shop_worker"]
        await pilot.press("escape")
        assert len(column(app, "#services", "name")) == 5 and not box.display


async def test_filter_applies_to_the_focused_table(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("tab", "slash", *"w1", "enter")
        assert column(app, "#nodes", "hostname") == ["prod-w1"]
        assert len(column(app, "#services", "name")) == 5


async def test_the_filter_opens_on_the_pane_it_filters(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("tab", "slash")  # the nodes pane
        box = app.screen.focused
        assert isinstance(box, Input) and box.id == "nodes-filter"
        nodes, services = table(app, "#nodes"), table(app, "#services")
        await pilot.pause()
        # right above the nodes pane, below the services pane
        assert box.region.bottom == nodes.region.y
        assert box.region.y >= services.region.bottom
        assert not app.screen.query_one("#services-filter", Input).display


async def test_a_kept_filter_shows_in_the_pane_title_until_escape(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", *"web", "enter")
        services = table(app, "#services")
        assert title(services).endswith("  /web")
        assert title(services).startswith("Services · prod")
        await pilot.press("tab", "slash", *"w1", "enter")
        nodes = table(app, "#nodes")
        assert title(nodes).endswith("  /w1")
        assert title(services).endswith("  /web")  # each pane keeps its own
        await pilot.press("escape")  # on the nodes pane: its filter goes
        assert title(nodes) == "Nodes · prod" and len(column(app, "#nodes",
                                                                   "hostname")) == 5
        assert column(app, "#services", "name") == ["shop_web"]
        await pilot.press("shift+tab", "escape")
        assert title(services) == "Services · prod"
        assert len(column(app, "#services", "name")) == 5


async def test_a_filter_is_never_read_as_markup(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", *"[b]x", "enter")
        assert title(table(app, "#services")).endswith("  /[b]x")


async def test_tab_cycles_panes(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        seen = []
        for _ in range(4):
            await pilot.press("tab")
            seen.append(app.screen.focused.id)
        assert seen == ["nodes", "logs", "projects", "services"]
        await pilot.press("shift+tab")
        assert app.screen.focused.id == "projects"


async def test_project_scope_and_cluster_switch(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("shift+tab")  # projects tree
        await pilot.press("down", "down")  # prod > shop > production (shop)
        await pilot.pause()
        assert column(app, "#services", "name") == ["shop_web", "shop_worker"]
        await pilot.press("tab", "c")
        await pilot.pause()
        assert app.screen.cluster == "staging"
        assert column(app, "#nodes", "hostname") == ["staging-m1", "staging-w1"]
        assert "READ-ONLY" in plain(app.screen.query_one("#health"))


async def test_all_clusters_view_has_a_cluster_column(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("A")
        assert column(app, "#services", "cluster").count("staging") == 2
        assert len(column(app, "#services", "cluster")) == 7
        await pilot.press("A")
        assert "cluster" not in table(app, "#services").column_keys


async def test_help_lists_keys_with_their_ids(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = plain(app.screen.query_one("Static"))
        for needle in ("Filter", "filter", "cluster.next", "Scale", "service.scale"):
            assert needle in text
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_palette_runs_actions_by_name(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await pilot.press(*"switch to cluster staging")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.cluster == "staging"


async def test_palette_finds_every_panes_actions_whatever_has_the_focus(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.screen.focused is table(app, "#services")
        titles = {c.title for c in app.get_system_commands(app.screen)}
        for wanted in ("Nodes: Drain", "Nodes: Labels", "Nodes: Promote", "Nodes: Remove",
                       "Services: Scale", "Services: Rollback", "Services: Placement",
                       "Services: Remove", "Filter", "Doctor", "Events", "Quit"):
            assert wanted in titles, (wanted, sorted(titles))
        assert not {"Up", "Down", "Next pane", "Services: Up"} & titles  # keys that move


async def test_palette_runs_another_panes_action_on_its_highlighted_row(make_app):
    app = make_app(read_only=True)  # refused at once: the audit shows what it acted on
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await pilot.press(*"nodes: drain")
        await pilot.pause(0.3)
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: any(
            "node drain refused: cluster prod is read-only" in n.message
            for n in app._notifications))
        assert app.screen.focused is table(app, "#nodes")  # the pane it acted on
    [entry] = AuditLog.default().read()
    assert (entry["action"], entry["target"]) == ("node drain", "prod-m1")


async def test_palette_shows_rebound_keys(make_app, config):
    config.keys["node.drain"] = "W"
    app = make_app(config=config)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        drain = next(c for c in app.get_system_commands(app.screen)
                     if c.title == "Nodes: Drain")
        assert drain.help == "key: W"


async def test_keys_can_be_rebound_from_the_config(make_app, config):
    config.keys["filter"] = "f"
    app = make_app(config=config)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("f")
        assert app.screen.query_one("#services-filter", Input).display


async def test_inventory_changes_show_without_a_key(make_app, fleet):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        state = fleet.state("prod")
        worker = next(s for s in state.services.values() if s.name == "shop_worker")
        state.services[worker.id] = Service.model_validate(
            {**worker.model_dump(), "replicas": 6})
        fleet.emit("prod")
        assert await wait_until(pilot, lambda: column(app, "#services", "replicas")[4] == "3/6")
        state.connected = False
        fleet.emit("prod", "connection")
        assert await wait_until(pilot, lambda: "STALE" in table(app, "#services").border_title)


async def test_logs_follow_the_highlighted_service(make_app, fleet):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("j", "j", "j", "j")  # shop_worker
        await pilot.pause(0.6)
        worker = next(s for s in fleet.state("prod").services.values()
                      if s.name == "shop_worker")
        assert fleet.log_requests[-1] == ("prod", worker.id)
        pane = app.screen.query_one(LogPane)
        text = "\n".join(str(line.text) for line in pane.lines)
        assert "worker processed job" in text and "shop_worker." in text


@pytest.mark.parametrize("key, action, target", [
    ("s", "scale", "shop_web"), ("u", "update image", "shop_web"),
    ("R", "restart", "shop_web"), ("b", "rollback", "shop_web"),
    ("x", "remove service", "shop_web"), ("t", "token rotate", "prod"),
])
async def test_operation_keys_are_refused_when_read_only(make_app, key, action, target):
    app = make_app(read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("j", "j", "j", key)  # shop_web
        await pilot.pause(0.2)
        messages = [n.message for n in app._notifications]
        assert any(f"{action} refused: cluster prod is read-only (--read-only)" in m
                   for m in messages), messages
        assert app.screen.__class__.__name__ == "MainScreen"  # no dialog was opened
    entries = AuditLog.default().read()
    assert [(e["action"], e["target"], e["result"]) for e in entries] == \
        [(action, target, "refused")]


async def test_node_keys_are_refused_on_a_read_only_cluster(make_app):
    app = make_app(start_cluster="staging")  # read_only = true in the config
    async with app.run_test(size=SIZE) as pilot:
        app.screen.query_one("#nodes").focus()
        await pilot.press("w")
        await pilot.pause(0.2)
        messages = [n.message for n in app._notifications]
        assert any("node drain refused: cluster staging is read-only (read_only = true"
                   in m for m in messages), messages


async def test_scale_refuses_a_global_service_before_asking(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#services", LiveTable)
        key = next(k for k in table.rows if str(table.get_cell(k, "mode")) == "global")
        table.move_cursor(row=table.rows.index(key))
        await pilot.press("s")
        await pilot.pause(0.2)
        assert any("cannot be scaled" in n.message for n in app._notifications)


async def test_chart_of_a_service_from_its_history(make_app):
    from swarmdeck.ui.screens.chart import ChartScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("j", "j", "j", "enter", "c")
        assert isinstance(app.screen, ChartScreen)
        cpu = plain(app.screen.query_one("#cpu"))
        assert "shop_web CPU" in cpu and "seconds ago" in cpu
        assert "shop_web memory (MiB)" in plain(app.screen.query_one("#mem"))
        await pilot.press("escape")
        assert isinstance(app.screen, ServiceScreen)


async def test_metrics_cells_show_sparklines(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        cpu = column(app, "#nodes", "cpu")
        assert all(any(c in cell for c in "▁▂▃▄▅▆▇█") and cell.endswith("%") for cell in cpu)
        assert column(app, "#services", "mem")[0] == "-"  # a finished job has no samples


async def test_memory_sparklines_are_scaled_to_the_limit_or_the_node(make_app, fleet):
    from swarmdeck.core.metrics import Point, Series

    state = fleet.state("prod")
    ids = {s.name: s.id for s in state.services.values()}
    metrics = fleet.metrics("prod").metrics
    steady = Series(20)  # monitoring_agent, no limit: a steady 636 KiB on 40 GiB of nodes
    for _ in range(12):
        steady.add(Point(1.0, 636 << 10))
    metrics.services[ids["monitoring_agent"]] = steady
    at_limit = Series(20)  # shop_web: 2 tasks at their 64 MiB limit, then half of it
    for used in (128 << 20, 128 << 20, 64 << 20):
        at_limit.add(Point(1.0, used))
    metrics.services[ids["shop_web"]] = at_limit
    app = make_app()
    async with app.run_test(size=(160, 36)) as pilot:
        await pilot.pause()
        cells = dict(zip(column(app, "#services", "name"), column(app, "#services", "mem"),
                         strict=True))
        agent = cells["monitoring_agent"].split()[0]
        assert set(agent) == {"▁"}, agent  # not a full bar: a small share of its nodes
        web = cells["shop_web"].split()[0]
        assert web.endswith("██▅"), web  # full at the limit, half at half of it
        await pilot.press("j", "j", "j", "enter")  # shop_web's detail says what full is
        assert await wait_until(pilot, lambda: isinstance(app.screen, ServiceScreen))
        summary = plain(app.screen.query_one("#summary"))
        assert "64.0 MiB in use; the MEM sparkline's full height is 128.0 MiB: limit " \
               "64.0 MiB x 2 tasks" in summary


async def test_the_log_pane_names_a_replica_the_inventory_learns_while_it_follows(
        make_app, fleet, monkeypatch):
    """Its lines are tagged `service.slot` from the live state (core.log_follow.Tagger), not
    from the tasks known when following began (a replica started since was a bare name)."""
    import asyncio

    state = fleet.state("prod")
    worker = next(s for s in state.services.values() if s.name == "shop_worker")
    late = next(t for t in state.tasks.values() if t.service_id == worker.id and t.slot)
    del state.tasks[late.id]  # not yet known when the pane starts following
    go = asyncio.Event()
    recorded = fleet.logs

    async def logs(name, service_id, **kw):
        fleet.log_requests.append((name, service_id))
        await go.wait()
        async for line in recorded(name, service_id, **kw):  # (recorded again: harmless)
            yield line

    monkeypatch.setattr(fleet, "logs", logs)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("j", "j", "j", "j")  # shop_worker
        assert await wait_until(pilot, lambda: fleet.log_requests[-1:] == [("prod", worker.id)])
        state.tasks[late.id] = late  # the inventory learns it
        go.set()
        pane = app.screen.query_one(LogPane)
        tags = lambda: "\n".join(str(line.text) for line in pane.lines)  # noqa: E731
        assert await wait_until(pilot, lambda: f"shop_worker.{late.slot}@" in tags())
        assert "shop_worker@" not in tags()
