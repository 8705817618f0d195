"""Compose files as `docker stack deploy` reads them, and the Engine API bodies it sends.

`load_compose` reads the YAML, interpolates variables, checks every key and value and reads
the env, config and secret files it names; every problem is collected and reported by key
path and line, nothing is silently ignored. `stack_plan` turns the result into the service,
network, config and secret specs the docker CLI (cli/compose/convert) would build, field by
field, so a stack deployed from here and one deployed with `docker stack deploy` are alike.
"""

from __future__ import annotations

import base64
import datetime
import os
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

from swarmdeck.core.errors import UsageError
from swarmdeck.core.models import STACK_LABEL

IMAGE_LABEL = "com.docker.stack.image"
DEFAULT_NETWORK = "default"

KeyPath = tuple[str | int, ...]


class ComposeError(UsageError):
    """The compose file cannot be deployed as written; `problems` lists each finding."""

    def __init__(self, message: str, *, problems: list[str] | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.problems = problems or []


# ---- what a compose file says, checked and in Engine units -------------------------------
@dataclass(frozen=True)
class FileObject:
    """A top-level config or secret."""

    name: str | None  # `name:` (used as is), None: STACK_key
    external: bool
    labels: dict[str, str]
    data: bytes = b""


@dataclass(frozen=True)
class NetworkDef:
    name: str | None
    external: bool
    driver: str = ""
    driver_opts: dict[str, str] = field(default_factory=dict)
    attachable: bool = False
    internal: bool = False
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class VolumeDef:
    name: str | None
    external: bool
    driver: str = ""
    driver_opts: dict[str, str] | None = None
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class ServiceDef:
    """One service; nested parts are already in the Engine API's shape (nanoseconds, bytes)."""

    name: str
    image: str = ""
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    environment: dict[str, str | None] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    ports: list[dict[str, Any]] = field(default_factory=list)
    networks: dict[str, list[str]] = field(default_factory=dict)  # name -> aliases
    volumes: list[dict[str, Any]] = field(default_factory=list)  # compose-level mounts
    configs: list[dict[str, Any]] = field(default_factory=list)  # source/target/uid/gid/mode
    secrets: list[dict[str, Any]] = field(default_factory=list)
    healthcheck: dict[str, Any] | None = None
    stop_grace_period: int | None = None
    stop_signal: str = ""
    hostname: str = ""
    user: str = ""
    working_dir: str = ""
    init: bool | None = None
    read_only: bool = False
    extra_hosts: list[str] = field(default_factory=list)
    logging: dict[str, Any] | None = None
    mode: str = "replicated"
    replicas: int | None = None
    deploy_labels: dict[str, str] = field(default_factory=dict)
    endpoint_mode: str = ""
    placement: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, Any] = field(default_factory=dict)
    restart_policy: dict[str, Any] | None = None
    update_config: dict[str, Any] | None = None
    rollback_config: dict[str, Any] | None = None


@dataclass
class ComposeProject:
    path: Path
    version: str
    services: dict[str, ServiceDef]
    networks: dict[str, NetworkDef]
    volumes: dict[str, VolumeDef]
    configs: dict[str, FileObject]
    secrets: dict[str, FileObject]


@dataclass(frozen=True)
class StackPlan:
    """What `docker stack deploy` would send. Service specs name their configs and secrets;
    the IDs are filled in at deploy time, once those exist."""

    stack: str
    services: dict[str, dict[str, Any]]  # compose name -> ServiceSpec
    networks: dict[str, dict[str, Any]]  # network name -> NetworkCreate body
    configs: dict[str, dict[str, Any]]  # config name -> ConfigSpec
    secrets: dict[str, dict[str, Any]]  # secret name -> SecretSpec
    external_networks: list[str] = field(default_factory=list)
    external_configs: list[str] = field(default_factory=list)
    external_secrets: list[str] = field(default_factory=list)

    def service_name(self, name: str) -> str:
        return f"{self.stack}_{name}"


# ---- keys: what is read, and why the rest is refused --------------------------------------
_TOP = {"version", "services", "networks", "volumes", "configs", "secrets"}
_SERVICE = {
    "image", "command", "entrypoint", "environment", "env_file", "labels", "ports", "networks",
    "volumes", "configs", "secrets", "healthcheck", "stop_grace_period", "stop_signal",
    "hostname", "user", "working_dir", "deploy", "logging", "extra_hosts", "init", "read_only",
}
_DEPLOY = {"mode", "replicas", "placement", "resources", "restart_policy", "update_config",
           "rollback_config", "labels", "endpoint_mode"}
_UPDATE = {"parallelism", "delay", "failure_action", "monitor", "max_failure_ratio", "order"}
_NOT_FOR_SWARM = {
    "build", "restart", "depends_on", "container_name", "links", "external_links",
    "network_mode", "privileged", "devices", "cgroup_parent", "cgroupns_mode", "domainname",
    "ipc", "mac_address", "pid", "security_opt", "shm_size", "userns_mode", "expose",
    "extends", "volume_driver", "volumes_from", "cpu_quota", "cpu_shares", "cpuset",
    "cpus", "mem_limit", "memswap_limit", "mem_reservation", "profiles", "pull_policy",
    "platform", "scale", "tmpfs", "runtime", "oom_kill_disable", "blkio_config",
    "storage_opt", "group_add", "include", "name",
}
_NOT_YET = {
    "cap_add", "cap_drop", "credential_spec", "dns", "dns_search", "isolation", "sysctls",
    "ulimits", "tty", "stdin_open", "oom_score_adj", "generic_resources", "template_driver",
    "driver", "ipam", "aliases", "ipv4_address", "ipv6_address", "consistency", "nocopy",
    "start_interval",
}


