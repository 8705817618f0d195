"""The events view on fixed events (the live-lab run is in integration/): opened with `e` or
the palette, new events shown without a key pressed, humanized ages, following the newest
unless moved up, the filter (words, `type:`, `t`), cluster text made inert."""

from __future__ import annotations

import io

from rich.console import Console
from textual.widgets import Input, Static
from ui_waits import wait_until

from swarmdeck.core.events import ClusterEvent
from swarmdeck.ui import clock
from swarmdeck.ui.screens.events import EventsScreen
from swarmdeck.ui.screens.main import MainScreen
from swarmdeck.ui.widgets.table import LiveTable

SIZE = (130, 30)


def event(ago: float, kind: str = "service", action: str = "update", name: str = "shop_web",
          **changes: tuple[str, str]) -> ClusterEvent:
    return ClusterEvent(time_ns=int((clock.now() - ago) * 1e9), type=kind, action=action,
                        actor_id=f"id-{name}", name=name, changes=changes)


def record(fleet, *events: ClusterEvent, cluster: str = "prod") -> None:
    for e in events:
        fleet.states[cluster].events.add(e)
    fleet.emit(cluster, "events")


def plain(widget) -> str:
    console = Console(width=300, file=io.StringIO(), color_system=None)
    console.print(widget.content)
    return console.file.getvalue()


def header(app) -> str:
    return plain(app.screen.query_one("#events-header", Static))


def table(app) -> LiveTable:
    return app.screen.query_one("#events", LiveTable)


def column(app, key: str) -> list[str]:
    return [table(app).get_cell(row, key).plain for row in table(app).rows]



async def opened(app, pilot) -> EventsScreen:
    await pilot.pause()
    await pilot.press("e")
    assert await wait_until(pilot, lambda: isinstance(app.screen, EventsScreen)
                            and bool(app.screen.query("#events")))
    return app.screen


async def test_e_opens_the_view_and_new_events_arrive_without_a_key(make_app, fleet):
    record(fleet, event(300, "node", name="prod-w1", state=("ready", "down")))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(app, pilot)
        assert screen.cluster == "prod"
        assert column(app, "name") == ["prod-w1"]
        assert column(app, "age") == ["5 minutes ago"]
        assert column(app, "details") == ["state ready -> down"]
        assert "Events · prod · 1" in header(app) and "following" in header(app)

        screen.ages.pause()  # what follows comes through the fleet's events, not the tick
        record(fleet, event(12, name="shop_worker", replicas=("3", "4")),
               event(11, "container", "die", "shop_worker.2"))
        # no key pressed
        assert await wait_until(pilot, lambda: table(app).row_count == 3)
        assert column(app, "name") == ["prod-w1", "shop_worker", "shop_worker.2"]
        assert column(app, "age") == ["5 minutes ago", "12 seconds ago", "11 seconds ago"]
        assert column(app, "type") == ["node", "service", "container"]
        assert column(app, "details")[1] == "replicas 3 -> 4"
        assert table(app).get_cell(table(app).rows[2], "action").style == "red"
        expected = event(12).moment.strftime("%H:%M:%S")
        assert column(app, "time")[1] == expected
        assert table(app).cursor_row == 2  # on the newest

        record(fleet, event(3, "network", "create", "ev_net"), cluster="staging")
        await pilot.pause(0.4)
        assert table(app).row_count == 3  # another cluster's events are not this view's

        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_moving_up_pauses_and_end_follows_again(make_app, fleet):
    record(fleet, *(event(60 - i, name=f"svc{i}") for i in range(5)))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        await pilot.press("up", "up")
        assert table(app).cursor_row == 2
        record(fleet, event(2, name="late"))
        assert await wait_until(pilot, lambda: table(app).row_count == 6)
        assert table(app).selected_key == event(58, name="svc2").key  # stayed put
        assert "paused · 3 newer · End follows" in header(app)
        await pilot.press("end")
        record(fleet, event(1, name="later"))
        assert await wait_until(pilot, lambda: table(app).row_count == 7)
        assert table(app).selected_key == event(1, name="later").key
        assert "following" in header(app)


async def test_filter_by_words_and_types(make_app, fleet):
    record(fleet, event(30, name="shop_web", replicas=("1", "2")),
           event(20, "node", name="prod-w2", availability=("active", "drain")),
           event(10, "container", "start", "shop_web.1"))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        await pilot.press("slash")
        await pilot.press(*"type:node")
        assert column(app, "name") == ["prod-w2"]
        assert "1 of 3" in header(app) and "filter: type:node" in header(app)
        await pilot.press("enter")
        assert app.screen.focused is table(app)

        await pilot.press("slash", "ctrl+u")  # Input: delete to the start
        await pilot.press(*"shop")
        assert column(app, "name") == ["shop_web", "shop_web.1"]
        await pilot.press(*" type:bogus")
        assert "unknown event type 'bogus'" in header(app)
        assert column(app, "name") == ["shop_web", "shop_web.1"]  # the last good filter
        await pilot.press("escape")  # clears the filter, stays on the view
        assert isinstance(app.screen, EventsScreen) and table(app).row_count == 3
        assert not app.screen.query_one("#events-filter", Input).display

        await pilot.press("t")
        assert column(app, "type") == ["service"]
        await pilot.press("t")
        assert column(app, "type") == ["node"]
        for _ in range(5):  # network, secret, config, container, then all again
            await pilot.press("t")
        assert table(app).row_count == 3


async def test_cluster_text_is_inert(make_app, fleet):
    record(fleet, event(5, name="evil\x1b]0;owned\x07", image=("a\x1b[2J", "b\x9b")))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        name, details = column(app, "name")[0], column(app, "details")[0]
        assert name == "evil<ESC>]0;owned<BEL>"
        assert details == "image a<ESC>[2J -> b<9B>"
        assert "\x1b" not in name + details and "\x9b" not in details


async def test_in_the_palette_and_no_main_screen_rebuild_for_events(make_app, fleet):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        main = app.screen
        assert isinstance(main, MainScreen)
        titles = [c.title for c in app.get_system_commands(main)]
        assert "Events" in titles
        seq = main._frame_seq
        record(fleet, event(1))
        await pilot.pause(0.4)
        assert main._frame_seq == seq  # events alone change nothing on the main screen
        command = next(c for c in app.get_system_commands(main) if c.title == "Events")
        await command.callback()
        assert await wait_until(pilot, lambda: isinstance(app.screen, EventsScreen))


async def test_escape_clears_a_kept_filter_first_then_goes_back(make_app, fleet):
    record(fleet, event(30, name="shop_web", replicas=("1", "2")),
           event(20, "node", name="prod-w2", availability=("active", "drain")))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        await pilot.press("slash", *"prod", "enter")  # kept: the box closes
        assert column(app, "name") == ["prod-w2"] and "filter: prod" in header(app)
        await pilot.press("escape")
        assert isinstance(app.screen, EventsScreen)  # the filter went, not the view
        assert table(app).row_count == 2 and "filter:" not in header(app)
        await pilot.press("t")  # a type chosen with t is a filter too
        assert column(app, "type") == ["service"]
        await pilot.press("escape")
        assert isinstance(app.screen, EventsScreen) and table(app).row_count == 2
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)
