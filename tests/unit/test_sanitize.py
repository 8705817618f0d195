"""Untrusted text from a cluster can never carry a control sequence to the terminal, nor
text that reads other than it is (bidi overrides, invisible characters)."""

import time

from hypothesis import given
from hypothesis import strategies as st

from swarmdeck.cli.render import table
from swarmdeck.core.sanitize import cell, clean

# bidi embeddings, overrides and isolates, the marks (LRM, RLM, ALM), zero-width characters
INVISIBLE = {chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F,
                              0x061C, *range(0x200B, 0x200E), 0x2060, 0xFEFF]}
DANGEROUS = {chr(c) for c in [*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F, *range(0x80, 0xA0)]}
DANGEROUS |= INVISIBLE


def test_escape_sequences_become_visible():
    assert clean("\x1b[2Jwiped") == "<ESC>[2Jwiped"
    assert clean("\x1b]52;c;ZXZpbA==\x07") == "<ESC>]52;c;ZXZpbA==<BEL>"
    assert clean("ok\rEVIL") == "ok<CR>EVIL"
    assert clean("\x9b31m") == "<9B>31m"  # single-byte CSI
    assert clean("a\tb") == "a\tb"
    assert cell("a\tb") == "a b"


def test_bidi_and_zero_width_characters_become_visible():
    # "gpj.exe" shown as "exe.jpg": a right-to-left override reverses what follows it
    assert clean("invoice\u202egpj.exe") == "invoice<U+202E>gpj.exe"
    assert clean("a\u2066b\u2069c") == "a<U+2066>b<U+2069>c"
    assert clean("\u200e\u200f\u061c") == "<U+200E><U+200F><U+061C>"
    assert clean("web\u200b\u200c\u200d\u2060\ufeff") == \
        "web<U+200B><U+200C><U+200D><U+2060><U+FEFF>"
    assert cell("pro\u200bd") == "pro<U+200B>d"
    for c in INVISIBLE:
        assert c not in clean(f"x{c}y") and f"<U+{ord(c):04X}>" in clean(f"x{c}y")


def test_other_text_is_untouched():
    text = "héllo wörld ✓ 日本語 עברית مرحبا 🚀 a\u00a0b"
    assert clean(text) == text


def test_clean_keeps_its_pace():
    """Logs go through clean() at 20k+ lines/s: a line costs well under 50 µs."""
    lines = [f"2026-01-01T00:00:{i % 60:02d} GET /api/items/{i} 200 {i * 7} bytes ✓"
             for i in range(20_000)]
    lines[::50] = ["\x1b[31mred\x1b[0m \u202e evil \u200b"] * len(lines[::50])
    start = time.perf_counter()
    for line in lines:
        clean(line)
    assert time.perf_counter() - start < 1.0


def test_invalid_utf8_is_replaced_not_raised():
    assert clean(b"ok \xff\xfe end") == "ok \ufffd\ufffd end"


@given(st.text())
def test_no_control_character_survives_clean(text):
    out = clean(text)
    assert not (set(out) & DANGEROUS)


@given(st.binary())
def test_no_control_character_survives_bytes(data):
    out = clean(data)
    assert not (set(out) & DANGEROUS)


@given(st.lists(st.lists(st.text(), min_size=2, max_size=2), max_size=5))
def test_tables_are_inert(rows):
    out = table(["A", "B"], rows)
    assert not (set(out) - {"\n"}) & DANGEROUS
    assert "\t" not in out


def test_printable_ascii_is_returned_as_is_and_the_rest_replaced_as_before():
    """The fast path (printable ASCII needs no replacing) agrees with the table for every
    ASCII character, alone and inside text, in lines and in cells."""
    from swarmdeck.core.sanitize import _CELL_TABLE, _LINE_TABLE

    for code in range(128):
        for text in (chr(code), f"ab{chr(code)}cd"):
            assert clean(text) == text.translate(_LINE_TABLE)
            assert clean(text, keep_tabs=False) == cell(text) == text.translate(_CELL_TABLE)
    assert cell(3) == "3" and cell(b"a\x1bb") == "a<ESC>b" and cell("e\u202e") == "e<U+202E>"
