"""Rotating a secret or a config: swarm objects are immutable, so a rotation is a new
version swapped into every service that uses the old one, then the old one removed.

1. A new object `FAMILY-vN` is created with the new data, labelled with its family and
   version (and the old one's own labels, a stack's namespace among them).
2. Each service using the old one gets the new one at the same target (file name, uid,
   gid, mode): one update per service, followed until it converges.
3. All converged: the old object is removed. One did not: every service already moved is
   rolled back to its previous spec, the new object is removed, and the old one stays.

The data travels only in the create request: never printed, logged, audited, or written to
a file. The audit gets one line for the rotation, with the versions and services.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from swarmdeck.core.errors import DockerAPIError, OperationFailed, UsageError
from swarmdeck.core.ops import progress as prog
from swarmdeck.core.ops.base import ClusterOps
from swarmdeck.core.ops.compose import StackPlan
from swarmdeck.core.ops.resources import check_data, check_name
from swarmdeck.core.ops.services import post_update

FAMILY = "swarmdeck.rotate.family"  # label: the name the versions share
VERSION = "swarmdeck.rotate.version"  # label: 1, 2, ...
KEYS = {"secret": ("Secrets", "SecretID", "SecretName"),
        "config": ("Configs", "ConfigID", "ConfigName")}


@dataclass
class RotationPlan:
    kind: str
    old_id: str
    old_name: str
    new_name: str
    family: str
    version: int
    labels: dict[str, str]
    services: list[tuple[str, str]] = field(default_factory=list)  # (id, name)

    def question(self, size: int) -> str:
        users = ", ".join(name for _, name in self.services) or "no service"
        return (f"Rotate {self.kind} {self.old_name} -> {self.new_name} ({size} bytes), "
                f"swapped into {users}, then remove {self.old_name}?")


def family_of(name: str, labels: dict[str, str]) -> tuple[str, int]:
    """(family, version) of an object: its labels when it came from a rotation, else its
    name as version 1 (`db_password` -> ("db_password", 1))."""
    if labels.get(FAMILY) and str(labels.get(VERSION, "")).isdigit():
        return labels[FAMILY], int(labels[VERSION])
    return name, 1


def next_name(family: str, version: int, taken: set[str]) -> tuple[str, int]:
    """The first free `FAMILY-vN` after VERSION."""
    while True:
        version += 1
        name = f"{family}-v{version}"
        if name not in taken:
            return name, version


def users(services: Sequence[dict[str, Any]], kind: str, object_id: str
          ) -> list[tuple[str, str]]:
    key, id_key, _ = KEYS[kind]
    found = []
    for svc in services:
        spec = svc.get("Spec") or {}
        refs = ((spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}).get(key) or []
        if any(r.get(id_key) == object_id for r in refs):
            found.append((svc["ID"], spec.get("Name", svc["ID"])))
    return sorted(found, key=lambda s: s[1])


async def plan(ops: ClusterOps, kind: str, ref: str) -> RotationPlan:
    """What a rotation of REF (a name or id) would do; raises UsageError when REF is not
    there."""
    if kind not in KEYS:
        raise UsageError(f"{kind!r}: only secrets and configs are rotated")
    objects, services = await _read(ops, kind)
    obj = next((o for o in objects if (o.get("Spec") or {}).get("Name") == ref), None) \
        or next((o for o in objects if o.get("ID", "").startswith(ref) and len(ref) >= 12),
                None)
    if obj is None:
        names = sorted((o.get("Spec") or {}).get("Name", "") for o in objects)
        raise UsageError(f"no {kind} named {ref!r} in cluster {ops.cluster}",
                         hint=f"{kind}s there: {', '.join(names[:10]) or 'none'}")
    spec = obj.get("Spec") or {}
    labels = dict(spec.get("Labels") or {})
    family, version = family_of(spec["Name"], labels)
    taken = {(o.get("Spec") or {}).get("Name", "") for o in objects}
    new_name, new_version = next_name(family, version, taken)
    check_name(kind, new_name)
    labels.update({FAMILY: family, VERSION: str(new_version)})
    return RotationPlan(kind, obj["ID"], spec["Name"], new_name, family, new_version,
                        labels, users(services, kind, obj["ID"]))


async def _read(ops: ClusterOps, kind: str) -> tuple[list[dict], list[dict]]:
    objects, services = await asyncio.gather(ops.docker.get(f"/{kind}s"),
                                             ops.docker.get("/services"))
    return objects or [], services or []


def swapped(spec: dict[str, Any], kind: str, old_id: str, new_id: str, new_name: str
            ) -> dict[str, Any]:
    """SPEC with every reference to OLD_ID pointing at the new object, target unchanged."""
    key, id_key, name_key = KEYS[kind]
    container = spec["TaskTemplate"]["ContainerSpec"]
    container[key] = [{**r, id_key: new_id, name_key: new_name} if r.get(id_key) == old_id
                      else r for r in container.get(key) or []]
    return spec


async def rotate(ops: ClusterOps, rotation: RotationPlan, data: bytes, *, timeout: float = 300,
                 on_progress: Callable[[str], None] | None = None) -> str:
    """Carry ROTATION out with DATA (see the module's text); the outcome in one line.
    Raises OperationFailed after rolling back when a service does not converge."""
    kind = rotation.kind
    check_data(kind, data)
    say = on_progress or (lambda _line: None)
    params = {"from": rotation.old_name, "to": rotation.new_name, "bytes": len(data),
              "services": [name for _, name in rotation.services]}

    async def work() -> str:
        try:
            made = await ops.docker.request("POST", f"/{kind}s/create", body={
                "Name": rotation.new_name, "Data": base64.b64encode(data).decode(),
                "Labels": rotation.labels})
        except DockerAPIError as exc:
            if exc.status == 409:
                raise UsageError(f"a {kind} named {rotation.new_name!r} appeared meanwhile "
                                 f"in cluster {ops.cluster}; run the rotation again") from None
            raise
        new_id = made["ID"]
        say(f"created {kind} {rotation.new_name}")
        moved: list[tuple[str, str]] = []
        try:
            for service_id, name in rotation.services:
                data_ = await ops.docker.get(f"/services/{service_id}")
                base = {service_id: await prog.baseline(ops.docker, service_id,
                                                         expect_update=True)}
                spec = swapped(data_["Spec"], kind, rotation.old_id, new_id, rotation.new_name)
                await post_update(ops, data_, spec)
                moved.append((service_id, name))
                say(f"{name}: updating to {rotation.new_name}")
                last: list[prog.ServiceProgress] = []
                async for round_ in prog.watch(ops.docker, base, timeout=timeout):
                    last = round_
                error = prog.outcome_error(last)
                if error:
                    raise error
                say(f"{name}: converged on {rotation.new_name}")
        except BaseException as exc:
            await _undo(ops, kind, new_id, moved, say)
            if isinstance(exc, OperationFailed):
                raise OperationFailed(
                    f"rotation of {kind} {rotation.old_name} failed and was undone: {exc}",
                    hint=f"{rotation.old_name} stays in use; fix the service, then rotate "
                         "again") from None
            raise
        users_ = ", ".join(n for _, n in rotation.services) or "no service"
        done = f"rotated {kind} {rotation.old_name} -> {rotation.new_name} on {ops.cluster} " \
               f"({users_})"
        try:
            await ops.docker.request("DELETE", f"/{kind}s/{rotation.old_id}")
        except DockerAPIError as exc:  # e.g. a service took it up meanwhile
            return f"{done}; {rotation.old_name} kept: {exc}"
        return f"{done}; {rotation.old_name} removed"

    return await ops.guarded(f"{kind} rotate", rotation.old_name, params, work)


async def _undo(ops: ClusterOps, kind: str, new_id: str, moved: list[tuple[str, str]],
                say: Callable[[str], None]) -> None:
    """Roll back every service already moved (their previous spec holds the old object),
    wait for them, then remove the new object. Best effort: what fails is said."""
    for service_id, name in moved:
        try:
            current = await ops.docker.get(f"/services/{service_id}")
            key, id_key, _ = KEYS[kind]
            refs = current["Spec"]["TaskTemplate"]["ContainerSpec"].get(key) or []
            if not any(r.get(id_key) == new_id for r in refs):  # the swarm rolled it back
                say(f"{name}: back on the old {kind} already")
                continue
            base = {service_id: await prog.baseline(ops.docker, service_id,
                                                    expect_update=True)}
            await post_update(ops, current, current["Spec"], rollback="previous")
            say(f"{name}: rolling back to the old {kind}")
            async for _ in prog.watch(ops.docker, base, timeout=120):
                pass
        except Exception as exc:  # noqa: BLE001 - go on undoing the rest, and say it
            say(f"{name}: rollback failed: {exc}")
    try:
        await ops.docker.request("DELETE", f"/{kind}s/{new_id}")
    except Exception as exc:  # noqa: BLE001
        say(f"the new {kind} could not be removed: {exc}")


async def follow_rotations(ops: ClusterOps, plan: StackPlan) -> tuple[StackPlan, list[str]]:
    """PLAN with each secret or config that was rotated since the stack's last deploy (the
    file's name is gone, versions of its family exist) pointing at its newest version, kept
    as is: the next deploy must not put the old content back. The notes say which."""
    families: dict[str, dict[str, tuple[int, str]]] = {}
    found = await asyncio.gather(ops.docker.get("/secrets"), ops.docker.get("/configs"))
    for kind, objects in zip(("secret", "config"), found, strict=True):
        newest: dict[str, tuple[int, str]] = {}
        for obj in objects or []:
            spec = obj.get("Spec") or {}
            family, version = family_of(spec.get("Name", ""), dict(spec.get("Labels") or {}))
            if version > newest.get(family, (0, ""))[0]:
                newest[family] = (version, spec.get("Name", ""))
        existing = {(o.get("Spec") or {}).get("Name") for o in objects or []}
        families[kind] = {f: v for f, v in newest.items() if f not in existing}
    moved = {kind: {name: families[kind][name][1] for name in declared
                    if name in families[kind]}
             for kind, declared in (("secret", plan.secrets), ("config", plan.configs))}
    if not moved["secret"] and not moved["config"]:
        return plan, []
    services = copy.deepcopy(plan.services)
    for spec in services.values():
        container = spec["TaskTemplate"]["ContainerSpec"]
        for kind, (key, _id_key, name_key) in KEYS.items():
            for ref in container.get(key) or []:
                if ref.get(name_key) in moved[kind]:
                    ref[name_key] = moved[kind][ref[name_key]]
    notes = [f"{kind} {old} was rotated: the services keep {new} (its newest version); "
             f"the file's content for it is not used" for kind in ("secret", "config")
             for old, new in sorted(moved[kind].items())]
    return dataclasses.replace(
        plan, services=services,
        configs={k: v for k, v in plan.configs.items() if k not in moved["config"]},
        secrets={k: v for k, v in plan.secrets.items() if k not in moved["secret"]},
        external_configs=sorted({*plan.external_configs, *moved["config"].values()}),
        external_secrets=sorted({*plan.external_secrets, *moved["secret"].values()})), notes
