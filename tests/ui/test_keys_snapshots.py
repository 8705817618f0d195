"""Snapshots of the k9s-style views on recorded lab data (update: pytest --snapshot-update):
the `:` prompt with its completions, `:tasks` with a failed task, a task, and `y`."""

from __future__ import annotations

from test_inspect_screen import RecordedDocker
from test_snapshots import settle
from test_tasks_screen import add_failed_task

from swarmdeck.core.audit import AuditLog
from swarmdeck.core.ops.base import ClusterOps


def test_command_prompt_completions(snap_compare, make_app):
    async def prompt(pilot):
        await settle(pilot)
        await pilot.press("colon", "s", "tab")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=(100, 30), run_before=prompt)


def test_tasks_view_not_running(snap_compare, make_app, fleet):
    add_failed_task(fleet)

    async def tasks(pilot):
        await settle(pilot)
        await pilot.press("colon", *"tasks", "enter")
        await pilot.pause()
        await pilot.press("f")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=(140, 30), run_before=tasks)


def test_failed_task(snap_compare, make_app, fleet):
    task = add_failed_task(fleet)

    async def open_task(pilot):
        from swarmdeck.ui.screens.task import TaskScreen

        await settle(pilot)
        screen = TaskScreen("prod", task.id)
        await pilot.app.push_screen(screen)
        for _ in range(40):
            if screen.logs_read:
                break
            await pilot.pause(0.05)
        await pilot.pause(0.2)

    assert snap_compare(make_app(), terminal_size=(120, 32), run_before=open_task)


def test_inspect_with_a_search(snap_compare, make_app, fleet):
    docker = RecordedDocker()

    async def ops(name, *, read_only_flag=False):
        return ClusterOps(name, type("S", (), {"docker": docker, "label": "fake"})(),
                          audit=AuditLog.default())

    fleet.ops = ops

    async def inspect(pilot):
        from swarmdeck.ui.screens.inspect import InspectScreen

        await settle(pilot)
        web = next(s.id for s in fleet.states["prod"].services.values()
                   if s.name == "shop_web")
        screen = InspectScreen("prod", "service", web, "shop_web")
        await pilot.app.push_screen(screen)
        for _ in range(40):
            if screen.found is not None:
                break
            await pilot.pause(0.05)
        await pilot.press("slash", *"tier", "enter")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=(110, 30), run_before=inspect)
