"""`:tasks` and the task screen on recorded lab data: every task with its node, "not
running" only, a filter, and Enter on a task (here and in the service and node screens):
its whole error, exit code, node and its own last log lines."""

from __future__ import annotations

from datetime import UTC, datetime

from ui_waits import wait_until

from swarmdeck.core.models import Task
from swarmdeck.ui.screens.command import CommandScreen
from swarmdeck.ui.screens.detail import NodeScreen, ServiceScreen
from swarmdeck.ui.screens.task import TaskScreen
from swarmdeck.ui.screens.tasks import TasksScreen
from swarmdeck.ui.widgets.logview import LogView
from swarmdeck.ui.widgets.table import LiveTable

SIZE = (140, 40)
FAILED_ERROR = "task: non-zero exit (137): killed after 30s; the health check failed 3 times"
WORKER_TASK = "oamy006yezrcmg89uhh2wesqo"  # a shop_worker replica with recorded lines


def add_failed_task(fleet, cluster: str = "prod") -> Task:
    state = fleet.states[cluster]
    worker = next(s for s in state.services.values() if s.name == "shop_worker")
    node = sorted(state.nodes.values(), key=lambda n: n.hostname)[-1]
    task = Task(id="failedtask0000000000000001", service_id=worker.id, node_id=node.id,
                slot=1, state="failed", desired_state="shutdown", message="started",
                error=FAILED_ERROR, container_id="c0ffee" * 10 + "abcd", exit_code=137,
                image=worker.image, created_at=datetime(2026, 11, 29, 6, 30, tzinfo=UTC),
                timestamp=datetime(2026, 11, 29, 6, 31, tzinfo=UTC))
    state.tasks[task.id] = task
    return task


def cells(table: LiveTable, column: str) -> list[str]:
    return [table.get_cell(key, column).plain for key in table.rows]


def text_of(widget) -> str:
    import io

    from rich.console import Console

    console = Console(width=300, file=io.StringIO(), color_system=None)
    console.print(widget.content)
    return console.file.getvalue()


async def open_tasks(app, pilot, command: str = "tasks") -> LiveTable:
    await pilot.pause()
    await pilot.press("colon")
    assert await wait_until(pilot, lambda: isinstance(app.screen, CommandScreen))
    await pilot.press(*command, "enter")
    assert await wait_until(pilot, lambda: isinstance(app.screen, TasksScreen))
    await pilot.pause()
    return app.screen.table


async def test_tasks_lists_every_task_with_its_node(make_app, fleet):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_tasks(app, pilot)
        state = fleet.states["prod"]
        assert sorted(table.rows) == sorted(state.tasks)  # every task, history included
        by_key = dict(zip(table.rows, cells(table, "node"), strict=True))
        for task in state.tasks.values():
            assert by_key[task.id] == state.nodes[task.node_id].hostname
        names = cells(table, "name")
        assert {"shop_web.1", "shop_web.2", "shop_worker.3", "monitoring_collector.1"} <= \
            set(names)
        container = cells(table, "container")[names.index("shop_web.1")]
        web1 = next(t for t in state.tasks.values() if t.slot == 1 and
                    state.services[t.service_id].name == "shop_web")
        assert container == web1.container_id[:12]
        assert "Tasks · prod · 12" in str(table.border_title)


async def test_not_running_and_the_filter(make_app, fleet):
    add_failed_task(fleet)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_tasks(app, pilot, "ps")
        await pilot.press("f")
        # the job that completed and the failed replica: nothing that runs
        assert sorted(cells(table, "state")) == ["complete", "failed"]
        assert "not running" in str(table.border_title)
        await pilot.press("f")
        assert len(table.rows) == 13
        await pilot.press("slash", *"collector", "enter")
        assert cells(table, "name") == ["monitoring_collector.1"]
        await pilot.press("escape")  # the filter goes first
        assert len(table.rows) == 13
        await pilot.press("escape")
        assert not isinstance(app.screen, TasksScreen)


async def test_tasks_with_a_filter_from_the_command(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_tasks(app, pilot, "tasks /shop_web")
        assert sorted(cells(table, "name")) == ["shop_web.1", "shop_web.2"]


async def test_enter_on_a_failed_task_shows_its_error(make_app, fleet):
    task = add_failed_task(fleet)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_tasks(app, pilot)
        table.move_cursor(row=table.rows.index(task.id))
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: isinstance(app.screen, TaskScreen)
                                and app.screen.logs_read)
        shown = text_of(app.screen.query_one("#task"))
        assert FAILED_ERROR in shown  # whole, not cut as in the table
        assert "exit code  137" in shown
        node = fleet.states["prod"].nodes[task.node_id]
        assert f"{node.hostname} ({node.address}, ready)" in shown
        assert "shop_worker.1" in shown and "failed (desired: shutdown)" in shown
        assert not list(app.screen.query_one(LogView).plain_lines())
        assert "none, read from the recording" in str(
            app.screen.query_one("#task-logs").border_title)


async def test_enter_on_a_task_in_the_service_screen_shows_its_own_lines(make_app, fleet):
    state = fleet.states["prod"]
    worker = state.tasks[WORKER_TASK]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.push_screen(ServiceScreen("prod", worker.service_id))
        await pilot.pause()
        tasks = app.screen.query_one("#tasks", LiveTable)
        tasks.move_cursor(row=tasks.rows.index(WORKER_TASK))
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: isinstance(app.screen, TaskScreen)
                                and app.screen.logs_read)
        lines = list(app.screen.query_one(LogView).plain_lines())
        assert len(lines) == 6 and all("worker processed job" in line for line in lines)
        assert "read from the recording" in str(app.screen.query_one("#task-logs").border_title)
        await pilot.press("escape")
        assert isinstance(app.screen, ServiceScreen)


async def test_enter_on_a_task_in_the_node_screen(make_app, fleet):
    task = add_failed_task(fleet)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.push_screen(NodeScreen("prod", task.node_id))
        await pilot.pause()
        tasks = app.screen.query_one("#tasks", LiveTable)
        assert tasks.rows  # the node runs current tasks (the failed one is history)
        key = tasks.rows[0]
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: isinstance(app.screen, TaskScreen))
        assert app.screen.task_id == key


async def test_the_tasks_view_and_a_task_follow_the_inventory(make_app, fleet):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_tasks(app, pilot)
        assert len(table.rows) == 12
        task = add_failed_task(fleet)
        fleet.emit("prod", "tasks")
        assert await wait_until(pilot, lambda: task.id in table.rows)
        table.move_cursor(row=table.rows.index(task.id))
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: isinstance(app.screen, TaskScreen))
        del fleet.states["prod"].tasks[task.id]
        fleet.emit("prod", "tasks")
        assert await wait_until(pilot, lambda: "no longer known to the swarm" in text_of(
            app.screen.query_one("#task")))
        assert not app.screen.query_one("#task").border_subtitle  # no FAILED left over
