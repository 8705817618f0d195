"""A log view that keeps up with a flood from every replica, drawn through Textual's line API.

Lines arrive through add() and add_note() in O(1): into a bounded ring (and into the list
of lines shown when a filter is set), and a redraw is scheduled at most ~30 times a second,
never once per line. A line becomes a Strip only when it scrolls into view, and that Strip
is kept in an LRU cache until a view option changes. Following keeps the newest line in
view; scrolling up (or pausing) freezes the view while lines keep arriving. Every string
drawn (text, replica, node, notes) is made inert by sanitize.clean once, when it arrives.

An entry of the ring is a plain tuple of the line's fields, not an object: the garbage
collector stops tracking such tuples, so 100k lines add nothing to its full collections
(as two objects each, they doubled what every full collection scanned, and those pauses
held the event loop for up to 350 ms under a flood). line_of() gives the LogLine back.
"""

from __future__ import annotations

import re
import sys
from bisect import bisect_left, bisect_right
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice
from operator import itemgetter
from pathlib import Path
from time import monotonic

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer

from swarmdeck.core.logs import LogLine
from swarmdeck.core.sanitize import clean

PALETTE = ["cyan", "magenta", "green", "yellow", "blue", "bright_red", "bright_cyan",
           "bright_magenta", "bright_green", "bright_blue"]
FRAME = 1 / 30  # at most this many redraws a second, however many lines arrive
# ... and this many while following and every frame brings a screenful of new rows: nobody
# reads a flood line by line, and each frame of it redraws the whole view (~13 ms of
# Textual's time)
FLOOD_FRAME = 1 / 12
CUT = 1024  # without wrapping, a line shows this many cells and says how many more it has
LABEL_MAX = 40  # the replica@node column grows to the longest label seen, up to this
STAMP_WIDTH = 13  # "HH:MM:SS.mmm "
MARK_WIDTH = 3  # " ! " before a stderr line
STRIP_CACHE = 2048
TAB = 4
SEQ, STAMP, STREAM, TEXT, CELLS, ORIGIN, LEVEL, RAW, TASK, NODE, SERVICE, NS = range(12)
Entry = tuple  # (seq, stamp, stream, inert text, cells, origin index, level, raw text...)
_seq = itemgetter(SEQ)


class PatternError(ValueError):
    """A filter or search the operator typed that is not a valid regular expression."""


def compile_pattern(text: str, *, regex: bool = False) -> re.Pattern[str] | None:
    """A filter or search as typed: a substring, or a regular expression when REGEX or when
    it starts with `re:`. Lower case matches any case; an upper-case letter makes it exact.
    Empty text: no pattern."""
    if text.startswith("re:"):
        text, regex = text[3:], True
    if not text:
        return None
    flags = 0 if any(c.isupper() for c in text) else re.IGNORECASE
    try:
        return re.compile(text if regex else re.escape(text), flags)
    except re.error as exc:
        raise PatternError(f"{text!r} is not a valid regular expression: {exc}") from None


def _inert(text: str) -> str:
    """clean(), with tabs expanded so cells line up. clean() only replaces control
    characters, which str.isprintable() rejects, so printable text (nearly every log
    line) is already what clean() would return and skips its per-character work."""
    if text.isprintable():
        return text
    text = clean(text)
    return text.expandtabs(TAB) if "\t" in text else text


class _Origin:
    """Where lines come from: a replica (`service.slot`) on a node, cleaned once."""

    __slots__ = ("tag", "node", "label", "colour")

    def __init__(self, tag: str, node: str, colour: str) -> None:
        self.tag, self.node, self.colour = tag, node, colour
        self.label = f"{tag}@{node}"


def _interned(text: str | None) -> str | None:
    """IDs repeat on every line of a task: one string for all of them."""
    return None if text is None else sys.intern(text)


