"""The `:` prompt: one line at the bottom of the screen, over whatever is shown (k9s' command
mode). Tab completes a command's name, then its argument (a cluster, a service); Enter runs
it (ui.commands), Esc closes the prompt. A command that cannot run says why in one line."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from swarmdeck.core.sanitize import clean
from swarmdeck.ui import commands

if TYPE_CHECKING:
    from swarmdeck.ui.app import SwarmdeckApp

MAX_SHOWN = 12  # candidates listed under the prompt


class CommandScreen(ModalScreen[str | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="command.cancel"),
        Binding("tab", "complete", "Complete", id="command.complete"),
    ]
    DEFAULT_CSS = """
    CommandScreen > Vertical { height: auto; width: 100%; background: $panel; }
    CommandScreen #command-hint { height: auto; padding: 0 1; color: $text-muted; }
    CommandScreen #command-line { height: 1; }
    CommandScreen #command-colon { width: 2; padding: 0 0 0 1; text-style: bold; }
    CommandScreen #command { border: none; height: 1; padding: 0; }
    """

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(id="command-hint")
            with Horizontal(id="command-line"):
                yield Static(":", id="command-colon")
                yield Input(placeholder="svc, nodes, tasks, ctx NAME, doctor... "
                                        "(Tab completes, Esc closes)", id="command")

    def on_mount(self) -> None:
        self.query_one("#command-hint").display = False
        self.query_one(Input).focus()

    @property
    def deck(self) -> SwarmdeckApp:
        return self.app  # type: ignore[return-value]

    def action_complete(self) -> None:
        box = self.query_one(Input)
        text, choices = commands.complete(self.deck, box.value)
        box.value = text
        box.cursor_position = len(text)
        hint = self.query_one("#command-hint", Static)
        if len(choices) > 1:
            shown = "  ".join(choices[:MAX_SHOWN]) + ("  …" if len(choices) > MAX_SHOWN else "")
            hint.update(Text(clean(shown)))
            hint.display = True
        elif not choices:
            hint.update(Text("no completion", style="dim"))
            hint.display = True
        else:
            hint.display = False

    @on(Input.Changed)
    def _typed(self) -> None:
        self.query_one("#command-hint").display = False

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


def open_prompt(app: SwarmdeckApp) -> None:
    """`:`: the prompt, then the command typed there."""
    def done(text: str | None) -> None:
        if not text:
            return
        problem = commands.run(app, text)
        if problem:
            app.notify(problem, severity="warning", timeout=5, markup=False)

    app.push_screen(CommandScreen(), callback=done)
