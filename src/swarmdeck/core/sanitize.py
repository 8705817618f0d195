"""Untrusted text (anything a cluster sends: names, labels, errors, logs) made inert.

Every C0 control except tab, DEL, every C1 control (including the single-byte CSI 0x9b) and
ESC itself become visible placeholders, so no escape sequence (CSI, OSC, DCS, APC...) can
reach a terminal; a bare carriage return cannot overwrite a line. Invalid UTF-8 is replaced.
"""

from __future__ import annotations

_CONTROL_NAMES = {0x1B: "ESC", 0x0D: "CR", 0x0A: "LF", 0x7F: "DEL", 0x08: "BS", 0x07: "BEL"}


def _placeholder(code: int) -> str:
    name = _CONTROL_NAMES.get(code)
    return f"<{name}>" if name else f"<{code:02X}>"


_TABLE = {c: _placeholder(c) for c in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]}
_LINE_TABLE = {**_TABLE, 0x09: "\t"}
_CELL_TABLE = {**_TABLE, 0x09: " "}


def clean(text: str | bytes | None, *, keep_tabs: bool = True) -> str:
    """One line of untrusted text, safe to print. Newlines become visible too."""
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return text.translate(_LINE_TABLE if keep_tabs else _CELL_TABLE)


def cell(text: object) -> str:
    """A table cell: like clean(), and tabs become spaces so columns stay aligned."""
    return clean(str(text) if not isinstance(text, str | bytes) else text, keep_tabs=False)
