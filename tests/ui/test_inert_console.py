"""What the console draws from cluster text: inert (no control character, bidi control or
zero-width character reaches the terminal), and our own text of several lines as lines."""

from __future__ import annotations

import asyncio

from conftest import PINNED_NOW
from hostile import ALL, hostile, inert, raw_found, tainted
from hypothesis import HealthCheck, example, given, settings
from textual.widgets import RichLog
from ui_waits import wait_until

from swarmdeck.core.errors import TransportError
from swarmdeck.core.events import ClusterEvent, EventLog
from swarmdeck.core.logs import LogLine
from swarmdeck.core.sanitize import clean
from swarmdeck.ui.screens.dialogs import ConfirmDialog, PromptDialog
from swarmdeck.ui.screens.operation import OperationScreen
from swarmdeck.ui.widgets.table import LiveTable


def screen_text(app) -> str:
    """Every character the current screen would write, line by line (its segments' text:
    escape sequences of Textual's own are control segments, not text)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(seg.text for seg in strip if not seg.control) for strip in strips)


async def test_a_summary_of_several_lines_is_shown_as_lines(make_app):
    app = make_app()
    async with app.run_test(size=(110, 30)) as pilot:
        view = OperationScreen("deploy shop/production")
        await app.push_screen(view)
        view.say("created network shop_default\nupdated service shop_web\x1b[2J")
        await pilot.pause()
        log = view.query_one("#progress", RichLog)
        lines = [strip.text.rstrip() for strip in log.lines]
        assert lines == ["created network shop_default", "updated service shop_web<ESC>[2J"]
        assert "<LF>" not in screen_text(app)


# ---- the whole console over hostile clusters ----------------------------------------------
def hostile_events(text: str) -> EventLog:
    log = EventLog()
    for i, (kind, action) in enumerate([("service", "update"), ("node", "update"),
                                        ("container", "die")]):
        event = ClusterEvent.from_api({
            "Type": kind, "Action": f"{action}{text}", "timeNano": int(PINNED_NOW - 30 + i) * 10**9,
            "Actor": {"ID": f"id{i}", "Attributes": {
                "name": f"web{text}", "replicas.old": "1", "replicas.new": f"2{text}",
                "exitCode": f"137{text}"}}})
        if event is not None:
            log.add(event)
    return log


@settings(max_examples=4, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(hostile)
@example(ALL)
@example("\u202egpj.exe")
def test_the_console_draws_hostile_clusters_inert(make_app, fleet, text):
    """Names, labels, images, addresses, task errors, events, log lines and a cluster's error
    carrying escape sequences, C1, bidi controls and zero-width characters: the main screen
    (tables, header, projects, logs pane), the detail screens, the events view and the
    dialogs draw them as placeholders, never raw."""
    if not hasattr(fleet, "pristine"):
        fleet.pristine = dict(fleet.states)
    fleet.states = {name: tainted(state, text) for name, state in fleet.pristine.items()}
    fleet.states["prod"].events = hostile_events(text)
    staging = fleet.states["staging"]
    staging.connected, staging.error = False, TransportError(f"ssh to staging-m1: {text}")

    async def logs(name, service_id, *, tail=100, follow=True):
        for i in range(3):
            yield LogLine(None, "stderr" if i else "stdout", f"line {i} {text}",
                          task_id=next(iter(fleet.states[name].tasks)))
        await fleet.stopped.wait()

    fleet.logs = logs

    async def run() -> list[str]:
        fleet.stopped = asyncio.Event()
        app = make_app()
        seen: list[str] = []
        async with app.run_test(size=(160, 40)) as pilot:
            services = app.screen.query_one("#services", LiveTable)
            assert await wait_until(pilot, lambda: services.row_count == 5)
            await pilot.press("j", "j", "j", "j")  # shop_worker: its logs in the pane
            await pilot.pause(0.6)
            seen.append(screen_text(app))
            await pilot.press("enter")  # the service's detail
            await pilot.pause()
            seen.append(screen_text(app))
            await pilot.press("escape", "tab")
            await pilot.press("j", "enter")  # a node's detail
            await pilot.pause()
            seen.append(screen_text(app))
            await pilot.press("escape", "e")  # the events view
            await pilot.pause(0.5)
            seen.append(screen_text(app))
            await pilot.press("escape")
            name = next(iter(fleet.states["prod"].services.values())).name
            await app.push_screen(ConfirmDialog(
                f"Update {name} on prod\nfrom a{text}\nto   b?", typed=name,
                details=[f"  update service {name}", f"      env changed: A=x -> {text}"]))
            await pilot.pause()
            seen.append(screen_text(app))
            await pilot.press("escape")
            await app.push_screen(PromptDialog(f"New image for {name} on prod:",
                                               f"busybox{text}"))
            await pilot.pause()
            seen.append(screen_text(app))
            await pilot.press("escape", "c")  # staging: its header says its error
            await pilot.pause(0.3)
            seen.append(screen_text(app))
        return seen

    seen = asyncio.run(run())
    raw = [(i, raw_found(line), line.strip()) for i, shown in enumerate(seen)
           for line in shown.split("\n") if not inert(line)]
    assert not raw, raw
    # where its placeholder comes early enough not to be cut off by the cell's width (a run
    # of other placeholders before it can push it out of a header or a log line)
    if "<ESC>" in clean(text)[:24]:
        assert "<ESC>" in seen[0] and "<ESC>" in seen[-1]
    if "\u202e" in text:  # shown as a placeholder (where a cut cell does not hide it)
        assert any("<U+202E>" in shown for shown in seen)


async def test_a_prompt_shows_a_hostile_value_inert_and_gives_it_back_untouched(make_app):
    """The label or image dialog starts from what the cluster has: drawn inert, and Enter on
    it unchanged returns the value itself (not its placeholders, which would rewrite it)."""
    value = "zone=a\x1b]0;x\x07 tier=\u202eweb"
    app = make_app()
    async with app.run_test(size=(110, 30)) as pilot:
        answers: list[str | None] = []
        app.push_screen(PromptDialog("Labels of prod-w1:", value), answers.append)
        await pilot.pause()
        assert "<ESC>]0;x<BEL> tier=<U+202E>web" in screen_text(app)
        assert inert(screen_text(app), {"\n"})
        await pilot.press("enter")
        await pilot.pause()
        app.push_screen(PromptDialog("Labels of prod-w1:", value), answers.append)
        await pilot.pause()
        await pilot.press("end", "backspace", "backspace", "backspace", "enter")
        await pilot.pause()
    assert answers == [value, "zone=a<ESC>]0;x<BEL> tier=<U+202E>"]
