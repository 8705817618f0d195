"""The config file: found through XDG paths, read with tomllib (tomlkit, which keeps the
user's comments for later edits, parses it only when asked: it took 11 s for 10 MB),
validated with pydantic, and every problem reported on one line that names the file, the
key, what was found and what is expected (the first MAX_PROBLEMS; the rest are counted)."""

from __future__ import annotations

import difflib
import itertools
import json
import os
import re
import stat
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from swarmdeck.core.config_paths import (  # noqa: F401 - config_path, state_dir: said here too
    config_path,
    home,
    is_chosen,
    resolve_path,
    resolve_paths,
    state_dir,
)
from swarmdeck.core.destinations import Destination, host_problem, parse_destination
from swarmdeck.core.errors import ConfigError
from swarmdeck.core.registries import RegistryTable

if TYPE_CHECKING:  # imported where used: only an edit, or a file that is not TOML, needs it
    import tomlkit

NAME_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$"
NAME_RULE = "letters, digits, '_', '.' or '-', starting with a letter or digit"
MAX_PROBLEMS = 20  # problems explained in one error; the others are counted
Name = Annotated[str, Field(pattern=NAME_PATTERN)]


def _destination(value: str) -> str:
    try:
        parse_destination(value, dns=False)  # a host no DNS can hold: its cluster's problem
    except ConfigError as exc:
        raise ValueError(exc.message) from None
    return value


DestinationText = Annotated[str, AfterValidator(_destination)]
# one path or a list of paths
PathList = Annotated[list[str] | None,
                     BeforeValidator(lambda v: [v] if isinstance(v, str) else v)]


class _Section(BaseModel):
    # strict: "yes" is not a boolean and "10" is not a number in a config file
    model_config = ConfigDict(extra="forbid", strict=True)


class SSHConfig(_Section):
    config: PathList = None
    connect_timeout: float = Field(10.0, gt=0)
    keepalive_interval: float = Field(15.0, gt=0)
    keepalive_count_max: int = Field(2, ge=1)


class InventoryConfig(_Section):
    task_refresh: float = Field(5.0, gt=0)


class ExecConfig(_Section):
    # the program `swarmdeck exec` starts when no command is given (split as a shell
    # would); not set: bash where the image has it, else sh
    shell: str | None = Field(None, min_length=1)


PLACEHOLDERS = {  # what each scope knows of its target, for a custom command's `run`
    "cluster": ("cluster",),
    "node": ("cluster", "node", "node_address"),
    "service": ("cluster", "service", "task", "container", "node", "node_address"),
    "task": ("cluster", "service", "task", "container", "node", "node_address"),
}
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


class CommandConfig(_Section):
    """A custom command (`[[commands]]`), like k9s plugins or lazydocker customCommands:
    RUN is an argument list (no shell unless it names one); {placeholders} become single
    arguments, never spliced into a shell string."""

    name: Name
    key: str | None = Field(None, min_length=1)
    scope: Literal["service", "task", "node", "cluster"]
    run: list[str] = Field(min_length=1)
    where: Literal["local", "node"] = "local"  # node: over SSH on the target's node
    output: Literal["view", "terminal"] = "view"
    confirm: bool = False
    dangerous: bool = False  # asks first, refused on a read-only cluster

    @model_validator(mode="after")
    def _placeholders(self) -> CommandConfig:
        known = PLACEHOLDERS[self.scope]
        unknown = sorted({m for arg in self.run for m in PLACEHOLDER.findall(arg)
                          if m not in known})
        if unknown:
            raise ValueError(f"run of command {self.name!r} names "
                             f"{', '.join('{' + u + '}' for u in unknown)}, not known for "
                             f"scope {self.scope!r} (known: "
                             f"{', '.join('{' + k + '}' for k in known)})")
        if self.where == "node" and self.scope == "cluster":
            raise ValueError(f"command {self.name!r}: where = \"node\" needs a node, service "
                             "or task scope")
        return self


class MetricsConfig(_Section):
    interval: float = Field(2.0, gt=0)
    history: int = Field(150, ge=2, le=10_000)


