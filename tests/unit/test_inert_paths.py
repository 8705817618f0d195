"""Every path that puts cluster text on a terminal, fed arbitrary text and bytes: no control
character survives (C0 but tab, DEL, C1 incl. the one-byte CSI, ESC, CR), nothing crashes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from swarmdeck.cli.logs import format_line
from swarmdeck.cli.render import json_text, table
from swarmdeck.core.logs import Demuxer, LogLine, parse_line
from swarmdeck.core.views import ClusterHealth
from swarmdeck.ui.widgets.health import health_text
from swarmdeck.ui.widgets.table import safe

DANGEROUS = {chr(c) for c in [*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F, *range(0x80, 0xA0)]}
# what attackers send: escape sequences, C1, CR, plus anything at all
nasty = st.one_of(
    st.text(),
    st.sampled_from(["\x1b]0;title\x07", "\x1b]52;c;aGk=\x07", "\x1b[2J", "\x9b31m",
                     "\x1bP+q\x1b\\", "\x1b_apc\x1b\\", "ok\rEVIL", "\x7f", "\x85"]),
    st.binary().map(lambda b: b.decode("utf-8", errors="replace")),
)


def inert(text: str, allowed: set[str] = frozenset()) -> bool:
    return not (set(text) - set(allowed)) & DANGEROUS


@given(st.binary(max_size=2000))
def test_log_bytes_to_cli_lines(data):
    demux = Demuxer()
    lines = demux.feed(data) + demux.flush()
    for stream, raw in lines:
        line = parse_line(raw, stream)
        out = format_line(line, "svc.1", "node-1", timestamps=True)
        assert inert(out[:-1]) and out.endswith("\n")


@given(nasty, nasty, nasty)
def test_log_line_tags_and_text(text, replica, node):
    line = LogLine(datetime.now(UTC), "stdout", text)
    out = format_line(line, replica, node)
    assert inert(out[:-1])


@given(st.lists(st.lists(nasty, min_size=3, max_size=3), max_size=4))
def test_cli_tables_and_json(rows):
    assert inert(table(["A", "B", "C"], rows), {"\n"})
    out = json_text(rows)
    assert inert(out, {"\n"}) and json.loads(out) == rows


@given(nasty, nasty, nasty, nasty)
@settings(max_examples=50)
def test_console_header(cluster, error, leader, manager):
    health = ClusterHealth(cluster, "stale", error, manager, leader, 1, 3, 2, 5, 4, 9, 2,
                           age=3.0)
    plain = health_text(health).plain
    assert inert(plain)
    console = Console(width=400, color_system=None, legacy_windows=False)
    with console.capture() as capture:
        console.print(health_text(health), end="")
    assert inert(capture.get(), {"\n"})  # what is written, wrapped lines apart


@given(nasty)
def test_table_cells(value):
    assert inert(safe(value).plain)
