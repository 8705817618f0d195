"""CPU and memory history of a service or a node, drawn with plotext."""

from __future__ import annotations

import plotext
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from swarmdeck.core.metrics import Series
from swarmdeck.core.sanitize import clean
from swarmdeck.ui.deck import DeckScreen
from swarmdeck.ui.widgets.footer import KeysFooter


def plot(values: list[float], title: str, unit: str, width: int, height: int,
         interval: float) -> Text:
    plotext.clf()
    plotext.plotsize(max(20, width), max(6, height))
    plotext.theme("dark")
    if values:
        xs = [round(-(len(values) - 1 - i) * interval, 1) for i in range(len(values))]
        plotext.plot(xs, values, marker="braille")
        plotext.xlabel("seconds ago")
    plotext.title(f"{title} ({unit})")
    plotext.ylim(0, max(values) * 1.2 if values and max(values) > 0 else 1)
    return Text.from_ansi(plotext.build())


class ChartScreen(DeckScreen):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back", id="chart.back"),
                Binding("question_mark", "app.help", "Help", id="help")]
    DEFAULT_CSS = """
    ChartScreen Static { height: 1fr; }
    """

    def __init__(self, cluster: str, kind: str, object_id: str, title: str) -> None:
        super().__init__()
        self.cluster, self.kind, self.object_id, self.title_text = (
            cluster, kind, object_id, title)


    def compose(self) -> ComposeResult:
        yield Static(id="cpu")
        yield Static(id="mem")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.refresh_data()

    def on_resize(self) -> None:
        self.refresh_data()

    def _series(self) -> Series | None:
        metrics = self.deck.cluster_metrics(self.cluster)
        if metrics is None:
            return None
        table = metrics.services if self.kind == "service" else metrics.nodes
        return table.get(self.object_id)

    def refresh_data(self) -> None:
        series = self._series()
        interval = self.deck.config.metrics.interval
        width, height = self.size.width - 2, max(6, (self.size.height - 2) // 2)
        name = clean(self.title_text)
        cpu = series.cpu() if series else []
        mem = [m / (1 << 20) for m in series.mem()] if series else []
        self.query_one("#cpu", Static).update(
            plot(cpu, f"{name} CPU", "% of a core" if self.kind == "service" else "% of node",
                 width, height, interval))
        self.query_one("#mem", Static).update(
            plot(mem, f"{name} memory", "MiB", width, height, interval))