class LogView(ScrollView, can_focus=True):
    BINDINGS = [
        Binding("up,k", "scroll_lines(-1)", "Up", show=False, id="logview.up"),
        Binding("down,j", "scroll_lines(1)", "Down", show=False, id="logview.down"),
        Binding("pageup", "scroll_pages(-1)", "Page up", show=False, id="logview.page_up"),
        Binding("pagedown", "scroll_pages(1)", "Page down", show=False,
                id="logview.page_down"),
        Binding("home,g", "oldest", "Oldest", show=False, id="logview.oldest"),
        Binding("end,G", "follow", "Follow", id="logview.follow"),
        Binding("left", "scroll_columns(-8)", "Left", show=False, id="logview.left"),
        Binding("right", "scroll_columns(8)", "Right", show=False, id="logview.right"),
    ]
    COMPONENT_CLASSES = {"logview--timestamp", "logview--stderr", "logview--match",
                         "logview--current", "logview--note", "logview--warning",
                         "logview--error", "logview--paused"}
    DEFAULT_CSS = """
    LogView { height: 1fr; background: $surface; scrollbar-gutter: stable; }
    LogView > .logview--timestamp { color: $text-muted; }
    LogView > .logview--stderr { color: $text-error; }
    LogView > .logview--match { background: $warning; color: $background; }
    LogView > .logview--current { background: $accent; color: $background; text-style: bold; }
    LogView > .logview--note { color: $text-muted; text-style: italic; }
    LogView > .logview--warning { color: $text-warning; text-style: bold; }
    LogView > .logview--error { color: $text-error; text-style: bold; }
    LogView > .logview--paused { background: $warning; color: $background; text-style: bold; }
    """

    def __init__(self, max_lines: int = 100_000, *, timestamps: bool = True,
                 wrap: bool = False, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.max_lines = max_lines
        self._ring: deque[Entry] = deque(maxlen=max_lines)
        self._shown: deque[Entry] = self._ring  # its own deque while a filter is set
        self._starts: deque[int] | None = None  # when wrapping: each shown entry's first row
        self._rows_end = 0  # (absolute rows: they keep counting as old entries leave)
        self._seq = 0
        self.total_lines = 0  # lines ever added (notes not counted)
        self._origins: dict[tuple[str, str], int] = {}  # (tag, node) as sent -> index
        self._origin_list: list[_Origin] = []
        self._colours: dict[str, str] = {}
        self._label_width = 8
        self._max_cells = 0
        self._timestamps = timestamps
        self._wrap = wrap
        self._room = 0  # cells for the text when wrapping
        self._filter: re.Pattern[str] | None = None
        self._tag_hits: set[int] = set()  # origins whose `replica@node` the filter matches
        self._replica_filter: frozenset[str] | None = None
        self._node_filter: frozenset[str] | None = None
        self._search: re.Pattern[str] | None = None
        self._match: Entry | None = None
        self._following = True
        self._paused_seq = 0
        self._auto_scroll = False  # our own scrolling, which never pauses
        self._strips: OrderedDict[int, tuple[Strip, ...]] = OrderedDict()
        self._styles: dict[str, Style] = {}
        self._blank = Strip.blank(0)
        self._status = ("", Strip.blank(0))  # the paused row: its text and strip
        self._timer: Timer | None = None
        self._last_flush = 0.0
        self._evicted_rows = 0  # rows that left the top since the last frame
        self._flushed_rows = 0
        self._frame = FRAME  # the pause between frames now (FRAME, or FLOOD_FRAME)
        self.frames = 0  # redraws scheduled by new lines (for tests and the bench)

    # ---- lines in --------------------------------------------------------------------------
    def add(self, line: LogLine, tag: str, node: str) -> None:
        """A line from replica TAG on NODE (both untrusted): O(1), drawn with the next
        frame."""
        origin = self._origins.get((tag, node))
        if origin is None:
            origin = self._origin(tag, node)
        raw = line.text
        text = _inert(raw)
        self.total_lines += 1
        self._seq += 1
        self._push((self._seq, line.timestamp, line.stream, text,
                    len(text) if text.isascii() else cell_len(text), origin, None,
                    None if text is raw else raw, _interned(line.task_id),
                    _interned(line.node_id), _interned(line.service_id), line.ns))

    def add_note(self, text: str, level: str = "info") -> None:
        """Something the reader must know (a stream lost, a node down): always shown,
        whatever the filters. LEVEL: info, warning or error."""
        text = _inert(clean(text))
        self._seq += 1
        self._push((self._seq, datetime.now(UTC), "", text, cell_len(text), -1, level, None,
                    None, None, None, 0))

    def clear(self) -> None:
        self._ring.clear()
        self._match = None
        self._shown = self._ring if self._shown is self._ring else deque()
        self._max_cells = 0
        self._layout_changed()

    def _origin(self, tag: str, node: str) -> int:
        safe_tag = _inert(clean(tag))
        colour = self._colours.setdefault(safe_tag, PALETTE[len(self._colours) % len(PALETTE)])
        origin = _Origin(safe_tag, _inert(clean(node)), colour)
        index = self._origins[(tag, node)] = len(self._origin_list)
        self._origin_list.append(origin)
        if self._filter is not None and self._filter.search(origin.label):
            self._tag_hits.add(index)
        width = min(LABEL_MAX, cell_len(origin.label))
        if width > self._label_width:
            self._label_width = width
            self._layout_changed()
        return index

    def line_of(self, entry: Entry) -> LogLine | None:
        """The LogLine an entry came from (None for a note)."""
        if entry[ORIGIN] < 0:
            return None
        text = entry[RAW] if entry[RAW] is not None else entry[TEXT]
        return LogLine(entry[STAMP], entry[STREAM], text, entry[TASK], entry[NODE],
                       entry[SERVICE], entry[NS])

    def label_of(self, entry: Entry) -> str:
        """`replica@node` (inert), or "" for a note."""
        return self._origin_list[entry[ORIGIN]].label if entry[ORIGIN] >= 0 else ""

    def _push(self, entry: Entry) -> None:
        ring, shown, starts = self._ring, self._shown, self._starts
        evicted = ring[0] if len(ring) == self.max_lines else None
        ring.append(entry)
        if shown is ring:
            gone, visible = evicted, True
        else:
            gone = evicted if evicted is not None and shown and shown[0] is evicted else None
            if gone is not None:
                shown.popleft()
            visible = self._passes(entry)
            if visible:
                shown.append(entry)
        if gone is not None:
            if starts is not None:
                first = starts.popleft()
                self._evicted_rows += (starts[0] if starts else self._rows_end) - first
            else:
                self._evicted_rows += 1
            if gone is self._match:
                self._match = None
        if visible:
            if starts is not None:
                starts.append(self._rows_end)
                self._rows_end += self._rows_of(entry)
            if entry[CELLS] > self._max_cells:
                self._max_cells = entry[CELLS]
        if self._timer is None and self.is_mounted:
            delay = max(0.001, self._last_flush + self._frame - monotonic())  # (0 breaks Timer)
            self._timer = self.set_timer(delay, self._flush, name="logview frame")

    def _passes(self, e: Entry) -> bool:
        if e[ORIGIN] < 0:
            return True  # notes always show
        if self._replica_filter is not None or self._node_filter is not None:
            origin = self._origin_list[e[ORIGIN]]
            if self._replica_filter is not None and origin.tag not in self._replica_filter:
                return False
            if self._node_filter is not None and origin.node not in self._node_filter:
                return False
        # the filter matches the text or the `replica@node` tag shown before it
        return self._filter is None or e[ORIGIN] in self._tag_hits \
            or self._filter.search(e[TEXT]) is not None

    # ---- counts ----------------------------------------------------------------------------
    @property
    def kept(self) -> int:
        return len(self._ring)

    @property
    def shown_count(self) -> int:
        return len(self._shown)

    @property
    def following(self) -> bool:
        return self._following

    @property
    def new_since_pause(self) -> int:
        """Lines shown that arrived since the view was paused."""
        if self._following:
            return 0
        return len(self._shown) - bisect_right(self._shown, self._paused_seq, key=_seq)

    @property
    def replicas(self) -> list[str]:
        return sorted(self._colours)

    @property
    def nodes(self) -> list[str]:
        return sorted({o.node for o in self._origin_list})

    @property
    def filtering(self) -> bool:
        return self._shown is not self._ring

    # ---- frames ----------------------------------------------------------------------------
    def on_mount(self) -> None:
        super().on_mount()
        self._flush()

    def _flush(self) -> None:
        """One frame for everything that arrived since the last one."""
        self._timer = None
        self._last_flush = monotonic()
        self.frames += 1
        rows = self._total_rows()
        shown = rows - self._flushed_rows + self._evicted_rows  # rows new since the last one
        self._frame = FLOOD_FRAME if self._following and shown >= max(1, self.size.height) \
            else FRAME
        self.virtual_size = Size(self._virtual_width(), rows)
        if self._following:
            self._scroll(y=self.max_scroll_y)
            self.refresh()
        elif self._evicted_rows:  # keep the lines in view where they are
            self._scroll(y=max(0, round(self.scroll_y) - self._evicted_rows))
            self.refresh()
        elif self._flushed_rows < self.scroll_offset.y + self.size.height:
            self.refresh()  # new lines land inside the view
        self._evicted_rows = 0
        self._flushed_rows = rows
        if not self._following and self._status_text() != self._status[0]:
            self.refresh_line(self.scroll_offset.y + self.size.height - 1)

    def _redraw_now(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._flush()
        self.refresh()

    def _total_rows(self) -> int:
        """Rows of lines shown, and one for the status row that covers the last row of
        the view while paused (so the newest line can still be scrolled to)."""
        rows = len(self._shown) if self._starts is None else \
            self._rows_end - self._starts[0] if self._starts else 0
        return rows if self._following else rows + 1

    def _virtual_width(self) -> int:
        if self._wrap:
            return self.scrollable_content_region.width
        cut = 0 if self._max_cells <= CUT else len(self._cut_mark(self._max_cells))
        return self._prefix_width() + min(self._max_cells, CUT) + cut

    def _prefix_width(self) -> int:
        return (STAMP_WIDTH if self._timestamps else 0) + self._label_width + MARK_WIDTH

    def _scroll(self, *, y: float) -> None:
        self._auto_scroll = True
        try:
            # force: the scrollbar that allows scrolling only comes with the next layout
            self.scroll_to(y=y, animate=False, force=True)
        finally:
            self._auto_scroll = False

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if self._following and not self._auto_scroll and new < old \
                and round(new) < self.max_scroll_y:
            self._set_following(False)  # the reader scrolled up: the view stays put

    # ---- following -------------------------------------------------------------------------
    def _set_following(self, following: bool) -> None:
        if following == self._following:
            return
        self._following = following
        self._paused_seq = self._seq
        self._redraw_now()

    def pause(self) -> None:
        self._set_following(False)

    def resume(self) -> None:
        self._set_following(True)

    def toggle_pause(self) -> None:
        self._set_following(not self._following)

    def action_follow(self) -> None:
        self.resume()

    def action_oldest(self) -> None:
        self.pause()
        self._scroll(y=0)

    def action_scroll_lines(self, delta: int) -> None:
        self.scroll_to(y=self.scroll_y + delta, animate=False)

    def action_scroll_pages(self, delta: int) -> None:
        self.scroll_to(y=self.scroll_y + delta * max(1, self.size.height - 1), animate=False)

    def action_scroll_columns(self, delta: int) -> None:
        self.scroll_to(x=self.scroll_x + delta, animate=False)

    # ---- view options ----------------------------------------------------------------------
    @property
    def timestamps(self) -> bool:
        return self._timestamps

    @timestamps.setter
    def timestamps(self, value: bool) -> None:
        self._timestamps = value
        self._layout_changed()

    @property
    def wrap(self) -> bool:
        return self._wrap

    @wrap.setter
    def wrap(self, value: bool) -> None:
        self._wrap = value
        self._layout_changed()

    def set_filter(self, pattern: re.Pattern[str] | None) -> None:
        """Show only lines whose text or `replica@node` tag matches (notes always show);
        lines keep arriving."""
        self._filter = pattern
        self._tag_hits = {i for i, o in enumerate(self._origin_list)
                          if pattern is not None and pattern.search(o.label)}
        self._rebuild()

    def set_sources(self, replicas: Iterable[str] | None = None,
                    nodes: Iterable[str] | None = None) -> None:
        """Show only the lines of these replicas (`service.slot`) and/or nodes (None: all)."""
        self._replica_filter = frozenset(replicas) if replicas is not None else None
        self._node_filter = frozenset(nodes) if nodes is not None else None
        self._rebuild()

    def _rebuild(self) -> None:
        anchor = self._top_seq()
        if self._filter is None and self._replica_filter is None and self._node_filter is None:
            self._shown = self._ring
        else:
            self._shown = deque(e for e in self._ring if self._passes(e))
        self._max_cells = max((e[CELLS] for e in self._shown), default=0)
        self._reflow(anchor)

    def on_resize(self, event: events.Resize) -> None:
        if self._wrap:
            self._layout_changed()
            return
        self._strips.clear()  # rows are drawn as wide as the view
        if self._following:
            self._scroll(y=self.max_scroll_y)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = {}
        self._blank = Strip.blank(0)
        self._status = ("", Strip.blank(0))
        self._strips.clear()

    def _layout_changed(self) -> None:
        """Timestamps, wrapping, the width or the label column changed: every line draws
        again, and when wrapping, every line's height is counted again (once, O(lines))."""
        self._reflow(self._top_seq())

    def _reflow(self, anchor: int | None) -> None:
        self._strips.clear()
        if self._wrap:
            self._room = max(8, self.scrollable_content_region.width - self._prefix_width())
            starts: deque[int] = deque()
            total = 0
            for e in self._shown:
                starts.append(total)
                total += self._rows_of(e)
            self._starts, self._rows_end = starts, total
        else:
            self._starts = None
        if not self.is_mounted:
            return
        self._redraw_now()
        if anchor is not None and not self._following:
            index = bisect_left(self._shown, anchor, key=_seq)
            self._scroll(y=self._row_of(index))

    def _rows_of(self, e: Entry) -> int:
        return 1 if e[CELLS] <= self._room else -(-e[CELLS] // self._room)

    def _row_of(self, index: int) -> int:
        if self._starts is None:
            return index
        if not self._starts:
            return 0
        index = min(index, len(self._starts) - 1)
        return self._starts[index] - self._starts[0]

    def _locate(self, row: int) -> tuple[int, int] | None:
        """A row of the view -> (index in the lines shown, row within that line)."""
        if self._starts is None:
            return (row, 0) if 0 <= row < len(self._shown) else None
        if not self._starts:
            return None
        absolute = self._starts[0] + row
        if row < 0 or absolute >= self._rows_end:
            return None
        index = bisect_right(self._starts, absolute) - 1
        return index, absolute - self._starts[index]

    def _top_seq(self) -> int | None:
        where = self._locate(round(self.scroll_y)) if self.is_mounted else None
        return self._shown[where[0]][SEQ] if where else None

    # ---- search ----------------------------------------------------------------------------
    def set_search(self, pattern: re.Pattern[str] | None) -> bool:
        """Highlight PATTERN and go to its newest match at or above the bottom of the view.
        False when no line shown matches."""
        self._search = pattern
        self._match = None
        self._strips.clear()
        self.refresh()
        if pattern is None:
            return False
        bottom = self._locate(round(self.scroll_y) + self.size.height - 1)
        start = bottom[0] if bottom else len(self._shown) - 1
        return self._go(self._find(pattern, start, forward=False))

    def search_next(self) -> bool:
        """The next match below the current one (wrapping to the oldest line)."""
        return self._step(forward=True)

    def search_previous(self) -> bool:
        return self._step(forward=False)

    @property
    def search_pattern(self) -> re.Pattern[str] | None:
        return self._search

    @property
    def current_match(self) -> tuple[LogLine | None, str] | None:
        """The line the search is on: (its LogLine, None for a note; its inert text)."""
        return (self.line_of(self._match), self._match[TEXT]) if self._match else None

    def _step(self, *, forward: bool) -> bool:
        if self._search is None or not self._shown:
            return False
        index = self._index_of(self._match)
        if index is None:
            top = self._locate(round(self.scroll_y))
            index = top[0] if top else 0
            start = index if forward else index - 1
        else:
            start = index + 1 if forward else index - 1
        return self._go(self._find(self._search, start % len(self._shown), forward=forward))

    def _index_of(self, entry: Entry | None) -> int | None:
        if entry is None:
            return None
        index = bisect_left(self._shown, entry[SEQ], key=_seq)
        return index if index < len(self._shown) and self._shown[index] is entry else None

    def _find(self, pattern: re.Pattern[str], start: int, *, forward: bool) -> int | None:
        """The index of the first line shown from START on (wrapping) that matches."""
        shown, n = self._shown, len(self._shown)
        if n == 0 or start < 0:
            return None
        if forward:
            order = [(start, islice(shown, start, None)), (0, islice(shown, 0, start))]
            for first, entries in order:
                for i, e in enumerate(entries, first):
                    if pattern.search(e[TEXT]):
                        return i
        else:
            order = [(start, islice(reversed(shown), n - 1 - start, None)),
                     (n - 1, islice(reversed(shown), 0, n - 1 - start))]
            for first, entries in order:
                for k, e in enumerate(entries):
                    if pattern.search(e[TEXT]):
                        return first - k
        return None

    def _go(self, index: int | None) -> bool:
        if index is None:
            return False
        for old in (self._match, self._shown[index]):
            if old is not None:
                self._strips.pop(old[SEQ], None)
        self._match = self._shown[index]
        self.pause()
        row, height = self._row_of(index), max(1, self.size.height - 1)  # (status row)
        if not self.scroll_offset.y <= row < self.scroll_offset.y + height:
            self._scroll(y=max(0, row - height // 3))
        self.refresh()
        return True

    # ---- saving ----------------------------------------------------------------------------
    def snapshot(self) -> list[Entry]:
        """The lines shown now, for saving elsewhere (entries never change)."""
        return list(self._shown)

    def plain_lines(self, entries: Iterable[Entry] | None = None, *,
                    timestamps: bool | None = None) -> Iterator[str]:
        """Lines as `swarmdeck logs` prints them, `[time ]replica@node | text`, and notes
        as `swarmdeck: text`; every part inert. (Safe in another thread.)"""
        stamps = self._timestamps if timestamps is None else timestamps
        origins = self._origin_list
        for e in self.snapshot() if entries is None else entries:
            if e[ORIGIN] < 0:
                yield f"swarmdeck: {e[TEXT]}"
                continue
            stamp = f"{e[STAMP].isoformat()} " if stamps and e[STAMP] else ""
            yield f"{stamp}{origins[e[ORIGIN]].label} | {e[TEXT]}"

    def save(self, path: str | Path, entries: list[Entry] | None = None, *,
             timestamps: bool | None = None) -> int:
        """Write the lines shown (or ENTRIES from snapshot()) as plain inert text, one a
        line; returns how many."""
        entries = self.snapshot() if entries is None else entries
        with open(path, "w", encoding="utf-8", newline="\n") as out:
            for text in self.plain_lines(entries, timestamps=timestamps):
                out.write(text + "\n")
        return len(entries)

    # ---- drawing ---------------------------------------------------------------------------
    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            base = self.rich_style
            if not name:
                style = base
            elif name.startswith("logview--"):
                style = base + self.get_component_rich_style(name)
            else:
                style = base + Style.parse(name)  # a replica's colour
            self._styles[name] = style
        return style

    @staticmethod
    def _cut_mark(cells: int) -> str:
        return f" … +{cells - CUT:,} cells (w wraps)"

    def _text_segments(self, e: Entry, style: Style) -> list[Segment]:
        pattern, text = self._search, e[TEXT]
        if pattern is None:
            return [Segment(text, style)]
        lit = self._style("logview--current" if e is self._match else "logview--match")
        out, pos = [], 0
        for found in pattern.finditer(text):
            start, end = found.span()
            if start == end:
                continue
            if start > pos:
                out.append(Segment(text[pos:start], style))
            out.append(Segment(text[start:end], lit))
            pos = end
        if pos < len(text) or not out:
            out.append(Segment(text[pos:], style))
        return out

    def _head(self, e: Entry) -> tuple[list[Segment], Style]:
        """The time, replica@node and mark columns of a line; and the style of its text."""
        base = self._style("")
        head: list[Segment] = []
        if self._timestamps:
            stamp = e[STAMP]
            head.append(Segment(f"{stamp:%H:%M:%S}.{stamp.microsecond // 1000:03d} " if stamp
                                else " " * STAMP_WIDTH, self._style("logview--timestamp")))
        width = self._label_width
        if e[ORIGIN] < 0:
            level = e[LEVEL] if e[LEVEL] in ("warning", "error") else "note"
            style = self._style(f"logview--{level}")
            head.append(Segment(set_cell_size("swarmdeck", width) + " » ", style))
            return head, style
        origin = self._origin_list[e[ORIGIN]]
        label = origin.label
        if cell_len(label) > width:
            label = set_cell_size(label, width - 1) + "…"
        head.append(Segment(set_cell_size(label, width), self._style(origin.colour)))
        stderr = e[STREAM] == "stderr"
        style = self._style("logview--stderr") if stderr else base
        head.append(Segment(f" {'▶' if e is self._match else '!' if stderr else ' '} ", style))
        return head, style

    def _render_entry(self, e: Entry) -> tuple[Strip, ...]:
        """The rows of one line, each a single Strip as wide as the view (so drawing it
        needs no new Strip: making one costs more than all the rest of a row)."""
        base = self._style("")
        head, style = self._head(e)
        text = self._text_segments(e, style)
        prefix, width = self._prefix_width(), self.size.width

        def row(segments: list[Segment], cells: int) -> Strip:
            if cells < width:
                segments.append(Segment(" " * (width - cells), base))
            return Strip(segments, max(cells, width))

        if not self._wrap:
            if e[CELLS] <= CUT:
                return (row(head + text, prefix + e[CELLS]),)
            mark = self._cut_mark(e[CELLS])
            shown = next(iter(Segment.divide(text, [CUT])))
            return (row([*head, *shown, Segment(mark, self._style("logview--timestamp"))],
                        prefix + CUT + len(mark)),)
        room = self._room
        if e[CELLS] <= room:
            return (row(head + text, prefix + e[CELLS]),)
        cuts = [*range(room, e[CELLS], room), e[CELLS]]
        indent = Segment(" " * prefix, base)
        rows: list[Strip] = []
        start = 0
        for part, cut in zip(Segment.divide(text, cuts), cuts, strict=True):
            rows.append(row([*(head if not rows else [indent]), *part], prefix + cut - start))
            start = cut
        return tuple(rows)

    def _rows(self, e: Entry) -> tuple[Strip, ...]:
        rows = self._strips.get(e[SEQ])
        if rows is None:
            rows = self._strips[e[SEQ]] = self._render_entry(e)
            if len(self._strips) > STRIP_CACHE:
                self._strips.popitem(last=False)
        else:
            self._strips.move_to_end(e[SEQ])
        return rows

    def _status_text(self) -> str:
        return f" ❚❚ paused · {self.new_since_pause:,} new · End follows "

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        base = self._style("")
        if not self._following and y == self.size.height - 1:
            text = self._status_text()
            if self._status[0] != text or self._status[1].cell_length != width:
                style = self._style("logview--paused")
                self._status = (text, Strip([Segment(set_cell_size(text, width), style)], width))
            return self._status[1]
        where = self._locate(scroll_y + y)
        rows = self._rows(self._shown[where[0]]) if where is not None else ()
        if where is None or where[1] >= len(rows):
            if self._blank.cell_length != width:
                self._blank = Strip.blank(width, base)
            return self._blank
        return rows[where[1]].crop_extend(scroll_x, scroll_x + width, base)