# Textual's built-in themes (textual.theme.BUILTIN_THEMES; the core does not import Textual:
# a test holds this list to Textual's)
THEMES = ("ansi-dark", "ansi-light", "atom-one-dark", "atom-one-light", "catppuccin-frappe",
          "catppuccin-latte", "catppuccin-macchiato", "catppuccin-mocha", "dracula", "flexoki",
          "gruvbox", "monokai", "nord", "rose-pine", "rose-pine-dawn", "rose-pine-moon",
          "solarized-dark", "solarized-light", "textual-dark", "textual-light", "tokyo-night")


def _theme(value: str) -> str:
    if value not in THEMES:
        raise ValueError(f"unknown theme {value!r}" + (did_you_mean(value, THEMES) or
                                                        f" (themes: {', '.join(THEMES)})"))
    return value


class UIConfig(_Section):
    # the console's colours: one of THEMES (ctrl+p "Theme" tries them on the spot)
    theme: Annotated[str, AfterValidator(_theme)] = "textual-dark"


class ClusterConfig(_Section):
    managers: list[DestinationText] | None = Field(None, min_length=1)
    context: str | None = Field(None, min_length=1)
    read_only: bool = False
    # the most replicas one service may be given (scale, deploy) without --force
    max_replicas: int = Field(1000, ge=1)
    ssh_config: PathList = None
    # the Docker socket on the managers (rootless docker: /run/user/UID/docker.sock)
    docker_socket: str = Field("/var/run/docker.sock", pattern=r"^/")
    # how node metrics are collected: ssh to each node's address, through the manager, or not
    metrics: Literal["direct", "manager", "off"] = "direct"
    # where logs are read: each replica's own node (reached as metrics says; "off" counts
    # as direct), or only the manager's service log stream
    logs: Literal["nodes", "manager"] = "nodes"
    # registries by address: where their credentials come from (core/registries.py)
    registries: RegistryTable = Field(default_factory=dict)

    _problem: ConfigError | None = PrivateAttr(default=None)

    @property
    def problem(self) -> ConfigError | None:
        """Why this cluster cannot be reached as configured (a manager's host no DNS can
        hold): the cluster fails with it, the others work."""
        return self._problem

    @model_validator(mode="after")
    def _one_source(self) -> ClusterConfig:
        if (self.managers is None) == (self.context is None):
            got = "found neither" if self.managers is None else "not both"
            raise ValueError('set exactly one of managers = ["user@host", ...] or '
                             f'context = "NAME", {got}')
        return self

    def manager_destinations(self, env: Mapping[str, str] | None = None) -> list[Destination]:
        """The managers to try, in order; a docker context gives its one ssh:// host."""
        if self._problem is not None:
            raise self._problem
        if self.managers is not None:
            return [parse_destination(m) for m in self.managers]
        contexts = {c.name: c for c in docker_contexts(env)}
        usable = [n for n, c in contexts.items() if c.ssh_destination]
        listing = f"docker contexts over ssh: {', '.join(usable) or 'none'}"
        ctx = contexts.get(self.context or "")
        if ctx is None:
            raise ConfigError(f"docker context {self.context!r} does not exist"
                              f"{did_you_mean(self.context or '', usable)} ({listing})")
        if ctx.ssh_destination is None:
            raise ConfigError(f"docker context {self.context!r} points at {ctx.host}, which is "
                              f"not an ssh:// host ({listing})")
        return [ctx.ssh_destination]


class EnvironmentConfig(_Section):
    cluster: Name
    stack: Name
    compose: str = Field(min_length=1)


class ProjectConfig(_Section):
    environments: dict[Name, EnvironmentConfig] = Field(default_factory=dict)


