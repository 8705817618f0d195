"""The config file: found through XDG paths, read with tomlkit (so later edits keep the user's
comments), validated with pydantic, and every problem reported on one line that names the
file, the key and what is expected."""

from __future__ import annotations

import difflib
import json
import os
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any

import tomlkit
import tomlkit.exceptions
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

from swarmdeck.core.destinations import Destination, parse_destination
from swarmdeck.core.errors import ConfigError

NAME_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]


def _destination(value: str) -> str:
    try:
        parse_destination(value)
    except ConfigError as exc:
        raise ValueError(exc.message) from None
    return value


DestinationText = Annotated[str, AfterValidator(_destination)]


def _paths(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


# one path or a list of paths
PathList = Annotated[list[str] | None, BeforeValidator(_paths)]


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


class ClusterConfig(_Section):
    managers: list[DestinationText] | None = Field(None, min_length=1)
    context: str | None = None
    read_only: bool = False
    ssh_config: PathList = None

    @model_validator(mode="after")
    def _one_source(self) -> ClusterConfig:
        if (self.managers is None) == (self.context is None):
            raise ValueError("set exactly one of managers = [\"user@host\", ...] or "
                             "context = \"NAME\"")
        return self

    def manager_destinations(self, env: Mapping[str, str] | None = None) -> list[Destination]:
        if self.managers is not None:
            return [parse_destination(m) for m in self.managers]
        contexts = {c.name: c for c in docker_contexts(env)}
        ctx = contexts.get(self.context or "")
        usable = ", ".join(sorted(n for n, c in contexts.items() if c.ssh_destination)) or "none"
        if ctx is None:
            raise ConfigError(f"docker context {self.context!r} does not exist "
                              f"(docker contexts over ssh: {usable})")
        if ctx.ssh_destination is None:
            raise ConfigError(f"docker context {self.context!r} points at {ctx.host}, not an "
                              f"ssh:// host (docker contexts over ssh: {usable})")
        return [ctx.ssh_destination]


class EnvironmentConfig(_Section):
    cluster: Name
    stack: Name
    compose: str


class ProjectConfig(_Section):
    environments: dict[Name, EnvironmentConfig] = Field(default_factory=dict)


class Config(_Section):
    ssh: SSHConfig = Field(default_factory=SSHConfig)
    inventory: InventoryConfig = Field(default_factory=InventoryConfig)
    clusters: dict[Name, ClusterConfig] = Field(default_factory=dict)
    projects: dict[Name, ProjectConfig] = Field(default_factory=dict)

    _path: Path = PrivateAttr(default=Path("config.toml"))
    _document: tomlkit.TOMLDocument = PrivateAttr(default_factory=tomlkit.document)
    _exists: bool = PrivateAttr(default=False)
    _warnings: list[str] = PrivateAttr(default_factory=list)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def document(self) -> tomlkit.TOMLDocument:
        """The file as tomlkit read it: edit this to keep the user's comments."""
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
        raise ConfigError(f"unknown cluster {name!r}{_did_you_mean(name, self.clusters)} "
                          f"(configured in {self.path}: {known})")

    def environments(self) -> Iterator[tuple[str, str, EnvironmentConfig]]:
        for project, p in self.projects.items():
            for env_name, env in p.environments.items():
                yield project, env_name, env


# ---- locating the file -------------------------------------------------------------------

def config_path(explicit: str | Path | None = None,
                env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if explicit:
        return Path(explicit).expanduser()
    if env.get("SWARMDECK_CONFIG"):
        return Path(env["SWARMDECK_CONFIG"]).expanduser()
    return _xdg("XDG_CONFIG_HOME", ".config", env) / "swarmdeck" / "config.toml"


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    return _xdg("XDG_STATE_HOME", ".local/state", os.environ if env is None else env) \
        / "swarmdeck"


def _xdg(var: str, default: str, env: Mapping[str, str]) -> Path:
    base = env.get(var)
    if base and Path(base).is_absolute():
        return Path(base)
    return Path(env.get("HOME") or Path.home()) / default


# ---- loading -----------------------------------------------------------------------------

def load(explicit: str | Path | None = None, *, env: Mapping[str, str] | None = None
         ) -> Config:
    env = os.environ if env is None else env
    path = config_path(explicit, env)
    chosen = bool(explicit) or bool(env.get("SWARMDECK_CONFIG"))
    if not path.exists() and not chosen:
        config = Config()
        config._path = path
        return config
    return load_config(path)


def load_config(path: Path) -> Config:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist",
                          hint="copy config.example.toml there, or pass --config PATH")
    if path.is_dir():
        raise ConfigError(f"config file {path} is a directory, not a TOML file")
    try:
        text = path.read_text(encoding="utf-8")
    except PermissionError:
        raise ConfigError(f"config file {path} cannot be read: permission denied") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from None
    try:
        document = tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as exc:
        raise ConfigError(f"{path}: TOML syntax error at line {exc.line}, column {exc.col}: "
                          f"{_parse_reason(exc)}") from None
    try:
        config = Config.model_validate(document.unwrap())
    except ValidationError as exc:
        raise ConfigError(_explain(exc, path)) from None
    base = path.parent
    for _project, _env_name, environment in config.environments():
        environment.compose = str(_resolve(environment.compose, base))
    config.ssh.config = _resolve_all(config.ssh.config, base)
    for cluster in config.clusters.values():
        cluster.ssh_config = _resolve_all(cluster.ssh_config, base)
    for project, env_name, environment in config.environments():
        if environment.cluster not in config.clusters:
            raise ConfigError(
                f"projects.{project}.environments.{env_name}.cluster in {path}: unknown "
                f"cluster {environment.cluster!r}"
                f"{_did_you_mean(environment.cluster, config.clusters)}; configured: "
                f"{', '.join(config.clusters) or 'none'}")
    config._path, config._document, config._exists = path, document, True
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        config._warnings.append(
            f"{path} is accessible by other users (mode {stat.filemode(mode)}): "
            f"run chmod 600 {path}")
    return config


def _resolve(value: str, base: Path) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base / p).resolve()


