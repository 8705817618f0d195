"""Cluster resources: overlay networks, secrets and configs. List them with the services
that use them, create them, and remove them only when no service does.

Secret data never leaves the caller: it is sent once, in the create request, and the audit
line says how many bytes, not what they were (the API never returns it anyway). Config data
is shown on request; callers sanitize it like anything else a cluster sends.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from swarmdeck.core.errors import DockerAPIError, Refused, UsageError
from swarmdeck.core.models import STACK_LABEL, Network, parse_time
from swarmdeck.core.ops.base import ClusterOps, did_you_mean

KINDS = ("network", "secret", "config")
# Docker's rule for secret and config names, applied to networks too
NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$")
# swarmkit's limits: data must be at least one byte and under these sizes
MAX_BYTES = {"secret": 500 * 1024, "config": 1000 * 1024}
REMOVE_RETRIES = 6  # x 0.5 s: a removed service's tasks may hold its network a moment


# ---- rows --------------------------------------------------------------------------------
@dataclass(frozen=True)
class NetworkRow:
    id: str
    name: str
    driver: str
    scope: str
    encrypted: bool
    attachable: bool
    internal: bool
    ingress: bool
    subnets: list[str]
    stack: str | None
    services: list[str]  # names of the services attached to it, sorted
    created_at: datetime | None


@dataclass(frozen=True)
class SecretRow:
    """A secret, or a config (SIZE is known for configs only)."""

    kind: str
    id: str
    name: str
    created_at: datetime | None
    updated_at: datetime | None
    labels: dict[str, str]
    stack: str | None
    services: list[str]
    size: int | None = None


Row = TypeVar("Row", bound=NetworkRow | SecretRow)


@dataclass
class Resources:
    networks: list[NetworkRow] = field(default_factory=list)
    secrets: list[SecretRow] = field(default_factory=list)
    configs: list[SecretRow] = field(default_factory=list)

    def of(self, kind: str) -> Sequence[NetworkRow | SecretRow]:
        rows: dict[str, Sequence[NetworkRow | SecretRow]] = {
            "network": self.networks, "secret": self.secrets, "config": self.configs}
        return rows[kind]


def network_users(services: Iterable[Mapping[str, Any]]) -> dict[str, set[str]]:
    """Network ID or name -> the names of the services attached to it (spec or endpoint)."""
    users: dict[str, set[str]] = {}
    for svc in services:
        spec = svc.get("Spec") or {}
        name = spec.get("Name", svc.get("ID", ""))
        template = spec.get("TaskTemplate") or {}
        attached = [n.get("Target") for n in (template.get("Networks") or spec.get("Networks")
                                              or [])]
        attached += [v.get("NetworkID") for v in
                     ((svc.get("Endpoint") or {}).get("VirtualIPs") or [])]
        for target in attached:
            if target:
                users.setdefault(target, set()).add(name)
    return users


def reference_users(services: Iterable[Mapping[str, Any]], kind: str) -> dict[str, set[str]]:
    """Secret (or config) ID or name -> the names of the services that mount it."""
    key, id_key, name_key = (("Secrets", "SecretID", "SecretName") if kind == "secret"
                             else ("Configs", "ConfigID", "ConfigName"))
    users: dict[str, set[str]] = {}
    for svc in services:
        spec = svc.get("Spec") or {}
        container = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
        for ref in container.get(key) or []:
            for ident in (ref.get(id_key), ref.get(name_key)):
                if ident:
                    users.setdefault(ident, set()).add(spec.get("Name", svc.get("ID", "")))
    return users


def _users(users: Mapping[str, set[str]], *idents: str) -> list[str]:
    return sorted(set().union(*(users.get(i, set()) for i in idents if i)))


def network_rows(networks: Iterable[Mapping[str, Any]],
                 services: Iterable[Mapping[str, Any]]) -> list[NetworkRow]:
    """The swarm's networks (a manager's local bridge, host and none are not the swarm's)."""
    users = network_users(services)
    rows = []
    for data in networks:
        if data.get("Scope") != "swarm":
            continue
        net = Network.from_api(dict(data))
        rows.append(NetworkRow(
            id=net.id, name=net.name, driver=net.driver, scope=net.scope,
            encrypted=net.encrypted, attachable=net.attachable, internal=net.internal,
            ingress=net.ingress, subnets=list(net.subnets), stack=net.stack,
            services=_users(users, net.id, net.name), created_at=net.created_at))
    return sorted(rows, key=lambda r: r.name)


