"""Image registries: which registry an image comes from, the credentials to use for it, and
the X-Registry-Auth header that carries them to the swarm (as `--with-registry-auth` does), so
that every node can pull the image, not only the one that has it.

Credentials come from a cluster's `[clusters.NAME.registries."HOST[:PORT]"]` tables (the
docker config and its credential helpers, or a command that prints them), or from the docker
config when an operation asks for `docker login`'s credentials. They are never stored in
swarmdeck's own config, and `Credentials` and `RegistryAuth` never show a secret in their
repr or str: an error, a log line or the audit log cannot carry one by accident.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shlex
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from swarmdeck.core.errors import ConfigError, UsageError
from swarmdeck.core.sanitize import clean

DOCKER_HUB = "docker.io"
HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io"}
HUB_SERVER = "https://index.docker.io/v1/"  # the key `docker login` uses for Docker Hub
HELPER_TIMEOUT = 10.0
# host[:port] as image references write it (docker's domain grammar)
ADDRESS = re.compile(r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9-]+)*"
                     r"|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$")
_SECRET_KEYS = re.compile(r"pass|pwd|secret|token|auth|user|login", re.IGNORECASE)
NO_SECRETS = ('registry credentials are never stored in the config file: use credentials = '
              '"docker" (`docker login HOST` or a docker credential helper keeps them) or '
              'command = ["PROGRAM", "ARG"...] (a command that prints them)')


# ---- image references --------------------------------------------------------------------

def registry_host(image: str) -> str | None:
    """The registry an image reference names, None when it names none (Docker Hub): like
    docker, the first component is a registry only with a '.', a ':' or as 'localhost'."""
    first, sep, _ = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return None


def canonical(host: str) -> str:
    host = host.lower()
    return DOCKER_HUB if host in HUB_ALIASES else host


def registry_of(image: str) -> str:
    """The registry an image is pulled from: its host, or docker.io."""
    return canonical(registry_host(image) or DOCKER_HUB)


# ---- the config's [clusters.NAME.registries."HOST"] tables -------------------------------

class RegistryConfig(BaseModel):
    """How to get a registry's credentials: the docker config, a command, or none."""

    model_config = ConfigDict(extra="forbid", strict=True)

    # "docker": from the docker config (auths, credsStore, credHelpers), as `docker login`
    # keeps them
    credentials: Literal["docker"] | None = None
    # run without a shell; prints {"username": ..., "password": ...} or user:password
    command: Annotated[list[str] | str | None, Field(min_length=1)] = None
    timeout: float = Field(HELPER_TIMEOUT, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _no_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(_SECRET_KEYS.search(str(k)) for k in data):
            raise ValueError(NO_SECRETS)
        return data

    @model_validator(mode="after")
    def _one_source(self) -> RegistryConfig:
        if self.credentials and self.command is not None:
            raise ValueError('set credentials = "docker" or command = [...], not both')
        if isinstance(self.command, str):
            try:
                argv = shlex.split(self.command)
            except ValueError as exc:
                raise ValueError(f"command cannot be split into words: {exc}") from None
            if not argv:
                raise ValueError("command must not be empty")
        elif self.command is not None and not all(self.command):
            raise ValueError("command words must not be empty")
        return self

    def argv(self) -> list[str]:
        if isinstance(self.command, str):
            return shlex.split(self.command)
        return list(self.command or [])


def _addresses(table: dict[str, RegistryConfig]) -> dict[str, RegistryConfig]:
    for address in table:
        if not ADDRESS.match(address):
            raise ValueError(f"{json.dumps(address)} is not a registry address: use "
                             "HOST or HOST:PORT as in image names (registry.example.com, "
                             "10.0.0.5:5000), without https:// or a path")
    seen: dict[str, str] = {}
    for address in table:
        if canonical(address) in seen:
            raise ValueError(f"{seen[canonical(address)]!r} and {address!r} are the same "
                             "registry: keep one")
        seen[canonical(address)] = address
    return table


RegistryTable = Annotated[dict[str, RegistryConfig], AfterValidator(_addresses)]


class Config(Protocol):
    """What the registries need of swarmdeck's config (core.config.Config): each cluster's
    `registries` table. A protocol, so that the config can hold RegistryTable without the
    two modules importing each other."""

    @property
    def clusters(self) -> Mapping[str, Any]: ...


# ---- credentials -------------------------------------------------------------------------

class Credentials:
    """One registry login. Its repr and str show the user, never the secret."""

    __slots__ = ("server", "username", "_password", "_identity_token")

    def __init__(self, server: str, username: str = "", password: str = "", *,
                 identity_token: str = "") -> None:
        self.server = server
        self.username = username
        self._password = password
        self._identity_token = identity_token

    def __repr__(self) -> str:
        kind = "identity_token" if self._identity_token else "password"
        return f"Credentials(server={self.server!r}, username={self.username!r}, {kind}=****)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Credentials) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def _fields(self) -> tuple[str, str, str, str]:
        return (self.server, self.username, self._password, self._identity_token)

    def __reduce__(self) -> Any:
        raise TypeError("registry credentials are not to be pickled")

    def header(self) -> str:
        """The X-Registry-Auth value: base64url of the JSON docker sends."""
        if self._identity_token:
            return _encode({"identitytoken": self._identity_token,
                            "serveraddress": self.server})
        return registry_auth(self.username, self._password, self.server)


def registry_auth(username: str, password: str, server: str = "") -> str:
    """The X-Registry-Auth value `--with-registry-auth` sends (base64url of a JSON object)."""
    return _encode({"username": username, "password": password, "serveraddress": server})


def _encode(payload: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


class RegistryAuth:
    """The credentials one operation sends, by registry. Repr names the registries only."""

    def __init__(self, by_registry: Mapping[str, Credentials] | None = None) -> None:
        self._by_registry = {canonical(k): v for k, v in (by_registry or {}).items()}

    def __repr__(self) -> str:
        return f"RegistryAuth(registries={sorted(self._by_registry)})"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._by_registry)

    @property
    def registries(self) -> list[str]:
        return sorted(self._by_registry)

    def headers(self, image: str) -> dict[str, str]:
        """{"X-Registry-Auth": ...} when IMAGE's registry has credentials, else {}."""
        found = self._by_registry.get(registry_of(image))
        return {"X-Registry-Auth": found.header()} if found else {}


def resolve(config: Config | None, cluster: str, images: Iterable[str], *,
            docker_login: bool = False, environ: Mapping[str, str] | None = None
            ) -> RegistryAuth:
    """Credentials for the registries of IMAGES: the cluster's configured registries first,
    then, with DOCKER_LOGIN (--with-registry-auth), the docker config. Runs credential
    helpers and commands: call it off the event loop (see `resolve_async`)."""
    environ = os.environ if environ is None else environ
    configured = _configured(config, cluster)
    found: dict[str, Credentials] = {}
    wanted = sorted({registry_of(i) for i in images if i})
    for registry in wanted:
        entry = configured.get(registry)
        where = f'[clusters.{cluster}.registries."{entry[0]}"]' if entry else ""
        source = entry[1] if entry else RegistryConfig()
        if source.command is not None:
            found[registry] = command_credentials(registry, source, environ, where=where)
        elif source.credentials == "docker" or docker_login:
            creds = docker_credentials(registry, environ, timeout=source.timeout)
            if creds is not None:
                found[registry] = creds
            elif source.credentials == "docker":
                raise ConfigError(f"no credentials for registry {registry} in the docker "
                                  f"config ({_docker_config_file(environ)}), which {where} "
                                  "names", hint=f"run `docker login {registry}`")
    if docker_login and not found:
        raise UsageError(f"--with-registry-auth: no credentials for "
                         f"{', '.join(wanted) or 'the images'} in "
                         f"{_docker_config_file(environ)}",
                         hint=f"run `docker login {wanted[0] if wanted else 'REGISTRY'}` "
                              "first, or declare the registry in the config")
    return RegistryAuth(found)


async def resolve_async(config: Config | None, cluster: str, images: Iterable[str], *,
                        docker_login: bool = False) -> RegistryAuth:
    images = list(images)
    if not docker_login and not _configured(config, cluster):
        return RegistryAuth()  # nothing to look up: no thread
    return await asyncio.to_thread(resolve, config, cluster, images,
                                   docker_login=docker_login)


def _configured(config: Config | None, cluster: str) -> dict[str, tuple[str, RegistryConfig]]:
    if config is None or cluster not in config.clusters:
        return {}
    return {canonical(k): (k, v) for k, v in config.clusters[cluster].registries.items()}


# ---- a command that prints them ----------------------------------------------------------

def command_credentials(registry: str, entry: RegistryConfig, environ: Mapping[str, str], *,
                        where: str = "") -> Credentials:
    """Run the configured command (no shell; SWARMDECK_REGISTRY tells it which registry) and
    read {"username": ..., "password": ...} or user:password from its output. Errors name
    the program, never its arguments (which may hold a secret) nor its output."""
    argv = entry.argv()
    what = f"the credentials command {argv[0]!r} of registry {registry}" \
           + (f" ({where})" if where else "")
    env = {**environ, "SWARMDECK_REGISTRY": registry}
    out = _run(argv, what, env=env, timeout=entry.timeout)
    server = HUB_SERVER if registry == DOCKER_HUB else registry
    try:
        data = json.loads(out)
    except ValueError:
        data = None
    if isinstance(data, dict):
        user = data.get("username", data.get("Username", ""))
        password = data.get("password", data.get("Secret", ""))
        if isinstance(user, str) and isinstance(password, str) and user and password:
            return Credentials(server, user, password)
    elif data is None:
        user, sep, password = out.strip().partition(":")
        if sep and user and password and "\n" not in out.strip():
            return Credentials(server, user, password)
    raise ConfigError(f"{what} printed neither a JSON object with username and password "
                      "nor one line user:password", hint="its output is not shown: it may "
                                                         "hold a secret")


def _run(argv: list[str], what: str, *, env: Mapping[str, str], timeout: float,
         stdin: str = "", says_on_stdout: bool = False) -> str:
    """ARGV's stdout. SAYS_ON_STDOUT: a failure's reason may be read from stdout too (the
    credential helpers print it there); a command's stdout is never shown."""
    try:
        proc = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                              env=dict(env), timeout=timeout, check=False)
    except FileNotFoundError:
        raise ConfigError(f"{what} was not found", hint="give an absolute path or a program "
                                                        "on PATH") from None
    except PermissionError:
        raise ConfigError(f"{what} cannot be run: permission denied") from None
    except subprocess.TimeoutExpired:
        raise ConfigError(f"{what} did not finish within {timeout:g} s",
                          hint="raise `timeout` in the registry's table if it is slow") from None
    except OSError as exc:
        raise ConfigError(f"{what} cannot be run: {exc.strerror or exc}") from None
    if proc.returncode != 0:
        said = summary(proc.stderr) or (summary(proc.stdout) if says_on_stdout else "")
        raise ConfigError(f"{what} failed (exit code {proc.returncode}): "
                          f"{said or 'nothing on stderr'}")
    return proc.stdout


