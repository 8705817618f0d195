"""A DataTable that filters instantly and updates in place.

Rows arrive as (key, cells) from core.views; the table keeps the cursor on the same key
across updates, changes only cells that changed, and rebuilds only when the set or order
of rows changed. Cell text from a cluster is made inert before display.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from swarmdeck.core.sanitize import cell

Cell = str | Text
Row = tuple[str, Sequence[Cell]]


def safe(value: object) -> Text:
    """Text objects are built by us from sanitized parts; anything else is sanitized here."""
    return value if isinstance(value, Text) else Text(cell(value))


class _Prepared:
    """One row's cells, sanitized once, with its right-aligned form for the current widths."""

    __slots__ = ("source", "cells", "text", "_aligned_for", "_aligned")

    def __init__(self, source: Sequence[Cell], cells: tuple[Text, ...], text: str) -> None:
        self.source = source
        self.cells = cells
        self.text = text
        self._aligned_for: tuple | None = None
        self._aligned: tuple[Cell, ...] = cells

    def aligned(self, right: list[int], widths: tuple[int, ...]) -> tuple[Cell, ...]:
        if not right:
            return self.cells
        if self._aligned_for != widths:
            padded = list(self.cells)
            for i, width in zip(right, widths, strict=True):
                text = self.cells[i].copy()
                text.pad_left(width - len(text))
                padded[i] = text
            self._aligned, self._aligned_for = tuple(padded), widths
        return self._aligned


class LiveTable(DataTable):
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="table.down"),
        Binding("k", "cursor_up", "Up", show=False, id="table.up"),
    ]
    DEFAULT_CSS = """
    LiveTable { height: 1fr; }
    """

    def __init__(self, columns: Sequence[tuple[str, str]], **kwargs) -> None:
        """COLUMNS: (key, label); a label ending in '>' is right-aligned."""
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._column_specs = list(columns)
        self._prepared: dict[str, _Prepared] = {}
        self._shown: dict[str, tuple[Cell, ...]] = {}
        self.filter_text = ""

    def on_mount(self) -> None:
        self._add_columns()

    def set_columns(self, columns: Sequence[tuple[str, str]]) -> None:
        """Switch to other columns (e.g. a cluster column for the all-clusters view)."""
        if list(columns) == self._column_specs:
            return
        self._column_specs = list(columns)
        self.clear(columns=True)
        self._shown = {}
        self._prepared = {}
        self._add_columns()

    def _add_columns(self) -> None:
        for key, label in self._column_specs:
            if label.endswith(">"):
                self.add_column(Text(label[:-1]), key=key)
            else:
                self.add_column(label, key=key)

    @property
    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:  # noqa: BLE001 - an empty or shrinking table has no cursor row
            return None

    def set_rows(self, rows: Sequence[Row]) -> None:
        """Rows whose cells tuple is the very object given last time cost nothing: callers
        cache their rows, so a refresh does work only for rows that changed."""
        previous = self._prepared
        self._prepared = {}
        for key, cells in rows:
            cached = previous.get(key)
            if cached is None or cached.source is not cells:
                safe_cells = tuple(safe(c) for c in cells)
                cached = _Prepared(cells, safe_cells,
                                   " ".join(str(c) for c in safe_cells).lower())
            self._prepared[key] = cached
        self._render_rows()

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self._render_rows()

    def _visible(self) -> list[tuple[str, tuple[Cell, ...]]]:
        needle = self.filter_text.lower()
        rows = [(k, p) for k, p in self._prepared.items() if not needle or needle in p.text]
        right = [i for i, (_k, label) in enumerate(self._column_specs) if label.endswith(">")]
        widths = tuple(
            max(len(self._column_specs[i][1]) - 1, *(len(p.cells[i]) for _k, p in rows))
            for i in right) if rows else ()
        return [(k, p.aligned(right, widths)) for k, p in rows]

    def _render_rows(self) -> None:
        visible = self._visible()
        keys = [k for k, _ in visible]
        if keys == list(self._shown):
            for key, cells in visible:
                old = self._shown[key]
                if old is cells:
                    continue
                for (col_key, _label), new, before in zip(self._column_specs, cells, old,
                                                          strict=True):
                    if str(new) != str(before) or getattr(new, "style", None) != \
                            getattr(before, "style", None):
                        self.update_cell(key, col_key, new, update_width=True)
                self._shown[key] = cells
            return
        selected = self.selected_key
        self.clear()
        for key, cells in visible:
            self.add_row(*cells, key=key)
        self._shown = dict(visible)
        if selected in self._shown:
            self.move_cursor(row=keys.index(selected), animate=False)
