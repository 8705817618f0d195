"""What the console draws from cluster text: inert (no control character, bidi control or
zero-width character reaches the terminal), and our own text of several lines as lines."""

from __future__ import annotations

from textual.widgets import RichLog

from swarmdeck.ui.screens.operation import OperationScreen


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
