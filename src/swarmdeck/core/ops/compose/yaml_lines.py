"""The YAML of a compose file, read with the line of every key so each problem can say
where it is."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import yaml

from swarmdeck.core.ops.compose.model import ComposeError, KeyPath, dotted


def parse_yaml(text: str, file: Path) -> tuple[Any, dict[KeyPath, int]]:
    loader = yaml.SafeLoader(text)
    lines: dict[KeyPath, int] = {}
    try:
        root = loader.get_single_node()
        if root is None:
            raise ComposeError(f"{file}: the file is empty")
        return _build(loader, root, (), lines, file), lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ComposeError(f"{file}: {where}YAML syntax error: {exc.problem or exc.context}",
                           hint="fix the YAML; a tab or a mis-indented line is the usual cause"
                           ) from None
    except yaml.YAMLError as exc:
        raise ComposeError(f"{file}: YAML error: {exc}") from None
    finally:
        loader.dispose()


def _build(loader: yaml.SafeLoader, node: yaml.Node, path: KeyPath,
           lines: dict[KeyPath, int], file: Path) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # `<<: *anchor` merges
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node)
            line = key_node.start_mark.line + 1
            if not isinstance(key, str):
                raise ComposeError(f"{file}: line {line}: keys must be strings, "
                                   f"{dotted(path) or 'the top level'} has {key!r}")
            if key in out:
                raise ComposeError(f"{file}: line {line}: {dotted((*path, key))} is "
                                   f"defined twice")
            lines[(*path, key)] = line
            out[key] = _build(loader, value_node, (*path, key), lines, file)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, (*path, i), lines, file)
                for i, item in enumerate(node.value)]
    value = loader.construct_object(node)
    if isinstance(value, datetime.date | bytes):
        return node.value  # the Go YAML reader keeps these as written
    return value
