"""Variables in a compose file (`${VAR:-default}`...), substituted as cli/compose/template
does, with the numbers and booleans the CLI casts back afterwards."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from swarmdeck.core.ops.compose.checks import Reader
from swarmdeck.core.ops.compose.model import KeyPath

_SUBST = r"[_a-z][_a-z0-9]*(?::?[-?][^}]*)?"
_VARIABLE = re.compile(rf"\$(?:(?P<escaped>\$)|(?P<named>{_SUBST})|{{(?P<braced>{_SUBST})}}"
                       r"|(?P<invalid>))", re.I)
# values the CLI turns back into numbers or booleans once a variable was substituted in them
_CASTS: list[tuple[tuple[str, ...], str]] = [
    (("services", "*", "configs", "[]", "mode"), "int"),
    (("services", "*", "secrets", "[]", "mode"), "int"),
    (("services", "*", "healthcheck", "retries"), "int"),
    (("services", "*", "healthcheck", "disable"), "bool"),
    (("services", "*", "deploy", "replicas"), "int"),
    (("services", "*", "deploy", "update_config", "parallelism"), "int"),
    (("services", "*", "deploy", "update_config", "max_failure_ratio"), "float"),
    (("services", "*", "deploy", "rollback_config", "parallelism"), "int"),
    (("services", "*", "deploy", "rollback_config", "max_failure_ratio"), "float"),
    (("services", "*", "deploy", "restart_policy", "max_attempts"), "int"),
    (("services", "*", "deploy", "placement", "max_replicas_per_node"), "int"),
    (("services", "*", "ports", "[]", "target"), "int"),
    (("services", "*", "ports", "[]", "published"), "int"),
    (("services", "*", "ulimits", "*"), "int"),
    (("services", "*", "ulimits", "*", "hard"), "int"),
    (("services", "*", "ulimits", "*", "soft"), "int"),
    (("services", "*", "privileged"), "bool"),
    (("services", "*", "oom_score_adj"), "int"),
    (("services", "*", "stdin_open"), "bool"),
    (("services", "*", "tty"), "bool"),
    (("services", "*", "read_only"), "bool"),
    (("services", "*", "init"), "bool"),
    (("services", "*", "volumes", "[]", "read_only"), "bool"),
    (("services", "*", "volumes", "[]", "volume", "nocopy"), "bool"),
    (("networks", "*", "external"), "bool"),
    (("networks", "*", "internal"), "bool"),
    (("networks", "*", "attachable"), "bool"),
    (("volumes", "*", "external"), "bool"),
    (("secrets", "*", "external"), "bool"),
    (("configs", "*", "external"), "bool"),
]


def substitute(template: str, env: Mapping[str, str]) -> str:
    """${VAR}, $VAR, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, $$."""
    def one(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        text = match["named"] or match["braced"]
        if not text:
            raise ValueError(f"invalid variable in {template!r} (write $$ for a literal $)")
        for sep in (":-", "-"):
            if sep in text:
                name, default = text.split(sep, 1)
                value = env.get(name)
                empty_too = sep == ":-"
                return default if value is None or (empty_too and value == "") else value
        for sep in (":?", "?"):
            if sep in text:
                name, message = text.split(sep, 1)
                value = env.get(name)
                if value is None or (sep == ":?" and value == ""):
                    raise ValueError(f"required variable {name} is missing a value: {message}")
                return value
        return env.get(text, "")
    return _VARIABLE.sub(one, template)


def _cast_for(path: KeyPath) -> str | None:
    for pattern, kind in _CASTS:
        if len(pattern) == len(path) and all(
                p == "*" and isinstance(k, str) or p == "[]" and isinstance(k, int) or p == k
                for p, k in zip(pattern, path, strict=True)):
            return kind
    return None


def interpolate(value: Any, path: KeyPath, env: Mapping[str, str], r: Reader) -> Any:
    if isinstance(value, dict):
        return {k: interpolate(v, (*path, k), env, r) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, (*path, i), env, r) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value
    try:
        new = substitute(value, env)
    except ValueError as exc:
        r.problem(path, str(exc))
        return value
    kind = _cast_for(path) if new != value else None
    if kind == "int" and re.fullmatch(r"[-+]?\d+", new):
        return int(new)
    if kind == "float":
        try:
            return float(new)
        except ValueError:
            pass
    if kind == "bool" and new.lower() in ("y", "yes", "true", "on", "n", "no", "false", "off"):
        return new.lower() in ("y", "yes", "true", "on")
    return new
