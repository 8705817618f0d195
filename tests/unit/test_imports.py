"""The import contract of the core: it imports neither Textual nor rich (the UI and the CLI
are layers over it), and its modules import each other one way only (no circles), function-
level imports included."""

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


def core_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in (SRC / "core").rglob("*.py")}
    return {name: {m for m in imports(path) if m in modules and m != name}
            for name, path in modules.items()}


def test_the_core_imports_no_ui_library():
    for path in (SRC / "core").rglob("*.py"):
        ui = {m for m in imports(path) if m.split(".")[0] in ("textual", "rich")}
        assert not ui, f"{path.relative_to(SRC)} imports {sorted(ui)}"


def test_the_core_has_no_import_circle():
    graph = core_graph()
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
    assert graph["swarmdeck.core.doctor"]  # the graph is read (the check can fail)
    assert circles == []
