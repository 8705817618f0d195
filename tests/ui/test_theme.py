"""[ui] theme on the console, and ctrl+p's Theme to change it on the spot."""

from __future__ import annotations

from ui_waits import wait_until


async def test_the_configured_theme_is_used(make_app, config):
    config.ui.theme = "nord"
    app = make_app(config=config)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.theme == "nord"
        assert app.current_theme.primary == app.get_theme("nord").primary


async def test_ctrl_p_changes_the_theme(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.theme == "textual-dark"
        assert "Theme" in {c.title for c in app.get_system_commands(app.screen)}
        await pilot.press("ctrl+p", *"theme")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause(0.3)
        await pilot.press(*"gruvbox")
        await pilot.pause(0.3)
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: app.theme == "gruvbox")
