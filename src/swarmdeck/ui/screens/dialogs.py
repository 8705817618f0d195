"""Modal questions: a confirmation (removals: type the name), a one-line prompt with
validation and a choice among a few lines. Each answers through dismiss(): None (or False)
means cancelled."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from swarmdeck.core.sanitize import clean, clean_lines


def details_text(lines: list[str]) -> Text:
    """A question's details, one line each; a deploy preview's `warning:` lines stand out
    (something in the file is ignored or changed on the way)."""
    text = Text()
    for i, line in enumerate(lines):
        warned = line.lstrip().startswith("warning:")
        if i:
            text.append("\n")
        text.append(clean(line), style="bold yellow" if warned else "")
    return text


class ConfirmDialog(ModalScreen[bool]):
    """Yes/no; with TYPED, the answer is the exact text typed (for removals).

    The button Enter presses is the focused one, drawn as such, and the line under the
    buttons names it. `y` confirms and `n` cancels (while a typed name is asked for, they are
    letters of it), ←/→ move between the buttons, Esc cancels. Confirm is the default, except
    in a dangerous question without a typed name: there Cancel is."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="dialog.cancel"),
        Binding("y", "confirm", "Confirm", id="dialog.yes"),
        Binding("n", "cancel", "Cancel", show=False, id="dialog.no"),
        Binding("left", "step(-1)", "Previous button", show=False, id="dialog.left"),
        Binding("right", "step(1)", "Next button", show=False, id="dialog.right"),
    ]

    def __init__(self, question: str, *, typed: str | None = None,
                 danger: bool = False, details: list[str] | None = None) -> None:
        """DETAILS: lines shown under the question, scrollable (a deploy's preview)."""
        super().__init__()
        self.question = question
        self.details = details
        self.typed = typed
        self.danger = danger

    def compose(self) -> ComposeResult:
        classes = "dialog" + (" danger" if self.danger else "") + (" wide" if self.details
                                                                   else "")
        with Vertical(classes=classes):
            yield Static(Text(clean_lines(self.question)), classes="question")
            if self.details:
                with VerticalScroll(classes="details"):
                    yield Static(details_text(self.details), id="details")
            if self.typed:
                yield Label(Text(f"Type {clean(self.typed)} to confirm:"))
                yield Input(id="typed")
            with Horizontal(classes="buttons"):
                yield Button("Confirm", id="yes", variant="error" if self.danger
                             else "default", disabled=bool(self.typed))
                yield Button("Cancel", id="no")
            yield Static("", id="keys", classes="keys")

    def on_mount(self) -> None:
        first = "#typed" if self.typed else "#no" if self.danger else "#yes"
        self.query_one(first).focus()
        self._show_keys()

    @property
    def default(self) -> str:
        """What Enter does now: "confirm", "cancel", or "" (a typed name is not complete)."""
        focused = self.focused
        if isinstance(focused, Button):
            return "confirm" if focused.id == "yes" else "cancel"
        if isinstance(focused, Input) and focused.value == self.typed:
            return "confirm"
        return ""

    def on_descendant_focus(self, _event: events.DescendantFocus) -> None:
        self._show_keys()

    def _show_keys(self) -> None:
        default = self.default
        if default:
            text = Text.assemble("Enter: ", (default.capitalize(), "bold reverse"))
        else:
            text = Text(f"type {clean(self.typed or '')} exactly, then Enter")
        text.append("  ·  " + ("" if self.typed else "y confirms, n cancels, ")
                    + "←/→ choose, Esc cancels", style="dim")
        self.query_one("#keys", Static).update(text)

    @on(Input.Changed, "#typed")
    def _typed(self, event: Input.Changed) -> None:
        self.query_one("#yes", Button).disabled = event.value != self.typed
        self._show_keys()

    @on(Input.Submitted, "#typed")
    def _submitted(self, event: Input.Submitted) -> None:
        if event.value == self.typed:
            self.dismiss(True)

    @on(Button.Pressed, "#yes")
    def action_confirm(self) -> None:
        if not self.query_one("#yes", Button).disabled:
            self.dismiss(True)

    @on(Button.Pressed, "#no")
    def action_cancel(self) -> None:
        self.dismiss(False)

    def action_step(self, step: int) -> None:
        buttons = [b for b in self.query(Button) if not b.disabled]
        if not buttons:
            return
        focused = self.focused
        index = buttons.index(focused) if focused in buttons else (-1 if step > 0 else 0)
        buttons[(index + step) % len(buttons)].focus()


class PromptDialog(ModalScreen[str | None]):
    """One value; VALIDATE returns an error to show (the dialog stays) or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]

    def __init__(self, question: str, value: str = "", *,
                 validate: Callable[[str], str | None] = lambda _v: None,
                 placeholder: str = "") -> None:
        super().__init__()
        self.question = question
        self.value = value
        self.validate = validate
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(clean_lines(self.question)), classes="question")
            # drawn inert (a cluster's image or labels); submitted untouched, it is the value
            yield Input(clean(self.value), placeholder=self.placeholder, id="value")
            yield Static("", id="error", classes="error")
            yield Static(Text("Enter to continue, Esc to cancel", style="dim"))

    def on_mount(self) -> None:
        self.query_one("#value").focus()

    @on(Input.Submitted, "#value")
    def _submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if value == clean(self.value).strip():
            value = self.value.strip()
        error = self.validate(value)
        if error:
            self.query_one("#error", Static).update(Text(clean(error), style="bold red"))
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class PickDialog(ModalScreen[str | None]):
    """One of CHOICES, (value, line) pairs: ↑/↓ and Enter pick, Esc cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]

    def __init__(self, question: str, choices: list[tuple[str, str]]) -> None:
        super().__init__()
        self.question = question
        self.choices = choices

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(clean_lines(self.question)), classes="question")
            yield OptionList(*(Option(Text(clean(line)), id=value)
                               for value, line in self.choices), id="choices")
            yield Static(Text("Enter picks, Esc cancels", style="dim"))

    def on_mount(self) -> None:
        self.query_one("#choices").focus()

    @on(OptionList.OptionSelected, "#choices")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
