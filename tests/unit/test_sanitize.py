"""Untrusted text from a cluster can never carry a control sequence to the terminal."""

from hypothesis import given
from hypothesis import strategies as st

from swarmdeck.cli.render import table
from swarmdeck.core.sanitize import cell, clean

DANGEROUS = {chr(c) for c in [*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F, *range(0x80, 0xA0)]}


def test_escape_sequences_become_visible():
    assert clean("\x1b[2Jwiped") == "<ESC>[2Jwiped"
    assert clean("\x1b]52;c;ZXZpbA==\x07") == "<ESC>]52;c;ZXZpbA==<BEL>"
    assert clean("ok\rEVIL") == "ok<CR>EVIL"
    assert clean("\x9b31m") == "<9B>31m"  # single-byte CSI
    assert clean("a\tb") == "a\tb"
    assert cell("a\tb") == "a b"


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
