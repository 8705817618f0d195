"""`!` on a service opens a shell in its first running task: on recorded lab data, with the
node's engine faked, the guard and the task choice are those of `swarmdeck exec` (read-only
refuses, a service with nothing running says so, each attempt is one audit line). The shell
itself needs a real terminal: tests/integration/test_exec_live.py drives it at one."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ui_waits import wait_until

from swarmdeck.ui.widgets.table import LiveTable

SIZE = (130, 45)


def audit_lines() -> list[dict]:
    path = Path(os.environ["XDG_STATE_HOME"]) / "swarmdeck" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() \
        else []


class Engine:
    """A node's engine whose containers have sh; records what is asked."""

    label = "prod-m2 (fake)"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def request(self, method: str, path: str, *, params=None, body=None):
        self.calls.append((method, path))
        return {"Id": "e1"} if path.endswith("/exec") else None


def fake_engines(fleet) -> list[tuple[str, str]]:
    asked: list[tuple[str, str]] = []

    async def task_engine(name: str, node_id: str):
        asked.append((name, node_id))
        return Engine()

    fleet.task_engine = task_engine
    return asked


async def press_on(app, pilot, name: str, key: str) -> None:
    table = app.screen.query_one("#services", LiveTable)
    assert await wait_until(pilot, lambda: len(table.rows) > 0)
    row = [str(table.get_cell(k, "name")).strip() for k in table.rows].index(name)
    table.focus()
    table.move_cursor(row=row)
    await pilot.press(key)


def notified(app, text: str) -> bool:
    return any(text in n.message for n in app._notifications)


async def test_the_key_asks_which_replica_and_finds_it_on_its_node(make_app, fleet):
    from swarmdeck.ui.screens.dialogs import PickDialog

    asked = fake_engines(fleet)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await press_on(app, pilot, "shop_web", "!")
        # two replicas run: which one, by slot, node and state (the first is highlighted)
        assert await wait_until(pilot, lambda: isinstance(app.screen, PickDialog))
        assert [line.split("  ")[0] for _v, line in app.screen.choices] == ["slot 1", "slot 2"]
        await pilot.press("enter")
        # headless: there is no terminal to hand over, said once the task is found
        assert await wait_until(pilot, lambda: notified(
            app, "a shell needs the console to run in a terminal"))
    state = fleet.state("prod")
    web1 = next(t for t in state.tasks.values()
                if t.slot == 1 and state.services[t.service_id].name == "shop_web")
    assert asked == [("prod", web1.node_id)]
    entry = audit_lines()[-1]
    assert (entry["action"], entry["cluster"], entry["target"], entry["result"]) == \
        ("exec", "prod", "shop_web.1", "error")
    assert entry["params"]["container"] == web1.container_id[:12]
    assert entry["params"]["node"] == state.node_name(web1.node_id)


async def test_read_only_refuses_before_reaching_a_node(make_app, fleet):
    asked = fake_engines(fleet)
    app = make_app(read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await press_on(app, pilot, "shop_web", "!")
        assert await wait_until(pilot, lambda: notified(
            app, "exec refused: cluster prod is read-only (--read-only)"))
    assert asked == []
    entry = audit_lines()[-1]
    assert (entry["action"], entry["result"], entry["error"]) == ("exec", "refused", "read-only")


async def test_a_service_with_nothing_running_says_so(make_app, fleet):
    asked = fake_engines(fleet)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await press_on(app, pilot, "backup-once", "!")
        assert await wait_until(pilot, lambda: notified(
            app, "backup-once is not running in cluster prod: its latest task is complete"))
    assert asked == []