def secret_rows(kind: str, objects: Iterable[Mapping[str, Any]],
                services: Iterable[Mapping[str, Any]]) -> list[SecretRow]:
    """Rows of secrets or configs (KIND), with the services that mount each."""
    users = reference_users(services, kind)
    rows = []
    for obj in objects:
        spec = obj.get("Spec") or {}
        labels = spec.get("Labels") or {}
        data = spec.get("Data")
        rows.append(SecretRow(
            kind=kind, id=obj.get("ID", ""), name=spec.get("Name", ""),
            created_at=parse_time(obj.get("CreatedAt")),
            updated_at=parse_time(obj.get("UpdatedAt")),
            labels=dict(labels), stack=labels.get(STACK_LABEL),
            services=_users(users, obj.get("ID", ""), spec.get("Name", "")),
            size=len(_decode(data)) if kind == "config" and data is not None else None,
        ))
    return sorted(rows, key=lambda r: r.name)


def _decode(data: str) -> bytes:
    try:
        return base64.b64decode(data)
    except ValueError:
        return b""


# ---- checks (pure: the CLI and the console run them before connecting) -----------------
def check_name(kind: str, name: str) -> str:
    if not NAME.match(name or ""):
        raise UsageError(f"{name!r} is not a valid {kind} name",
                         hint="1 to 64 characters: letters, digits, '_', '.' or '-', "
                              "starting with a letter or a digit")
    return name


def check_subnet(text: str) -> str:
    """A CIDR subnet, normalised ("10.1.0.0/24"); host bits set are refused with the fix."""
    hint = "give it as CIDR, e.g. 10.20.0.0/24"
    text = (text or "").strip()
    if "/" not in text:
        raise UsageError(f"{text!r} is not a subnet", hint=hint)
    try:
        net = ipaddress.ip_network(text)
    except ValueError:
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise UsageError(f"{text!r} is not a subnet", hint=hint) from None
        raise UsageError(f"{text!r} has host bits set", hint=f"did you mean {loose}?") from None
    if net.num_addresses < 4:
        raise UsageError(f"{net} is too small for a network",
                         hint="it needs room for a gateway and tasks, e.g. a /24")
    return str(net)


def check_data(kind: str, data: bytes) -> bytes:
    limit = MAX_BYTES[kind]
    if not data:
        raise UsageError(f"the {kind} data is empty", hint="a secret or config needs at "
                                                            "least one byte")
    if len(data) >= limit:
        raise UsageError(f"the {kind} data is {len(data)} bytes: too big",
                         hint=f"Docker takes less than {limit // 1024} KiB")
    return data


def read_file(path: str) -> bytes:
    """A local file's bytes (a secret's or config's data), with errors an operator reads."""
    try:
        return Path(path).expanduser().read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory, not a file") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None


# ---- reading -----------------------------------------------------------------------------
async def fetch(ops: ClusterOps, kinds: Sequence[str] = KINDS) -> Resources:
    """One GET per kind, and one for the services, all at once."""
    paths = [f"/{kind}s" for kind in kinds]
    found = await asyncio.gather(ops.docker.get("/services"),
                                 *(ops.docker.get(p) for p in paths))
    services, lists = found[0] or [], dict(zip(kinds, found[1:], strict=True))
    return Resources(
        networks=network_rows(lists.get("network") or [], services),
        secrets=secret_rows("secret", lists.get("secret") or [], services),
        configs=secret_rows("config", lists.get("config") or [], services),
    )


def find(rows: Sequence[Row], kind: str, ref: str, cluster: str) -> Row:
    """By exact name, full ID or unique ID prefix; otherwise an error with a suggestion."""
    for row in rows:
        if ref in (row.name, row.id):
            return row
    prefixed = [r for r in rows if ref and r.id.startswith(ref)]
    if len(prefixed) == 1:
        return prefixed[0]
    raise UsageError(f"no {kind} {ref!r} in cluster {cluster}"
                     f"{did_you_mean(ref, [r.name for r in rows])}")


async def config_data(ops: ClusterOps, ref: str) -> tuple[SecretRow, bytes]:
    """A config and its data (raw bytes: sanitize before showing)."""
    found = await fetch(ops, ("config",))
    row = find(found.configs, "config", ref, ops.cluster)
    data = await ops.docker.get(f"/configs/{row.id}")
    return row, _decode(((data or {}).get("Spec") or {}).get("Data") or "")


# ---- changes -----------------------------------------------------------------------------
async def check_free(ops: ClusterOps, kind: str, name: str) -> list[dict[str, Any]]:
    """Refuse a name already taken (Docker would make a second network of the same name);
    returns the objects of that kind, for further checks."""
    existing = await ops.docker.get(f"/{kind}s") or []  # networks: local ones count too
    if any(o.get("Name", (o.get("Spec") or {}).get("Name")) == name for o in existing):
        hint = ("pick another name, or remove that network first" if kind == "network" else
                f"{kind}s cannot be changed: create one under a new name and point the "
                "services at it")
        raise UsageError(f"a {kind} named {name!r} already exists in cluster {ops.cluster}",
                         hint=hint)
    return existing