def _why(key: str) -> str:
    if key in _NOT_FOR_SWARM:
        return "not supported by swarm stacks"
    if key in _NOT_YET:
        return "not supported by swarmdeck (deploy this file with `docker stack deploy`)"
    return "unknown key"


# ---- YAML with line numbers --------------------------------------------------------------
def _parse_yaml(text: str, file: Path) -> tuple[Any, dict[KeyPath, int]]:
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
                                   f"{_dotted(path) or 'the top level'} has {key!r}")
            if key in out:
                raise ComposeError(f"{file}: line {line}: {_dotted((*path, key))} is "
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


def _dotted(path: KeyPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


# ---- interpolation, as cli/compose/template ----------------------------------------------
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


def _interpolate(value: Any, path: KeyPath, env: Mapping[str, str], r: _Reader) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, (*path, k), env, r) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, (*path, i), env, r) for i, v in enumerate(value)]
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


# ---- values ------------------------------------------------------------------------------
_DURATION_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000,
                   "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_RAM = re.compile(r"(\d+(?:\.\d+)*) ?([kmgtp])?i?b?", re.I)
_PROPAGATIONS = {"rprivate", "private", "rshared", "shared", "rslave", "slave"}


def parse_duration(text: str) -> int:
    """Go's time.ParseDuration, in nanoseconds (`1m30s`, `1.5s`, `300ms`)."""
    if text in ("0", "+0"):
        return 0
    rest, total = text.lstrip("+"), Decimal(0)
    if not rest:
        raise ValueError(text)
    while rest:
        match = _DURATION_PART.match(rest)
        if not match:
            raise ValueError(text)
        total += Decimal(match[1]) * _DURATION_UNITS[match[2]]
        rest = rest[match.end():]
    return int(total)


def parse_bytes(value: Any) -> int:
    """go-units RAMInBytes: `64M`, `1.5g`, `512MiB`; binary multiples."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _RAM.fullmatch(str(value)) if isinstance(value, str) else None
    if not match:
        raise ValueError(value)
    power = " kmgtp".index((match[2] or " ").lower())
    return int(float(match[1]) * 1024 ** power)


def parse_cpus(value: Any) -> int:
    """opts.ParseCPUs: a decimal or rational number of CPUs, in nano CPUs."""
    if isinstance(value, bool):
        raise ValueError(value)
    try:
        nano = Fraction(str(value)) * 1_000_000_000
    except (ValueError, ZeroDivisionError):
        raise ValueError(value) from None
    if nano.denominator != 1 or nano < 0:
        raise ValueError(value)
    return int(nano)


def go_string(value: Any) -> str:
    """fmt.Sprint of a YAML scalar: how the CLI turns numbers and booleans into strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return {True: "+Inf", False: "-Inf"}[value > 0] if value == value else "NaN"
        number = Decimal(repr(value))
        if -4 <= number.adjusted() < 21:  # Go's %v switches to an exponent from 1e21 on
            text = format(number, "f")
            return text.rstrip("0").rstrip(".") if "." in text else text
        return repr(value)  # 1e+21, 1e-05: Python and Go agree there
    return str(value)


def _split_command(value: str) -> list[str]:
    return shlex.split(value, comments=True)


class _Reader:
    """Checks values by key path; problems are collected, never raised one at a time."""

    def __init__(self, file: Path, lines: dict[KeyPath, int]) -> None:
        self.file = file
        self.lines = lines
        self.found: list[tuple[int, str]] = []

    @property
    def problems(self) -> list[str]:
        """In the order a reader meets them in the file."""
        return [text for _line, text in sorted(self.found, key=lambda f: f[0])]

    def problem(self, path: KeyPath, text: str) -> None:
        line = None
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line:
                break
        where = f"line {line}: " if line else ""
        self.found.append((line or 0, f"{where}{_dotted(path) or 'top level'}: {text}"))

    def keys(self, value: Mapping[str, Any], path: KeyPath, allowed: set[str], *,
             extensions: bool = False) -> None:
        for key in value:
            if key not in allowed and not (extensions and key.startswith("x-")):
                self.problem((*path, key), _why(key))

    def mapping(self, value: Any, path: KeyPath) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(path, f"expected a mapping, got {_shown(value)}")
            return {}
        return value

    def string(self, value: Any, path: KeyPath, *, default: str = "") -> str:
        if value is None:
            return default
        if isinstance(value, str):
            return value
        self.problem(path, f"expected a string, got {_shown(value)}")
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
            self.problem(path, f"expected a whole number, got {_shown(value)}")
            return None
        if value < minimum:
            self.problem(path, f"expected a number >= {minimum}, got {value}")
            return None
        return value

    def number(self, value: Any, path: KeyPath) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(path, f"expected a number, got {_shown(value)}")
            return None
        return float(value)

    def boolean(self, value: Any, path: KeyPath) -> bool | None:
        if value is None or isinstance(value, bool):
            return value
        self.problem(path, f"expected true or false, got {_shown(value)}")
        return None

    def duration(self, value: Any, path: KeyPath) -> int | None:
        if value is None:
            return None
        if isinstance(value, str):
            try:
                return parse_duration(value)
            except (ValueError, InvalidOperation):
                pass
        self.problem(path, f"expected a duration like 10s, 1m30s or 500ms, got {_shown(value)}")
        return None

    def convert(self, value: Any, path: KeyPath, parse: Callable[[Any], int],
                expected: str) -> int | None:
        if value is None:
            return None
        try:
            return parse(value)
        except (ValueError, TypeError, InvalidOperation):
            self.problem(path, f"expected {expected}, got {_shown(value)}")
            return None

    def strings(self, value: Any, path: KeyPath, *, one_allowed: bool = False) -> list[str]:
        if value is None:
            return []
        if isinstance(value, str) and one_allowed:
            return [value]
        if not isinstance(value, list):
            self.problem(path, f"expected a list of strings, got {_shown(value)}")
            return []
        out = []
        for i, item in enumerate(value):
            if isinstance(item, str):
                out.append(item)
            else:
                self.problem((*path, i), f"expected a string, got {_shown(item)}")
        return out

    def command(self, value: Any, path: KeyPath) -> list[str] | None:
        if value is None:
            return None
        if isinstance(value, str):
            try:
                return _split_command(value)
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
                    self.problem((*path, key), f"expected a string, got {_shown(item)}")
                elif item is None:
                    out[key] = None if allow_nil else ""
                else:
                    out[key] = go_string(item)
            return out
        if isinstance(value, list):
            out = {}
            for i, item in enumerate(value):
                if not isinstance(item, str):
                    self.problem((*path, i), f"expected `key{sep}value`, got {_shown(item)}")
                    continue
                key, has_value, rest = item.partition(sep)
                out[key] = rest if has_value else (None if allow_nil else "")
            return out
        self.problem(path, f"expected a mapping or a list of `key{sep}value`, "
                           f"got {_shown(value)}")
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


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    kind = "text" if isinstance(value, str) else type(value).__name__
    return f"{kind} {value!r}"


