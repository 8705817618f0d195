"""Untrusted text (anything a cluster sends: names, labels, errors, logs) made inert.

Every C0 control except tab, DEL, every C1 control (including the single-byte CSI 0x9b) and
ESC itself become visible placeholders, so no escape sequence (CSI, OSC, DCS, APC...) can
reach a terminal; a bare carriage return cannot overwrite a line. So do the characters that
make text read other than it is: bidi embeddings, overrides and isolates (U+202A-U+202E,
U+2066-U+2069), the LRM, RLM and ALM marks, and the zero-width characters (U+200B-U+200D,
U+2060, U+FEFF): `<U+202E>`. Invalid UTF-8 is replaced.
"""

from __future__ import annotations

from collections.abc import Iterable

_CONTROL_NAMES = {0x1B: "ESC", 0x0D: "CR", 0x0A: "LF", 0x7F: "DEL", 0x08: "BS", 0x07: "BEL"}


def _placeholder(code: int) -> str:
    name = _CONTROL_NAMES.get(code)
    return f"<{name}>" if name else f"<{code:02X}>"


# a right-to-left override shows "gpj.exe" as "exe.jpg"; a zero-width space makes two names
# that look the same differ
_INVISIBLE = [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C,
              *range(0x200B, 0x200E), 0x2060, 0xFEFF]
_TABLE = {c: _placeholder(c) for c in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]}
_TABLE.update({c: f"<U+{c:04X}>" for c in _INVISIBLE})
_LINE_TABLE = {**_TABLE, 0x09: "\t"}
_CELL_TABLE = {**_TABLE, 0x09: " "}


def clean(text: str | bytes | None, *, keep_tabs: bool = True) -> str:
    """One line of untrusted text, safe to print. Newlines become visible too."""
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if text.isascii() and text.isprintable():  # nothing to replace (most text): the tables'
        return text  # translate costs ~1 us a cell, this a tenth of it
    return text.translate(_LINE_TABLE if keep_tabs else _CELL_TABLE)


def cell(text: object) -> str:
    """A table cell: like clean(), and tabs become spaces so columns stay aligned."""
    if type(text) is str and text.isascii() and text.isprintable():  # most cells, at once
        return text
    return clean(str(text) if not isinstance(text, str | bytes) else text, keep_tabs=False)


def clean_lines(text: str | Iterable[str]) -> str:
    """Text of several lines that is ours (a summary, a preview), as lines: each one made
    inert, the line breaks kept. Given a list, each item is one line (a newline inside an
    item is shown as <LF>)."""
    lines = text.split("\n") if isinstance(text, str) else text
    return "\n".join(clean(line) for line in lines)
