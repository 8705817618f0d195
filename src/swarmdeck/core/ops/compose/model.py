"""What a compose file says once read: the parts `load_compose` fills, already checked and
in Engine units, and the error it raises."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swarmdeck.core.errors import UsageError

DEFAULT_NETWORK = "default"

KeyPath = tuple[str | int, ...]


def dotted(path: KeyPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


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
    ipam_driver: str = ""
    subnets: list[str] = field(default_factory=list)
    has_ipam: bool = False  # an `ipam:` with a driver or a config list: the CLI sends IPAM


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
    network_driver_opts: dict[str, dict[str, str]] = field(default_factory=dict)
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
    cap_add: list[str] = field(default_factory=list)  # as the CLI sends them: CAP_X, sorted
    cap_drop: list[str] = field(default_factory=list)
    tty: bool = False
    stdin_open: bool = False
    dns: list[str] | None = None
    dns_search: list[str] | None = None
    sysctls: dict[str, str] = field(default_factory=dict)
    ulimits: list[dict[str, Any]] = field(default_factory=list)  # Name, Soft, Hard
    isolation: str = ""
    oom_score_adj: int = 0
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
    warnings: list[str] = field(default_factory=list)  # ignored or changed on the way
