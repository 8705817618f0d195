"""`>` on a service or a task, and `:pf`: a port of a task carried to 127.0.0.1 from the
console, on recorded lab data. The node's engine is faked, but the forward is real: its SSH
channel is a plain TCP connection to a local server standing in for the container, so bytes
go through it, are counted in `:forwards`, and the port closes when it is stopped or the
console quits. The lab test (tests/integration/test_port_forward_console_live.py) does the
same against real tasks."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from pathlib import Path

from ui_waits import wait_until

from swarmdeck.ui.screens.dialogs import PickDialog, PromptDialog
from swarmdeck.ui.screens.forwards import ForwardsScreen
from swarmdeck.ui.widgets.table import LiveTable

SIZE = (150, 45)


def audit_lines() -> list[dict]:
    path = Path(os.environ["XDG_STATE_HOME"]) / "swarmdeck" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() \
        else []


class LocalConn:
    """An SSH connection whose direct-tcpip channels are local TCP connections."""

    def __init__(self) -> None:
        self.opened: list[tuple[str, int]] = []

    async def open_connection(self, host: str, port: int, **_channel):
        self.opened.append((host, port))
        return await asyncio.open_connection(host, port)


class Engine:
    """A node's engine: every container is running, on the host network (127.0.0.1)."""

    label = "prod-w1 (fake)"

    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        self.conn = LocalConn()

    async def get(self, path: str, **_params):
        return {"Id": path.split("/")[2], "State": {"Running": True},
                "NetworkSettings": {"Networks": {"host": {}}}}


def fake_engines(fleet) -> list[Engine]:
    made: list[Engine] = []

    async def task_engine(name: str, node_id: str):
        made.append(Engine(node_id))
        return made[-1]

    fleet.task_engine = task_engine
    return made


