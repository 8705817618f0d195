"""LiveTable on its own: repaints exactly the lines that changed, scrolled or not."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.segment import Segment
from rich.text import Span, Text
from textual.app import App, ComposeResult

from swarmdeck.ui.widgets.table import LiveTable, _cell_segments

COLUMNS = [("name", "NAME"), ("n", "N>")]


class TableApp(App):
    def compose(self) -> ComposeResult:
        yield LiveTable(COLUMNS, id="t")


def rows(n: int, marker: str = "") -> list[tuple[str, tuple[str, str]]]:
    return [(f"r{i}", (f"row {i}{marker}", str(i))) for i in range(n)]


def repainted_lines(table: LiveTable) -> set[int]:
    lines: set[int] = set()
    for region in table._repaint_regions:  # what the next frame will draw again
        lines.update(range(region.y, region.bottom))
    return lines


async def test_cursor_moves_repaint_the_old_and_new_lines_when_scrolled():
    app = TableApp()
    async with app.run_test(size=(40, 11)) as pilot:
        table = app.query_one(LiveTable)
        table.set_rows(rows(100))
        table.focus()
        await pilot.pause()
        await pilot.press("end")
        await pilot.pause()
        top = table.scroll_offset.y
        assert top > 0 and table.cursor_row == 99
        table._repaint_regions.clear()
        table.cursor_row = 97
        # rows 99 and 97 sit on widget lines 99-top+1 and 97-top+1 (line 0 is the header)
        assert repainted_lines(table) == {99 - top + 1, 97 - top + 1}


async def test_a_changed_row_repaints_only_its_line():
    app = TableApp()
    async with app.run_test(size=(40, 11)) as pilot:
        table = app.query_one(LiveTable)
        data = rows(100)
        table.set_rows(data)
        table.focus()
        await pilot.pause()
        table.scroll_to(y=50, animate=False)
        await pilot.pause()
        top = table.scroll_offset.y
        assert top == 50
        table._repaint_regions.clear()
        data[top + 3] = (data[top + 3][0], ("chg", str(top + 3)))
        table.set_rows(data)
        assert repainted_lines(table) == {3 + 1}
        assert table.get_cell(f"r{top + 3}", "name").plain == "chg"
        # a row that needs wider columns repaints the whole table
        table._repaint_regions.clear()
        data[0] = ("r0", ("a much longer name than before", "0"))
        table.set_rows(data)
        assert repainted_lines(table) >= set(range(table.size.height))


async def test_filter_keeps_the_cursor_on_the_same_row():
    app = TableApp()
    async with app.run_test(size=(40, 11)) as pilot:
        table = app.query_one(LiveTable)
        table.set_rows(rows(30))
        table.cursor_row = 12
        await pilot.pause()
        table.set_filter("row 1")
        assert table.selected_key == "r12"
        assert all("row 1" in table.get_cell(k, "name").plain for k in table.rows)


def visible(segments) -> list[tuple[str, object]]:
    """Segments as the terminal shows them: neighbours in one style joined, empty ones
    gone, no style the same as an empty one."""
    out: list[tuple[str, object]] = []
    for s in segments:
        style = s.style or None
        if not s.text:
            continue
        if out and out[-1][1] == style:
            out[-1] = (out[-1][0] + s.text, style)
        else:
            out.append((s.text, style))
    return out


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=20),
       st.lists(st.tuples(st.integers(0, 22), st.integers(0, 22),
                                                st.sampled_from(["red", "bold", "dim cyan"])),
                                      max_size=4),
       st.sampled_from(["", "green", "bold red"]))
def test_cell_segments_look_like_rich_renders_them(plain, spans, base):
    """The table cuts a cell's spans itself (rich's general render cost most of a metrics
    tick): what it draws is what rich would draw, overlapping spans included."""
    console = Console()
    n = len(plain)  # (spans past the end make rich's own render fail)
    text = Text(plain, style=base, spans=[Span(min(a, b, n), min(max(a, b), n), s)
                                          for a, b, s in spans])
    expected = list(text.render(console))
    if text.style:
        expected = list(Segment.apply_style(expected, console.get_style(text.style)))
    assert visible(_cell_segments(text, console)) == visible(expected)


async def test_a_huge_cell_is_cut_with_an_ellipsis_and_the_other_columns_stay_in_view():
    """A 10,000-character name pushed every other column off the table; the row is still
    found by what was cut off."""
    huge = "stack" + "x" * 10_000 + "TAIL"
    app = TableApp()
    async with app.run_test(size=(100, 8)) as pilot:
        table = app.query_one(LiveTable)
        table.set_rows([("a", (huge, "7")), ("b", ("short", "8"))])
        await pilot.pause()
        shown = str(table.get_cell("a", "name"))
        assert shown.endswith("…") and len(shown) <= LiveTable.MAX_CELL
        assert table.virtual_size.width < 100
        line = "".join(seg.text for seg in table.render_line(1))
        # the N column, right-aligned under its header (with its sort key), stays in view
        assert line.rstrip().endswith("7") and "…  " in line and len(line) == 100
        table.set_filter("tail")
        assert table.rows == ["a"]


async def test_the_services_pane_keeps_its_columns_beside_a_huge_name(make_app, fleet):
    state = fleet.states["prod"]
    web = next(s for s in state.services.values() if s.name == "shop_web")
    huge = "shop_web" + "x" * 10_000
    state.services[web.id] = web.model_copy(update={"name": huge})
    app = make_app()
    async with app.run_test(size=(140, 36)) as pilot:
        await pilot.pause()
        table = app.screen.query_one("#services", LiveTable)
        assert str(table.get_cell(web.id, "name")).endswith("…")
        row = table.rows.index(web.id)
        line = "".join(seg.text for seg in table.render_line(row + 1))
        # the columns a service row always shows stay in view
        assert "2/2" in line and "1.0%" in line and "4 MiB" in line
        await pilot.press(*["j"] * row, "enter")  # the detail screen names it whole
        await pilot.pause()
        shown = Console(width=20_000, file=io.StringIO(), color_system=None)
        shown.print(app.screen.query_one("#summary").content)
        assert huge in shown.file.getvalue()
