"""`docker stack deploy`, in two steps an operator can read between: `plan_changes` says what
would change (per service, in plain words), `apply` makes exactly those changes.

Apply checks everything it can before the first write (the preview still holds, external
objects exist, no name is taken outside the stack, configs and secrets are unchanged, images
resolve); then it creates networks, configs and secrets, creates or updates services as the
docker CLI does (same specs, image pinned by digest, ForceUpdate kept), and prunes last.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import re
import shlex
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from swarmdeck.core.errors import (
    DockerAPIError,
    OperationFailed,
    Refused,
    TransportError,
    UsageError,
)
from swarmdeck.core.models import STACK_LABEL, PublishedPort, split_image
from swarmdeck.core.ops.base import ClusterOps
from swarmdeck.core.ops.compose import IMAGE_LABEL, StackPlan

MASKED_NAMES = re.compile(r"passw|pwd|token|secret|credential|api_?key|private_?key", re.I)
_DURATIONS = {"Delay", "Monitor", "Window", "Interval", "Timeout", "StartPeriod",
              "StopGracePeriod"}


@dataclass(frozen=True)
class ServiceChange:
    name: str  # STACK_service
    action: str  # create | update | unchanged | remove
    details: tuple[str, ...] = ()


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

    @property
    def changed(self) -> bool:
        return bool(self.create or self.relabel
                    or any(s.action != "unchanged" for s in self.services))

    def lines(self) -> list[str]:
        out = [f"deploy stack {self.stack} on cluster {self.cluster}"
               + (" (prune)" if self.prune else "")]
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


@dataclass(frozen=True)
class DeployResult:
    stack: str
    applied: tuple[str, ...]
    service_ids: dict[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        return ([f"stack {self.stack}: {len(self.applied)} steps applied"]
                + [f"  {step}" for step in self.applied]
                + [f"  warning: {w}" for w in self.warnings])


def registry_auth(username: str, password: str, server: str = "") -> str:
    """The X-Registry-Auth value `--with-registry-auth` sends (base64url of a JSON object)."""
    payload = json.dumps({"username": username, "password": password,
                          "serveraddress": server})
    return base64.urlsafe_b64encode(payload.encode()).decode()


# ---- what is there -----------------------------------------------------------------------
@dataclass
class _State:
    services: dict[str, dict[str, Any]]  # name -> inspect (stack only)
    networks: list[dict[str, Any]]  # every network (external ones are named by ID in specs)
    configs: dict[str, dict[str, Any]]  # name -> inspect (stack only)
    secrets: dict[str, dict[str, Any]]

    def network_names(self) -> dict[str, str]:
        return {n.get("Id") or n.get("ID", ""): n.get("Name", "") for n in self.networks}


async def _fetch(ops: ClusterOps, stack: str) -> _State:
    filters = {"label": [f"{STACK_LABEL}={stack}"]}
    services, networks, configs, secrets = await asyncio.gather(
        ops.docker.get("/services", filters=filters),
        ops.docker.get("/networks"),
        ops.docker.get("/configs", filters=filters),
        ops.docker.get("/secrets", filters=filters),
    )
    return _State({s["Spec"]["Name"]: s for s in services or []}, networks or [],
                  {c["Spec"]["Name"]: c for c in configs or []},
                  {s["Spec"]["Name"]: s for s in secrets or []})


async def plan_changes(ops: ClusterOps, plan: StackPlan, *, prune: bool = False
                       ) -> DeployPreview:
    """What deploying PLAN would change on the cluster (four reads, made in parallel)."""
    return _preview(ops.cluster, plan, await _fetch(ops, plan.stack), prune)


def _preview(cluster: str, plan: StackPlan, state: _State, prune: bool) -> DeployPreview:
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
    changes = []
    for key in sorted(plan.services):
        spec = plan.services[key]
        current = state.services.get(spec["Name"])
        if current is None:
            changes.append(ServiceChange(spec["Name"], "create", _summary(spec)))
            continue
        details = _differences(_canonical(current["Spec"], names), _canonical(spec, names))
        changes.append(ServiceChange(spec["Name"], "update" if details else "unchanged",
                                     tuple(details)))
    planned = {spec["Name"] for spec in plan.services.values()}
    for name in sorted(set(state.services) - planned):
        if prune:
            changes.append(ServiceChange(name, "remove"))
        else:
            notes.append(f"service {name} is no longer in the file; kept (prune removes it)")
    return DeployPreview(cluster, plan.stack, prune, tuple(changes), tuple(create),
                         tuple(relabel), tuple(notes), tuple(problems))


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


# ---- comparing specs ---------------------------------------------------------------------
def normalize_image(ref: str) -> str:
    """`nginx` -> `nginx:latest`, `docker.io/library/nginx:1` -> `nginx:1`: what the engine
    client sends (reference.TagNameOnly + FamiliarString). Unparsable refs stay as they are."""
    name, _, digest = ref.partition("@")
    tag = None
    if name.rfind(":") > name.rfind("/"):
        name, tag = name.rsplit(":", 1)
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        domain, path = first, rest
    else:
        domain, path = "docker.io", name
    if domain == "index.docker.io":
        domain = "docker.io"
    component = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    if not re.fullmatch(rf"{component}(?:/{component})*", path) or tag == "":
        return ref
    if domain == "docker.io" and path.startswith("library/") and path.count("/") == 1:
        path = path.removeprefix("library/")
    familiar = path if domain == "docker.io" else f"{domain}/{path}"
    if tag is None and not digest:
        tag = "latest"
    return familiar + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def _canonical(spec: Mapping[str, Any], network_names: Mapping[str, str]) -> dict[str, Any]:
    """A spec with what the server or the registry adds taken out and defaults filled in, so
    the cluster's copy and the file's compare equal when a deploy would change nothing."""
    spec = copy.deepcopy(dict(spec))
    labels = spec.setdefault("Labels", {}) or {}
    labels.pop(STACK_LABEL, None)
    task = spec.get("TaskTemplate") or {}
    container = task.get("ContainerSpec") or {}
    image = labels.pop(IMAGE_LABEL, None) or split_image(container.get("Image", ""))[0]
    container.pop("Image", None)
    spec["Image"] = normalize_image(image)
    (container.get("Labels") or {}).pop(STACK_LABEL, None)
    for kind, key in (("Configs", "ConfigID"), ("Secrets", "SecretID")):
        for ref in container.get(kind) or []:
            ref.pop(key, None)
    if container.get("Isolation") == "default":
        container.pop("Isolation")
    for key in ("ForceUpdate", "Runtime"):
        task.pop(key, None)
    (task.get("Placement") or {}).pop("Platforms", None)
    for net in task.get("Networks") or []:
        net["Target"] = network_names.get(net["Target"], net["Target"])
    task["Networks"] = sorted(task.get("Networks") or [], key=lambda n: n["Target"])
    endpoint = spec.setdefault("EndpointSpec", {}) or {}
    endpoint["Mode"] = endpoint.get("Mode") or "vip"
    for port in endpoint.get("Ports") or []:
        port["Protocol"] = port.get("Protocol") or "tcp"
        port["PublishMode"] = port.get("PublishMode") or "ingress"
    replicated = (spec.get("Mode") or {}).get("Replicated")
    if replicated is not None and replicated.get("Replicas") is None:
        replicated["Replicas"] = 1
    for key in ("UpdateConfig", "RollbackConfig"):
        if spec.get(key):
            spec[key]["FailureAction"] = spec[key].get("FailureAction") or "pause"
            spec[key]["Order"] = spec[key].get("Order") or "stop-first"
    if task.get("RestartPolicy"):
        task["RestartPolicy"]["Condition"] = task["RestartPolicy"].get("Condition") or "any"
    return _prune(spec)


def _prune(value: Any) -> Any:
    """Absent, null, zero, false and empty all mean "not set" to the engine."""
    if isinstance(value, dict):
        pruned = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, "", 0, False, [], {})}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def _summary(spec: Mapping[str, Any]) -> tuple[str, ...]:
    c = _canonical(spec, {})
    out = [f"image {c['Image']}", _mode(c)]
    ports = _ports(c)
    if ports:
        out.append("ports " + ", ".join(ports))
    return tuple(out)


def _mode(c: Mapping[str, Any]) -> str:
    mode = c.get("Mode") or {"Replicated": {}}
    kind = next(iter(mode))
    if kind == "Replicated":
        return f"replicas {mode[kind].get('Replicas', 0)}"
    if kind == "ReplicatedJob":
        return f"job, {mode[kind].get('TotalCompletions', 1)} completions"
    return {"Global": "global", "GlobalJob": "global job"}.get(kind, kind)


def _ports(c: Mapping[str, Any]) -> list[str]:
    return [str(PublishedPort(target=p.get("TargetPort", 0), published=p.get("PublishedPort"),
                              protocol=p["Protocol"], mode=p["PublishMode"]))
            for p in (c.get("EndpointSpec") or {}).get("Ports") or []]


def _env(c: Mapping[str, Any]) -> dict[str, str | None]:
    env = (c.get("TaskTemplate") or {}).get("ContainerSpec", {}).get("Env") or []
    return {k: (v if sep else None) for k, sep, v in (e.partition("=") for e in env)}


def _mounts(c: Mapping[str, Any]) -> list[str]:
    mounts = (c.get("TaskTemplate") or {}).get("ContainerSpec", {}).get("Mounts") or []
    return [f"{m.get('Type', 'volume')} {m.get('Source', '(anonymous)')} -> {m['Target']}"
            + (" (read-only)" if m.get("ReadOnly") else "") for m in mounts]


def _networks(c: Mapping[str, Any]) -> list[str]:
    return [n["Target"] + (f" (aliases {', '.join(n['Aliases'])})" if n.get("Aliases") else "")
            for n in (c.get("TaskTemplate") or {}).get("Networks") or []]


def _command(c: Mapping[str, Any]) -> str:
    container = (c.get("TaskTemplate") or {}).get("ContainerSpec") or {}
    words = (container.get("Command") or []) + (container.get("Args") or [])
    return shlex.join(words) if words else "(the image's)"


def _cpus(nano: int) -> str:
    return f"{nano / 1e9:g} CPU"


def _bytes(size: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:g} {unit}" if unit == "B" else f"{size:.4g} {unit}"
        size /= 1024  # type: ignore[assignment]
    return str(size)


def _resources(c: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for part, values in ((c.get("TaskTemplate") or {}).get("Resources") or {}).items():
        for key, value in values.items():
            shown = _cpus(value) if key == "NanoCPUs" else _bytes(value) \
                if key == "MemoryBytes" else str(value)
            name = {"NanoCPUs": "cpus", "MemoryBytes": "memory"}.get(key, key.lower())
            out[f"{part.lower()} {name}"] = shown
    return out


def _mapping_changes(what: str, before: Mapping[str, Any], after: Mapping[str, Any],
                     masked: bool = False) -> list[str]:
    def shown(key: str, value: Any) -> str:
        if value is None:
            return key
        return f"{key}=****" if masked and MASKED_NAMES.search(key) else f"{key}={value}"
    out = [f"{what} added: {shown(k, after[k])}" for k in sorted(set(after) - set(before))]
    out += [f"{what} removed: {k}" for k in sorted(set(before) - set(after))]
    for key in sorted(set(before) & set(after)):
        if before[key] != after[key]:
            out.append(f"{what} changed: {key} (value hidden)" if masked
                       and MASKED_NAMES.search(key) else
                       f"{what} changed: {shown(key, before[key])} -> {after[key]}")
    return out


def _list_changes(what: str, before: list[str], after: list[str]) -> list[str]:
    if before == after:
        return []
    added = [x for x in after if x not in before]
    removed = [x for x in before if x not in after]
    if not added and not removed:
        return [f"{what}: order changed"]
    return [f"{what} added: {x}" for x in added] + [f"{what} removed: {x}" for x in removed]


# each aspect: how to read it from a canonical spec, and the paths it accounts for
_ASPECTS: list[tuple[str, Callable[[Mapping[str, Any]], Any], tuple[str, ...]]] = [
    ("image", lambda c: c.get("Image"), ("Image",)),
    ("mode", _mode, ("Mode",)),
    ("env", _env, ("TaskTemplate.ContainerSpec.Env",)),
    ("ports", _ports, ("EndpointSpec.Ports",)),
    ("constraints", lambda c: (c.get("TaskTemplate") or {}).get("Placement", {})
     .get("Constraints") or [], ("TaskTemplate.Placement.Constraints",)),
    ("resources", _resources, ("TaskTemplate.Resources",)),
    ("labels", lambda c: c.get("Labels") or {}, ("Labels",)),
    ("container labels", lambda c: (c.get("TaskTemplate") or {}).get("ContainerSpec", {})
     .get("Labels") or {}, ("TaskTemplate.ContainerSpec.Labels",)),
    ("networks", _networks, ("TaskTemplate.Networks",)),
    ("mounts", _mounts, ("TaskTemplate.ContainerSpec.Mounts",)),
    ("command", _command, ("TaskTemplate.ContainerSpec.Command",
                           "TaskTemplate.ContainerSpec.Args")),
]


def _differences(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """What changes from BEFORE to AFTER (canonical specs), in words an operator reads."""
    out: list[str] = []
    for what, read, _paths in _ASPECTS:
        old, new = read(before), read(after)
        if old == new:
            continue
        if isinstance(new, dict):
            out += _mapping_changes(what, old, new, masked=what == "env")
        elif isinstance(new, list):
            out += _list_changes(what, old, new)
        elif what == "mode" and old.startswith("replicas") and new.startswith("replicas"):
            out.append(f"replicas: {old.split()[1]} -> {new.split()[1]}")
        else:
            out.append(f"{what}: {old} -> {new}")
    covered = tuple(path for _w, _r, paths in _ASPECTS for path in paths)
    flat_before, flat_after = _flatten(before), _flatten(after)
    for path in sorted(set(flat_before) | set(flat_after)):
        if path.startswith(covered) or flat_before.get(path) == flat_after.get(path):
            continue
        name = path.replace("TaskTemplate.", "").replace("ContainerSpec.", "")
        out.append(f"{name}: {_shown(path, flat_before.get(path))} -> "
                   f"{_shown(path, flat_after.get(path))}")
    return out


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else key))
        return out
    return {prefix: value}


def _shown(path: str, value: Any) -> str:
    if value is None:
        return "(unset)"
    if path.rsplit(".", 1)[-1] in _DURATIONS and isinstance(value, int):
        return f"{value / 1e9:g}s"
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


# ---- applying ----------------------------------------------------------------------------
async def apply(ops: ClusterOps, plan: StackPlan, preview: DeployPreview, *,
                prune: bool = False, with_registry_auth: str | None = None) -> DeployResult:
    """Make the changes PREVIEW shows. WITH_REGISTRY_AUTH: an X-Registry-Auth value (see
    `registry_auth`) sent with the image lookups and the service creates and updates."""
    params = {"services": sorted(plan.services), "prune": prune,
              "registry_auth": with_registry_auth is not None}
    deployment = _Deployment(ops, plan, prune, with_registry_auth)
    return await ops.guarded("deploy", plan.stack, params, lambda: deployment.run(preview))


Step = tuple[str, Callable[[], Awaitable[None]]]


class _Deployment:
    def __init__(self, ops: ClusterOps, plan: StackPlan, prune: bool, auth: str | None) -> None:
        self.ops = ops
        self.plan = plan
        self.prune = prune
        self.headers = {"X-Registry-Auth": auth} if auth else {}
        self.ids: dict[str, str] = {}  # config/secret name -> ID
        self.service_ids: dict[str, str] = {}
        self.warnings: list[str] = []

    async def run(self, preview: DeployPreview) -> DeployResult:
        state = await _fetch(self.ops, self.plan.stack)
        await self._validate(preview, state)
        images = await self._resolve_images()
        steps = self._steps(state, images)
        done: list[str] = []
        for number, (what, write) in enumerate(steps, 1):
            try:
                await write()
            except (DockerAPIError, TransportError) as exc:
                raise self._failed(number, steps, done, exc) from exc
            done.append(what)
        return DeployResult(self.plan.stack, tuple(done), dict(self.service_ids),
                            tuple(self.warnings))

    def _failed(self, number: int, steps: list[Step], done: list[str],
                exc: Exception) -> OperationFailed:
        what = steps[number - 1][0]
        rest = [w for w, _ in steps[number:]]
        if isinstance(exc, TransportError):  # the answer was lost, not necessarily the write
            outcome = (f"Unknown whether applied: {what}. "
                       f"Not applied: {', '.join(rest) or 'nothing'}")
        else:
            outcome = f"Not applied: {', '.join([what, *rest])}"
        return OperationFailed(
            f"deploy of stack {self.plan.stack} on cluster {self.ops.cluster} stopped at step "
            f"{number} of {len(steps)} ({what}): {exc}. Applied: {', '.join(done) or 'nothing'}. "
            f"{outcome}.", hint="fix the cause and deploy again: what was applied is kept")

    # ---- before any write ----------------------------------------------------------------
    async def _validate(self, preview: DeployPreview, state: _State) -> None:
        plan, docker = self.plan, self.ops.docker
        if preview.stack != plan.stack or preview.prune != self.prune \
                or preview.cluster != self.ops.cluster:
            raise UsageError(f"the preview is for stack {preview.stack} on "
                             f"{preview.cluster}{' with prune' if preview.prune else ''}, "
                             "not for this deploy: preview again")
        fresh = _preview(self.ops.cluster, plan, state, self.prune)
        if fresh.lines() != preview.lines():
            raise Refused(f"stack {plan.stack} on cluster {self.ops.cluster} changed since "
                          "the preview: nothing was deployed", hint="preview again")
        problems = list(fresh.problems)
        by_name = {n["Name"]: n for n in state.networks}
        for name in plan.external_networks:
            net = by_name.get(name)
            if name in ("host", "bridge", "none"):
                continue
            if net is None:
                problems.append(f"external network {name} does not exist: create it "
                                "(docker network create -d overlay --scope swarm) first")
            elif net.get("Scope") != "swarm":
                problems.append(f"external network {name} is {net.get('Scope')}-scoped; "
                                "services need a swarm-scoped network")
        for name in plan.networks:
            if name in by_name and (by_name[name].get("Labels") or {}).get(STACK_LABEL) \
                    != plan.stack:
                problems.append(f"network {name} exists outside stack {plan.stack}")
        services, configs, secrets = await asyncio.gather(
            docker.get("/services", filters={"name": sorted(s["Name"] for s in
                                                            plan.services.values())}),
            docker.get("/configs", filters={"name": [*plan.configs, *plan.external_configs]}),
            docker.get("/secrets", filters={"name": [*plan.secrets, *plan.external_secrets]}))
        for kind, found, own, external in (
                ("service", services, [s["Name"] for s in plan.services.values()], []),
                ("config", configs, list(plan.configs), plan.external_configs),
                ("secret", secrets, list(plan.secrets), plan.external_secrets)):
            found_by_name = {x["Spec"]["Name"]: x for x in found or []}
            for name in own:
                other = found_by_name.get(name)
                if other and (other["Spec"].get("Labels") or {}).get(STACK_LABEL) \
                        != plan.stack:
                    problems.append(f"{kind} {name} exists outside stack {plan.stack}: "
                                    "remove or rename it")
            for name in external:
                if name not in found_by_name:
                    problems.append(f"external {kind} {name} does not exist: create it first")
                else:
                    self.ids[name] = found_by_name[name]["ID"]
        if not problems:
            problems += await self._probe_secrets(state)
        if problems:
            raise UsageError(f"deploy of stack {plan.stack} refused, nothing was changed: "
                             + "; ".join(problems))

    async def _probe_secrets(self, state: _State) -> list[str]:
        """The engine never shows a secret's content; an update that keeps the name and the
        labels changes nothing and is refused when the content differs: that tells."""
        problems = []
        for name, spec in self.plan.secrets.items():
            current = state.secrets.get(name)
            if current is None:
                continue
            body = {**spec, "Labels": current["Spec"].get("Labels") or {}}
            try:
                await self.ops.docker.request(
                    "POST", f"/secrets/{current['ID']}/update",
                    params={"version": current["Version"]["Index"]}, body=body)
            except DockerAPIError as exc:
                if "only updates to labels" not in str(exc).lower():
                    raise
                problems.append(f"secret {name} has new content, and secrets cannot be "
                                f"changed: give it a new name (name: {name}_v2) so services "
                                "move to it")
        return problems

    async def _resolve_images(self) -> dict[str, tuple[str, list[dict[str, str]]]]:
        """image -> (image pinned by digest, platforms), as `--resolve-image always` does;
        an image the registry does not answer for is deployed by tag, with a warning."""
        tagged = {normalize_image(s["TaskTemplate"]["ContainerSpec"]["Image"])
                  for s in self.plan.services.values()}

        async def resolve(image: str) -> tuple[str, list[dict[str, str]]]:
            try:
                found = await self.ops.docker.request("GET", f"/distribution/{image}/json",
                                                      headers=self.headers)
            except DockerAPIError as exc:
                self.warnings.append(f"image {image} could not be looked up in its registry "
                                     f"({exc}); each node will pull it by tag")
                return image, []
            digest = (found.get("Descriptor") or {}).get("digest", "")
            pinned = image if "@" in image or not digest else f"{image}@{digest}"
            platforms = [{"Architecture": "" if (p.get("architecture") or "").lower() == "arm"
                          else p.get("architecture", ""), "OS": p.get("os", "")}
                         for p in found.get("Platforms") or []]
            return pinned, platforms

        images = sorted(tagged)
        return dict(zip(images, await asyncio.gather(*(resolve(i) for i in images)),
                        strict=True))

    # ---- the writes, in order ------------------------------------------------------------
    def _steps(self, state: _State, images: Mapping[str, tuple[str, list[dict[str, str]]]]
               ) -> list[Step]:
        docker, plan = self.ops.docker, self.plan
        steps: list[Step] = []
        stack_networks = {n["Name"] for n in state.networks
                          if (n.get("Labels") or {}).get(STACK_LABEL) == plan.stack}
        for name, body in plan.networks.items():
            if name not in stack_networks:
                steps.append((f"create network {name}",
                              _call(docker.request, "POST", "/networks/create", body=body)))
        for kind, specs, existing in (("config", plan.configs, state.configs),
                                      ("secret", plan.secrets, state.secrets)):
            for name, spec in specs.items():
                current = existing.get(name)
                if current is None:
                    steps.append((f"create {kind} {name}", self._create_object(kind, spec)))
                    continue
                self.ids[name] = current["ID"]
                if (current["Spec"].get("Labels") or {}) != spec["Labels"]:
                    steps.append((f"update labels of {kind} {name}",
                                  self._relabel(kind, current["ID"], spec)))
        for key in sorted(plan.services):
            spec = plan.services[key]
            current = state.services.get(spec["Name"])
            verb = "create" if current is None else "update"
            steps.append((f"{verb} service {spec['Name']}",
                          self._deploy_service(spec, current, images)))
        if self.prune:
            planned = {s["Name"] for s in plan.services.values()}
            for name in sorted(set(state.services) - planned):
                steps.append((f"remove service {name}",
                              _call(docker.request, "DELETE",
                                    f"/services/{state.services[name]['ID']}")))
        return steps

    def _create_object(self, kind: str, spec: dict[str, Any]) -> Callable[[], Awaitable[None]]:
        async def create() -> None:
            created = await self.ops.docker.request("POST", f"/{kind}s/create", body=spec)
            self.ids[spec["Name"]] = created["ID"]
        return create

    def _relabel(self, kind: str, ident: str, spec: dict[str, Any]
                 ) -> Callable[[], Awaitable[None]]:
        async def relabel() -> None:  # the version moved if a probe touched it: read it now
            current = await self.ops.docker.get(f"/{kind}s/{ident}")
            await self.ops.docker.request("POST", f"/{kind}s/{ident}/update", body=spec,
                                          params={"version": current["Version"]["Index"]})
        return relabel

    def _deploy_service(self, planned: dict[str, Any], current: dict[str, Any] | None,
                        images: Mapping[str, tuple[str, list[dict[str, str]]]]
                        ) -> Callable[[], Awaitable[None]]:
        async def deploy() -> None:
            spec = copy.deepcopy(planned)
            task = spec["TaskTemplate"]
            container = task["ContainerSpec"]
            container["Image"], platforms = images[normalize_image(container["Image"])]
            if platforms:
                task["Placement"]["Platforms"] = platforms
            for kind, name_key, id_key in (("Configs", "ConfigName", "ConfigID"),
                                           ("Secrets", "SecretName", "SecretID")):
                for ref in container.get(kind) or []:
                    ref[id_key] = self.ids[ref[name_key]]
            docker = self.ops.docker
            if current is None:
                created = await docker.request("POST", "/services/create", body=spec,
                                               headers=self.headers)
                self.service_ids[spec["Name"]] = created["ID"]
                self._warn(created)
                return
            latest = await docker.get(f"/services/{current['ID']}")
            # stack deploy has no --force: keep the counter so tasks are not restarted
            task["ForceUpdate"] = latest["Spec"]["TaskTemplate"].get("ForceUpdate", 0)
            answer = await docker.request("POST", f"/services/{current['ID']}/update",
                                          params={"version": latest["Version"]["Index"]},
                                          body=spec, headers=self.headers)
            self.service_ids[spec["Name"]] = current["ID"]
            self._warn(answer)
        return deploy

    def _warn(self, answer: Any) -> None:
        if isinstance(answer, dict):
            self.warnings += [w for w in answer.get("Warnings") or [] if w]


def _call(fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any
          ) -> Callable[[], Awaitable[None]]:
    async def call() -> None:
        await fn(*args, **kwargs)
    return call
