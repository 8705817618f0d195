"""`plan_changes`: what deploying a stack would change on the cluster, per service and in
plain words, read before anything is written; the images looked up in their registries as the
deploy will (`resolve_images`), so a tag that names another image now is a change."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from swarmdeck.core.errors import DockerAPIError
from swarmdeck.core.models import STACK_LABEL, split_image
from swarmdeck.core.ops.base import ClusterOps
from swarmdeck.core.ops.compose import IMAGE_LABEL, StackPlan
from swarmdeck.core.ops.deploy_diff import (
    FieldChange,
    canonical_spec,
    field_changes,
    normalize_image,
    spec_summary,
)
from swarmdeck.core.registries import RegistryAuth
from swarmdeck.core.transport.docker import api_too_old

# Fields of a service spec newer than the oldest engine swarmdeck drives (API 1.41): an older
# engine drops them without a word (so does it for docker stack deploy), so they are named
# in the preview and left out of the comparison. (compose key, path, API, Docker release)
NEWER_FIELDS = (
    ("healthcheck.start_interval", ("TaskTemplate", "ContainerSpec", "Healthcheck",
                                    "StartInterval"), "1.44", "25.0"),
    ("oom_score_adj", ("TaskTemplate", "ContainerSpec", "OomScoreAdj"), "1.46", "27.0"),
)


@dataclass(frozen=True)
class ServiceChange:
    name: str  # STACK_service
    action: str  # create | update | unchanged | remove
    details: tuple[str, ...] = ()
    fields: tuple[FieldChange, ...] = ()  # an update's differences, field by field


@dataclass(frozen=True)
class DeployPreview:
    cluster: str
    stack: str
    prune: bool
    services: tuple[ServiceChange, ...]
    create: tuple[str, ...] = ()  # "network X", "config Y", "secret Z"
    relabel: tuple[str, ...] = ()  # existing configs/secrets whose labels change
    notes: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()  # apply refuses while there are any
    warnings: tuple[str, ...] = ()  # what the file says that is ignored or changed on the way

    @property
    def changed(self) -> bool:
        return bool(self.create or self.relabel
                    or any(s.action != "unchanged" for s in self.services))

    def lines(self) -> list[str]:
        out = [f"deploy stack {self.stack} on cluster {self.cluster}"
               + (" (prune)" if self.prune else "")]
        out += [f"  warning: {w}" for w in self.warnings]
        out += [f"  create {what}" for what in self.create]
        out += [f"  update labels of {what}" for what in self.relabel]
        for s in self.services:
            out.append(f"  {s.action} service {s.name}")
            out += [f"      {d}" for d in s.details]
        out += [f"  note: {n}" for n in self.notes]
        out += [f"  problem: {p}" for p in self.problems]
        if not self.changed and not self.problems:
            out.append("  nothing to change")
        return out


# ---- what is there -----------------------------------------------------------------------
@dataclass
class StackState:
    """What the cluster has of a stack: read for the preview, and read again by apply."""

    services: dict[str, dict[str, Any]]  # name -> inspect (stack only)
    networks: list[dict[str, Any]]  # every network (external ones are named by ID in specs)
    configs: dict[str, dict[str, Any]]  # name -> inspect (stack only)
    secrets: dict[str, dict[str, Any]]
    api_version: str | None = None  # the engine's, when known

    def network_names(self) -> dict[str, str]:
        return {n.get("Id") or n.get("ID", ""): n.get("Name", "") for n in self.networks}


async def fetch_state(ops: ClusterOps, stack: str) -> StackState:
    filters = {"label": [f"{STACK_LABEL}={stack}"]}
    services, networks, configs, secrets = await asyncio.gather(
        ops.docker.get("/services", filters=filters),
        ops.docker.get("/networks"),
        ops.docker.get("/configs", filters=filters),
        ops.docker.get("/secrets", filters=filters),
    )
    return StackState({s["Spec"]["Name"]: s for s in services or []}, networks or [],
                      {c["Spec"]["Name"]: c for c in configs or []},
                      {s["Spec"]["Name"]: s for s in secrets or []},
                      getattr(ops.docker, "api_version", None))


def engine_drops(spec: Mapping[str, Any], api_version: str | None
                 ) -> tuple[dict[str, Any], list[str]]:
    """SPEC without the fields an engine of API_VERSION does not know, and what each is."""
    kept, dropped = copy.deepcopy(dict(spec)), []
    for key, path, needs, release in NEWER_FIELDS:
        if not api_version or not api_too_old(api_version, needs):
            continue
        parent = kept
        for part in path[:-1]:
            parent = parent.get(part) or {}
        if parent.get(path[-1]):
            parent.pop(path[-1])
            dropped.append(f"{key} needs Docker engine API {needs} (Docker {release}); this "
                           f"engine speaks {api_version} and drops it: the service runs "
                           "without it (as with docker stack deploy)")
    return kept, dropped


def declared_changes(running: Mapping[str, Any], declared: Mapping[str, Any],
                     network_names: Mapping[str, str], api_version: str | None
                     ) -> list[FieldChange]:
    """How a service's DECLARED spec (the file's) differs from its RUNNING one, as a deploy
    sees it: both made canonical, and the fields an engine of API_VERSION drops left out of
    the declared one (the engine would run it without them: not a difference). The one
    comparison the preview, `swarmdeck drift` and the projects tree's mark share."""
    kept, _dropped = engine_drops(declared, api_version)
    return field_changes(canonical_spec(running, network_names),
                         canonical_spec(kept, network_names))


