"""The projects tree: clusters -> projects -> environments -> stacks, unmanaged included."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import Tree

from swarmdeck.core.sanitize import clean
from swarmdeck.core.views import ProjectNode

ICONS = {"cluster": "◆ ", "project": "▣ ", "environment": "", "stack": "", "unmanaged": ""}
STYLES = {"cluster": "bold", "project": "bold cyan", "environment": "", "stack": "",
          "unmanaged": "dim italic"}


def _shape(nodes: list[ProjectNode]) -> tuple:
    return tuple((n.kind, n.label, n.cluster, n.stack, n.drifted, _shape(n.children))
                 for n in nodes)


class ProjectsTree(Tree[ProjectNode]):
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="projects.down"),
        Binding("k", "cursor_up", "Up", show=False, id="projects.up"),
        Binding("g", "first", "First line", show=False, id="projects.first"),
        Binding("G", "last", "Last line", show=False, id="projects.last"),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__("clusters", **kwargs)
        self.show_root = False
        self._shape: tuple = ()

    def set_projects(self, nodes: list[ProjectNode]) -> None:
        """Rebuild only when the structure changed (events touch it rarely)."""
        shape = _shape(nodes)
        if shape == self._shape:
            return
        self._shape = shape
        selected = self.cursor_node.data if self.cursor_node else None
        self.clear()
        for node in nodes:
            self._add(self.root, node)
        self.root.expand_all()
        if selected is not None:
            self._select_like(selected)

    def _add(self, parent, node: ProjectNode) -> None:
        label = Text(ICONS[node.kind] + clean(node.label), style=STYLES[node.kind])
        if node.drifted:  # the running stack differs from its compose file
            label.append("  drifted", style="bold yellow")
        if node.children:
            branch = parent.add(label, data=node, expand=True)
            for child in node.children:
                self._add(branch, child)
        else:
            parent.add_leaf(label, data=node)

    def action_first(self) -> None:
        self.cursor_line = 0

    def action_last(self) -> None:
        self.cursor_line = self.last_line

    def select_cluster(self, name: str) -> None:
        self._select_like(ProjectNode(name, "cluster", name))

    def _select_like(self, wanted: ProjectNode) -> None:
        for line in range(self.last_line + 1):
            node = self.get_node_at_line(line)
            data = node.data if node else None
            if data and (data.kind, data.label, data.cluster) == (
                    wanted.kind, wanted.label, wanted.cluster):
                self.move_cursor(node)
                return
