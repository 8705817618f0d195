"""What a swarm is made of, parsed once from the Docker API's JSON at the edge.

Nothing past this module reads Docker's dicts: each model has a `from_api` that takes the
API object and keeps only typed fields (plus `raw_spec` where an update must send the whole
spec back).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

STACK_LABEL = "com.docker.stack.namespace"
_FRACTION = re.compile(r"(\.\d{1,6})\d*")


def parse_time(value: str | None) -> datetime | None:
    """Docker timestamps carry nanoseconds; Python keeps microseconds."""
    if not value or value.startswith("0001-01-01"):
        return None
    try:  # since 3.11 it reads `Z` and cuts nanoseconds itself, 20x faster than the regex
        parsed = datetime.fromisoformat(value)
    except ValueError:  # what it refuses but the regex fixes up, e.g. a date with a Z
        text = _FRACTION.sub(r"\1", value.replace("Z", "+00:00"))
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def split_image(ref: str) -> tuple[str, str | None]:
    """`repo:tag@sha256:...` -> (`repo:tag`, `sha256:...`)."""
    name, _, digest = ref.partition("@")
    return name, digest or None


class Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class PublishedPort(Model):
    target: int
    published: int | None = None
    protocol: str = "tcp"
    mode: str = "ingress"

    def __str__(self) -> str:
        published = self.published if self.published is not None else ""
        host = "host:" if self.mode == "host" else ""
        return f"{host}{published}->{self.target}/{self.protocol}"


class Node(Model):
    id: str
    hostname: str
    role: str  # manager | worker
    availability: str  # active | pause | drain
    status: str  # ready | down | unknown | disconnected
    status_message: str = ""
    address: str = ""
    leader: bool = False
    reachability: str | None = None  # reachable | unreachable | unknown (managers only)
    manager_address: str | None = None  # host:2377 for managers
    engine_version: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    nano_cpus: int = 0
    memory_bytes: int = 0
    os: str = ""
    architecture: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 0

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Node:
        spec = data.get("Spec") or {}
        desc = data.get("Description") or {}
        status = data.get("Status") or {}
        manager = data.get("ManagerStatus")
        resources = desc.get("Resources") or {}
        platform = desc.get("Platform") or {}
        return cls(
            id=data["ID"],
            hostname=desc.get("Hostname", ""),
            role=spec.get("Role", "worker"),
            availability=spec.get("Availability", "active"),
            status=status.get("State", "unknown"),
            status_message=status.get("Message", ""),
            address=status.get("Addr", ""),
            leader=bool(manager and manager.get("Leader")),
            reachability=manager.get("Reachability") if manager else None,
            manager_address=manager.get("Addr") if manager else None,
            engine_version=(desc.get("Engine") or {}).get("EngineVersion", ""),
            labels=spec.get("Labels") or {},
            nano_cpus=resources.get("NanoCPUs", 0),
            memory_bytes=resources.get("MemoryBytes", 0),
            os=platform.get("OS", ""),
            architecture=platform.get("Architecture", ""),
            created_at=parse_time(data.get("CreatedAt")),
            updated_at=parse_time(data.get("UpdatedAt")),
            version=(data.get("Version") or {}).get("Index", 0),
        )

    @property
    def manager_status(self) -> str:
        if self.role != "manager":
            return ""
        return "leader" if self.leader else (self.reachability or "unknown")


class Service(Model):
    id: str
    name: str
    stack: str | None = None
    mode: str  # replicated | global | replicated-job | global-job
    replicas: int | None = None  # the spec's replica count (replicated modes)
    image: str = ""
    image_digest: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    ports: list[PublishedPort] = Field(default_factory=list)
    endpoint_mode: str = "vip"
    constraints: list[str] = Field(default_factory=list)
    update_state: str | None = None  # updating | paused | completed | rollback_* ...
    update_message: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 0
    raw_spec: dict[str, Any] = Field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Service:
        spec = data.get("Spec") or {}
        labels = spec.get("Labels") or {}
        mode_spec = spec.get("Mode") or {}
        replicas: int | None = None
        if "Replicated" in mode_spec:
            mode = "replicated"
            replicas = (mode_spec["Replicated"] or {}).get("Replicas", 1)
        elif "Global" in mode_spec:
            mode = "global"
        elif "ReplicatedJob" in mode_spec:
            mode = "replicated-job"
            replicas = (mode_spec["ReplicatedJob"] or {}).get("TotalCompletions", 1)
        elif "GlobalJob" in mode_spec:
            mode = "global-job"
        else:
            mode = "replicated"
        task = spec.get("TaskTemplate") or {}
        container = task.get("ContainerSpec") or {}
        image, digest = split_image(container.get("Image", ""))
        endpoint = data.get("Endpoint") or {}
        endpoint_spec = spec.get("EndpointSpec") or endpoint.get("Spec") or {}
        ports = [
            PublishedPort(
                target=p.get("TargetPort", 0),
                published=p.get("PublishedPort"),
                protocol=p.get("Protocol", "tcp"),
                mode=p.get("PublishMode", "ingress"),
            )
            for p in endpoint_spec.get("Ports") or []
        ]
        update = data.get("UpdateStatus") or {}
        return cls(
            id=data["ID"],
            name=spec.get("Name", ""),
            stack=labels.get(STACK_LABEL),
            mode=mode,
            replicas=replicas,
            image=image,
            image_digest=digest,
            labels=labels,
            ports=ports,
            endpoint_mode=endpoint_spec.get("Mode", "vip"),
            constraints=(task.get("Placement") or {}).get("Constraints") or [],
            update_state=update.get("State"),
            update_message=update.get("Message", ""),
            created_at=parse_time(data.get("CreatedAt")),
            updated_at=parse_time(data.get("UpdatedAt")),
            version=(data.get("Version") or {}).get("Index", 0),
            raw_spec=spec,
        )

    @property
    def short_name(self) -> str:
        """The name inside its stack (`shop_web` -> `web`)."""
        if self.stack and self.name.startswith(self.stack + "_"):
            return self.name[len(self.stack) + 1:]
        return self.name


class Task(Model):
    id: str
    service_id: str
    node_id: str | None = None
    slot: int | None = None
    state: str  # new | pending | assigned | ... | running | complete | failed | shutdown ...
    desired_state: str
    message: str = ""
    error: str = ""
    container_id: str | None = None
    exit_code: int | None = None
    image: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    timestamp: datetime | None = None  # when the task entered its current state

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Task:
        status = data.get("Status") or {}
        container_status = status.get("ContainerStatus") or {}
        spec = data.get("Spec") or {}
        image, _ = split_image((spec.get("ContainerSpec") or {}).get("Image", ""))
        return cls(
            id=data["ID"],
            service_id=data.get("ServiceID", ""),
            node_id=data.get("NodeID") or None,
            slot=data.get("Slot"),
            state=status.get("State", "unknown"),
            desired_state=data.get("DesiredState", "unknown"),
            message=status.get("Message", ""),
            error=status.get("Err", ""),
            container_id=container_status.get("ContainerID") or None,
            exit_code=container_status.get("ExitCode"),
            image=image,
            created_at=parse_time(data.get("CreatedAt")),
            updated_at=parse_time(data.get("UpdatedAt")),
            timestamp=parse_time(status.get("Timestamp")),
        )

    @property
    def is_running(self) -> bool:
        return self.state == "running" and self.desired_state == "running"

    @property
    def is_current(self) -> bool:
        """Tasks the orchestrator still wants (not history kept for `service ps`)."""
        return self.desired_state in ("running", "ready", "accepted", "complete") \
            and self.state not in ("shutdown", "rejected", "orphaned", "remove")


class Network(Model):
    id: str
    name: str
    driver: str = ""
    scope: str = ""
    stack: str | None = None
    attachable: bool = False
    ingress: bool = False
    internal: bool = False
    encrypted: bool = False
    subnets: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    created_at: datetime | None = None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Network:
        labels = data.get("Labels") or {}
        options = data.get("Options") or {}
        ipam = (data.get("IPAM") or {}).get("Config") or []
        return cls(
            id=data.get("Id") or data.get("ID", ""),
            name=data.get("Name", ""),
            driver=data.get("Driver", ""),
            scope=data.get("Scope", ""),
            stack=labels.get(STACK_LABEL),
            attachable=bool(data.get("Attachable")),
            ingress=bool(data.get("Ingress")),
            internal=bool(data.get("Internal")),
            encrypted="encrypted" in options,
            subnets=[c["Subnet"] for c in ipam if c.get("Subnet")],
            labels=labels,
            created_at=parse_time(data.get("Created")),
        )


class SwarmInfo(Model):
    """What the connected manager says about itself and its swarm (GET /info)."""

    node_id: str = ""
    node_address: str = ""
    hostname: str = ""
    local_state: str = ""  # active | inactive | pending | error | locked
    control_available: bool = False  # this node is a manager
    cluster_id: str = ""
    managers: int = 0
    nodes: int = 0
    server_version: str = ""
    remote_managers: list[str] = Field(default_factory=list)  # manager addresses host:2377
    error: str = ""

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> SwarmInfo:
        swarm = data.get("Swarm") or {}
        return cls(
            node_id=swarm.get("NodeID", ""),
            node_address=swarm.get("NodeAddr", ""),
            hostname=data.get("Name", ""),
            local_state=swarm.get("LocalNodeState", ""),
            control_available=bool(swarm.get("ControlAvailable")),
            cluster_id=(swarm.get("Cluster") or {}).get("ID", ""),
            managers=swarm.get("Managers") or 0,
            nodes=swarm.get("Nodes") or 0,
            server_version=data.get("ServerVersion", ""),
            remote_managers=[m.get("Addr", "") for m in swarm.get("RemoteManagers") or []],
            error=swarm.get("Error", ""),
        )


class Stack(Model):
    """A stack as the cluster shows it: the services sharing a namespace label."""

    name: str
    services: list[str]  # service names
    networks: list[str] = Field(default_factory=list)