# an image as deployed: its reference pinned by digest (when the registry answered), and the
# platforms it exists for
ResolvedImage = tuple[str, list[dict[str, str]]]


def registry_headers(auth: str | RegistryAuth | None, image: str) -> dict[str, str]:
    if isinstance(auth, str):
        return {"X-Registry-Auth": auth}
    return auth.headers(image) if auth else {}


async def resolve_images(ops: ClusterOps, plan: StackPlan, auth: str | RegistryAuth | None,
                         warnings: list[str] | None = None) -> dict[str, ResolvedImage]:
    """image -> (image pinned by digest, platforms), as `--resolve-image always` does; an
    image the registry does not answer for stays as it is (WARNINGS says so)."""
    tagged = {normalize_image(s["TaskTemplate"]["ContainerSpec"]["Image"])
              for s in plan.services.values()}

    async def resolve(image: str) -> ResolvedImage:
        try:
            found = await ops.docker.request("GET", f"/distribution/{image}/json",
                                             headers=registry_headers(auth, image))
        except DockerAPIError as exc:
            if warnings is not None:
                warnings.append(f"image {image} could not be looked up in its registry "
                                f"({exc}); each node will pull it by tag")
            return image, []
        digest = (found.get("Descriptor") or {}).get("digest", "")
        pinned = image if "@" in image or not digest else f"{image}@{digest}"
        platforms = [{"Architecture": "" if (p.get("architecture") or "").lower() == "arm"
                      else p.get("architecture", ""), "OS": p.get("os", "")}
                     for p in found.get("Platforms") or []]
        return pinned, platforms

    images = sorted(tagged)
    return dict(zip(images, await asyncio.gather(*(resolve(i) for i in images)), strict=True))


async def plan_changes(ops: ClusterOps, plan: StackPlan, *, prune: bool = False,
                       registry_auth: str | RegistryAuth | None = None) -> DeployPreview:
    """What deploying PLAN would change on the cluster: four reads made in parallel, and one
    registry lookup per image (with REGISTRY_AUTH, as the deploy will look them up), so a
    tag that now names another image is seen."""
    state, images = await asyncio.gather(fetch_state(ops, plan.stack),
                                         resolve_images(ops, plan, registry_auth))
    return build_preview(ops.cluster, plan, state, prune, images)


