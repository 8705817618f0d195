"""`?` on recorded lab data: swarmdeck's keys only, grouped, with every pane's keys (the
focused one's first), their ids, and the `:` commands; keys named as the keymap binds them."""

from __future__ import annotations

import io

from rich.console import Console

from swarmdeck.ui.keys import key_of
from swarmdeck.ui.screens.doctor import DoctorScreen
from swarmdeck.ui.screens.help import HelpScreen, group_of
from swarmdeck.ui.screens.main import MainScreen

SIZE = (130, 50)


def help_text(app) -> str:
    console = Console(width=160, file=io.StringIO(), color_system=None)
    console.print(app.screen.query_one("Static").content)
    return console.file.getvalue()


def is_heading(line: str) -> bool:
    return line in ("Navigation", "Service", "Node", "Cluster", "Commands (:)") or \
        line.endswith(" screen")


def section(text: str, heading: str) -> str:
    """The lines under HEADING, up to the next heading."""
    lines = [line.strip() for line in text.splitlines()]
    start = lines.index(heading)
    rest = lines[start + 1:]
    end = next((i for i, line in enumerate(rest) if is_heading(line)), len(rest))
    return "\n".join(rest[:end])


async def test_help_groups_swarmdecks_keys_of_every_pane(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.screen.focused is app.screen.query_one("#services")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = help_text(app)
        headings = [line.strip() for line in text.splitlines() if is_heading(line.strip())]
        assert headings == ["Navigation", "Service", "Node", "Cluster", "Commands (:)"]
        service, node = section(text, "Service"), section(text, "Node")
        assert "service.scale" in service and "Scale" in service
        # the nodes pane has no focus: its keys are listed all the same, and say so
        drain = next(line for line in node.splitlines() if "node.drain" in line)
        assert "nodes (not focused)" in drain and drain.split()[0] == "w"
        assert "cluster.doctor" in section(text, "Cluster")
        navigation = section(text, "Navigation")
        for wanted in ("app.command", "filter", "inspect", "table.open"):
            assert wanted in navigation
        assert navigation.count("table.up") == 1  # a table's arrows once, not per pane
        up = next(line for line in navigation.splitlines() if "table.up" in line)
        assert up.split()[:2] == ["↑", "k"]  # every key bound to it
        # Textual's own keys (ctrl+q, ctrl+c) are not swarmdeck's
        assert "ctrl+q" not in text.lower() and "^q" not in text
        assert ":services|svc|service /TEXT" in text
        assert ":ctx|cluster|context NAME" in text


async def test_help_on_another_screen_lists_its_own_keys(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.push_screen(DoctorScreen("staging"))
        await pilot.pause()
        await pilot.press("question_mark")
        text = help_text(app)
        assert "Doctor screen" in text and "doctor.recheck" in section(text, "Doctor screen")
        await pilot.press("escape")
        assert isinstance(app.screen, DoctorScreen)


async def test_key_of_follows_the_keymap(make_app, config):
    config.keys["node.activate"] = "V"
    app = make_app(config=config)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert key_of(app, "node.activate") == "V"
        assert key_of(app, "service.pin") == "P"
        assert key_of(app, "no.such.key") is None
        assert isinstance(app.screen, MainScreen)


def test_groups():
    assert [group_of(i) for i in ("table.up", "doctor.back", "service.scale", "logs.full",
                                  "node.drain", "cluster.events", "logs.pause")] == \
        ["Navigation", "Navigation", "Service", "Service", "Node", "Cluster", ""]