class Config(_Section):
    ssh: SSHConfig = Field(default_factory=SSHConfig)
    inventory: InventoryConfig = Field(default_factory=InventoryConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    exec: ExecConfig = Field(default_factory=ExecConfig)
    commands: list[CommandConfig] = Field(default_factory=list)
    ui: UIConfig = Field(default_factory=UIConfig)
    clusters: dict[Name, ClusterConfig] = Field(default_factory=dict)
    projects: dict[Name, ProjectConfig] = Field(default_factory=dict)
    # console key bindings by id, e.g. {"filter" = "f"}; `?` in the console lists the ids
    keys: dict[str, str] = Field(default_factory=dict)

    _path: Path = PrivateAttr(default=Path("config.toml"))
    _text: str = PrivateAttr(default="")
    _document: Any = PrivateAttr(default=None)  # a tomlkit.TOMLDocument, once read
    _exists: bool = PrivateAttr(default=False)
    _warnings: list[str] = PrivateAttr(default_factory=list)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def document(self) -> tomlkit.TOMLDocument:
        """The file as tomlkit reads it (on first use): edit this to keep the user's
        comments."""
        if self._document is None:
            import tomlkit

            self._document = tomlkit.parse(self._text)
        return self._document

    @property
    def exists(self) -> bool:
        return self._exists

    @property
    def warnings(self) -> list[str]:
        return self._warnings

    def cluster(self, name: str) -> ClusterConfig:
        if name in self.clusters:
            return self.clusters[name]
        known = ", ".join(self.clusters) or "none"
        raise ConfigError(f"unknown cluster {name!r}{did_you_mean(name, self.clusters)} "
                          f"(configured in {self.path}: {known})")

    def environments(self) -> Iterator[tuple[str, str, EnvironmentConfig]]:
        """(project, environment name, environment) for every environment."""
        for project, p in self.projects.items():
            for env_name, env in p.environments.items():
                yield project, env_name, env


# ---- loading -----------------------------------------------------------------------------

def load(explicit_path: str | Path | None = None, *,
         env: Mapping[str, str] | None = None) -> Config:
    """The config in effect. A missing file at the default place is an empty config."""
    env = os.environ if env is None else env
    path = config_path(explicit_path, env=env)
    if not is_chosen(explicit_path, env) and not os.path.lexists(path):
        config = Config()
        config._path = path
        return config
    return load_config(path)


def load_config(path: str | Path) -> Config:
    """Read and check one config file; any problem is a one-line ConfigError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist",
                          hint="copy config.example.toml there, or pass --config PATH") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory, not a TOML file") from None
    except PermissionError:
        raise ConfigError(f"config file {path} cannot be read: permission denied") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from None
    config = parse_config(text, path)
    mode = path.stat().st_mode
    if mode & 0o077:
        config._warnings.append(f"{path} can be read or written by other users (mode "
                                f"{stat.filemode(mode)}): run chmod 600 {path}")
    return config


def parse_config(text: str, path: Path) -> Config:
    """TEXT checked as the config file at PATH would be (relative paths are PATH's
    directory's): what load_config reads, and what an edit is checked with before it is
    written."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(text, path, exc) from None
    lines = _Lines(text)
    unknown = _unknown_keys(data)
    listed = list(itertools.islice(unknown, MAX_PROBLEMS))
    if listed:  # said first (a misspelt key also shows up as a missing one), and found
        # without pydantic, which collects every problem (200,000 unknown keys: 640 MB)
        raise ConfigError(_listed([_explain({"type": "extra_forbidden", "loc": loc}, path,
                                            lines) for loc in listed],
                                  len(listed) + sum(1 for _ in unknown)))
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        raise ConfigError(_listed([_explain(e, path, lines) for e in errors[:MAX_PROBLEMS]],
                                  len(errors))) from None
    for project, env_name, environment in config.environments():
        if environment.cluster not in config.clusters:
            loc = ["projects", project, "environments", env_name, "cluster"]
            raise ConfigError(
                f"{_dotted(loc)} in {path}: unknown cluster {environment.cluster!r}"
                f"{did_you_mean(environment.cluster, config.clusters)} (configured clusters: "
                f"{', '.join(config.clusters) or 'none'})"
                + (f" (line {line})" if (line := lines.of(loc)) else ""))
        environment.compose = resolve_path(environment.compose, path.parent)
    config.ssh.config = resolve_paths(config.ssh.config, path.parent)
    for name, cluster in config.clusters.items():
        cluster.ssh_config = resolve_paths(cluster.ssh_config, path.parent)
        cluster._problem = _managers_problem(name, cluster, path, lines)
    config._path, config._text, config._exists = path, text, True
    return config


def _syntax_error(text: str, path: Path, exc: tomllib.TOMLDecodeError) -> ConfigError:
    """What is wrong with the TOML, as tomlkit says it (its messages name the line and the
    key defined twice); tomllib's own when tomlkit finds nothing wrong."""
    import tomlkit
    import tomlkit.exceptions

    try:
        tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as error:
        message, line, col = str(error).split(" at line ")[0], error.line, error.col
        if "\\x00" in message:  # tomlkit's end-of-input sentinel
            message, line, col = "unexpected end of file", text.count("\n") + 1, 0
        return ConfigError(f"{path}: TOML syntax error at line {line}, column {col}: "
                           f"{message}")
    except tomlkit.exceptions.TOMLKitError as error:  # e.g. a key defined twice in a table
        m = re.search(r'Key "(.*)" already exists', str(error))
        twice = _duplicate_line(text, m.group(1)) if m else None
        return ConfigError(f"{path}: TOML error{f' at line {twice}' if twice else ''}: "
                           f"{error}")
    return ConfigError(f"{path}: TOML syntax error: {exc}")


def _managers_problem(name: str, cluster: ClusterConfig, path: Path, lines: _Lines
                      ) -> ConfigError | None:
    """The first manager whose host no DNS can hold, said as a config error of its own."""
    for i, raw in enumerate(cluster.managers or []):
        problem = host_problem(parse_destination(raw, dns=False).host)
        if problem:
            loc = ["clusters", name, "managers", i]
            line = lines.of(loc)
            return ConfigError(
                f"{_dotted(loc)} in {path}: {problem}" + (f" (line {line})" if line else ""),
                hint="fix the host name, or remove the entry; the other clusters are not "
                     "affected")
    return None


# ---- turning pydantic errors into one line for an operator -------------------------------

_EXPECTED = {
    "bool_type": "true or false", "int_type": "a whole number", "int_from_float": "a whole number",
    "float_type": "a number", "string_type": "a string", "dict_type": "a table",
    "list_type": "a list", "model_type": "a table", "model_attributes_type": "a table",
}
_NOUNS = {"clusters": "cluster", "projects": "project", "environments": "environment"}


def _listed(problems: list[str], total: int) -> str:
    """PROBLEMS on one line, and how many more there are of TOTAL."""
    more = total - len(problems)
    return "; ".join(problems) + (f"; … and {more} more problem{'s' if more > 1 else ''}"
                                  if more > 0 else "")


def _unknown_keys(data: Any, model: type[BaseModel] | None = None,
                  loc: tuple[Any, ...] = ()) -> Iterator[list[Any]]:
    """Where each key the config's tables do not have is, in the file's order. (Tables of
    other models, a registry's, are left to their own validators.)"""
    model = model or Config
    if not isinstance(data, dict):
        return
    for key, value in data.items():
        field = model.model_fields.get(key)
        if field is None:
            yield [*loc, key]
            continue
        inner, named = _table_model(field.annotation)
        if inner is None:
            continue
        if not named:
            yield from _unknown_keys(value, inner, (*loc, key))
        elif isinstance(value, dict):  # a table of the user's own names, each a table
            for name, item in value.items():
                yield from _unknown_keys(item, inner, (*loc, key, name))


def _table_model(annotation: Any) -> tuple[type[_Section] | None, bool]:
    """The config model a field holds (and whether by name, in a table of them)."""
    if isinstance(annotation, type) and issubclass(annotation, _Section):
        return annotation, False
    inner = [a for a in getattr(annotation, "__args__", ())
             if isinstance(a, type) and issubclass(a, _Section)]
    return (inner[0], True) if inner else (None, False)


def _explain(error: Mapping[str, Any], path: Path, lines: _Lines) -> str:
    """One pydantic error (or an unknown key found before pydantic), for an operator."""
    loc, kind, value = list(error["loc"]), error["type"], error.get("input")
    where = f" (line {line})" if (line := lines.of(loc)) else ""
    if kind == "extra_forbidden":
        key, section = str(loc[-1]), _dotted(loc[:-1])
        table = f"[{section}]" if section else "the top level"
        valid = _fields_at(loc[:-1])
        hint = did_you_mean(key, valid) or f"; valid keys: {', '.join(valid) or 'none'}"
        return f"unknown key {key!r} in {table} of {path}{hint}{where}"
    if "[key]" in loc:
        parent = loc[:loc.index("[key]") - 1]
        noun = _NOUNS.get(str(parent[-1]) if parent else "", "table")
        return (f"{_dotted(parent)} in {path}: bad {noun} name {json.dumps(str(loc[-2]))}: "
                f"use {NAME_RULE}{where}")
    dotted = _dotted(loc) or "the top level"
    if kind == "missing":
        return f"{dotted} in {path}: missing required key{where}"
    got = "" if isinstance(value, dict | list) else f", got {_toml_repr(value)}"
    if kind == "list_type" and loc[-1] in ("config", "ssh_config"):
        return f"{dotted} in {path}: expected a path or a list of paths{got}{where}"
    if kind in _EXPECTED:
        return f"{dotted} in {path}: expected {_EXPECTED[kind]}, got {_toml_repr(value)}{where}"
    if kind == "string_pattern_mismatch":
        return f"{dotted} in {path}: use {NAME_RULE}{got}{where}"
    if kind in ("too_short", "string_too_short"):
        return f"{dotted} in {path}: must not be empty{where}"
    if kind == "value_error":  # our own validators: the message says what is wrong
        got = ""
    message = error["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
    return f"{dotted} in {path}: {message}{got}{where}"


def _dotted(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        text = str(part) if re.fullmatch(r"[A-Za-z0-9_-]+", str(part)) else json.dumps(part)
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + text
    return out


def _fields_at(loc: list[Any]) -> list[str]:
    """Valid keys of the table at LOC (dict levels skip the user's own names)."""
    model: type[BaseModel] = Config
    skip = False
    for part in loc:
        if skip:
            skip = False
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        annotation = field.annotation
        inner = [a for a in getattr(annotation, "__args__", ())
                 if isinstance(a, type) and issubclass(a, BaseModel)]
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        elif inner:
            model, skip = inner[0], True
        else:
            return []
    return list(model.model_fields)


HEADER = re.compile(r"^\s*\[\[?([^\]]+)\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_.\"' -]+?)\s*=")


def _keys(text: str) -> Iterator[tuple[int, list[str], bool]]:
    """(line number, dotted key, is a [table] header) for each line that defines something."""
    table: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        if m := HEADER.match(line):
            table = dotted_parts(m.group(1))
            yield number, table, True
        elif m := _KEY.match(line):
            yield number, table + dotted_parts(m.group(1)), False


def dotted_parts(key: str) -> list[str]:
    """a."b.c".d -> [a, b.c, d]: a quoted part (a registry address) keeps its dots."""
    return [p.strip().strip("\"'") for p in re.findall(r'"[^"]*"|\'[^\']*\'|[^.]+', key)]


class _Lines:
    """The line that defines each key, found in one pass over the text, on first use (the
    file was read again for every problem: 200,000 of them took 17 s)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._first: dict[tuple[str, ...], int] | None = None

    def of(self, loc: list[Any]) -> int | None:
        """The line that defines LOC (or its nearest parent), if one is found."""
        if self._first is None:
            self._first = {}
            for number, here, _ in _keys(self.text):
                for depth in range(1, len(here) + 1):
                    self._first.setdefault(tuple(here[:depth]), number)
        keys = [str(p) for p in loc if isinstance(p, str) and p != "[key]"]
        for depth in range(len(keys), 0, -1):
            line = self._first.get(tuple(keys[:depth]))
            if line is not None:
                return line
        return None


def _duplicate_line(text: str, key: str) -> int | None:
    seen: set[tuple[str, ...]] = set()
    for number, here, header in _keys(text):
        if not header and here[-1] == key and tuple(here) in seen:
            return number
        seen.add(tuple(here))
    return None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f": did you mean {match[0]!r}?" if match else ""


def _toml_repr(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return str(value)


# ---- docker contexts ---------------------------------------------------------------------

class DockerContext(BaseModel):
    name: str
    host: str
    ssh_destination: Destination | None = None


def docker_contexts(env: Mapping[str, str] | None = None) -> list[DockerContext]:
    """Contexts from $DOCKER_CONFIG/contexts/meta/*/meta.json; unreadable ones are skipped."""
    env = os.environ if env is None else env
    base = Path(env["DOCKER_CONFIG"]) if env.get("DOCKER_CONFIG") else home(env) / ".docker"
    found: list[DockerContext] = []
    for meta in sorted((base / "contexts" / "meta").glob("*/meta.json")):
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
            name, host = data["Name"], data["Endpoints"]["docker"]["Host"]
        except (OSError, ValueError, LookupError, TypeError):
            continue
        if not isinstance(name, str) or not isinstance(host, str) or not name:
            continue
        dest = None
        if host.startswith("ssh://"):
            try:  # a host no DNS can hold is said when connecting, as that host's problem
                dest = parse_destination(host, dns=False)
            except ConfigError:
                dest = None
        found.append(DockerContext(name=name, host=host, ssh_destination=dest))
    return sorted(found, key=lambda c: c.name)
