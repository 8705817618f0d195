"""A change in flight: what was done, each service's progress, and how it ended. Closing the
view (Esc) does not stop the change; the outcome is also announced as a notification."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import RichLog, Static

from swarmdeck.core.sanitize import clean, clean_lines


class OperationScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,enter", "close", "Close", id="operation.close")]

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title_text = title
        self.outcome: str | None = None
        self.lines: list[str] = []
        self._styled: list[tuple[str, str]] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog operation"):
            yield Static(Text(clean(self.title_text), style="bold"), classes="question")
            yield RichLog(id="progress", wrap=True, markup=False, max_lines=500)
            yield Static(Text("working… (Esc closes this view; the change goes on)",
                              style="dim"), id="status")

    def on_mount(self) -> None:
        for line, style in self._styled:  # what was said before the view was shown
            self.query_one("#progress", RichLog).write(Text(clean_lines(line), style=style))
        if self.outcome is not None:
            self._show_done()

    def say(self, line: str, style: str = "") -> None:
        self.lines.append(line)
        self._styled.append((line, style))
        if self.is_mounted:  # a summary of several lines is shown as lines
            self.query_one("#progress", RichLog).write(Text(clean_lines(line), style=style))

    def finish(self, outcome: str, ok: bool) -> None:
        self.outcome = outcome
        self.say(outcome, "bold green" if ok else "bold red")
        if self.is_mounted:
            self._show_done()

    def _show_done(self) -> None:
        self.query_one("#status", Static).update(Text("done: Esc or Enter to close",
                                                      style="dim"))

    def action_close(self) -> None:
        self.dismiss(None)
