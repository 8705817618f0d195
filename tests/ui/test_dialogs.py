"""Confirmation dialogs: the button Enter presses is the focused one, drawn as such and named
under the buttons; y / n / ←/→ / Esc; a typed-name confirmation still needs the name."""

from __future__ import annotations

import io

from rich.console import Console
from textual.widgets import Button, Input
from ui_waits import wait_until

from swarmdeck.ui.screens.dialogs import ConfirmDialog

SIZE = (100, 30)


def keys_line(dialog: ConfirmDialog) -> str:
    console = Console(width=200, file=io.StringIO(), color_system=None)
    console.print(dialog.query_one("#keys").content)
    return console.file.getvalue()


async def ask(app, pilot, dialog: ConfirmDialog) -> list[bool]:
    answers: list[bool] = []
    await pilot.pause()
    app.push_screen(dialog, callback=answers.append)
    assert await wait_until(pilot, lambda: app.screen is dialog and dialog.is_mounted)
    await pilot.pause()
    return answers


async def test_enter_presses_the_button_drawn_as_the_default(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        dialog = ConfirmDialog("Drain node prod-w1 on prod?")
        answers = await ask(app, pilot, dialog)
        yes, no = dialog.query_one("#yes", Button), dialog.query_one("#no", Button)
        assert dialog.focused is yes
        assert "Enter: Confirm" in keys_line(dialog)
        # drawn as the focused one: it does not look like the other button
        assert yes.styles.background != no.styles.background
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: answers == [True])


async def test_arrows_move_the_default_and_the_line_says_so(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        dialog = ConfirmDialog("Restart every task of shop_web on prod?")
        answers = await ask(app, pilot, dialog)
        await pilot.press("right")
        assert dialog.focused is dialog.query_one("#no", Button)
        assert "Enter: Cancel" in keys_line(dialog)
        yes, no = dialog.query_one("#yes", Button), dialog.query_one("#no", Button)
        assert yes.styles.background != no.styles.background
        await pilot.press("left")
        assert dialog.focused is yes and "Enter: Confirm" in keys_line(dialog)
        await pilot.press("right", "enter")
        assert await wait_until(pilot, lambda: answers == [False])


async def test_y_confirms_and_n_cancels(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        answers = await ask(app, pilot, ConfirmDialog("Promote prod-w1 to manager?"))
        assert "y confirms, n cancels" in keys_line(app.screen)
        await pilot.press("y")
        assert await wait_until(pilot, lambda: answers == [True])
        answers = await ask(app, pilot, ConfirmDialog("Promote prod-w1 to manager?"))
        await pilot.press("n")
        assert await wait_until(pilot, lambda: answers == [False])


async def test_a_dangerous_question_defaults_to_cancel(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        dialog = ConfirmDialog("no node satisfies zone==c. Pin anyway?", danger=True)
        answers = await ask(app, pilot, dialog)
        assert dialog.focused is dialog.query_one("#no", Button)
        assert "Enter: Cancel" in keys_line(dialog)
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: answers == [False])


async def test_a_typed_name_is_still_required(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        dialog = ConfirmDialog("Remove service shop_web from prod?", typed="shop_web",
                               danger=True)
        answers = await ask(app, pilot, dialog)
        box = dialog.query_one("#typed", Input)
        assert dialog.focused is box
        await pilot.press("y", "n")  # letters of the name, not answers
        assert box.value == "yn" and answers == []
        assert "type shop_web exactly" in keys_line(dialog)
        await pilot.press("enter")
        await pilot.pause()
        assert answers == [] and app.screen is dialog
        box.value = "shop_web"
        await pilot.pause()
        assert "Enter: Confirm" in keys_line(dialog)
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: answers == [True])


async def test_y_does_nothing_while_the_typed_name_is_missing(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        dialog = ConfirmDialog("Remove node prod-w1?", typed="prod-w1", danger=True)
        answers = await ask(app, pilot, dialog)
        dialog.query_one("#no", Button).focus()
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert answers == [] and app.screen is dialog
        await pilot.press("escape")
        assert await wait_until(pilot, lambda: answers == [False])


async def test_a_question_on_several_lines_shows_them_as_lines(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        dialog = ConfirmDialog("Update shop_web on prod\nfrom a:1\nto   a:2\x1b[2J?")
        await ask(app, pilot, dialog)
        console = Console(width=200, file=io.StringIO(), color_system=None)
        console.print(dialog.query_one(".question").content)
        shown = console.file.getvalue().splitlines()
        assert shown[:3] == ["Update shop_web on prod", "from a:1", "to   a:2<ESC>[2J?"]


async def test_a_deploy_previews_warnings_stand_out_in_the_question(make_app):
    from swarmdeck.core.ops.deploy import DeployPreview, ServiceChange

    preview = DeployPreview("prod", "dns", False,
                            (ServiceChange("dns_dns", "create", ("image a:1",)),),
                            warnings=("line 4: services.dns.ports[0]: host IP 127.0.0.1 "
                                      "ignored\x1b[2J",))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        dialog = ConfirmDialog("Deploy dns/prod as stack dns on prod?",
                               details=preview.lines())
        await ask(app, pilot, dialog)
        text = dialog.query_one("#details").content
        assert text.plain.splitlines() == [
            "deploy stack dns on cluster prod",
            "  warning: line 4: services.dns.ports[0]: host IP 127.0.0.1 ignored<ESC>[2J",
            "  create service dns_dns", "      image a:1"]
        styled = {text.plain[span.start:span.end]: str(span.style) for span in text.spans}
        assert styled == {"  warning: line 4: services.dns.ports[0]: host IP 127.0.0.1 "
                          "ignored<ESC>[2J": "bold yellow"}
