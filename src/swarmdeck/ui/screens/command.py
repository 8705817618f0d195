"""The `:` prompt: one line at the bottom of the screen, over whatever is shown (k9s' command
mode). Tab completes a command's name, then its argument (a cluster, a service); Up and Down
recall the commands run before; Enter runs it (ui.commands), Esc closes the prompt. A
command that cannot run says why in one line."""

from __future__ import annotations

import weakref

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from swarmdeck.core.sanitize import clean
from swarmdeck.ui import commands
from swarmdeck.ui.deck import Deck, deck_of

MAX_SHOWN = 12  # candidates listed under the prompt
HISTORY = 50  # commands recalled with Up


class CommandScreen(ModalScreen[str | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="command.cancel"),
        Binding("tab", "complete", "Complete", id="command.complete"),
        Binding("up", "recall(-1)", "Previous command", id="command.previous"),
        Binding("down", "recall(1)", "Next command", id="command.next"),
    ]
    DEFAULT_CSS = """
    CommandScreen > Vertical { height: auto; width: 100%; background: $panel; }
    CommandScreen #command-hint { height: auto; padding: 0 1; color: $text-muted; }
    CommandScreen #command-line { height: 1; }
    CommandScreen #command-colon { width: 2; padding: 0 0 0 1; text-style: bold; }
    CommandScreen #command { border: none; height: 1; padding: 0; }
    """

    def __init__(self, history: list[str] | None = None) -> None:
        """HISTORY: the commands run before, oldest first (Up recalls them)."""
        super().__init__()
        self.history = history if history is not None else []
        self._recalled = len(self.history)  # past the newest: the line being typed

    @property
    def deck(self) -> Deck:
        return deck_of(self)

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

    def action_recall(self, step: int) -> None:
        if not self.history:
            return
        self._recalled = max(0, min(len(self.history), self._recalled + step))
        box = self.query_one(Input)
        box.value = self.history[self._recalled] if self._recalled < len(self.history) else ""
        box.cursor_position = len(box.value)

    @on(Input.Changed)
    def _typed(self) -> None:
        self.query_one("#command-hint").display = False

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


def open_prompt(app: Deck) -> None:
    """`:`: the prompt, then the command typed there."""
    history = _histories.setdefault(app, [])

    def done(text: str | None) -> None:
        if not text or not text.strip():
            return
        if not history or history[-1] != text.strip():
            history.append(text.strip())
            del history[:-HISTORY]
        problem = commands.run(app, text)
        if problem:
            app.notify(problem, severity="warning", timeout=5, markup=False)

    app.push_screen(CommandScreen(history), callback=done)


_histories: weakref.WeakKeyDictionary[Deck, list[str]] = weakref.WeakKeyDictionary()
