"""`?`: every key of the screen underneath, with its binding id (for [keys] in the config)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static


def bindings_table(screen: Screen) -> Table:
    table = Table(box=None, padding=(0, 2), show_header=True, header_style="bold")
    table.add_column("KEY", style="bold cyan", no_wrap=True)
    table.add_column("ACTION")
    table.add_column("ID (config: keys)", style="dim")
    seen: set[tuple[str, str]] = set()
    rows = []
    for key, active in screen.active_bindings.items():
        binding = active.binding
        description = binding.description or binding.action
        if (key, description) in seen:
            continue
        seen.add((key, description))
        state = "" if active.enabled else " (unavailable here)"
        rows.append((screen.app.get_key_display(binding), description + state, binding.id or ""))
    for key, description, binding_id in sorted(rows, key=lambda r: r[1].lower()):
        table.add_row(key, Text(description), binding_id)
    return table


class HelpScreen(ModalScreen):
    BINDINGS = [
        Binding("escape,question_mark,q", "app.pop_screen", "Close", id="help.close"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 80; max-width: 100%; height: auto; max-height: 90%;
        border: round $accent; padding: 0 1; background: $surface;
    }
    """

    def __init__(self, target: Screen) -> None:
        super().__init__()
        self.target = target

    def compose(self) -> ComposeResult:
        with VerticalScroll() as box:
            box.border_title = "Keys on this screen"
            box.border_subtitle = "Esc closes · ctrl+p finds any action by name"
            yield Static(bindings_table(self.target))
