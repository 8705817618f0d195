"""A read-only document (an object's YAML or JSON), drawn through the line API, scrollable,
with a search: every match highlighted, the current one in reverse, n / N step through them.
Lines are made inert (sanitize.clean) when the document is set."""

from __future__ import annotations

import re

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from swarmdeck.core.sanitize import clean

MATCH = Style(bgcolor="yellow", color="black")
CURRENT = Style(bgcolor="bright_yellow", color="black", bold=True, reverse=True)


class Document(ScrollView, can_focus=True):
    BINDINGS = [
        Binding("up,k", "scroll_by(-1)", "Up", show=False, id="document.up"),
        Binding("down,j", "scroll_by(1)", "Down", show=False, id="document.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="document.page_up"),
        Binding("pagedown,space", "page(1)", "Page down", show=False, id="document.page_down"),
        Binding("home,g", "top", "Top", show=False, id="document.top"),
        Binding("end,G", "bottom", "Bottom", show=False, id="document.bottom"),
        Binding("left", "scroll_columns(-8)", "Left", show=False, id="document.left"),
        Binding("right", "scroll_columns(8)", "Right", show=False, id="document.right"),
    ]
    DEFAULT_CSS = "Document { height: 1fr; background: $surface; }"

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.lines: list[str] = []
        self.pattern: re.Pattern[str] | None = None
        self.matches: list[tuple[int, int, int]] = []  # (line, start, end)
        self.current = -1  # index into matches

    def set_text(self, text: str) -> None:
        """The document (untrusted: made inert here); the search is run again on it."""
        self.lines = [clean(line) for line in text.split("\n")]
        self.virtual_size = Size(max((len(line) for line in self.lines), default=0),
                                 len(self.lines))
        self.set_search(self.pattern)
        self.refresh()

    @property
    def text(self) -> str:
        """What is shown (the inert lines), as the clipboard gets it."""
        return "\n".join(self.lines)

    # ---- search ----------------------------------------------------------------------
    def set_search(self, pattern: re.Pattern[str] | None) -> bool:
        """Highlight PATTERN's matches and go to the first one from the top of the view;
        False when there is none."""
        self.pattern = pattern
        self.matches = [] if pattern is None else [
            (number, m.start(), m.end()) for number, line in enumerate(self.lines)
            for m in pattern.finditer(line) if m.end() > m.start()]
        self.current = -1
        self.refresh()
        if not self.matches:
            return False
        top = int(self.scroll_y)
        self._go(next((i for i, m in enumerate(self.matches) if m[0] >= top), 0))
        return True

    def step(self, forward: bool = True) -> bool:
        """n / N: the next (previous) match, wrapping around."""
        if not self.matches:
            return False
        self._go((self.current + (1 if forward else -1)) % len(self.matches))
        return True

    def _go(self, index: int) -> None:
        self.current = index
        line, start, _end = self.matches[index]
        height = max(1, self.scrollable_content_region.height)
        if not self.scroll_y <= line < self.scroll_y + height:
            self.scroll_to(y=max(0, line - height // 3), animate=False)
        width = max(1, self.scrollable_content_region.width)
        if not self.scroll_x <= start < self.scroll_x + width:
            self.scroll_to(x=max(0, start - 8), animate=False)
        self.refresh()

    @property
    def position(self) -> str:
        """`3/12` (the current match of all), "" without a search."""
        if self.pattern is None:
            return ""
        return f"{self.current + 1}/{len(self.matches)}" if self.matches else "no match"

    # ---- keys ------------------------------------------------------------------------
    def action_scroll_by(self, delta: int) -> None:
        self.scroll_to(y=self.scroll_y + delta, animate=False)

    def action_page(self, delta: int) -> None:
        self.scroll_to(y=self.scroll_y + delta * max(1, self.size.height - 1), animate=False)

    def action_top(self) -> None:
        self.scroll_to(y=0, animate=False)

    def action_bottom(self) -> None:
        self.scroll_to(y=self.max_scroll_y, animate=False)

    def action_scroll_columns(self, delta: int) -> None:
        self.scroll_to(x=self.scroll_x + delta, animate=False)

    # ---- drawing -----------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        base = self.rich_style
        number = scroll_y + y
        if number >= len(self.lines):
            return Strip([Segment(" " * width, base)], width)
        line = self.lines[number]
        marks = [(s, e, CURRENT if i == self.current else MATCH)
                 for i, (n, s, e) in enumerate(self.matches) if n == number]
        segments, at = [], 0
        for start, end, style in marks:
            if start > at:
                segments.append(Segment(line[at:start], base))
            segments.append(Segment(line[start:end], base + style))
            at = end
        if at < len(line):
            segments.append(Segment(line[at:], base))
        return Strip(segments).crop_extend(scroll_x, scroll_x + width, base)