def _resolve_all(values: list[str] | None, base: Path) -> list[str] | None:
    if values is None:
        return None
    return [str(_resolve(v, base)) for v in values]


def _parse_reason(exc: tomlkit.exceptions.ParseError) -> str:
    message = str(exc).split(" at line ")[0]
    return "unexpected end of file" if "\\x00" in message or "\x00" in message else message


# ---- turning pydantic errors into one line for an operator -------------------------------

_EXPECTED = {
    "bool_type": "true or false", "bool_parsing": "true or false",
    "int_type": "a whole number", "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number", "float_parsing": "a number",
    "string_type": "a string", "list_type": "a list", "dict_type": "a table",
    "model_type": "a table", "model_attributes_type": "a table",
}


def _explain(exc: ValidationError, path: Path) -> str:
    # an unknown key explains the most (a misspelt key also shows up as a missing one)
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    first = errors[0]
    loc = list(first["loc"])
    kind = first["type"]
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" \
        if len(errors) > 1 else ""
    if kind == "extra_forbidden":
        key = str(loc[-1])
        section = _dotted(loc[:-1])
        where = f"[{section}]" if section else "the top level"
        valid = _fields_at(loc[:-1])
        return f"unknown key {key!r} in {where} of {path}{_did_you_mean(key, valid)}" \
               f"{'' if _did_you_mean(key, valid) else '; valid keys: ' + ', '.join(valid)}" \
               f"{more}"
    if "[key]" in [str(p) for p in loc]:
        name = str(loc[loc.index("[key]") - 1]) if len(loc) > 1 else "?"
        section = _dotted(loc[:loc.index("[key]") - 1])
        return (f"{section}.{name!r} in {path}: bad name: use letters, digits, '_', '.' or '-',"
                f" starting with a letter or digit{more}")
    dotted = _dotted(loc) or "the top level"
    if kind == "missing":
        return f"{dotted} in {path}: missing required key{more}"
    if kind in _EXPECTED:
        return f"{dotted} in {path}: expected {_EXPECTED[kind]}, " \
               f"got {_toml_repr(first.get('input'))}{more}"
    message = first["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
    if kind == "too_short":
        message = "must not be empty"
    if kind == "string_pattern_mismatch":
        message = "use letters, digits, '_', '.' or '-', starting with a letter or digit"
    return f"{dotted} in {path}: {message}{more}"


def _dotted(loc: list[Any] | tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _fields_at(loc: list[Any]) -> list[str]:
    """Valid keys of the table at LOC (dict levels skip the user's own names)."""
    model: type[BaseModel] = Config
    skip_key = False
    for part in loc:
        if skip_key:
            skip_key = False
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        inner = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)),
                     None)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        elif inner is not None:
            model, skip_key = inner, True
        else:
            return []
    return list(model.model_fields)


def _did_you_mean(word: str, choices: Any) -> str:
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
    env = os.environ if env is None else env
    base = Path(env["DOCKER_CONFIG"]) if env.get("DOCKER_CONFIG") else \
        Path(env.get("HOME") or Path.home()) / ".docker"
    found: list[DockerContext] = []
    for meta in sorted((base / "contexts" / "meta").glob("*/meta.json")):
        try:
            data = json.loads(meta.read_text())
            name = data["Name"]
            host = data["Endpoints"]["docker"]["Host"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        dest = None
        if isinstance(host, str) and host.startswith("ssh://"):
            try:
                dest = parse_destination(host)
            except ConfigError:
                dest = None
        found.append(DockerContext(name=str(name), host=str(host), ssh_destination=dest))
    return found
