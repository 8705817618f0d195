"""Plain-text tables and JSON rows for the headless CLI. Every cell passes sanitize.cell."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from swarmdeck.core.config import Config, load
from swarmdeck.core.sanitize import cell

# a cell longer than this is cut with "…" (--json has every value whole): one huge name
# must not push every other column off the screen; WIDE columns (free text, last) get more
WIDEST = 60
WIDEST_TEXT = 120


def load_config(path: str | None) -> Config:
    """The config at PATH (None: the default one), what is wrong but usable in it said on
    stderr: every command says it the same way."""
    config = load(path)
    for warning in config.warnings:
        print(f"swarmdeck: warning: {warning}", file=sys.stderr)
    return config


def json_text(value: object, indent: int | None = 2) -> str:
    """JSON for scripts: ASCII only, so C1 controls arrive escaped; DEL too."""
    import json

    return json.dumps(value, indent=indent, default=str).replace("\x7f", "\\u007f")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]],
          right: Sequence[int] = (), wide: Sequence[int] = ()) -> str:
    """Columns padded to their widest cell; the columns at indexes RIGHT right-aligned. A cell
    over WIDEST characters (WIDEST_TEXT in the columns at indexes WIDE) is cut with "…"."""
    limits = [WIDEST_TEXT if i in wide else WIDEST for i in range(len(headers))]
    # a column at a time, so that the loops over the cells run in C (1000 rows: 5 ms, not 10)
    columns = [[_cut(c, limit) for c in map(cell, values)]
               for values, limit in zip(zip(*rows, strict=True), limits, strict=True)] \
        if rows else [[] for _ in headers]
    widths = [max(len(h), max(map(len, column), default=0))
              for h, column in zip(headers, columns, strict=True)]
    line = "  ".join(f"{{:{'>' if i in right else '<'}{w}}}" for i, w in enumerate(widths))
    return "\n".join(line.format(*row).rstrip()
                     for row in [headers, *zip(*columns, strict=True)])


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def age(moment: datetime | None, now: float | None = None) -> str:
    """`3 minutes`, like docker's CREATED columns, via humanize."""
    if moment is None:
        return "-"
    import humanize

    now_dt = datetime.fromtimestamp(now if now is not None else time.time(), UTC)
    return humanize.naturaldelta(now_dt - moment)


def ago(moment: datetime | None) -> str:
    return "-" if moment is None else f"{age(moment)} ago"
