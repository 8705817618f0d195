"""A DataTable that filters instantly and updates in place.

Rows arrive as (key, cells) from core.views; the table keeps the cursor on the same key
across updates, changes only cells that changed, and rebuilds only when the set or order
of rows changed. Cell text from a cluster is made inert before display.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable

from swarmdeck.core.sanitize import cell

Cell = str | Text
Row = tuple[str, Sequence[Cell]]


def safe(value: object) -> Cell:
    """Text objects are built by us from sanitized parts; anything else is sanitized here."""
    return value if isinstance(value, Text) else Text(cell(value))


class LiveTable(DataTable):
    DEFAULT_CSS = """
    LiveTable { height: 1fr; }
    """

    def __init__(self, columns: Sequence[tuple[str, str]], **kwargs) -> None:
        """COLUMNS: (key, label); a label ending in '>' is right-aligned."""
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._column_specs = list(columns)
        self._rows: list[Row] = []
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
        self._rows = [(key, tuple(safe(c) for c in cells)) for key, cells in rows]
        self._render_rows()

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self._render_rows()

    def _visible(self) -> list[tuple[str, tuple[Cell, ...]]]:
        needle = self.filter_text.lower()
        rows = self._rows if not needle else [
            (k, c) for k, c in self._rows if needle in " ".join(str(x) for x in c).lower()]
        return self._align_right(rows)

    def _align_right(self, rows: list[tuple[str, tuple[Cell, ...]]]
                     ) -> list[tuple[str, tuple[Cell, ...]]]:
        """Pad the cells of right-aligned columns (label ending in '>') to one width."""
        right = [i for i, (_k, label) in enumerate(self._column_specs) if label.endswith(">")]
        if not right or not rows:
            return rows
        widths = {i: max(len(label) - 1, *(len(str(c[i])) for _k, c in rows))
                  for i, (_k, label) in enumerate(self._column_specs) if i in right}
        out = []
        for key, cells in rows:
            padded = list(cells)
            for i in right:
                text = cells[i].copy() if isinstance(cells[i], Text) else Text(str(cells[i]))
                text.pad_left(widths[i] - len(text.plain))
                padded[i] = text
            out.append((key, tuple(padded)))
        return out

    def _render_rows(self) -> None:
        visible = self._visible()
        keys = [k for k, _ in visible]
        if keys == list(self._shown):
            for key, cells in visible:
                old = self._shown[key]
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
