"""Service changes: scale, update image, restart (force update), rollback, remove a service
or a whole stack. Each returns the baselines to follow with progress.watch, so callers choose
to wait (with progress) or to detach."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from swarmdeck.core.errors import (
    DockerAPIError,
    NotFound,
    OperationFailed,
    Refused,
    SwarmdeckError,
    UsageError,
)
from swarmdeck.core.ops.base import ClusterOps, did_you_mean
from swarmdeck.core.ops.progress import Baseline, baseline
from swarmdeck.core.registries import RegistryAuth, resolve_async

# docker's reference grammar, simplified: [registry[:port]/]path[:tag][@digest]
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9-]+)*(?::[0-9]+)?)"
IMAGE_REF = re.compile(
    rf"^(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*(?::[\w][\w.-]{{0,127}})?"
    r"(?:@sha256:[a-f0-9]{64})?$")
STACK_LABEL = "com.docker.stack.namespace"


def check_image(ref: str) -> str:
    first, slash, _rest = (ref or "").partition("/")
    # like docker: the first part is a registry only with a dot, a port or "localhost";
    # otherwise it is part of the (lowercase) repository name
    registry = slash and ("." in first or ":" in first or first == "localhost")
    if not IMAGE_REF.match(ref or "") or (slash and not registry and first != first.lower()):
        raise UsageError(f"{ref!r} is not a valid image reference",
                         hint="expected [REGISTRY/]NAME[:TAG][@sha256:DIGEST], "
                              "e.g. registry.example.com/team/app:1.4")
    return ref


def parse_scale(args: list[str]) -> dict[str, int]:
    """["web=3", "worker=0"] -> {"web": 3, "worker": 0}, with errors that say what to fix."""
    wanted: dict[str, int] = {}
    if not args:
        raise UsageError("nothing to scale", hint="give SERVICE=REPLICAS, e.g. shop_web=3")
    for arg in args:
        name, sep, count = arg.partition("=")
        if not sep or not name:
            raise UsageError(f"{arg!r}: expected SERVICE=REPLICAS, e.g. shop_web=3")
        if not count.isdigit() or not count.isascii():
            raise UsageError(f"{arg!r}: replicas must be a non-negative integer, "
                             f"not {count!r}")
        if len(count) > 9:  # the engine's field is a uint64; nobody means a 10-digit count
            raise UsageError(f"{arg!r}: {count} replicas is not a count a swarm can run",
                             hint="give a number of replicas, e.g. shop_web=3")
        wanted[name] = int(count)
    return wanted


GROWTH_LIMIT = 10  # a scale beyond this many times the current count (from 1) asks --force


def check_scale(name: str, current: int, wanted: int, max_replicas: int, *,
                force: bool = False) -> None:
    """Refuse a replica count the cluster cannot sensibly hold (a typo, a runaway script)
    unless FORCE: more than MAX_REPLICAS, or more than GROWTH_LIMIT times the current count."""
    if force or wanted <= current:
        return
    if wanted > max_replicas:
        raise Refused(f"scale {name} to {wanted} refused: more than max_replicas = "
                      f"{max_replicas} for this cluster",
                      hint="pass --force if you mean it, or raise max_replicas in the config")
    limit = GROWTH_LIMIT * max(current, 1)
    if wanted > limit:
        raise Refused(f"scale {name} from {current} to {wanted} refused: more than "
                      f"{GROWTH_LIMIT}x its current count ({limit})",
                      hint="scale in steps, or pass --force if you mean it")


@dataclass
class Started:
    """A change made: what to follow to see it converge."""

    services: dict[str, Baseline]
    summary: str


async def post_update(ops: ClusterOps, data: dict[str, Any], spec: dict[str, Any], *,
                      auth: RegistryAuth | None = None, **params: Any) -> None:
    """AUTH: registry credentials sent for the spec's image, so the nodes can pull it. If the
    connection breaks, the service is read back to tell applied from not applied."""
    image = spec["TaskTemplate"].get("ContainerSpec", {}).get("Image", "")
    # what the service must look like once the change landed (a rollback: its previous spec)
    expected = data.get("PreviousSpec") or spec if params.get("rollback") else spec
    await ops.write_versioned(
        lambda: ops.docker.request(
            "POST", f"/services/{data['ID']}/update",
            params={"version": data["Version"]["Index"], **params}, body=spec,
            headers=auth.headers(image) if auth else None),
        what=f"service {spec.get('Name', data['ID'])}", path=f"/services/{data['ID']}",
        sent_index=data["Version"]["Index"],
        landed=lambda now: _same_change(now.get("Spec") or {}, expected))


def _same_change(now: dict[str, Any], sent: dict[str, Any]) -> bool:
    """Does the service's spec NOW carry what SENT asked for, in the fields swarmdeck's
    changes set (the engine fills defaults in elsewhere)?"""
    def fields(spec: dict[str, Any]) -> tuple[Any, ...]:
        template = spec.get("TaskTemplate") or {}
        container = template.get("ContainerSpec") or {}
        return (spec.get("Mode"), container.get("Image"), template.get("ForceUpdate") or 0,
                sorted((template.get("Placement") or {}).get("Constraints") or []),
                sorted(r.get("SecretID", "") for r in container.get("Secrets") or []),
                sorted(r.get("ConfigID", "") for r in container.get("Configs") or []))
    return fields(now) == fields(sent)


async def image_auth(ops: ClusterOps, spec: dict[str, Any]) -> RegistryAuth:
    """The configured registry's credentials for the spec's image."""
    image = spec["TaskTemplate"].get("ContainerSpec", {}).get("Image", "")
    return await resolve_async(ops.config, ops.cluster, [image])


async def check_scales(ops: ClusterOps, wanted: Mapping[str, int], *,
                       force: bool = False) -> list[dict[str, Any]]:
    """Every service named, checked: replicated, and a count the cluster can hold (beyond
    max_replicas or 10x the current count needs FORCE). Their inspect data, in order."""
    found = await asyncio.gather(*(ops.service(name) for name in wanted))
    limit = ops.config.cluster(ops.cluster).max_replicas if ops.config else 1000
    for (name, count), data in zip(wanted.items(), found, strict=True):
        mode = data["Spec"].get("Mode") or {}
        if "Replicated" not in mode:
            kind = next(iter(mode), "global").lower()
            raise UsageError(f"{name} is a {kind} service: it cannot be scaled",
                             hint="only replicated services have a replica count")
        current = (mode["Replicated"] or {}).get("Replicas", 1)
        check_scale(name, current, count, limit, force=force)
    return list(found)


async def scale(ops: ClusterOps, wanted: Mapping[str, int], *,
                force: bool = False) -> Started:
    """Scale several services at once; every name and count is checked before the first
    change (counts beyond max_replicas or 10x the current one need FORCE)."""
    ops.check_writable("scale", ", ".join(wanted))
    found = await check_scales(ops, wanted, force=force)
    bases = {d["ID"]: await baseline(ops.docker, d["ID"]) for d in found}
    parts: list[str] = []
    for count, data in zip(wanted.values(), found, strict=True):
        spec = data["Spec"]
        before = spec["Mode"]["Replicated"].get("Replicas", 1)
        spec["Mode"]["Replicated"]["Replicas"] = count

        async def work(data=data, spec=spec) -> None:
            await post_update(ops, data, spec)

        try:
            await ops.guarded("scale", spec["Name"], {"replicas": count, "from": before},
                              work)
        except SwarmdeckError as exc:
            if not parts:
                raise
            raise OperationFailed(f"scaled {', '.join(parts)}; then {spec['Name']} failed, "
                                  f"it and the rest were not changed: {exc}") from None
        parts.append(f"{spec['Name']} {before} -> {count}")
    return Started(bases, "scaled " + ", ".join(parts))


async def update_image(ops: ClusterOps, name: str, image: str, *,
                       docker_login: bool = False) -> Started:
    """Credentials of a configured registry go along; DOCKER_LOGIN (--with-registry-auth)
    adds what `docker login` stored."""
    check_image(image)
    ops.check_writable("update image", name)
    auth = await resolve_async(ops.config, ops.cluster, [image], docker_login=docker_login)
    data = await ops.service(name)
    spec = data["Spec"]
    container = spec["TaskTemplate"]["ContainerSpec"]
    before = container.get("Image", "")
    shown = before.split("@", 1)[0]
    if before in (image, f"{image}@{before.partition('@')[2]}") and "@" not in image:
        return Started({}, f"{spec['Name']} already runs {shown}: nothing to change")
    container["Image"] = image
    base = {data["ID"]: await baseline(ops.docker, data["ID"], expect_update=True)}
    params = {"image": image, "from": before, **({"registry_auth": True} if auth else {})}
    await ops.guarded("update image", spec["Name"], params,
                      lambda: post_update(ops, data, spec, auth=auth))
    return Started(base, f"{spec['Name']}: image {shown} -> {image}")


async def registry_digest(ops: ClusterOps, ref: str, auth: RegistryAuth | None) -> str:
    """The digest REF's tag points at in its registry now, as the manager's engine reads it
    (GET /distribution: the manager's registry access, insecure registries and mirrors, as
    `docker service update` resolves it)."""
    from urllib.parse import quote

    try:
        data = await ops.docker.request(
            "GET", f"/distribution/{quote(ref, safe='/:@')}/json",
            headers=auth.headers(ref) if auth else None)
    except DockerAPIError as exc:
        raise OperationFailed(f"the registry could not resolve {ref}: {exc}",
                              hint="check the tag, and the cluster's registry credentials "
                                   "([clusters.NAME.registries] or --with-registry-auth)"
                              ) from None
    digest = ((data or {}).get("Descriptor") or {}).get("digest")
    if not digest:
        raise OperationFailed(f"the registry gave no digest for {ref}")
    return str(digest)


def _short(digest: str | None) -> str:
    return digest.split(":", 1)[-1][:12] if digest else "unpinned"


async def pull_update(ops: ClusterOps, name: str, image: str | None = None, *,
                      docker_login: bool = False) -> Started:
    """Resolve IMAGE (default: the service's own tag) to the digest its registry holds now
    and move the service to it, only when it changed."""
    ops.check_writable("update image", name)
    data = await ops.service(name)
    spec = data["Spec"]
    container = spec["TaskTemplate"]["ContainerSpec"]
    before = container.get("Image", "")
    ref = check_image(image) if image else before.split("@", 1)[0]
    if "@" in ref:
        raise UsageError(f"{ref} is pinned to a digest: --pull resolves a tag",
                         hint="give the tag, e.g. --image repo:1.2")
    auth = await resolve_async(ops.config, ops.cluster, [ref], docker_login=docker_login)
    digest = await registry_digest(ops, ref, auth)
    old = before.partition("@")[2] or None
    target = f"{ref}@{digest}"
    if before == target:
        return Started({}, f"{spec['Name']}: {ref} is still {_short(digest)} in the registry: "
                           "nothing to change")
    container["Image"] = target
    base = {data["ID"]: await baseline(ops.docker, data["ID"], expect_update=True)}
    params = {"image": target, "from": before, "pull": True,
              **({"registry_auth": True} if auth else {})}
    await ops.guarded("update image", spec["Name"], params,
                      lambda: post_update(ops, data, spec, auth=auth))
    moved = ref if before.split("@", 1)[0] == ref else f"{before.split('@', 1)[0]} -> {ref}"
    return Started(base, f"{spec['Name']}: {moved} {_short(old)} -> {_short(digest)}")


async def restart(ops: ClusterOps, name: str) -> Started:
    """Replace every task (docker service update --force)."""
    ops.check_writable("restart", name)
    data = await ops.service(name)
    spec = data["Spec"]
    template = spec["TaskTemplate"]
    template["ForceUpdate"] = int(template.get("ForceUpdate") or 0) + 1
    auth = await image_auth(ops, spec)  # new tasks pull the image
    base = {data["ID"]: await baseline(ops.docker, data["ID"], expect_update=True)}
    await ops.guarded("restart", spec["Name"], {},
                      lambda: post_update(ops, data, spec, auth=auth))
    return Started(base, f"{spec['Name']}: restarting every task")


async def rollback(ops: ClusterOps, name: str) -> Started:
    ops.check_writable("rollback", name)
    data = await ops.service(name)
    if not data.get("PreviousSpec"):
        raise Refused(f"{data['Spec']['Name']} has no previous spec to roll back to",
                      hint="a service gets one after its first update")
    auth = await image_auth(ops, data["PreviousSpec"])  # the previous image is pulled again
    base = {data["ID"]: await baseline(ops.docker, data["ID"], expect_update=True)}
    await ops.guarded("rollback", data["Spec"]["Name"], {},
                      lambda: post_update(ops, data, data["Spec"], auth=auth,
                                          rollback="previous"))
    return Started(base, f"{data['Spec']['Name']}: rolling back to the previous spec")


async def remove_service(ops: ClusterOps, name: str) -> str:
    ops.check_writable("remove service", name)
    data = await ops.service(name)
    await ops.guarded("remove service", data["Spec"]["Name"], {},
                      lambda: ops.docker.request("DELETE", f"/services/{data['ID']}"))
    return f"removed service {data['Spec']['Name']}"


async def stack_objects(ops: ClusterOps, stack: str) -> dict[str, list[dict[str, Any]]]:
    """The stack's services, networks, configs and secrets (one request each, together)."""
    flt = json.dumps({"label": [f"{STACK_LABEL}={stack}"]})
    kinds = ("services", "networks", "configs", "secrets")
    found = await asyncio.gather(*(ops.docker.get(f"/{k}", filters=flt) for k in kinds))
    return dict(zip(kinds, found, strict=True))


async def missing_stack(ops: ClusterOps, stack: str) -> UsageError:
    """The error for a stack the cluster does not have, naming the ones it has."""
    names = await _stack_names(ops)
    return UsageError(f"no stack {stack!r} in cluster {ops.cluster}"
                      f"{did_you_mean(stack, names, 'stacks')}")


async def remove_stack(ops: ClusterOps, stack: str) -> str:
    """docker stack rm: services first, then networks, configs and secrets."""
    ops.check_writable("remove stack", stack)
    objects = await stack_objects(ops, stack)
    if not any(objects.values()):
        raise await missing_stack(ops, stack)

    async def work() -> str:
        removed: list[str] = []
        for service in objects["services"]:
            await _delete(ops, f"/services/{service['ID']}")
            removed.append(service["Spec"]["Name"])
        # networks go once their tasks are gone: retry a few times like the CLI's waiters
        for net in objects["networks"]:
            for attempt in range(20):
                try:
                    await _delete(ops, f"/networks/{net['Id']}")
                    break
                except DockerAPIError:
                    if attempt == 19:
                        raise
                    await asyncio.sleep(0.5)
            removed.append(net["Name"])
        for kind in ("configs", "secrets"):
            for obj in objects[kind]:
                await _delete(ops, f"/{kind}/{obj['ID']}")
                removed.append(obj["Spec"]["Name"])
        return f"removed stack {stack}: " + ", ".join(removed)

    return await ops.guarded("remove stack", stack, {
        "services": [s["Spec"]["Name"] for s in objects["services"]]}, work)


async def _delete(ops: ClusterOps, path: str) -> None:
    with contextlib.suppress(NotFound):  # already gone: that is what was asked
        await ops.docker.request("DELETE", path)


async def _stack_names(ops: ClusterOps) -> list[str]:
    services = await ops.docker.get("/services")
    return sorted({(s["Spec"].get("Labels") or {}).get(STACK_LABEL, "") for s in services} - {""})
