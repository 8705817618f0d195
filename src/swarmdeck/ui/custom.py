"""Custom commands of the config ([[commands]] with a `key`) in the console: the key acts on
the highlighted service (its first running task) or node, or on the cluster from the main
screen. What the CLI's `swarmdeck run` does (core.custom_commands): a dangerous one is
refused on a read-only cluster and asked, one marked confirm is asked, every run is audited
with its argument list. Its output opens in a view (made inert); `output = "terminal"` for a
local command hands the terminal to it instead.
"""

from __future__ import annotations

import subprocess
from typing import Any, cast

from rich.text import Text
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from swarmdeck.core import custom_commands
from swarmdeck.core.audit import AuditLog
from swarmdeck.core.config import CommandConfig
from swarmdeck.core.errors import NotConfirmed, SwarmdeckError
from swarmdeck.core.sanitize import clean, clean_lines
from swarmdeck.ui.deck import Deck, DeckScreen
from swarmdeck.ui.screens.dialogs import ConfirmDialog
from swarmdeck.ui.widgets.footer import KeysFooter

TITLE = "command"


def bind_commands(widget: Widget, scopes: tuple[str, ...]) -> None:
    """The keys of the config's commands for SCOPES, on WIDGET (action `custom(NAME)`)."""
    app = cast(Deck, widget.app)
    own = widget._bindings.key_to_bindings
    for command in app.config.commands:
        if command.key and command.scope in scopes:
            own.setdefault(command.key, []).append(Binding(
                command.key, f"custom({command.name!r})", command.name,
                show=False,
                id=f"{'service' if command.scope == 'task' else command.scope}.custom."
                   f"{command.name}"))


def find(app: Deck, name: str) -> CommandConfig | None:
    return next((c for c in app.config.commands if c.name == name), None)


async def run_command(widget: Widget, cluster: str, command: CommandConfig,
                      ref: str | None) -> None:
    """Under the policy every front shares (core.custom_commands.perform): the output in
    its own screen, or the program in the terminal (output = "terminal")."""
    app = cast(Deck, widget.app)

    async def ask(question: str, dangerous: bool) -> bool:
        screens: Any = app  # (push_screen_wait is typed for the app's own result type)
        return bool(await screens.push_screen_wait(ConfirmDialog(question, danger=dangerous)))

    try:
        where = custom_commands.target(command, app.fleet.state(cluster), ref)
        argv = custom_commands.expand(command, where)

        async def execute() -> custom_commands.Result | int:
            if command.output == "terminal" and command.where == "local":
                return _in_terminal(app, command, argv)
            return await custom_commands.run(app.fleet, command, where, argv)

        result = await custom_commands.perform(
            command, where, argv, audit=AuditLog.default(),
            read_only=app.read_only_reason(cluster), ask=ask, execute=execute)
    except NotConfirmed:
        return
    except SwarmdeckError as exc:
        app.notify(clean(str(exc)), title=TITLE, severity="warning", timeout=8)
        return
    if isinstance(result, int):
        app.notify(f"{clean(command.name)} ended (exit status {result})", title=TITLE,
                   timeout=4)
        return
    await app.push_screen(OutputScreen(f"{command.name} · {where.label}", result))


def _in_terminal(app, command: CommandConfig, argv: list[str]) -> int:
    try:
        try:
            with app.suspend():
                return subprocess.run(argv, check=False).returncode
        except SuspendNotSupported:  # no terminal to hand over (headless)
            return subprocess.run(argv, check=False, capture_output=True).returncode
    except OSError as exc:
        raise custom_commands.not_runnable(command, argv, exc) from None


class OutputScreen(DeckScreen):
    """A command's output, made inert, with its exit status."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back", id="output.back"),
                Binding("question_mark", "app.help", "Help", id="help")]
    DEFAULT_CSS = """
    OutputScreen #output-title { height: 1; padding: 0 1; background: $panel; }
    OutputScreen VerticalScroll { height: 1fr; padding: 0 1; }
    """

    def __init__(self, title: str, result: custom_commands.Result) -> None:
        super().__init__()
        self.title_text = title
        self.result = result

    def compose(self) -> ComposeResult:
        status = self.result.status
        yield Static(Text.assemble((clean(self.title_text), "bold"), "  ",
                                   (f"exit status {status}",
                                    "green" if status == 0 else "bold red")),
                     id="output-title")
        with VerticalScroll():
            yield Static(Text(clean_lines(
                self.result.stdout.decode("utf-8", "replace").rstrip("\n"))), id="stdout")
            if self.result.stderr:
                yield Static(Text(clean_lines(
                    self.result.stderr.decode("utf-8", "replace").rstrip("\n")),
                    style="yellow"), id="stderr")
        yield KeysFooter()