async def create_network(ops: ClusterOps, name: str, *, encrypted: bool = False,
                         attachable: bool = False, subnet: str | None = None) -> str:
    check_name("network", name)
    subnet = check_subnet(subnet) if subnet else None
    ops.check_writable("network create", name)
    every = await check_free(ops, "network", name)
    if subnet:
        check_overlap(subnet, every)
    body: dict[str, Any] = {"Name": name, "Driver": "overlay", "CheckDuplicate": True,
                            "Attachable": attachable, "Options": {}}
    if encrypted:
        body["Options"]["encrypted"] = "true"
    if subnet:
        body["IPAM"] = {"Driver": "default", "Config": [{"Subnet": subnet}]}
        body["EnableIPv6"] = ipaddress.ip_network(subnet).version == 6
    params = {"driver": "overlay", "encrypted": encrypted, "attachable": attachable,
              "subnet": subnet or "auto"}

    async def work() -> str:
        try:
            await ops.docker.request("POST", "/networks/create", body=body)
        except DockerAPIError as exc:
            if exc.status == 409:  # created by someone else since the check
                raise UsageError(f"a network named {name!r} already exists in cluster "
                                 f"{ops.cluster}") from None
            raise
        opts = [o for o, on in (("encrypted", encrypted), ("attachable", attachable)) if on]
        opts.append(f"subnet {subnet or 'automatic'}")
        return f"created overlay network {name} on {ops.cluster} ({', '.join(opts)})"

    return await ops.guarded("network create", name, params, work)


def check_overlap(subnet: str, networks: Iterable[Mapping[str, Any]]) -> None:
    wanted = ipaddress.ip_network(subnet)
    for net in networks:
        for cfg in (net.get("IPAM") or {}).get("Config") or []:
            try:
                taken = ipaddress.ip_network(cfg.get("Subnet") or "", strict=False)
            except ValueError:
                continue
            if taken.version == wanted.version and taken.overlaps(wanted):
                raise UsageError(f"subnet {subnet} overlaps {taken} of network "
                                 f"{net.get('Name', '?')!r}", hint="pick a free range")


async def create_secret(ops: ClusterOps, kind: str, name: str, data: bytes) -> str:
    """Create a secret or a config (KIND) holding DATA."""
    check_name(kind, name)
    check_data(kind, data)
    ops.check_writable(f"{kind} create", name)
    await check_free(ops, kind, name)
    body = {"Name": name, "Data": base64.b64encode(data).decode(), "Labels": {}}

    async def work() -> str:
        try:
            await ops.docker.request("POST", f"/{kind}s/create", body=body)
        except DockerAPIError as exc:
            if exc.status == 409:
                raise UsageError(f"a {kind} named {name!r} already exists in cluster "
                                 f"{ops.cluster}") from None
            raise
        return f"created {kind} {name} on {ops.cluster} ({len(data)} bytes)"

    # the size only: the data itself never reaches the audit log
    return await ops.guarded(f"{kind} create", name, {"bytes": len(data)}, work)


async def remove(ops: ClusterOps, kind: str, ref: str) -> str:
    """Remove a network, secret or config, refused while a service uses it."""
    if kind not in KINDS:
        raise UsageError(f"{kind!r} is not one of {', '.join(KINDS)}")
    action = f"{kind} remove"
    ops.check_writable(action, ref)
    found = await fetch(ops, (kind,))
    row = find(found.of(kind), kind, ref, ops.cluster)
    check_removable(row, kind, ops.cluster)

    async def work() -> str:
        if not isinstance(row, NetworkRow):  # a secret or a config
            await ops.docker.request("DELETE", f"/{kind}s/{row.id}")
        else:
            await _remove_network(ops, row)
        return f"removed {kind} {row.name} from {ops.cluster}"

    return await ops.guarded(action, row.name, {"id": row.id}, work)


def check_removable(row: NetworkRow | SecretRow, kind: str, cluster: str) -> None:
    if isinstance(row, NetworkRow) and row.ingress:
        raise Refused(f"{row.name} is the swarm's routing-mesh network: swarmdeck does not "
                      "remove it", hint="published ports depend on it")
    if row.services:
        raise Refused(f"{kind} {row.name} is in use by {len(row.services)} service(s) in "
                      f"{cluster}: {', '.join(row.services)}; nothing was removed",
                      hint=f"remove those services or take the {kind} out of them first")


async def _remove_network(ops: ClusterOps, row: NetworkRow) -> None:
    for attempt in range(REMOVE_RETRIES):
        try:
            await ops.docker.request("DELETE", f"/networks/{row.id}")
            return
        except DockerAPIError as exc:
            text = str(exc)
            if "in use by task" not in text and "active endpoints" not in text:
                raise
            if attempt == REMOVE_RETRIES - 1:
                raise Refused(f"network {row.name} still has containers attached; nothing "
                              "was removed",
                              hint="containers run on it with --network (it is attachable), "
                                   "or tasks still stopping; remove those, then try "
                                   "again") from None
            await asyncio.sleep(0.5)
