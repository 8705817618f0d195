"""Custom commands ([[commands]] with a key) in the console, on recorded lab data: the key on
a service runs the command with its placeholders filled and shows the output inert; a
dangerous node command asks first, and is refused on a read-only cluster; `?` lists them."""

from __future__ import annotations

from test_help_keys import help_text
from textual.widgets import Static
from ui_waits import wait_until

from swarmdeck.core.audit import AuditLog
from swarmdeck.core.config import load_config
from swarmdeck.ui.custom import OutputScreen
from swarmdeck.ui.screens.dialogs import ConfirmDialog
from swarmdeck.ui.screens.help import HelpScreen
from swarmdeck.ui.widgets.table import LiveTable

SIZE = (130, 40)
COMMANDS = '''
[[commands]]
name = "where"
key = "ctrl+e"
scope = "service"
run = ["printf", "%s on %s\\\\033[31m\\\\n", "{service}", "{node}"]

[[commands]]
name = "gone"
key = "ctrl+g"
scope = "service"
run = ["/no/such/program", "{service}"]

[[commands]]
name = "wipe"
key = "ctrl+w"
scope = "node"
dangerous = true
run = ["echo", "wiped", "{node}"]
'''


def with_commands(config):
    path = config.path.with_name("commands.toml")
    path.write_text(config.path.read_text() + COMMANDS)
    path.chmod(0o600)
    return load_config(path)


def select(app, selector: str, name: str) -> None:
    table = app.screen.query_one(selector, LiveTable)
    column = "name" if selector == "#services" else "hostname"
    table.focus()
    table.move_cursor(row=[table.get_cell(k, column).plain.strip()
                           for k in table.rows].index(name))


def shown(app) -> str:
    return "\n".join(str(s.render()) for s in app.screen.query(Static))


async def test_a_service_key_runs_its_command_and_shows_the_output_inert(make_app, fleet):
    app = make_app(config=with_commands(make_app().config))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        select(app, "#services", "shop_web")
        await pilot.press("ctrl+e")
        assert await wait_until(pilot, lambda: isinstance(app.screen, OutputScreen))
        text = shown(app)
        web = fleet.state("prod").services
        running = next(t for t in fleet.state("prod").tasks.values()
                       if web.get(t.service_id) and web[t.service_id].name == "shop_web"
                       and t.state == "running" and t.slot == 1)
        node = fleet.state("prod").nodes[running.node_id].hostname
        assert f"shop_web on {node}<ESC>[31m" in text and "\x1b" not in text
        assert "exit status 0" in text
    [entry] = AuditLog.default().read()
    assert (entry["action"], entry["target"], entry["result"]) == (
        "command where", "shop_web.1", "ok")
    assert entry["params"]["argv"][2:] == ["shop_web", node]


async def test_a_dangerous_node_command_asks_and_is_refused_read_only(make_app):
    app = make_app(config=with_commands(make_app().config))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        select(app, "#nodes", "prod-w1")
        await pilot.press("ctrl+w")
        assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert "echo wiped prod-w1" in shown(app)
        await pilot.press("n")
        await pilot.pause()
        assert not isinstance(app.screen, OutputScreen)
        await pilot.press("c")  # staging: read-only in this config
        await pilot.pause()
        select(app, "#nodes", "staging-m1")
        await pilot.press("ctrl+w")
        assert await wait_until(pilot, lambda: any(
            "command wipe refused: cluster staging is read-only" in str(n.message)
            for n in app._notifications))
        assert not isinstance(app.screen, ConfirmDialog)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert "node.custom.wipe" in help_text(app)
    # the "no" is on record too, as the CLI's is (one policy: core.custom_commands.perform)
    results = [(e["cluster"], e["result"]) for e in AuditLog.default().read()]
    assert results == [("prod", "cancelled"), ("staging", "refused")]


async def test_a_command_whose_program_is_missing_says_what_to_fix_and_is_on_record(make_app):
    """Not a crash of the console: a notice naming the command and what to fix; the failed
    run is audited as an error."""
    app = make_app(config=with_commands(make_app().config))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        select(app, "#services", "shop_web")
        await pilot.press("ctrl+g")
        assert await wait_until(pilot, lambda: any(
            "command 'gone': cannot run '/no/such/program'" in str(n.message)
            for n in app._notifications))
        assert not isinstance(app.screen, OutputScreen)
        await pilot.press("j")  # the console goes on
        await pilot.pause()
    [entry] = AuditLog.default().read()
    assert (entry["action"], entry["result"]) == ("command gone", "error")
