"""`:` command mode on recorded lab data: views by name and alias, a filter given with the
command, cluster switching with completion, unknown commands said in one inert line."""

from __future__ import annotations

from textual.widgets import Input
from ui_waits import wait_until

from swarmdeck.ui import commands
from swarmdeck.ui.screens.command import CommandScreen
from swarmdeck.ui.screens.doctor import DoctorScreen
from swarmdeck.ui.screens.events import EventsScreen
from swarmdeck.ui.screens.main import MainScreen
from swarmdeck.ui.screens.resources import ResourcesScreen
from swarmdeck.ui.screens.tasks import TasksScreen
from swarmdeck.ui.widgets.projects import ProjectsTree
from swarmdeck.ui.widgets.table import LiveTable

SIZE = (130, 40)


async def type_command(pilot, text: str, *, submit: bool = True) -> None:
    await pilot.press("colon")
    assert await wait_until(pilot, lambda: isinstance(pilot.app.screen, CommandScreen))
    await pilot.press(*text)
    if submit:
        await pilot.press("enter")
    await pilot.pause()


def names(table: LiveTable) -> list[str]:
    return [table.get_cell(key, "name").plain for key in table.rows]


def notices(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_svc_with_a_filter_shows_only_matching_services(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        main = app.screen
        await type_command(pilot, "svc /web")
        assert app.screen is main
        services = main.query_one("#services", LiveTable)
        assert names(services) == ["shop_web"]
        assert app.screen.focused is services
        assert "/web" in str(services.border_title)
        # the filter is the pane's own: Esc on the table clears it, as after `/`
        await pilot.press("escape")
        assert len(names(services)) == 5


async def test_nodes_alias_focuses_the_nodes_pane_from_another_screen(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await type_command(pilot, "doctor")
        assert await wait_until(pilot, lambda: isinstance(app.screen, DoctorScreen))
        await type_command(pilot, "no")
        assert isinstance(app.screen, MainScreen)
        assert app.screen.focused is app.screen.query_one("#nodes")


async def test_ctx_switches_cluster_and_completes_its_name(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        main = app.screen
        assert main.cluster == "prod"
        await type_command(pilot, "ctx st", submit=False)
        await pilot.press("tab")
        box = app.screen.query_one(Input)
        assert box.value == "ctx staging"
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: main.cluster == "staging")
        assert "Services · staging" in str(main.query_one("#services").border_title)
        await type_command(pilot, "cluster prod")
        assert main.cluster == "prod"


async def test_tab_completes_a_command_name_and_lists_several(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await type_command(pilot, "do", submit=False)
        await pilot.press("tab")
        assert app.screen.query_one(Input).value == "doctor "
        await pilot.press("ctrl+u")  # clear the line
        await pilot.press("s")
        await pilot.press("tab")
        hint = str(app.screen.query_one("#command-hint").content)
        assert "secrets" in hint and "services" in hint and "svc" in hint
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_unknown_command_says_so_in_one_inert_line(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await type_command(pilot, "frobnicate")
        assert isinstance(app.screen, MainScreen)
        assert notices(app)[-1] == "unknown command :frobnicate (Tab lists them)"
        await type_command(pilot, "servcies")
        assert notices(app)[-1] == "unknown command :servcies: did you mean :services?"
        # an escape character typed or pasted is shown, never sent to the terminal
        assert commands.run(app, "x\x1b]52;c;AAAA\x07") == \
            "unknown command :x<ESC>]52;c;AAAA<BEL> (Tab lists them)"
        assert commands.run(app, "ctx nowhere") == \
            "no cluster 'nowhere' in the config (clusters: prod, staging)"


async def test_every_view_command_opens_its_view(make_app, fleet):
    async def no_ops(name, **_kw):
        raise AssertionError("not in this test")
    fleet.ops = no_ops
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await type_command(pilot, "ps")
        assert await wait_until(pilot, lambda: isinstance(app.screen, TasksScreen))
        await type_command(pilot, "events")
        assert await wait_until(pilot, lambda: isinstance(app.screen, EventsScreen))
        assert len(app.screen_stack) == 3  # main, then the view: never stacked on the last
        await type_command(pilot, "stacks")
        assert app.screen.focused is app.screen.query_one(ProjectsTree)


async def test_secrets_opens_the_resources_on_the_secrets_table(make_app, fleet):
    async def ops(name, **_kw):
        from swarmdeck.core.errors import ConnectionLost
        raise ConnectionLost("not connected in this test")
    fleet.ops = ops
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await type_command(pilot, "secrets")
        assert await wait_until(pilot, lambda: isinstance(app.screen, ResourcesScreen))
        assert app.screen.focused is app.screen.query_one("#secrets")


async def test_q_quits(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await type_command(pilot, "q")
        assert await wait_until(pilot, lambda: not app.is_running)


async def test_colon_in_a_filter_box_is_text(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("slash", "a", "colon")
        assert not isinstance(app.screen, CommandScreen)
        assert app.screen.query_one("#services-filter", Input).value == "a:"


def test_room_for_more_commands():
    """Other views add themselves by name."""
    added = commands.register(commands.Command("mounts", "mounts", lambda _app, _a: None))
    try:
        assert commands.lookup("mounts") is added
        assert "mounts" in commands.words()
    finally:
        del commands.COMMANDS["mounts"]


async def test_up_recalls_the_commands_run_before(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await type_command(pilot, "ctx staging")
        await type_command(pilot, "svc /web")
        await type_command(pilot, "", submit=False)
        box = app.screen.query_one(Input)
        await pilot.press("up")
        assert box.value == "svc /web"
        await pilot.press("up", "up")
        assert box.value == "ctx staging"  # the oldest: it stays there
        await pilot.press("down")
        assert box.value == "svc /web"
        await pilot.press("down")
        assert box.value == ""
        await pilot.press("up", "enter")
        await pilot.pause()
        services = app.screen.query_one("#services", LiveTable)
        assert names(services) == ["shop_web"] and app.screen.cluster == "staging"


class FakeEngine:
    """One node's engine: its volumes and containers (what node_objects reads)."""

    def __init__(self, node: str) -> None:
        self.node = node

    async def get(self, path, **_params):
        if path == "/volumes":
            return {"Volumes": [{"Name": f"data_{self.node}", "Driver": "local",
                                 "Mountpoint": f"/var/lib/docker/volumes/data_{self.node}"}]}
        return [{"Id": "c" * 64, "Names": [f"/db.1.{self.node}"], "Image": "db:1",
                 "State": "running", "Status": "Up 2 minutes", "Created": 0,
                 "Mounts": [{"Type": "volume", "Name": f"data_{self.node}"}],
                 "Labels": {"com.docker.swarm.service.name": "db",
                            "com.docker.swarm.task.name": f"db.1.{self.node}"}}]


async def test_volumes_lists_every_nodes_volumes_and_containers(make_app):
    from swarmdeck.core.errors import HostUnreachable
    from swarmdeck.ui.screens.volumes import VolumesScreen

    app = make_app()
    state = app.fleet.state("prod")
    down = sorted(n.hostname for n in state.nodes.values())[-1]

    async def task_engine(name, node_id):
        hostname = state.nodes[node_id].hostname
        if hostname == down:
            raise HostUnreachable(f"ssh to {hostname}: connection refused")
        return FakeEngine(hostname)

    app.fleet.task_engine = task_engine
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await type_command(pilot, "vol")
        assert await wait_until(pilot, lambda: isinstance(app.screen, VolumesScreen)
                                and app.screen.query_one("#volumes", LiveTable).rows), (
            app.screen, notices(app),
            str(app.screen.query_one("#volumes-title").render())
            if isinstance(app.screen, VolumesScreen) else "")
        volumes = app.screen.query_one("#volumes", LiveTable)
        reachable = sorted(n.hostname for n in state.nodes.values() if n.hostname != down)
        assert sorted(volumes.get_cell(k, "node").plain for k in volumes.rows) == reachable
        key = next(iter(volumes.rows))
        assert volumes.get_cell(key, "used_by").plain == "db"
        containers = app.screen.query_one("#containers", LiveTable)
        assert {containers.get_cell(k, "task").plain for k in containers.rows} == {"db.1"}
        title = str(app.screen.query_one("#volumes-title").render())
        assert f"not read: {down}: ssh to {down}: connection refused" in title


async def test_shell_names_an_unknown_service_and_needs_a_terminal(make_app):
    app = make_app()
    state = app.fleet.state("prod")

    async def task_engine(name, node_id):
        return FakeEngine(state.nodes[node_id].hostname)

    app.fleet.task_engine = task_engine
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await type_command(pilot, "shell shop_wbe")
        assert await wait_until(pilot, lambda: any(
            "no service 'shop_wbe'" in n and "did you mean 'shop_web'" in n
            for n in notices(app)))
        await type_command(pilot, "sh shop_web.1")
        assert await wait_until(pilot, lambda: any(
            "a shell needs the console to run in a terminal" in n for n in notices(app)))
