"""A table drawn through Textual's line API, for big fleets that change all the time.

Rows arrive as (key, cells) from core.views. Each row is rendered once into a Strip and
cached; a change re-renders only the rows it touched, and rows off screen cost nothing
until they scroll into view. (Textual's DataTable re-renders every visible cell on any
cell update, which at 1000 services and a metrics tick every 2 s kept the console busy.)
The cursor stays on the same key across updates; `/` filters instantly; cell text from a
cluster is made inert before display.

Columns fit the width: the ones a table always shows, then the optional ones in their order
of importance as long as they fit (recomputed from the rows shown now and on resize). When
even the first ones do not fit, the first column shrinks a little and stays pinned while the
rest scrolls sideways. Each column sorts on a shift+letter, drawn underlined in its header.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import zip_longest

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from swarmdeck.core.sanitize import cell
from swarmdeck.ui.widgets.columns import (
    GAP,
    Priorities,
    Ranked,
    fit_columns,
    header_label,
    line_width,
    sort_key,
    sort_letters,
)

Cell = str | Text
Row = tuple[str, Sequence[Cell]]


def safe(value: object) -> Cell:
    """Text objects are built by us from sanitized parts; anything else is sanitized here,
    and stays a str: a Text is made only for what is styled (rich's constructor strips
    control codes once more, a third of a 5000-row table's first build)."""
    return value if isinstance(value, Text) else cell(value)


def plain_of(value: Cell) -> str:
    return value.plain if isinstance(value, Text) else value


def fit(text: Cell, limit: int) -> Cell:
    """TEXT, or its first LIMIT - 1 characters and "…" (its styles kept)."""
    if len(text) <= limit:
        return text
    if isinstance(text, str):
        return text[:limit - 1] + "…"
    cut = text[:limit - 1]
    cut.append("…")
    return cut


def _cell_segments(text: Cell, console) -> list[Segment]:
    """TEXT's segments: its own style under each span's. Spans that follow each other (a
    sparkline then its value, the cells views build) are cut directly; overlapping ones
    go through rich's general render."""
    if isinstance(text, str):
        return [Segment(text)] if text else []
    plain, spans = text.plain, sorted(text.spans, key=lambda s: s.start)
    base = console.get_style(text.style) if text.style else None
    if any(a.end > b.start for a, b in zip(spans, spans[1:], strict=False)):
        segments = list(text.render(console))
        return list(Segment.apply_style(segments, base)) if base else segments
    out: list[Segment] = []
    at = 0
    for span in spans:
        start, end = max(span.start, at), min(span.end, len(plain))
        if start >= end:
            continue
        if start > at:
            out.append(Segment(plain[at:start], base))
        style = console.get_style(span.style) if isinstance(span.style, str) else span.style
        out.append(Segment(plain[start:end], base + style if base else style))
        at = end
    if at < len(plain):
        out.append(Segment(plain[at:], base))
    return out


def _same_cell(a: Cell, b: Cell) -> bool:
    """Whether two source cells read and look the same."""
    if a is b:
        return True
    if isinstance(a, Text) and isinstance(b, Text):
        return a.plain == b.plain and a.style == b.style and a.spans == b.spans
    return type(a) is type(b) and a == b


@dataclass(frozen=True)
class RowKey:
    value: str


class _Prepared:
    """One row's cells, sanitized once and cut to their column's limit, with the text the
    filter searches (each cell whole: a row is found by what its cut cell does not show)."""

    __slots__ = ("source", "cells", "whole", "text", "rendered", "keys", "lengths")

    def __init__(self, source: Sequence[Cell], cells: tuple[Cell, ...],
                 whole: tuple[str, ...]) -> None:
        self.source = source
        self.cells = cells
        self.lengths = tuple(map(len, cells))  # the columns' widths take the largest
        self.whole = whole
        self.rendered: list[list[Segment] | None] = [None] * len(cells)  # per cell, lazily
        self.text = " ".join(whole).lower()
        self.keys: dict[int, tuple | None] = {}  # column -> sort key, when first sorted on

    def sort_key(self, column: int) -> tuple | None:
        if column not in self.keys:
            self.keys[column] = sort_key(self.source[column])
        return self.keys[column]


class LiveTable(ScrollView, can_focus=True):
    BINDINGS = [
        Binding("up,k", "cursor_up", "Up", show=False, id="table.up"),
        Binding("down,j", "cursor_down", "Down", show=False, id="table.down"),
        Binding("pageup", "page_up", "Page up", show=False, id="table.page_up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="table.page_down"),
        Binding("home,g", "first", "First row", show=False, id="table.first"),
        Binding("end,G", "last", "Last row", show=False, id="table.last"),
        Binding("left", "scroll_left", "Scroll left", show=False, id="table.left"),
        Binding("right", "scroll_right", "Scroll right", show=False, id="table.right"),
        Binding("enter", "select", "Open", show=False, id="table.open"),
    ]
    # a cell wider than this is cut with "…" (the detail screens show it whole): one huge
    # name must not push every other column out of view
    MAX_CELL = 48
    COMPONENT_CLASSES = {"livetable--header", "livetable--cursor", "livetable--odd"}
    DEFAULT_CSS = """
    LiveTable {
        height: 1fr; background: $surface;
        scrollbar-size-vertical: 1; scrollbar-size-horizontal: 1;
    }
    LiveTable > .livetable--header { text-style: bold; background: $panel; }
    LiveTable > .livetable--cursor { background: $block-cursor-blurred-background; }
    LiveTable:focus > .livetable--cursor {
        background: $block-cursor-background; color: $block-cursor-foreground;
        text-style: bold;
    }
    LiveTable > .livetable--odd { background: $surface-lighten-1 10%; }
    """

    # repaint=False: a cursor move repaints its two lines (watch_cursor_row), not the table
    cursor_row: reactive[int] = reactive(0, always_update=True, init=False, repaint=False)

    class RowHighlighted(Message):
        def __init__(self, table: LiveTable, cursor_row: int, key: str) -> None:
            super().__init__()
            self.table = table
            self.cursor_row = cursor_row
            self.row_key = RowKey(key)

        @property
        def control(self) -> LiveTable:
            return self.table

    class RowSelected(RowHighlighted):
        pass

    def __init__(self, columns: Sequence[tuple[str, str]],
                 widest: Mapping[str, int] | None = None, *,
                 always: Sequence[str] | None = None, optional: Sequence[str] = (),
                 shrink: Sequence[str] = (), pinned: bool = False, **kwargs) -> None:
        """COLUMNS: (key, label); a label ending in '>' is right-aligned. WIDEST: column key
        -> the most characters its cells show (default MAX_CELL). ALWAYS: the columns shown
        at any width (default: all); OPTIONAL: the others, most wanted first, shown while
        they fit (columns in neither come after them). SHRINK: columns cut to the room left
        rather than left out. PINNED: the first column stays when scrolling sideways."""
        super().__init__(**kwargs)
        self._widest = dict(widest or {})
        self._column_specs = list(columns)
        self._limits = self._column_limits()
        # None: every column at any width, scrolling sideways (the screens' other tables)
        self._wanted = Priorities(always, optional, frozenset(shrink), pinned) \
            if always is not None else None
        self.pinned = pinned
        self._prepared: dict[str, _Prepared] = {}
        self._visible: list[str] = []
        self._shown: list[int] = []  # the columns drawn, by index, left to right
        self._widths: list[int] = []  # theirs
        self._pin = 0  # characters kept in place when scrolled sideways
        self.sort_column: str | None = None
        self.sort_reverse = False
        self._letters: dict[str, str] = {}  # column key -> the key that sorts on it
        self._strips: dict[str, tuple[object, Strip]] = {}
        self._styles: dict[str, Style] = {}  # base and component styles, until CSS changes
        self._header: Strip | None = None
        self._announced: str | None = None
        self.filter_text = ""

    # ---- data ----------------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self._visible)

    @property
    def rows(self) -> list[str]:
        """The keys of the rows shown, in order."""
        return list(self._visible)

    @property
    def column_keys(self) -> list[str]:
        return [key for key, _label in self._column_specs]

    @property
    def shown_columns(self) -> list[str]:
        """The keys of the columns drawn now, left to right."""
        return [self._column_specs[i][0] for i in self._shown]

    @property
    def column_widths(self) -> dict[str, int]:
        """The columns drawn now and their widths."""
        return dict(zip(self.shown_columns, self._widths, strict=True))

    @property
    def sort_letters(self) -> dict[str, str]:
        """Column key -> the key that sorts on it."""
        return dict(self._letters)

    def get_cell(self, row_key: str, column_key: str) -> Text:
        value = self._prepared[row_key].cells[self.column_keys.index(column_key)]
        return value if isinstance(value, Text) else Text(value)

    @property
    def selected_key(self) -> str | None:
        if not self._visible:
            return None
        return self._visible[min(self.cursor_row, len(self._visible) - 1)]

    def set_columns(self, columns: Sequence[tuple[str, str]], *,
                    always: Sequence[str] | None = None, optional: Sequence[str] = ()) -> None:
        """Switch to other columns (e.g. a cluster column for the all-clusters view) or
        other priorities (ALWAYS, OPTIONAL as for the constructor)."""
        wanted = self._wanted
        if always is not None:
            wanted = Priorities(always, optional, wanted.shrink if wanted else frozenset(),
                                self.pinned)
        if (list(columns), wanted) == (self._column_specs, self._wanted):
            return
        if list(columns) != self._column_specs:
            self._column_specs = list(columns)
            self._limits = self._column_limits()
            self._prepared = {}
        self._wanted = wanted
        self._strips = {}
        self._header = None
        self._widths = []
        if self.is_mounted:
            self._assign_letters()
        self._layout_rows()

    def set_rows(self, rows: Sequence[Row]) -> None:
        """Rows whose cells tuple is the very object given last time cost nothing: callers
        cache their rows, so a refresh does work only for rows that changed."""
        previous = self._prepared
        self._prepared = {}
        changed: set[str] = set()
        limits = self._limits
        for key, cells in rows:
            cached = previous.get(key)
            if cached is None or cached.source is not cells:
                if cached is None or len(cached.source) != len(cells):
                    whole = [safe(c) for c in cells]
                    fresh = _Prepared(cells, tuple(map(fit, whole, limits)),
                                      tuple(map(plain_of, whole)))
                    same = 0
                else:  # unchanged cells keep their sanitized text and their segments
                    kept = [_same_cell(a, b) for a, b in zip(cached.source, cells, strict=True)]
                    redone = [None if keep else safe(c)
                              for keep, c in zip(kept, cells, strict=True)]
                    fresh = _Prepared(cells, tuple(
                        cached.cells[i] if r is None else fit(r, limits[i])
                        for i, r in enumerate(redone)), tuple(
                        cached.whole[i] if r is None else plain_of(r)
                        for i, r in enumerate(redone)))
                    fresh.rendered = [cached.rendered[i] if keep else None
                                      for i, keep in enumerate(kept)]
                    same = sum(kept)
                if cached is not None and same == len(fresh.cells):
                    # new cells that read the same (an idle service's metrics tick): the
                    # row is not drawn again and costs no frame
                    cached.source = cells
                    cached.keys = {}  # its rank may have moved (1.04 % and 1.03 % read 1.0)
                else:
                    cached = fresh
                    self._strips.pop(key, None)
                    changed.add(key)
            self._prepared[key] = cached
        self._layout_rows(changed)

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self._widths = []  # the rows shown change: fit the columns to them again
        self._layout_rows()

    def _layout_rows(self, changed: set[str] | None = None) -> None:
        """CHANGED: the rows whose cells changed, when only they need drawing again (the
        rows shown, their order and the column widths stay): a metrics tick then repaints
        the changed lines, not the whole table."""
        selected = self.selected_key
        before = (self._visible, self._shown, self._widths)
        needle = self.filter_text.lower()
        self._visible = [k for k, p in self._prepared.items() if not needle or needle in p.text]
        if self.sort_column in self.column_keys:
            self._visible = self._sorted(self._visible)
        # widths from the rows shown now: another cluster's or filter's never stay
        # column by column, in C (5000 rows: 20 ms a refresh as a loop); rows of the columns
        # before a switch (set_columns lays out before the new rows come) may be shorter
        prepared = self._prepared
        labels = [len(label) for label in self._header_labels()]
        widths = [max(column) for column in zip_longest(
            labels, *(prepared[k].lengths for k in self._visible), fillvalue=0)][:len(labels)]
        shown, widths = self._fit(widths)
        if (shown, widths) != (self._shown, self._widths):
            self._shown, self._widths = shown, widths
            self._strips = {}
            self._header = None
        for key in [k for k in self._strips if k not in self._prepared]:
            del self._strips[key]
        total = line_width(widths)
        if self._wanted is not None:
            # as wide as the pane while the columns fit: a column one character narrower
            # (an age, a filter) must not change the virtual width, which makes Textual
            # lay out and repaint the whole screen
            total = max(total, self._room())
        self._pin = (1 + widths[0] + GAP) if self.pinned and widths else 0
        if self.virtual_size != Size(total, len(self._visible) + 1):
            self.virtual_size = Size(total, len(self._visible) + 1)
        if selected in self._visible:
            row = self._visible.index(selected)
            if row != self.cursor_row:
                self.set_reactive(LiveTable.cursor_row, row)
        elif self._visible and self.cursor_row >= len(self._visible):
            self.cursor_row = len(self._visible) - 1
        self._announce()
        if changed is None or (self._visible, self._shown, self._widths) != before:
            self.refresh()
            return
        # one refresh for all the changed lines shown (each call has its own cost)
        top = self.scroll_offset.y
        lines = [self._row_region(row)
                 for row in range(top, min(len(self._visible), top + self.size.height))
                 if self._visible[row] in changed]
        if lines:
            self.refresh(*lines)

    def _room(self) -> int:
        """The characters a line has, the vertical scrollbar's left out when it shows."""
        width, height = self.size
        if len(self._visible) + 1 > height:
            width -= self.styles.scrollbar_size_vertical
        return width

    def _fit(self, full: list[int]) -> tuple[list[int], list[int]]:
        if self._wanted is None:
            return list(range(len(full))), full
        return fit_columns(self.column_keys, full, self._room(), self._wanted,
                           also=self.sort_column)

    def _sorted(self, keys: list[str]) -> list[str]:
        """KEYS in the order of the sort column (stable: ties keep the given order); cells
        that show nothing stay last either way."""
        column = self.column_keys.index(self.sort_column or "")
        prepared = self._prepared
        valued: list[str] = []
        missing: list[str] = []
        for key in keys:
            (missing if prepared[key].sort_key(column) is None else valued).append(key)
        valued.sort(key=lambda k: prepared[k].sort_key(column) or (),  # never () here
                    reverse=self.sort_reverse)
        return valued + missing

    # ---- sorting -------------------------------------------------------------------------
    def on_mount(self) -> None:
        self._assign_letters()

    def on_resize(self) -> None:
        self._layout_rows()

    def _assign_letters(self) -> None:
        """A shift+letter per column (columns.sort_letters), none that a widget, the screen
        or the app binds where this table has the focus (the user's keymap applied)."""
        own = self._bindings.key_to_bindings
        for key in [k for k, found in own.items() if any(
                b.action.startswith("sort(") for b in found)]:
            own[key] = [b for b in own[key] if not b.action.startswith("sort(")]
            if not own[key]:
                del own[key]
        taken: set[str] = set()
        keymap = getattr(self.app, "_keymap", {})
        for node in self.ancestors_with_self:  # as Screen._binding_chain reads them
            bindings = node._bindings.copy()
            bindings.apply_keymap(keymap)
            taken.update(bindings.key_to_bindings)
        keys = self.column_keys
        labels = dict(self._column_specs)
        order = self._wanted.order(keys) if self._wanted else keys
        self._letters = sort_letters([(k, labels[k]) for k in order], taken, self._letters)
        for key, letter in self._letters.items():
            own.setdefault(letter, []).append(Binding(
                letter, f"sort('{key}')",
                f"Sort by {labels[key].rstrip('>').lower()} (again: reverse)",
                show=False, id=f"table.sort.{key}"))
        self._header = None
        self.refresh()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "sort":
            return parameters[0] in self.column_keys
        return True

    def action_sort(self, column: str) -> None:
        """Sort on COLUMN; again on the same column reverses. Numbers (CPU, memory, times)
        sort largest first, text A to Z."""
        if column not in self.column_keys:
            return
        if column == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            index = self.column_keys.index(column)
            self.sort_column = column
            self.sort_reverse = any(isinstance(p.source[index], Ranked)
                                    for p in self._prepared.values())
        self._header = None
        self._layout_rows()
        self._scroll_cursor_into_view()

    def _header_labels(self) -> list[Text]:
        return [header_label(label, self._letters.get(key),
                             self.sort_reverse if key == self.sort_column else None)
                for key, label in self._column_specs]

    def _column_limits(self) -> list[int]:
        return [self._widest.get(key, self.MAX_CELL) for key, _label in self._column_specs]

    def _announce(self) -> None:
        """Tell listeners when the highlighted row is another one (first rows included)."""
        key = self.selected_key
        if key is not None and key != self._announced:
            self._announced = key
            self.post_message(self.RowHighlighted(self, self.cursor_row, key))

    # ---- drawing -------------------------------------------------------------------------
    def _strip(self, cells: Sequence[Cell], rendered: list[list[Segment] | None],
               style: Style) -> Strip:
        """One line in the row's STYLE: each cell rendered once and kept in RENDERED, padded
        to the column widths. Runs of plain text (unstyled cells, padding, gaps) become one
        segment, and a coloured piece gets the row's style under its own: a changed row
        then costs a few segments for every later step (filters, crop, the compositor) to
        walk. (Building a Text per line and rendering it cost most of a metrics tick.)"""
        console = self.app.console
        out: list[Segment] = []
        plain: list[str] = [" "]
        last = len(self._widths) - 1
        for n, (i, width) in enumerate(zip(self._shown, self._widths, strict=True)):
            c = cells[i]
            if len(c) > width:  # a squeezed pinned column: cut here, drawn on the spot
                c = fit(c, width)
                segments = _cell_segments(c, console)
            else:
                kept = rendered[i]
                if kept is None:
                    kept = rendered[i] = _cell_segments(c, console)
                segments = kept
            pad = " " * (width - len(c)) if width > len(c) else ""
            right = self._column_specs[i][1].endswith(">")
            if right:
                plain.append(pad)
            for segment in segments:
                if segment.style or segment.control:
                    if plain:
                        out.append(Segment("".join(plain), style))
                        plain = []
                    out.append(Segment(segment.text, style + segment.style))
                else:
                    plain.append(segment.text)
            if not right:
                plain.append(pad)
            if n < last:
                plain.append(" " * GAP)
        plain.append(" ")
        out.append(Segment("".join(plain), style))
        return Strip(out, Segment.get_line_length(out))

    def _row_strip(self, key: str, row: int, style: Style) -> Strip:
        signature = (row == self.cursor_row, row % 2, style)
        cached = self._strips.get(key)
        if cached is not None and cached[0] == signature:
            return cached[1]
        prepared = self._prepared[key]
        strip = self._strip(prepared.cells, prepared.rendered, style)
        self._strips[key] = (signature, strip)
        return strip

    def _style(self, name: str) -> Style:
        """The base style ("") or a row style, computed once per CSS change (walking the
        DOM for them on every line was most of an idle repaint)."""
        key = f"{name}:{self.has_focus}"  # the cursor's colours follow focus
        style = self._styles.get(key)
        if style is None:
            base = self.rich_style
            style = base if not name else base + self.get_component_rich_style(name)
            self._styles[key] = style
        return style

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        base = self._style("")
        if y == 0:
            if self._header is None:
                labels = self._header_labels()
                self._header = self._strip(labels, [None] * len(labels),
                                           self._style("livetable--header"))
            strip = self._header
        else:
            row = scroll_y + y - 1
            if row >= len(self._visible):
                return Strip([Segment(" " * width, base)], width)
            style = base
            if row == self.cursor_row:
                style = self._style("livetable--cursor")
            elif row % 2:
                style = self._style("livetable--odd")
            strip = self._row_strip(self._visible[row], row, style)
        pin = self._pin
        if scroll_x and 0 < pin < width:  # the first column stays, the rest scrolls under it
            return Strip.join([strip.crop_extend(0, pin, base),
                               strip.crop_extend(pin + scroll_x, scroll_x + width, base)])
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips = {}
        self._styles = {}
        self._header = None

    # ---- cursor --------------------------------------------------------------------------
    def watch_cursor_row(self, old: int, new: int) -> None:
        if not self._visible:
            return
        row = max(0, min(new, len(self._visible) - 1))
        if row != new:
            self.cursor_row = row
            return
        self._refresh_row(old)
        self._refresh_row(row)
        self._scroll_cursor_into_view()
        self._announce()

    def _row_region(self, row: int) -> Region:
        """Row ROW's line in the widget, as ScrollView.refresh_line makes it (a line of the
        whole, scrolled content; the header is line 0, so row N is line N + 1)."""
        return Region(0, row + 1 - self.scroll_offset.y,
                      max(self.virtual_size.width, self.size.width), 1)

    def _refresh_row(self, row: int) -> None:
        """Repaint one row."""
        self.refresh(self._row_region(row))

    def _scroll_cursor_into_view(self) -> None:
        height = max(1, self.size.height - 1)
        top = self.scroll_offset.y
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False)
        elif self.cursor_row >= top + height:
            self.scroll_to(y=self.cursor_row - height + 1, animate=False)

    def move_cursor(self, *, row: int, animate: bool = False) -> None:
        self.cursor_row = row

    def action_cursor_up(self) -> None:
        self.cursor_row = max(0, self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self.cursor_row = min(len(self._visible) - 1, self.cursor_row + 1)

    def action_page_up(self) -> None:
        self.cursor_row = max(0, self.cursor_row - max(1, self.size.height - 2))

    def action_page_down(self) -> None:
        self.cursor_row = min(len(self._visible) - 1,
                              self.cursor_row + max(1, self.size.height - 2))

    def action_first(self) -> None:
        self.cursor_row = 0

    def action_last(self) -> None:
        self.cursor_row = max(0, len(self._visible) - 1)

    def action_select(self) -> None:
        key = self.selected_key
        if key is not None:
            self.post_message(self.RowSelected(self, self.cursor_row, key))

    def on_click(self, event: events.Click) -> None:
        row = self.scroll_offset.y + event.y - 1
        if event.y >= 1 and 0 <= row < len(self._visible):
            self.focus()
            if row == self.cursor_row or event.chain >= 2:
                self.cursor_row = row
                self.action_select()
            else:
                self.cursor_row = row
