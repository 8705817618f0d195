"""Sparklines and current values for table cells."""

from __future__ import annotations

import humanize
from rich.text import Span

from swarmdeck.core.metrics import Series
from swarmdeck.ui.widgets.columns import Ranked

BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float], width: int = 8, top: float | None = None) -> str:
    values = values[-width:]
    if not values:
        return ""
    high = top if top else max(values) or 1.0
    scale, last = (len(BARS) - 1) / high, len(BARS) - 1
    return "".join(BARS[min(last, int(v * scale + 0.5))] if v > 0 else BARS[0]
                   for v in values).rjust(width)


def _with_value(spark: str, style: str, value: str, rank: float) -> Ranked:
    """SPARK in STYLE, then VALUE, sorting by RANK (built whole: Text.assemble costs several
    times more, and every node's cells are built again on each metrics tick)."""
    text = Ranked(spark + value, spans=[Span(0, len(spark), style)] if spark else None)
    text.rank = rank
    return text


def no_value() -> Ranked:
    return Ranked("-", style="dim")  # rank None: last in any order


def cpu_cell(series: Series | None, *, width: int = 8) -> Ranked:
    if series is None or series.last is None:
        return no_value()
    values = series.cpu()
    return _with_value(sparkline(values, width), "green", f" {series.last.cpu:5.1f}%",
                       series.last.cpu)


def mem_cell(series: Series | None, *, width: int = 8, total: int | None = None) -> Ranked:
    if series is None or series.last is None:
        return no_value()
    values = [float(v) for v in series.mem()]
    size = humanize.naturalsize(series.last.mem, binary=True, format="%.0f")
    return _with_value(sparkline(values, width, top=float(total) if total else None), "cyan",
                       f" {size:>7}", series.last.mem)