async def upper_server() -> tuple[asyncio.Server, int]:
    """The "container": answers each line upper-cased."""
    async def serve(reader, writer):
        while data := await reader.read(1024):
            writer.write(data.upper())
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def through(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    writer.write_eof()
    answer = await reader.read()
    writer.close()
    return answer


def accepts(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


async def select_row(app, pilot, selector: str, column: str, value: str) -> None:
    table = app.screen.query_one(selector, LiveTable)
    assert await wait_until(pilot, lambda: len(table.rows) > 0)
    row = [str(table.get_cell(k, column)).strip() for k in table.rows].index(value)
    table.focus()
    table.move_cursor(row=row)


def notified(app, text: str) -> bool:
    return any(text in n.message for n in app._notifications)


async def command(pilot, text: str) -> None:
    await pilot.press("colon")
    await pilot.press(*text)
    await pilot.press("enter")


async def test_the_key_asks_the_replica_and_the_ports_then_forwards(make_app, fleet):
    engines = fake_engines(fleet)
    server, remote = await upper_server()
    state = fleet.state("prod")
    web = next(s for s in state.services.values() if s.name == "shop_web")
    running = sorted((t for t in state.tasks_of(web.id) if t.is_running), key=lambda t: t.slot)
    assert len(running) == 2
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await select_row(app, pilot, "#services", "name", "shop_web")
        await pilot.press("greater_than_sign")
        assert await wait_until(pilot, lambda: isinstance(app.screen, PickDialog))
        # each running replica: its slot, node and state
        assert [line for _value, line in app.screen.choices] == [
            f"slot {t.slot}  on {state.node_name(t.node_id)}  running  {t.container_id[:12]}"
            for t in running]
        await pilot.press("down", "enter")  # the second: slot 2
        assert await wait_until(pilot, lambda: isinstance(app.screen, PromptDialog))
        await pilot.press(*"80:http", "enter")  # refused in the dialog, which stays
        assert await wait_until(pilot, lambda: "give [LOCAL:]REMOTE ports" in str(
            app.screen.query_one("#error").render()))
        assert isinstance(app.screen, PromptDialog)
        await pilot.press(*["backspace"] * 7, *f"0:{remote}", "enter")
        assert await wait_until(pilot, lambda: len(app.forwards.active) == 1)
        forward = app.forwards.active[0]
        local = forward.forwarder.local
        assert notified(app, f"forwarding 127.0.0.1:{local} -> shop_web.2 127.0.0.1:{remote} "
                             f"on {state.node_name(running[1].node_id)}")
        assert [e.node_id for e in engines] == [running[1].node_id]
        assert await through(local, b"hello") == b"HELLO"
        assert await through(local, b"again!") == b"AGAIN!"

        await command(pilot, "forwards")
        assert await wait_until(pilot, lambda: isinstance(app.screen, ForwardsScreen))
        table = app.screen.query_one("#forwards", LiveTable)
        assert await wait_until(pilot, lambda: table.row_count == 1 and str(
            table.get_cell(str(local), "connections")).strip() == "0/2")
        cells = {c: str(table.get_cell(str(local), c)).strip() for c in table.column_keys}
        assert cells["local"] == f"127.0.0.1:{local}"
        assert cells["replica"] == "prod/shop_web.2"
        assert cells["node"] == state.node_name(running[1].node_id)
        assert cells["container"] == f"127.0.0.1:{remote}"
        assert (cells["in"], cells["out"]) == ("11 Bytes", "11 Bytes")
        assert (forward.forwarder.bytes_in, forward.forwarder.bytes_out) == (11, 11)

        await pilot.press("x")  # stops the highlighted forward: its port closes
        assert await wait_until(pilot, lambda: table.row_count == 0 and not app.forwards.active)
        assert not accepts(local)
        assert await wait_until(pilot, lambda: notified(
            app, f"stopped forwarding 127.0.0.1:{local} (2 connections, 11 bytes in, "
                 "11 bytes out)"))
    server.close()
    entry = [e for e in audit_lines() if e["action"] == "port-forward"][-1]
    assert (entry["cluster"], entry["target"], entry["result"]) == ("prod", "shop_web.2", "ok")
    assert entry["params"]["local_port"] == local and entry["params"]["remote_port"] == remote
    assert entry["params"]["container"] == running[1].container_id[:12]


async def test_quitting_the_console_closes_every_forward(make_app, fleet):
    fake_engines(fleet)
    server, remote = await upper_server()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await select_row(app, pilot, "#services", "name", "shop_web")
        await command(pilot, f"pf shop_web.1 0:{remote}")  # no question: slot and ports given
        await command(pilot, f"pf shop_web.2 0:{remote}")
        assert await wait_until(pilot, lambda: len(app.forwards.active) == 2)
        ports = [f.forwarder.local for f in app.forwards.active]
        assert all([accepts(p) for p in ports])
        assert await through(ports[0], b"x") == b"X"
        await pilot.press("q")
    assert not app.is_running
    assert [accepts(p) for p in ports] == [False, False]
    server.close()
    ended = [e for e in audit_lines() if e["action"] == "port-forward"][-2:]
    assert sorted((e["target"], e["result"]) for e in ended) == [
        ("shop_web.1", "ok"), ("shop_web.2", "ok")]


async def test_a_task_row_forwards_that_task(make_app, fleet):
    engines = fake_engines(fleet)
    server, remote = await upper_server()
    state = fleet.state("prod")
    web = next(s for s in state.services.values() if s.name == "shop_web")
    task = next(t for t in state.tasks_of(web.id) if t.is_running and t.slot == 2)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await command(pilot, "tasks")
        await select_row(app, pilot, "#all-tasks", "id", task.id[:12])
        await pilot.press("greater_than_sign")  # no picker: the row names the task
        assert await wait_until(pilot, lambda: isinstance(app.screen, PromptDialog))
        assert "shop_web.2" in app.screen.question
        await pilot.press(*f"0:{remote}", "enter")
        assert await wait_until(pilot, lambda: len(app.forwards.active) == 1)
        assert await through(app.forwards.active[0].forwarder.local, b"ok") == b"OK"
        assert [e.node_id for e in engines] == [task.node_id]
    server.close()


async def test_read_only_refuses_before_reaching_a_node(make_app, fleet):
    engines = fake_engines(fleet)
    app = make_app(read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await command(pilot, "pf shop_web.1 0:8080")
        assert await wait_until(pilot, lambda: notified(
            app, "port-forward refused: cluster prod is read-only (--read-only)"))
        # the key: no replica, no ports asked, refused at once
        app._notifications.clear()
        await select_row(app, pilot, "#services", "name", "shop_web")
        await pilot.press("greater_than_sign")
        assert await wait_until(pilot, lambda: notified(
            app, "port-forward refused: cluster prod is read-only (--read-only)"))
        assert not isinstance(app.screen, (PickDialog, PromptDialog))
        assert app.forwards.active == []
    assert engines == []
    entry = audit_lines()[-1]
    assert (entry["action"], entry["result"], entry["error"]) == \
        ("port-forward", "refused", "read-only")


async def test_pf_command_says_what_is_wrong(make_app, fleet):
    fake_engines(fleet)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await command(pilot, "pf shop_wbe 8080")
        assert await wait_until(pilot, lambda: notified(
            app, "no service 'shop_wbe' in cluster prod: did you mean 'shop_web'?"))
        await command(pilot, "pf shop_web.1 80:http")
        assert await wait_until(pilot, lambda: notified(
            app, "'80:http': give [LOCAL:]REMOTE ports, e.g. 8080 or 18080:80"))
        assert app.forwards.active == []
        await command(pilot, "pf")  # alone: the list
        assert await wait_until(pilot, lambda: isinstance(app.screen, ForwardsScreen))
        assert "none: > on a service or a task starts one" in str(
            app.screen.query_one("#forwards", LiveTable).border_title)


async def test_help_lists_the_keys_and_commands(make_app):
    import io

    from rich.console import Console

    from swarmdeck.ui.screens.help import HelpScreen

    def help_lines(app) -> list[str]:
        console = Console(width=160, file=io.StringIO(), color_system=None)
        console.print(app.screen.query_one("Static").content)
        return [line.strip() for line in console.file.getvalue().splitlines()]

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        lines = help_lines(app)
        [forward] = [line for line in lines if "service.port_forward" in line]
        assert forward.split()[:2] == [">", "Port-forward"]
        assert any(line.startswith(":pf|port-forward [SERVICE[.SLOT] [[LOCAL:]REMOTE]]")
                   for line in lines)
        assert any(line.startswith(":forwards|fw") for line in lines)
        await pilot.press("escape")
        await command(pilot, "tasks")
        await pilot.press("question_mark")
        lines = help_lines(app)
        assert [line.split()[:2] for line in lines if "task.port_forward" in line] == \
            [[">", "Port-forward"]]
        assert [line.split()[:2] for line in lines if "task.shell" in line] == \
            [["!", "Shell"]]