def summary(text: str, limit: int = 160) -> str:
    """The last non-empty line of a program's stderr, made inert and cut short."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    line = clean(lines[-1]) if lines else ""
    return line if len(line) <= limit else line[:limit - 1] + "…"


# ---- the docker config: auths, credsStore, credHelpers -----------------------------------

def _docker_config_file(environ: Mapping[str, str]) -> Path:
    base = environ.get("DOCKER_CONFIG") or str(Path(environ.get("HOME") or Path.home())
                                               / ".docker")
    return Path(base).expanduser() / "config.json"


def _key_host(key: str) -> str:
    """A docker config key (registry.example.com, https://host/v1/...) as a canonical host."""
    return canonical(re.sub(r"^[a-z]+://", "", key.strip()).split("/", 1)[0])


def docker_credentials(registry: str, environ: Mapping[str, str] | None = None, *,
                       timeout: float = HELPER_TIMEOUT) -> Credentials | None:
    """What `docker login REGISTRY` stored, looked up as the docker CLI does: the registry's
    credHelpers entry, else the credsStore, else the auths entry. None when there is none."""
    environ = os.environ if environ is None else environ
    path = _docker_config_file(environ)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the docker config {path}: "
                          f"{getattr(exc, 'strerror', None) or exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"the docker config {path} is not a JSON object")
    registry = canonical(registry)
    server = HUB_SERVER if registry == DOCKER_HUB else registry
    helpers = {_key_host(k): v for k, v in (data.get("credHelpers") or {}).items()}
    helper = helpers.get(registry) or data.get("credsStore")
    if helper:
        return helper_credentials(str(helper), server, registry, environ, timeout=timeout)
    auths = data.get("auths") or {}
    entry = next((v for k, v in auths.items() if _key_host(k) == registry), None)
    if not isinstance(entry, dict):
        return None
    token = entry.get("identitytoken") or ""
    user, password = entry.get("username") or "", entry.get("password") or ""
    if entry.get("auth"):
        try:
            decoded = base64.b64decode(entry["auth"]).decode()
        except (ValueError, UnicodeDecodeError):
            raise ConfigError(f"the auths entry for {registry} in {path} is damaged: run "
                              f"`docker login {registry}` again") from None
        user, _, password = decoded.partition(":")
    if token:
        return Credentials(server, user, identity_token=token)
    return Credentials(server, user, password) if user and password else None


def helper_credentials(helper: str, server: str, registry: str, environ: Mapping[str, str],
                       *, timeout: float = HELPER_TIMEOUT) -> Credentials | None:
    """`docker-credential-HELPER get` with the server on stdin; None when it has nothing."""
    program = f"docker-credential-{helper}"
    what = f"the docker credential helper {program} (for {registry})"
    try:
        out = _run([program, "get"], what, env=environ, timeout=timeout, stdin=server,
                   says_on_stdout=True)
    except ConfigError as exc:
        if "credentials not found" in exc.message.lower():
            return None
        raise
    try:
        data = json.loads(out)
        user, secret = data.get("Username", ""), data.get("Secret", "")
    except (ValueError, AttributeError):
        raise ConfigError(f"{what} answered something that is not its JSON") from None
    if not isinstance(user, str) or not isinstance(secret, str) or not secret:
        return None
    if user == "<token>":  # what helpers keep for an identity token
        return Credentials(server, identity_token=secret)
    return Credentials(server, user, secret)
