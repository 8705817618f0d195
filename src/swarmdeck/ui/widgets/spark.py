"""Sparklines and current values for table cells."""

from __future__ import annotations

import humanize
from rich.text import Text

from swarmdeck.core.metrics import Series

BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float], width: int = 8, top: float | None = None) -> str:
    values = values[-width:]
    if not values:
        return ""
    high = top if top else max(values) or 1.0
    return "".join(BARS[min(len(BARS) - 1, int(v / high * (len(BARS) - 1) + 0.5))]
                   if v > 0 else BARS[0] for v in values).rjust(width)


def cpu_cell(series: Series | None, *, width: int = 8) -> Text:
    if series is None or series.last is None:
        return Text("-", style="dim")
    values = series.cpu()
    return Text.assemble((sparkline(values, width), "green"), f" {series.last.cpu:5.1f}%")


def mem_cell(series: Series | None, *, width: int = 8, total: int | None = None) -> Text:
    if series is None or series.last is None:
        return Text("-", style="dim")
    values = [float(v) for v in series.mem()]
    size = humanize.naturalsize(series.last.mem, binary=True, format="%.0f")
    return Text.assemble((sparkline(values, width, top=float(total) if total else None),
                          "cyan"), f" {size:>7}")
