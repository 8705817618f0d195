"""The YAML of a compose file, read with the line of every key so each problem can say
where it is."""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

import yaml
import yaml.reader

from swarmdeck.core.ops.compose.model import ComposeError, KeyPath, dotted
from swarmdeck.core.sanitize import clean

MAX_LISTED = 20  # raw control characters listed one by one; the rest are counted
_BOOL, _INT, _FLOAT = "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"


class _GoYAMLLoader(yaml.SafeLoader):
    """Plain scalars resolved as the CLI's YAML reader (gopkg.in/yaml.v3) resolves them, not
    as YAML 1.1: `yes`, `no`, `on`, `off` stay text (`restart: no`, `X: yes`), and so does
    `22:22` (no base-60 numbers); `1e3` is a number."""


_GoYAMLLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_BOOL, _INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_GoYAMLLoader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_GoYAMLLoader.add_implicit_resolver(
    _INT, re.compile(r"^[-+]?(?:0b[01_]+|0o?[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*)$"),
    list("-+0123456789"))
_GoYAMLLoader.add_implicit_resolver(
    _FLOAT, re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                       r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"), list("-+0123456789."))


def _go_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int | float:
    text = str(loader.construct_scalar(node)).replace("_", "")
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    try:
        if len(digits) > 1 and digits[0] == "0" and digits[1].isdigit():
            return sign * int(digits, 8)  # 0755, as Go's ParseInt with base 0
        return sign * int(digits, 0)
    except ValueError:  # 08: not octal, then a float for Go
        return float(text)


def _go_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float:
    text = str(loader.construct_scalar(node)).replace("_", "").lower()
    return float(text.replace(".inf", "inf").replace(".nan", "nan"))


_GoYAMLLoader.add_constructor(_INT, _go_int)
_GoYAMLLoader.add_constructor(_FLOAT, _go_float)


def parse_yaml(text: str, file: Path) -> tuple[Any, dict[KeyPath, int]]:
    found, count = _control_characters(text)
    if found:  # the YAML reader refuses the whole file at the first (a ReaderError)
        raise ComposeError(f"{file}: {count} problem{'s' if count > 1 else ''}: "
                           + "; ".join(found), problems=found)
    loader = _GoYAMLLoader(text)
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


def _control_characters(text: str) -> tuple[list[str], int]:
    """Each character YAML does not allow (C0 controls but tab and newlines, DEL, C1), with
    its line and column, past MAX_LISTED how many more; and how many there are."""
    out: list[str] = []
    line, at, more = 1, 0, 0
    for match in yaml.reader.Reader.NON_PRINTABLE.finditer(text):
        if len(out) == MAX_LISTED:
            more += 1
            continue
        pos = match.start()
        line += text.count("\n", at, pos)
        line_start = text.rfind("\n", 0, pos) + 1
        at = pos
        char = match.group()
        out.append(f"line {line}, column {pos - line_start + 1}: a raw control character "
                   f"U+{ord(char):04X} ({clean(char)}): YAML allows none; write it escaped "
                   f"in a double-quoted string (\"\\x{ord(char):02x}\") or remove it")
    if more:
        out.append(f"… and {more} more raw control characters")
    return out, len(out) - bool(more) + more


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
