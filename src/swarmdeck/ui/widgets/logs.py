"""The logs pane: live lines of the selected service, tagged with replica and node.

A simple follow view; every line passes sanitize.clean before it is drawn.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import RichLog

from swarmdeck.core.logs import LogLine
from swarmdeck.core.sanitize import clean

PALETTE = ["cyan", "magenta", "green", "yellow", "blue", "bright_red", "bright_cyan",
           "bright_magenta", "bright_green", "bright_blue"]


class LogPane(RichLog):
    DEFAULT_CSS = """
    LogPane { height: 1fr; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(max_lines=2000, wrap=False, markup=False, highlight=False, **kwargs)
        self._colours: dict[str, str] = {}

    def start(self, title: str) -> None:
        self.clear()
        self._colours.clear()
        self.border_title = f"Logs · {clean(title)}"

    def note(self, message: str, style: str = "dim italic") -> None:
        self.write(Text(clean(message), style=style))

    def add(self, line: LogLine, tag: str, node: str) -> None:
        colour = self._colours.setdefault(tag, PALETTE[len(self._colours) % len(PALETTE)])
        stamp = line.timestamp.strftime("%H:%M:%S") if line.timestamp else "--:--:--"
        self.write(Text.assemble(
            (stamp, "dim"), " ", (f"{clean(tag)}@{clean(node)}", colour), " ",
            (clean(line.text), "red" if line.stream == "stderr" else ""),
        ))