# ---- loading -----------------------------------------------------------------------------
def load_compose(path: Path, env: Mapping[str, str] | None = None) -> ComposeProject:
    """Read PATH as `docker stack deploy -c PATH` would, with ENV (default: this process's
    environment) for interpolation and for `environment` entries without a value."""
    env = dict(os.environ if env is None else env)
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ComposeError(f"cannot read compose file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ComposeError(f"{path} is not a UTF-8 text file") from None
    data, lines = _parse_yaml(text, path)
    r = _Reader(path, lines)
    if not isinstance(data, dict):
        raise ComposeError(f"{path}: the top level must be a mapping (services: ...), "
                           f"got {_shown(data)}")
    data = _interpolate(data, (), env, r)
    r.keys(data, (), _TOP, extensions=True)
    version = go_string(data.get("version") or "3")
    if not version.startswith("3"):
        r.problem(("version",), f"swarm stacks need a version 3 compose file, got {version!r}")
    workdir = Path(os.path.abspath(path)).parent
    networks = _load_named(r, data, "networks", _network)
    volumes = _load_named(r, data, "volumes", _volume)
    configs = _load_named(r, data, "configs", lambda r, v, p: _file_object(r, v, p, workdir))
    secrets = _load_named(r, data, "secrets", lambda r, v, p: _file_object(r, v, p, workdir))
    services = {}
    for name, value in r.mapping(data.get("services"), ("services",)).items():
        services[name] = _service(r, name, value, ("services", name), workdir, env)
    if not services and "services" not in data:
        r.problem(("services",), "missing: a stack needs at least one service")
    project = ComposeProject(path, version, services, networks, volumes, configs, secrets)
    _check_references(r, project)
    if r.found:
        found = r.problems
        count = len(found)
        raise ComposeError(f"{path}: {count} problem{'s' if count > 1 else ''}: "
                           + "; ".join(found), problems=found)
    return project


def _load_named(r: _Reader, data: dict[str, Any], section: str,
                load: Callable[[_Reader, dict[str, Any], KeyPath], Any]) -> dict[str, Any]:
    out = {}
    for name, value in r.mapping(data.get(section), (section,)).items():
        out[name] = load(r, r.mapping(value, (section, name)), (section, name))
    return out


def _network(r: _Reader, v: dict[str, Any], p: KeyPath) -> NetworkDef:
    r.keys(v, p, {"driver", "driver_opts", "attachable", "internal", "external", "labels",
                  "name"}, extensions=True)
    external, old_name = r.external(v.get("external"), (*p, "external"))
    name = r.string(v.get("name"), (*p, "name")) or old_name
    if external:
        for key in ("driver", "driver_opts", "labels", "attachable", "internal"):
            if key in v:
                r.problem((*p, key), "cannot be set on an external network")
        return NetworkDef(name or str(p[-1]), True)
    return NetworkDef(name, False, r.string(v.get("driver"), (*p, "driver")),
                      {k: x or "" for k, x in r.key_values(v.get("driver_opts"),
                                                           (*p, "driver_opts"),
                                                           allow_nil=False).items()},
                      bool(r.boolean(v.get("attachable"), (*p, "attachable"))),
                      bool(r.boolean(v.get("internal"), (*p, "internal"))),
                      r.labels(v.get("labels"), (*p, "labels")))


def _volume(r: _Reader, v: dict[str, Any], p: KeyPath) -> VolumeDef:
    r.keys(v, p, {"driver", "driver_opts", "external", "labels", "name"}, extensions=True)
    external, old_name = r.external(v.get("external"), (*p, "external"))
    name = r.string(v.get("name"), (*p, "name")) or old_name
    if external:
        for key in ("driver", "driver_opts", "labels"):
            if key in v:
                r.problem((*p, key), "cannot be set on an external volume")
        return VolumeDef(name or str(p[-1]), True)
    opts = v.get("driver_opts")
    return VolumeDef(name, False, r.string(v.get("driver"), (*p, "driver")),
                     None if opts is None else {
                         k: x or "" for k, x in r.key_values(opts, (*p, "driver_opts"),
                                                             allow_nil=False).items()},
                     r.labels(v.get("labels"), (*p, "labels")))


def _file_object(r: _Reader, v: dict[str, Any], p: KeyPath, workdir: Path) -> FileObject:
    r.keys(v, p, {"file", "external", "labels", "name"}, extensions=True)
    external, old_name = r.external(v.get("external"), (*p, "external"))
    name = r.string(v.get("name"), (*p, "name")) or old_name
    labels = r.labels(v.get("labels"), (*p, "labels"))
    if external:
        if "file" in v:
            r.problem((*p, "file"), f"cannot be set on an external {p[0][:-1]}")
        return FileObject(name or str(p[-1]), True, labels)
    file = r.string(v.get("file"), (*p, "file"))
    if not file:
        r.problem(p, "needs `file:` (or `external: true`)")
        return FileObject(name, False, labels)
    source = workdir / file
    try:
        data = source.read_bytes()
    except OSError as exc:
        r.problem((*p, "file"), f"cannot read {source}: {exc.strerror or exc}")
        data = b""
    return FileObject(name, False, labels, data)


def _service(r: _Reader, name: str, value: Any, p: KeyPath, workdir: Path,
             env: Mapping[str, str]) -> ServiceDef:
    v = r.mapping(value, p)
    r.keys(v, p, _SERVICE, extensions=True)
    s = ServiceDef(name)
    s.image = r.string(v.get("image"), (*p, "image"))
    if not s.image:
        r.problem((*p, "image"), "missing: swarm services need an image (build is not "
                                 "supported by swarm stacks)")
    s.command = r.command(v.get("command"), (*p, "command"))
    s.entrypoint = r.command(v.get("entrypoint"), (*p, "entrypoint"))
    s.environment = _environment(r, v, p, workdir, env)
    s.labels = r.labels(v.get("labels"), (*p, "labels"))
    s.ports = _ports(r, v.get("ports"), (*p, "ports"))
    s.networks = _service_networks(r, v.get("networks"), (*p, "networks"))
    s.volumes = [_mount(r, item, (*p, "volumes", i), workdir, env)
                 for i, item in enumerate(_list(r, v.get("volumes"), (*p, "volumes")))]
    s.configs = [_file_ref(r, item, (*p, "configs", i))
                 for i, item in enumerate(_list(r, v.get("configs"), (*p, "configs")))]
    s.secrets = [_file_ref(r, item, (*p, "secrets", i))
                 for i, item in enumerate(_list(r, v.get("secrets"), (*p, "secrets")))]
    s.healthcheck = _healthcheck(r, v.get("healthcheck"), (*p, "healthcheck"))
    s.stop_grace_period = r.duration(v.get("stop_grace_period"), (*p, "stop_grace_period"))
    s.stop_signal = r.string(v.get("stop_signal"), (*p, "stop_signal"))
    s.hostname = r.string(v.get("hostname"), (*p, "hostname"))
    s.user = r.string(go_string(v["user"]) if isinstance(v.get("user"), int) else v.get("user"),
                      (*p, "user"))
    s.working_dir = r.string(v.get("working_dir"), (*p, "working_dir"))
    s.init = r.boolean(v.get("init"), (*p, "init"))
    s.read_only = bool(r.boolean(v.get("read_only"), (*p, "read_only")))
    s.extra_hosts = _extra_hosts(r, v.get("extra_hosts"), (*p, "extra_hosts"))
    if "logging" in v:
        log = r.mapping(v["logging"], (*p, "logging"))
        r.keys(log, (*p, "logging"), {"driver", "options"})
        s.logging = {"Name": r.string(log.get("driver"), (*p, "logging", "driver"))}
        options = r.labels(log.get("options"), (*p, "logging", "options"))
        if options:
            s.logging["Options"] = options
    _deploy(r, s, r.mapping(v.get("deploy"), (*p, "deploy")), (*p, "deploy"))
    return s


def _list(r: _Reader, value: Any, path: KeyPath) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        r.problem(path, f"expected a list, got {_shown(value)}")
        return []
    return value


def _environment(r: _Reader, v: dict[str, Any], p: KeyPath, workdir: Path,
                 env: Mapping[str, str]) -> dict[str, str | None]:
    """env_file entries, then `environment` over them; a key without a value (or with an
    empty one) takes the value from ENV when it is set there, as the CLI does."""
    result: dict[str, str | None] = {}

    def merge(values: Mapping[str, str | None]) -> None:
        for key, value in values.items():
            result[key] = env[key] if (value is None or value == "") and key in env else value

    for i, name in enumerate(r.strings(v.get("env_file"), (*p, "env_file"), one_allowed=True)):
        where = (*p, "env_file", i) if isinstance(v.get("env_file"), list) else (*p, "env_file")
        try:
            merge(_read_env_file(workdir / name, env))
        except (OSError, ValueError) as exc:
            r.problem(where, str(exc) if isinstance(exc, ValueError)
                      else f"cannot read {workdir / name}: {exc.strerror or exc}")
    merge(r.key_values(v.get("environment"), (*p, "environment"), allow_nil=True))
    return result


def _read_env_file(path: Path, env: Mapping[str, str]) -> dict[str, str | None]:
    """opts.ParseEnvFile: `KEY=value` lines taken literally, `KEY` alone from ENV (or dropped),
    blank lines and `#` comments skipped."""
    out: dict[str, str | None] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        key, has_value, value = line.partition("=")
        key = key.lstrip()
        if not key or any(c.isspace() for c in key):
            raise ValueError(f"{path}:{number}: bad variable name {key!r}")
        if has_value:
            out[key] = value
        elif key in env:
            out[key] = env[key]
    return out


_PORT_RANGE = re.compile(r"(\d+)(?:-(\d+))?")


def _port_range(text: str) -> tuple[int, int]:
    match = _PORT_RANGE.fullmatch(text)
    if not match:
        raise ValueError(text)
    start = int(match[1])
    end = int(match[2]) if match[2] else start
    if end < start or end > 65535:
        raise ValueError(text)
    return start, end


def parse_port(spec: str) -> list[dict[str, Any]]:
    """Short port syntax (`8080:80`, `9000-9001:80-81/udp`, `127.0.0.1:53:53/udp`) as
    nat.ParsePortSpec + opts.ConvertPortToPortConfig turn it into PortConfigs."""
    parts = spec.split(":")
    host = parts[-2] if len(parts) >= 2 else ""
    proto_port = parts[-1]
    port, _, proto = proto_port.partition("/")
    proto = (proto or "tcp").lower()
    if not port or proto not in ("tcp", "udp", "sctp"):
        raise ValueError(spec)
    start, end = _port_range(port)
    host_start, host_end = _port_range(host) if host else (0, 0)
    if host and end - start != host_end - host_start and end != start:
        raise ValueError(spec)
    out = []
    for i in range(end - start + 1):
        if not host:
            published = [0]
        elif start == end:
            published = list(range(host_start, host_end + 1))
        else:
            published = [host_start + i]
        out += [{"Protocol": proto, "TargetPort": start + i, "PublishedPort": pub,
                 "PublishMode": "ingress"} for pub in published]
    return out


def _ports(r: _Reader, value: Any, p: KeyPath) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, item in enumerate(_list(r, value, p)):
        where = (*p, i)
        if isinstance(item, int | str) and not isinstance(item, bool):
            try:
                out += parse_port(str(item))
            except ValueError:
                r.problem(where, f"expected a port like 80, 8080:80 or 8080:80/udp, "
                                 f"got {_shown(item)}")
        elif isinstance(item, dict):
            r.keys(item, where, {"target", "published", "protocol", "mode"})
            target = r.integer(item.get("target"), (*where, "target"), minimum=1)
            if target is None and "target" not in item:
                r.problem(where, "needs `target:` (the container's port)")
            published = r.integer(item.get("published"), (*where, "published"))
            port = {"Protocol": r.choice(item.get("protocol"), (*where, "protocol"),
                                         ("tcp", "udp", "sctp")),
                    "TargetPort": target or 0, "PublishedPort": published or 0,
                    "PublishMode": r.choice(item.get("mode"), (*where, "mode"),
                                            ("ingress", "host"))}
            out.append(port)
        else:
            r.problem(where, f"expected a port (80, \"8080:80\" or a mapping with target, "
                             f"published, protocol, mode), got {_shown(item)}")
    return out


def _service_networks(r: _Reader, value: Any, p: KeyPath) -> dict[str, list[str]]:
    if value is None:
        return {}
    if isinstance(value, list):
        return {name: [] for name in r.strings(value, p)}
    out = {}
    for name, item in r.mapping(value, p).items():
        spec = r.mapping(item, (*p, name))
        r.keys(spec, (*p, name), {"aliases"})
        out[name] = r.strings(spec.get("aliases"), (*p, name, "aliases"))
    return out


def _mount(r: _Reader, item: Any, p: KeyPath, workdir: Path,
           env: Mapping[str, str]) -> dict[str, Any]:
    if isinstance(item, str):
        mount = _parse_volume(item)
        if mount is None:
            r.problem(p, f"expected SOURCE:TARGET[:ro], got {item!r}")
            return {}
    elif isinstance(item, dict):
        r.keys(item, p, {"type", "source", "target", "read_only", "volume", "bind", "tmpfs"})
        mount = {"type": r.choice(item.get("type"), (*p, "type"), ("volume", "bind", "tmpfs"))
                 or ("volume" if "type" not in item else ""),
                 "source": r.string(item.get("source"), (*p, "source")),
                 "target": r.string(item.get("target"), (*p, "target")),
                 "read_only": bool(r.boolean(item.get("read_only"), (*p, "read_only")))}
        if "type" not in item:
            r.problem(p, "needs `type:` (volume, bind or tmpfs)")
        for kind, keys in (("volume", {"nocopy"}), ("bind", {"propagation"}),
                           ("tmpfs", {"size"})):
            if kind in item:
                options = r.mapping(item[kind], (*p, kind))
                r.keys(options, (*p, kind), keys)
                if kind != mount["type"]:
                    r.problem((*p, kind), f"{kind} options do not apply to a "
                                          f"{mount['type']} mount")
                elif kind == "volume":
                    mount["nocopy"] = bool(r.boolean(options.get("nocopy"),
                                                     (*p, kind, "nocopy")))
                elif kind == "bind":
                    mount["propagation"] = r.choice(options.get("propagation"),
                                                    (*p, kind, "propagation"),
                                                    tuple(sorted(_PROPAGATIONS)))
                else:
                    mount["size"] = r.convert(options.get("size"), (*p, kind, "size"),
                                              parse_bytes, "a size like 64M")
    else:
        r.problem(p, f"expected SOURCE:TARGET or a mapping, got {_shown(item)}")
        return {}
    if not mount.get("target"):
        r.problem(p, "needs a target path inside the container")
    if mount["type"] == "bind":
        if not mount["source"]:
            r.problem(p, "a bind mount needs a source path")
        else:
            source = mount["source"]
            if source.startswith("~") and "HOME" in env:
                source = source.replace("~", env["HOME"], 1)
            if not source.startswith("/"):
                source = os.path.normpath(os.path.join(workdir, source))  # as filepath.Join
            mount["source"] = source
    if mount["type"] == "tmpfs" and mount.get("source"):
        r.problem((*p, "source"), "a tmpfs mount has no source")
    return mount


def _parse_volume(spec: str) -> dict[str, Any] | None:
    """Short volume syntax, as loader.ParseVolume (unix paths)."""
    if len(spec) <= 2:
        return {"type": "volume", "source": "", "target": spec, "read_only": False}
    parts = spec.split(":")
    if any(not part for part in parts) or len(parts) > 3:
        return None
    mount: dict[str, Any] = {"source": "", "target": parts[0], "read_only": False}
    if len(parts) >= 2:
        mount["source"], mount["target"] = parts[0], parts[1]
    for option in (parts[2].split(",") if len(parts) == 3 else []):
        if option in ("ro", "rw"):
            mount["read_only"] = option == "ro"
        elif option == "nocopy":
            mount["nocopy"] = True
        elif option in _PROPAGATIONS:
            mount["propagation"] = option
    source = mount["source"]
    mount["type"] = "bind" if source and source[0] in "./~" else "volume"
    return mount


def _file_ref(r: _Reader, item: Any, p: KeyPath) -> dict[str, Any]:
    if isinstance(item, str):
        return {"source": item, "target": item, "uid": "0", "gid": "0", "mode": 0o444}
    v = r.mapping(item, p)
    r.keys(v, p, {"source", "target", "uid", "gid", "mode"})
    source = r.string(v.get("source"), (*p, "source"))
    if not source:
        r.problem(p, "needs `source:`")
    ids = {key: r.string(go_string(v[key]) if isinstance(v.get(key), int) else v.get(key),
                         (*p, key)) or "0" for key in ("uid", "gid")}
    mode = r.integer(v.get("mode"), (*p, "mode"))
    return {"source": source, "target": r.string(v.get("target"), (*p, "target")) or source,
            **ids, "mode": 0o444 if mode is None else mode}


def _extra_hosts(r: _Reader, value: Any, p: KeyPath) -> list[str]:
    if isinstance(value, dict):
        entries = sorted(f"{host}:{ip}" for host, ip in r.labels(value, p).items())
    else:
        entries = r.strings(value, p)
    out = []
    for i, entry in enumerate(entries):
        host, found, ip = entry.partition(":")
        if found:
            out.append(f"{ip} {host}")
        else:
            r.problem((*p, i), f"expected HOST:IP, got {entry!r}")
    return out


def _healthcheck(r: _Reader, value: Any, p: KeyPath) -> dict[str, Any] | None:
    if value is None:
        return None
    v = r.mapping(value, p)
    r.keys(v, p, {"test", "interval", "timeout", "retries", "start_period", "disable"})
    if r.boolean(v.get("disable"), (*p, "disable")):
        if v.get("test"):
            r.problem((*p, "test"), "cannot be set together with disable: true")
        return {"Test": ["NONE"]}
    test = v.get("test")
    health: dict[str, Any] = {}
    if isinstance(test, str):
        health["Test"] = ["CMD-SHELL", test]
    elif test:
        health["Test"] = r.strings(test, (*p, "test"))
    for key, api in (("interval", "Interval"), ("timeout", "Timeout"),
                     ("start_period", "StartPeriod")):
        nanos = r.duration(v.get(key), (*p, key))
        if nanos:
            health[api] = nanos
    retries = r.integer(v.get("retries"), (*p, "retries"))
    if retries:
        health["Retries"] = retries
    return health


def _deploy(r: _Reader, s: ServiceDef, v: dict[str, Any], p: KeyPath) -> None:
    r.keys(v, p, _DEPLOY)
    s.mode = r.choice(v.get("mode"), (*p, "mode"),
                      ("replicated", "global", "replicated-job", "global-job")) or "replicated"
    s.replicas = r.integer(v.get("replicas"), (*p, "replicas"))
    if s.replicas is not None and s.mode in ("global", "global-job"):
        r.problem((*p, "replicas"), f"cannot be set with mode: {s.mode}")
    s.deploy_labels = r.labels(v.get("labels"), (*p, "labels"))
    mode = r.string(v.get("endpoint_mode"), (*p, "endpoint_mode")).lower()
    if mode not in ("", "vip", "dnsrr"):
        r.problem((*p, "endpoint_mode"), f"expected vip or dnsrr, got {mode!r}")
    s.endpoint_mode = mode
    s.placement = _placement(r, r.mapping(v.get("placement"), (*p, "placement")),
                             (*p, "placement"))
    s.resources = _resources(r, r.mapping(v.get("resources"), (*p, "resources")),
                             (*p, "resources"))
    if "restart_policy" in v:
        s.restart_policy = _restart_policy(r, r.mapping(v["restart_policy"],
                                                        (*p, "restart_policy")),
                                           (*p, "restart_policy"))
    for key in ("update_config", "rollback_config"):
        if key in v:
            config = _update_config(r, r.mapping(v[key], (*p, key)), (*p, key))
            setattr(s, key, config)


def _placement(r: _Reader, v: dict[str, Any], p: KeyPath) -> dict[str, Any]:
    r.keys(v, p, {"constraints", "preferences", "max_replicas_per_node"})
    out: dict[str, Any] = {}
    constraints = r.strings(v.get("constraints"), (*p, "constraints"))
    if constraints:
        out["Constraints"] = constraints
    preferences = []
    for i, item in enumerate(_list(r, v.get("preferences"), (*p, "preferences"))):
        pref = r.mapping(item, (*p, "preferences", i))
        r.keys(pref, (*p, "preferences", i), {"spread"})
        spread = r.string(pref.get("spread"), (*p, "preferences", i, "spread"))
        if not spread:
            r.problem((*p, "preferences", i), "needs `spread: node.labels.NAME`")
        preferences.append({"Spread": {"SpreadDescriptor": spread}})
    if preferences:
        out["Preferences"] = preferences
    max_replicas = r.integer(v.get("max_replicas_per_node"), (*p, "max_replicas_per_node"))
    if max_replicas:
        out["MaxReplicas"] = max_replicas
    return out


def _resources(r: _Reader, v: dict[str, Any], p: KeyPath) -> dict[str, Any]:
    r.keys(v, p, {"limits", "reservations"})
    out: dict[str, Any] = {}
    for key, api, allowed in (("limits", "Limits", {"cpus", "memory", "pids"}),
                              ("reservations", "Reservations", {"cpus", "memory"})):
        if key not in v:
            continue
        part = r.mapping(v[key], (*p, key))
        r.keys(part, (*p, key), allowed)
        values = {
            "NanoCPUs": r.convert(part.get("cpus"), (*p, key, "cpus"), parse_cpus,
                                  "a number of CPUs like 0.5"),
            "MemoryBytes": r.convert(part.get("memory"), (*p, key, "memory"), parse_bytes,
                                     "a size like 512M or 1G"),
            "Pids": r.integer(part.get("pids"), (*p, key, "pids")),
        }
        out[api] = {k: x for k, x in values.items() if x}
    return out


def _restart_policy(r: _Reader, v: dict[str, Any], p: KeyPath) -> dict[str, Any]:
    r.keys(v, p, {"condition", "delay", "max_attempts", "window"})
    out: dict[str, Any] = {}
    condition = r.choice(v.get("condition"), (*p, "condition"), ("none", "on-failure", "any"))
    if condition:
        out["Condition"] = condition
    for key, api in (("delay", "Delay"), ("window", "Window")):
        nanos = r.duration(v.get(key), (*p, key))
        if nanos is not None:
            out[api] = nanos
    attempts = r.integer(v.get("max_attempts"), (*p, "max_attempts"))
    if attempts is not None:
        out["MaxAttempts"] = attempts
    return out


def _update_config(r: _Reader, v: dict[str, Any], p: KeyPath) -> dict[str, Any]:
    r.keys(v, p, _UPDATE)
    parallelism = r.integer(v.get("parallelism"), (*p, "parallelism"))
    out: dict[str, Any] = {"Parallelism": 1 if parallelism is None else parallelism}
    delay = r.duration(v.get("delay"), (*p, "delay"))
    if delay:
        out["Delay"] = delay
    action = r.choice(v.get("failure_action"), (*p, "failure_action"),
                      ("continue", "rollback", "pause"))
    if action:
        out["FailureAction"] = action
    monitor = r.duration(v.get("monitor"), (*p, "monitor"))
    if monitor:
        out["Monitor"] = monitor
    out["MaxFailureRatio"] = r.number(v.get("max_failure_ratio"),
                                      (*p, "max_failure_ratio")) or 0
    out["Order"] = r.choice(v.get("order"), (*p, "order"), ("start-first", "stop-first"))
    return out


def _check_references(r: _Reader, project: ComposeProject) -> None:
    for name, s in project.services.items():
        base = ("services", name)
        for net in s.networks:
            if net != DEFAULT_NETWORK and net not in project.networks:
                r.problem((*base, "networks", net), f"undefined network {net!r} (declare it "
                                                    "under the top-level networks:)")
        for i, mount in enumerate(s.volumes):
            if mount.get("type") == "volume" and mount.get("source") \
                    and mount["source"] not in project.volumes:
                r.problem((*base, "volumes", i), f"undefined volume {mount['source']!r} "
                                                 "(declare it under the top-level volumes:)")
        for kind, defined in (("configs", project.configs), ("secrets", project.secrets)):
            targets: set[str] = set()
            for i, ref in enumerate(getattr(s, kind)):
                if ref["source"] and ref["source"] not in defined:
                    r.problem((*base, kind, i), f"undefined {kind[:-1]} {ref['source']!r} "
                                                f"(declare it under the top-level {kind}:)")
                if ref["target"] in targets:
                    r.problem((*base, kind, i), f"target {ref['target']!r} is used twice")
                targets.add(ref["target"])


# ---- the Engine API bodies, as cli/compose/convert builds them ---------------------------
_NAME = re.compile(r"[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*")
_OBJECT_NAME = re.compile(r"[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?")


def stack_plan(project: ComposeProject, stack: str) -> StackPlan:
    """The specs `docker stack deploy -c FILE STACK` sends, minus what needs the cluster
    (config and secret IDs, image digests): those are added when deploying."""
    problems = []
    if not _NAME.fullmatch(stack):
        problems.append(f"stack name {stack!r}: use letters, digits, - and _ (starting with a "
                        "letter or digit)")
    for name in project.services:
        scoped = f"{stack}_{name}"
        if not _NAME.fullmatch(scoped) or len(scoped) > 63:
            problems.append(f"service {name!r}: {scoped!r} is not a valid swarm service name "
                            "(letters, digits, - and _; at most 63 characters)")

    def scope(name: str) -> str:
        return f"{stack}_{name}"

    def labels(extra: Mapping[str, str]) -> dict[str, str]:
        return {**extra, STACK_LABEL: stack}

    used = {net for s in project.services.values() for net in (s.networks or [DEFAULT_NETWORK])}
    networks, external_networks = {}, []
    for key in sorted(used):
        net = project.networks.get(key) or NetworkDef(None, False)
        if net.external:
            external_networks.append(net.name or key)
            continue
        body: dict[str, Any] = {"Name": net.name or scope(key),
                                "Driver": net.driver or "overlay",
                                "Labels": labels(net.labels)}
        if net.driver_opts:
            body["Options"] = dict(net.driver_opts)
        body["Internal"] = net.internal
        body["Attachable"] = net.attachable
        networks[body["Name"]] = body

    def objects(defined: Mapping[str, FileObject], kind: str
                ) -> tuple[dict[str, dict[str, Any]], list[str]]:
        specs, external = {}, []
        for key, obj in sorted(defined.items()):
            name = obj.name or scope(key)
            if obj.external:
                external.append(name)
                continue
            if not _OBJECT_NAME.fullmatch(name) or len(name) > 64:
                problems.append(f"{kind} {key!r}: {name!r} is not a valid {kind} name")
            specs[name] = {"Name": name, "Labels": labels(obj.labels),
                           "Data": base64.b64encode(obj.data).decode()}
        return specs, external

    configs, external_configs = objects(project.configs, "config")
    secrets, external_secrets = objects(project.secrets, "secret")
    if problems:
        raise ComposeError(f"cannot deploy {project.path} as stack {stack!r}: "
                           + "; ".join(problems), problems=problems)
    services = {name: _service_spec(project, s, stack) for name, s in project.services.items()}
    return StackPlan(stack, services, networks, configs, secrets, external_networks,
                     external_configs, external_secrets)


def _service_spec(project: ComposeProject, s: ServiceDef, stack: str) -> dict[str, Any]:
    def scope(name: str) -> str:
        return f"{stack}_{name}"

    container: dict[str, Any] = {"Image": s.image, "Labels": {**s.labels, STACK_LABEL: stack}}
    if s.entrypoint:
        container["Command"] = s.entrypoint
    if s.command:
        container["Args"] = s.command
    if s.hostname:
        container["Hostname"] = s.hostname
    if s.extra_hosts:
        container["Hosts"] = s.extra_hosts
    if s.healthcheck is not None:
        container["Healthcheck"] = s.healthcheck
    env = sorted(k if v is None else f"{k}={v}" for k, v in s.environment.items())
    if env:
        container["Env"] = env
    if s.working_dir:
        container["Dir"] = s.working_dir
    if s.user:
        container["User"] = s.user
    mounts = [_mount_spec(project, m, stack) for m in s.volumes]
    if mounts:
        container["Mounts"] = mounts
    if s.stop_grace_period is not None:
        container["StopGracePeriod"] = s.stop_grace_period
    if s.stop_signal:
        container["StopSignal"] = s.stop_signal
    if s.read_only:
        container["ReadOnly"] = True
    for kind, defined, key in (("Secrets", project.secrets, "SecretName"),
                               ("Configs", project.configs, "ConfigName")):
        refs = []
        for ref in getattr(s, kind.lower()):
            obj = defined[ref["source"]]
            refs.append({"File": {"Name": ref["target"], "UID": ref["uid"], "GID": ref["gid"],
                                  "Mode": ref["mode"]},
                         key: obj.name or scope(ref["source"])})
        if refs:
            container[kind] = sorted(refs, key=lambda x: x[key])
    container["Privileges"] = {"CredentialSpec": None, "SELinuxContext": None}
    if s.init is not None:
        container["Init"] = s.init

    task: dict[str, Any] = {"ContainerSpec": container, "Resources": s.resources}
    if s.restart_policy is not None:
        task["RestartPolicy"] = s.restart_policy
    task["Placement"] = dict(s.placement)
    if s.logging is not None:
        task["LogDriver"] = s.logging
    attachments = []
    for net_key, aliases in (s.networks or {DEFAULT_NETWORK: []}).items():
        net = project.networks.get(net_key)
        target = (net.name if net and net.name else None) or scope(net_key)
        attachment: dict[str, Any] = {"Target": target}
        if target not in ("host", "bridge", "none", "default"):
            attachment["Aliases"] = [*aliases, s.name]
        elif aliases:
            attachment["Aliases"] = aliases
        attachments.append(attachment)
    task["Networks"] = sorted(attachments, key=lambda a: a["Target"])

    endpoint: dict[str, Any] = {}
    if s.endpoint_mode:
        endpoint["Mode"] = s.endpoint_mode
    if s.ports:
        endpoint["Ports"] = sorted(s.ports, key=lambda x: (x["PublishedPort"], x["TargetPort"]))
    if s.mode == "global":
        mode: dict[str, Any] = {"Global": {}}
    elif s.mode == "global-job":
        mode = {"GlobalJob": {}}
    elif s.mode == "replicated-job":
        mode = {"ReplicatedJob": {} if s.replicas is None else
                {"MaxConcurrent": s.replicas, "TotalCompletions": s.replicas}}
    else:
        mode = {"Replicated": {} if s.replicas is None else {"Replicas": s.replicas}}
    spec: dict[str, Any] = {
        "Name": scope(s.name),
        "Labels": {**s.deploy_labels, STACK_LABEL: stack, IMAGE_LABEL: s.image},
        "TaskTemplate": task, "Mode": mode, "EndpointSpec": endpoint,
    }
    if s.update_config is not None:
        spec["UpdateConfig"] = s.update_config
    if s.rollback_config is not None:
        spec["RollbackConfig"] = s.rollback_config
    return spec


def _mount_spec(project: ComposeProject, m: dict[str, Any], stack: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"Type": m["type"]}
    if m["type"] == "volume" and m["source"]:
        volume = project.volumes[m["source"]]
        spec["Source"] = volume.name or f"{stack}_{m['source']}"
    elif m["source"]:
        spec["Source"] = m["source"]
    spec["Target"] = m["target"]
    if m["read_only"]:
        spec["ReadOnly"] = True
    if m["type"] == "bind" and m.get("propagation"):
        spec["BindOptions"] = {"Propagation": m["propagation"]}
    if m["type"] == "volume" and m["source"]:
        volume = project.volumes[m["source"]]
        options: dict[str, Any] = {}
        if m.get("nocopy"):
            options["NoCopy"] = True
        if not volume.external:
            options["Labels"] = {**volume.labels, STACK_LABEL: stack}
            if volume.driver or volume.driver_opts is not None:
                options["DriverConfig"] = {"Name": volume.driver,
                                           **({"Options": volume.driver_opts}
                                              if volume.driver_opts else {})}
        spec["VolumeOptions"] = options
    if m["type"] == "tmpfs" and m.get("size"):
        spec["TmpfsOptions"] = {"SizeBytes": m["size"]}
    return spec
