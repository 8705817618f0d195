"""One line saying how the current cluster is: managers, leader, nodes, services, link."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from swarmdeck.core.sanitize import clean
from swarmdeck.core.views import ClusterHealth


def _ratio(label: str, have: int | None, total: int | None) -> Text:
    if have is None or total is None:
        return Text(f"{label} -", style="dim")
    style = "green" if have >= total else ("yellow" if have else "red")
    return Text.assemble((f"{label} ", "dim"), (f"{have}/{total}", style))


def health_text(h: ClusterHealth, *, read_only: bool = False, hint: str | None = None) -> Text:
    """HINT: an action the cluster's state calls for, shown before the (long) error."""
    parts: list[Text] = [Text(clean(h.cluster), style="bold")]
    if hint:
        parts.append(Text(clean(hint), style="bold reverse"))
    if h.status == "connecting":
        parts.append(Text("connecting…", style="yellow"))
    elif h.status == "error":
        parts.append(Text(f"unreachable: {clean(h.error)}", style="bold red"))
    else:
        if h.status == "stale":
            age = f" {h.age:.0f}s old" if h.age is not None else ""
            parts.append(Text(f"STALE{age}: {clean(h.error or 'reconnecting')}",
                              style="bold yellow"))
        leader = clean(h.leader) if h.leader else "NO LEADER"
        parts += [
            _ratio("managers", h.managers_reachable, h.managers_total)
            + Text.assemble((" leader ", "dim"), (leader, "bold" if h.leader else "bold red")),
            _ratio("nodes", h.nodes_ready, h.nodes_total),
            _ratio("services", h.services_converged, h.services_total),
            Text.assemble(("via ", "dim"), clean(h.manager or "-")),
        ]
    if read_only:
        parts.append(Text("READ-ONLY", style="bold reverse"))
    return Text("  │  ").join(parts)


class HealthBar(Static):
    DEFAULT_CSS = """
    HealthBar { height: 1; padding: 0 1; background: $panel; }
    """

    _shown: Text | None = None

    def show(self, health: ClusterHealth, *, read_only: bool = False,
             hint: str | None = None) -> None:
        text = health_text(health, read_only=read_only, hint=hint)
        if self._shown is None or text.plain != self._shown.plain or \
                text.spans != self._shown.spans:
            self._shown = text
            self.update(text, layout=False)  # one line, fixed height: no layout pass
