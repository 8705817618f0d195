"""The import contract: the core imports neither Textual nor rich (the UI and the CLI are
layers over it); the console (swarmdeck.ui) is imported only by the CLI's console entry; and
no module of swarmdeck imports itself back through others (no circles), function-level and
type-checking imports included."""

from __future__ import annotations

import ast
from pathlib import Path

import swarmdeck

SRC = Path(swarmdeck.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def graph_of(folder: Path) -> dict[str, set[str]]:
    modules = {module_name(p): p for p in folder.rglob("*.py")}
    return {name: {m for m in imports(path) if m in modules and m != name}
            for name, path in modules.items()}


def core_graph() -> dict[str, set[str]]:
    return graph_of(SRC / "core")


def test_the_core_imports_no_ui_library():
    for path in (SRC / "core").rglob("*.py"):
        ui = {m for m in imports(path) if m.split(".")[0] in ("textual", "rich")}
        assert not ui, f"{path.relative_to(SRC)} imports {sorted(ui)}"


def circles_of(graph: dict[str, set[str]]) -> list[set[str]]:
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                circles.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return circles


def test_the_core_has_no_import_circle():
    graph = core_graph()
    assert graph["swarmdeck.core.doctor"]  # the graph is read (the check can fail)
    assert circles_of(graph) == []


def test_no_module_of_swarmdeck_is_in_an_import_circle():
    """The console's screens open one another and share cells, keys and the app's state
    (ui.deck): each of those lives where nothing it imports leads back to it."""
    graph = graph_of(SRC)
    assert graph["swarmdeck.ui.screens.main"]  # read, function-level imports too
    assert circles_of(graph) == []


def test_a_circle_is_found_when_there_is_one():
    graph = graph_of(SRC)
    graph["swarmdeck.ui.deck"] = graph["swarmdeck.ui.deck"] | {"swarmdeck.ui.app"}
    assert {"swarmdeck.ui.app", "swarmdeck.ui.deck"} <= set().union(*circles_of(graph))


def test_only_the_console_entry_imports_the_console():
    graph = graph_of(SRC)
    importers = {name for name, found in graph.items() if not name.startswith("swarmdeck.ui")
                 and any(m == "swarmdeck.ui" or m.startswith("swarmdeck.ui.") for m in found)}
    assert importers == {"swarmdeck.cli.console"}
