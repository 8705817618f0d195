"""Which columns fit a width, the letter that sorts on each, how cells order (pure)."""

from __future__ import annotations

from rich.text import Text

from swarmdeck.ui.widgets.columns import (
    PINNED_MIN,
    Priorities,
    fit_columns,
    header_label,
    line_width,
    ranked,
    sort_key,
    sort_letters,
)

KEYS = ["name", "stack", "replicas", "cpu", "image", "age"]
FULL = [20, 10, 8, 15, 35, 4]
WANTED = Priorities(always=["name", "replicas", "cpu"], optional=["stack", "image", "age"],
                    shrink={"image"}, pinned=True)


def shown(room: int, also: str | None = None) -> list[str]:
    return [KEYS[i] for i in fit_columns(KEYS, FULL, room, WANTED, also=also)[0]]


def test_optional_columns_come_in_order_as_the_room_grows():
    base = line_width([20, 8, 15])
    assert shown(base) == ["name", "replicas", "cpu"]
    assert shown(base + 12) == ["name", "stack", "replicas", "cpu"]
    # the image shows from 12 characters on, cut; age waits for it
    assert shown(base + 12 + 13) == ["name", "stack", "replicas", "cpu"]
    assert shown(base + 12 + 14) == ["name", "stack", "replicas", "cpu", "image"]
    assert shown(base + 12 + 14 + 6) == KEYS


def test_the_room_left_goes_to_a_shrinkable_column_and_widths_fill_the_room():
    room = line_width([20, 10, 8, 15, 12, 4]) + 10
    columns, widths = fit_columns(KEYS, FULL, room, WANTED)
    assert widths[KEYS.index("image")] == 22 and line_width(widths) == room


def test_too_narrow_the_pinned_name_then_the_image_give_room():
    columns, widths = fit_columns(KEYS, FULL, line_width([20, 8, 15]) - 3, WANTED)
    assert [KEYS[i] for i in columns] == ["name", "replicas", "cpu"] and widths[0] == 17
    columns, widths = fit_columns(KEYS, FULL, 40, WANTED, also="image")
    assert [KEYS[i] for i in columns] == ["name", "replicas", "cpu", "image"]
    assert widths[0] == PINNED_MIN and widths[-1] == 5  # then it scrolls sideways


def test_the_column_sorted_on_shows_whatever_the_width():
    assert "age" in shown(line_width([20, 8, 15, 4]), also="age")


def test_sort_letters_avoid_bound_keys_and_each_other():
    columns = [("name", "NAME"), ("replicas", "REPLICAS>"), ("ports", "PORTS"),
               ("age", "AGE>"), ("mode", "MODE"), ("mem", "MEM>")]
    letters = sort_letters(columns, taken={"R", "P", "A", "G", "T", "S", "O"})
    assert letters["name"] == "N" and letters["replicas"] == "E"
    assert letters["ports"] == "Q"  # P O R T S all taken: the nearest free letter
    assert letters["age"] == "B" and letters["mode"] == "M"
    assert letters["mem"] == "L"  # M E M taken: L and N are as near, N is taken
    assert len(set(letters.values())) == len(letters)


def test_header_underlines_its_letter_or_adds_it():
    head = header_label("REPLICAS>", "E", None)
    assert head.plain == "REPLICAS"
    assert [(s.start, s.end, str(s.style)) for s in head.spans] == [(1, 2, "underline")]
    assert header_label("PORTS", "Q", True).plain == "PORTS(Q)↓"
    assert header_label("CPU>", "C", False).plain == "CPU↑"


def test_cells_order_by_rank_or_naturally_and_blanks_have_no_place():
    assert sort_key(ranked(Text("1.5%"), 1.5)) < sort_key(ranked(Text("10.0%"), 10.0))
    assert sort_key("f2") < sort_key("f10")
    assert sort_key("-") is None and sort_key(ranked(Text("-"), None)) is None


def test_a_column_keeps_its_letter_when_another_column_comes():
    services = [("name", "NAME"), ("update", "UPDATE")]
    before = sort_letters(services, taken={"A"})
    after = sort_letters([("name", "NAME"), ("cluster", "CLUSTER"), ("update", "UPDATE")],
                         taken={"A"}, keep=before)
    assert after["update"] == before["update"] == "U" and after["cluster"] == "C"