def _moved_tag(planned: Mapping[str, Any], current: Mapping[str, Any],
               images: Mapping[str, ResolvedImage]) -> FieldChange | None:
    """The detail for a service whose tag is the file's still but names another image now."""
    tagged = planned["TaskTemplate"]["ContainerSpec"]["Image"]
    if (current.get("Labels") or {}).get(IMAGE_LABEL) != tagged:
        return None  # a new tag: said as an image change
    new = split_image(images.get(normalize_image(tagged), ("", []))[0])[1]
    old = split_image((current.get("TaskTemplate") or {}).get("ContainerSpec", {})
                      .get("Image", ""))[1]
    if not new or not old or new == old:
        return None
    return FieldChange("image digest", old, new,
                       f"image digest: {old[:19]}… -> {new[:19]}… ({tagged} now names "
                       "another image; the nodes pull it)")


def build_preview(cluster: str, plan: StackPlan, state: StackState, prune: bool,
                  images: Mapping[str, ResolvedImage] | None = None) -> DeployPreview:
    create, relabel, notes, problems = [], [], [], []
    stack_networks = {n["Name"]: n for n in state.networks
                      if (n.get("Labels") or {}).get(STACK_LABEL) == plan.stack}
    for name, body in plan.networks.items():
        current = stack_networks.get(name)
        if current is None:
            create.append(f"network {name}")
        elif differences := _network_differences(body, current):
            notes.append(f"network {name} exists with other settings ({differences}); "
                         "networks are never updated: remove the stack to recreate it")
    for kind, specs, existing in (("config", plan.configs, state.configs),
                                  ("secret", plan.secrets, state.secrets)):
        for name, spec in specs.items():
            current = existing.get(name)
            if current is None:
                create.append(f"{kind} {name}")
                continue
            data = current["Spec"].get("Data")
            if kind == "config" and data is not None and data != spec["Data"]:
                problems.append(f"config {name} has new content, and configs cannot be "
                                f"changed: give it a new name (name: {name}_v2) so services "
                                "move to it")
            if (current["Spec"].get("Labels") or {}) != spec["Labels"]:
                relabel.append(f"{kind} {name}")
    names = state.network_names()
    changes, warnings = [], list(plan.warnings)
    for key in sorted(plan.services):
        spec, dropped = engine_drops(plan.services[key], state.api_version)
        warnings += [f"services.{key}: {d}" for d in dropped]
        current = state.services.get(spec["Name"])
        if current is None:
            changes.append(ServiceChange(spec["Name"], "create", spec_summary(spec)))
            continue
        found = declared_changes(current["Spec"], plan.services[key], names,
                                 state.api_version)
        moved = _moved_tag(spec, current["Spec"], images or {})
        found = [moved, *found] if moved else found
        changes.append(ServiceChange(spec["Name"], "update" if found else "unchanged",
                                     tuple(c.text for c in found), tuple(found)))
    planned = {spec["Name"] for spec in plan.services.values()}
    for name in sorted(set(state.services) - planned):
        if prune:
            changes.append(ServiceChange(name, "remove"))
        else:
            notes.append(f"service {name} is no longer in the file; kept (prune removes it)")
    return DeployPreview(cluster, plan.stack, prune, tuple(changes), tuple(create),
                         tuple(relabel), tuple(notes), tuple(problems), tuple(warnings))


def _network_differences(body: Mapping[str, Any], current: Mapping[str, Any]) -> str:
    found = []
    for key in ("Driver", "Internal", "Attachable", "Options", "Labels"):
        want, have = body.get(key), current.get(key)
        if key == "Options":  # the overlay driver adds its VXLAN IDs
            want = want or {}
            have = {k: v for k, v in (have or {}).items() if not k.endswith("vxlanid_list")}
        elif isinstance(want, bool):
            have = bool(have)
        if have != want:
            found.append(f"{key.lower()} {have!r}, file says {want!r}")
    return "; ".join(found)
