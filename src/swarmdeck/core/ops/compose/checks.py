"""Checking a compose file key by key: `Reader` reads each value by its key path and collects
every problem with its line; keys it does not read are refused with the reason."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import InvalidOperation
from pathlib import Path
from typing import Any

from swarmdeck.core.ops.compose.model import KeyPath, dotted
from swarmdeck.core.ops.compose.values import go_string, parse_duration, split_command

# ---- keys that are not read, and why (as the docker CLI 28.x, compose schema 3.13) --------
# Read, not used: the CLI deploys the file and says "Ignoring unsupported options" for these.
_IGNORED_BY_DOCKER = {
    "build", "cgroupns_mode", "cgroup_parent", "devices", "domainname", "external_links",
    "ipc", "links", "mac_address", "network_mode", "pid", "privileged", "security_opt",
    "shm_size", "userns_mode",
}
# "Ignoring deprecated options", and the CLI's reason.
_DEPRECATED = {
    "container_name": "setting the container name is not supported",
    "expose": "exposing ports is unnecessary: services on the same network reach each "
              "other's containers on any port",
}
# The CLI accepts these and drops them without a word.
_SILENTLY_DROPPED = {"depends_on", "tmpfs"}
# The CLI refuses the file for these ("Compose file contains unsupported options").
_FORBIDDEN = {
    "extends": "`extends` is not supported by docker stack deploy",
    "volume_driver": "define a volume under the top-level `volumes:` with its driver instead",
    "volumes_from": "share a volume by declaring it under the top-level `volumes:` and "
                    "naming it in each service",
    "cpu_quota": "set limits under deploy.resources instead",
    "cpu_shares": "set limits under deploy.resources instead",
    "cpuset": "set limits under deploy.resources instead",
    "mem_limit": "set limits under deploy.resources instead",
    "memswap_limit": "set limits under deploy.resources instead",
}
# Not in compose file format 3 at all (docker: "Additional property ... is not allowed").
_NOT_IN_V3 = {
    "restart_policy", "cpus", "mem_reservation", "profiles", "pull_policy", "platform",
    "scale", "runtime", "oom_kill_disable", "blkio_config", "storage_opt", "group_add",
    "include", "name", "annotations", "attach", "develop", "post_start", "pre_stop",
}
_NOT_YET = {"credential_spec", "template_driver", "driver"}


def ignored_service_key(key: str) -> str | None:
    """Why a service key the docker CLI accepts but does not use is ignored (None: it is not
    one of those)."""
    if key in _IGNORED_BY_DOCKER:
        return "ignored: not supported by swarm services (docker stack deploy ignores it too)"
    if key in _DEPRECATED:
        return f"ignored: {_DEPRECATED[key]} (docker stack deploy ignores it too)"
    if key in _SILENTLY_DROPPED:
        return "ignored: swarm services have no such setting (docker stack deploy drops it " \
               "silently)"
    return None


def _why(key: str) -> str:
    if key in _FORBIDDEN:
        return f"not supported by swarm stacks: {_FORBIDDEN[key]}"
    if key in _NOT_IN_V3:
        return "not a compose file format 3 key (docker stack deploy refuses it too)"
    if key in _NOT_YET:
        return "not supported by swarmdeck (deploy this file with `docker stack deploy`)"
    return "unknown key"


class Reader:
    """Checks values by key path; problems are collected, never raised one at a time."""

    def __init__(self, file: Path, lines: dict[KeyPath, int]) -> None:
        self.file = file
        self.lines = lines
        self.found: list[tuple[int, str]] = []
        self.warned: list[tuple[int, str]] = []

    @property
    def problems(self) -> list[str]:
        """In the order a reader meets them in the file."""
        return [text for _line, text in sorted(self.found, key=lambda f: f[0])]

    @property
    def warnings(self) -> list[str]:
        """What the file says that is ignored or changed on the way, in file order."""
        return [text for _line, text in sorted(self.warned, key=lambda f: f[0])]

    def problem(self, path: KeyPath, text: str) -> None:
        self.found.append(self._where(path, text))

    def warn(self, path: KeyPath, text: str) -> None:
        self.warned.append(self._where(path, text))

    def _where(self, path: KeyPath, text: str) -> tuple[int, str]:
        line = None
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line:
                break
        where = f"line {line}: " if line else ""
        return line or 0, f"{where}{dotted(path) or 'top level'}: {text}"

    def keys(self, value: Mapping[str, Any], path: KeyPath, allowed: set[str], *,
             extensions: bool = False) -> None:
        for key in value:
            if key not in allowed and not (extensions and key.startswith("x-")):
                self.problem((*path, key), _why(key))

    def mapping(self, value: Any, path: KeyPath) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(path, f"expected a mapping, got {shown(value)}")
            return {}
        return value

    def sequence(self, value: Any, path: KeyPath) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(path, f"expected a list, got {shown(value)}")
            return []
        return value

    def string(self, value: Any, path: KeyPath, *, default: str = "") -> str:
        if value is None:
            return default
        if isinstance(value, str):
            return value
        self.problem(path, f"expected a string, got {shown(value)}")
        return default

    def choice(self, value: Any, path: KeyPath, choices: tuple[str, ...]) -> str:
        text = self.string(value, path)
        if text and text not in choices:
            self.problem(path, f"expected one of {', '.join(choices)}, got {text!r}")
            return ""
        return text

    def integer(self, value: Any, path: KeyPath, *, minimum: int = 0) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(path, f"expected a whole number, got {shown(value)}")
            return None
        if value < minimum:
            self.problem(path, f"expected a number >= {minimum}, got {value}")
            return None
        return value

    def number(self, value: Any, path: KeyPath) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(path, f"expected a number, got {shown(value)}")
            return None
        return float(value)

    def boolean(self, value: Any, path: KeyPath) -> bool | None:
        if value is None or isinstance(value, bool):
            return value
        self.problem(path, f"expected true or false, got {shown(value)}")
        return None

    def duration(self, value: Any, path: KeyPath) -> int | None:
        if value is None:
            return None
        if isinstance(value, str):
            try:
                return parse_duration(value)
            except (ValueError, InvalidOperation):
                pass
        self.problem(path, f"expected a duration like 10s, 1m30s or 500ms, got {shown(value)}")
        return None

    def convert(self, value: Any, path: KeyPath, parse: Callable[[Any], int],
                expected: str) -> int | None:
        if value is None:
            return None
        try:
            return parse(value)
        except (ValueError, TypeError, InvalidOperation):
            self.problem(path, f"expected {expected}, got {shown(value)}")
            return None

    def strings(self, value: Any, path: KeyPath, *, one_allowed: bool = False) -> list[str]:
        if value is None:
            return []
        if isinstance(value, str) and one_allowed:
            return [value]
        if not isinstance(value, list):
            self.problem(path, f"expected a list of strings, got {shown(value)}")
            return []
        out = []
        for i, item in enumerate(value):
            if isinstance(item, str):
                out.append(item)
            else:
                self.problem((*path, i), f"expected a string, got {shown(item)}")
        return out

    def command(self, value: Any, path: KeyPath) -> list[str] | None:
        if value is None:
            return None
        if isinstance(value, str):
            try:
                return split_command(value)
            except ValueError as exc:
                self.problem(path, f"cannot split into words: {exc}")
                return None
        return [go_string(v) if isinstance(v, int | float) else v
                for v in self.strings(value, path)]

    def key_values(self, value: Any, path: KeyPath, *, allow_nil: bool,
                   sep: str = "=") -> dict[str, str | None]:
        """A mapping, or a list of `key=value` (`key` alone: None, or "" unless allow_nil)."""
        if value is None:
            return {}
        if isinstance(value, dict):
            out: dict[str, str | None] = {}
            for key, item in value.items():
                if isinstance(item, dict | list):
                    self.problem((*path, key), f"expected a string, got {shown(item)}")
                elif isinstance(item, bool):  # compose format 3: a string, a number or null
                    self.problem((*path, key), f"expected a string or a number, got "
                                               f"{shown(item)} (quote it: \"{go_string(item)}\")")
                elif item is None:
                    out[key] = None if allow_nil else ""
                else:
                    out[key] = go_string(item)
            return out
        if isinstance(value, list):
            out = {}
            for i, item in enumerate(value):
                if not isinstance(item, str):
                    self.problem((*path, i), f"expected `key{sep}value`, got {shown(item)}")
                    continue
                key, has_value, rest = item.partition(sep)
                out[key] = rest if has_value else (None if allow_nil else "")
            return out
        self.problem(path, f"expected a mapping or a list of `key{sep}value`, "
                           f"got {shown(value)}")
        return {}

    def labels(self, value: Any, path: KeyPath) -> dict[str, str]:
        return {k: v or "" for k, v in self.key_values(value, path, allow_nil=False).items()}

    def external(self, value: Any, path: KeyPath) -> tuple[bool, str | None]:
        """`external: true`, or the deprecated `external: {name: x}`."""
        if isinstance(value, dict):
            self.keys(value, path, {"name"})
            name = value.get("name")
            return True, self.string(name, (*path, "name")) or None
        return bool(self.boolean(value, path)), None


def shown(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    kind = "text" if isinstance(value, str) else type(value).__name__
    return f"{kind} {value!r}"
