"""`docker stack deploy`, in two steps an operator can read between: `plan_changes` says what
would change (per service, in plain words), `apply` makes exactly those changes.

Apply checks everything it can before the first write (the preview still holds, external
objects exist, no name is taken outside the stack, configs and secrets are unchanged, images
resolve); then it creates networks, configs and secrets, creates the new services and
updates those whose spec differs as the docker CLI does (same specs, image pinned by digest,
ForceUpdate kept), and prunes last. A service the preview calls unchanged is not written to
at all: its version index stays as it was.

What would change is worked out in deploy_preview.py (service specs compared in
deploy_diff.py); `plan_changes` and `DeployPreview` are importable from here too.
"""

from __future__ import annotations

import asyncio
import copy
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
from swarmdeck.core.models import STACK_LABEL
from swarmdeck.core.ops.base import ClusterOps
from swarmdeck.core.ops.compose import StackPlan
from swarmdeck.core.ops.deploy_diff import MASKED_NAMES, normalize_image
from swarmdeck.core.ops.deploy_preview import (
    DeployPreview,
    ResolvedImage,
    ServiceChange,
    StackState,
    build_preview,
    fetch_state,
    plan_changes,
    registry_headers,
    resolve_images,
)
from swarmdeck.core.registries import RegistryAuth, registry_auth

__all__ = [
    "MASKED_NAMES",
    "DeployPreview",
    "DeployProgress",
    "DeployResult",
    "ServiceChange",
    "Step",
    "apply",
    "normalize_image",
    "plan_changes",
    "registry_auth",
]


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


@dataclass
class DeployProgress:
    """What an apply has written so far, kept as it goes: when it is interrupted (Ctrl-C, a
    cancelled task) this says what was applied and what was not. STEPS: every write, in
    order, once planned (none: stopped before the first); DONE: how many completed; UNDER_WAY:
    the next one had been started (it may or may not have reached the engine)."""

    stack: str = ""
    steps: list[str] = field(default_factory=list)
    done: int = 0
    under_way: bool = False

    @property
    def applied(self) -> list[str]:
        return self.steps[:self.done]

    @property
    def unknown(self) -> str | None:
        return self.steps[self.done] if self.under_way else None

    @property
    def not_applied(self) -> list[str]:
        return self.steps[self.done + (1 if self.under_way else 0):]

    def audit(self) -> dict[str, Any]:
        """For the audit line of an interrupted deploy."""
        return {"applied": self.applied, "unknown": self.unknown,
                "not_applied": self.not_applied}

    def lines(self) -> list[str]:
        """What an operator reads after an interruption."""
        if not self.steps:
            return [f"deploy of stack {self.stack} interrupted before its first change: "
                    "nothing was applied"]
        lines = [f"deploy of stack {self.stack} interrupted: {self.done} of "
                 f"{len(self.steps)} steps applied",
                 f"  applied: {', '.join(self.applied) or 'nothing'}"]
        if self.unknown:
            lines.append(f"  under way (may or may not be applied): {self.unknown}")
        lines += [f"  not applied: {', '.join(self.not_applied) or 'nothing'}",
                  "running the same deploy again completes it (what was applied is kept)"]
        return lines


# ---- applying ----------------------------------------------------------------------------
async def apply(ops: ClusterOps, plan: StackPlan, preview: DeployPreview, *,
                prune: bool = False, with_registry_auth: str | RegistryAuth | None = None,
                progress: DeployProgress | None = None) -> DeployResult:
    """Make the changes PREVIEW shows. WITH_REGISTRY_AUTH: credentials by registry (or one
    X-Registry-Auth value for every image, see `registry_auth`) sent with the image lookups
    and the service creates and updates of the images they are for. PROGRESS: kept up to
    date step by step, for the caller to read if this is interrupted (the audit line of an
    interruption carries it too)."""
    params = {"services": sorted(plan.services), "prune": prune,
              "registry_auth": bool(with_registry_auth)}
    progress = progress if progress is not None else DeployProgress()
    progress.stack = plan.stack
    deployment = _Deployment(ops, plan, prune, with_registry_auth, progress)
    return await ops.guarded("deploy", plan.stack, params, lambda: deployment.run(preview),
                             progress=progress.audit)


Step = tuple[str, Callable[[], Awaitable[None]]]


class _Deployment:
    def __init__(self, ops: ClusterOps, plan: StackPlan, prune: bool,
                 auth: str | RegistryAuth | None, progress: DeployProgress) -> None:
        self.ops = ops
        self.progress = progress
        self.plan = plan
        self.prune = prune
        self.auth = auth
        self.ids: dict[str, str] = {}  # config/secret name -> ID
        self.service_ids: dict[str, str] = {}
        self.warnings: list[str] = []
        self.unchanged: set[str] = set()  # services the preview promised to leave alone

    async def run(self, preview: DeployPreview) -> DeployResult:
        state = await fetch_state(self.ops, self.plan.stack)
        images = await resolve_images(self.ops, self.plan, self.auth, self.warnings)
        await self._validate(preview, state, images)
        steps = self._steps(state, images)
        progress = self.progress
        progress.steps = [what for what, _ in steps]
        done: list[str] = []
        for number, (what, write) in enumerate(steps, 1):
            progress.under_way = True
            try:
                await write()
            except (DockerAPIError, TransportError) as exc:
                raise self._failed(number, steps, done, exc) from exc
            done.append(what)
            progress.done, progress.under_way = number, False
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
    async def _validate(self, preview: DeployPreview, state: StackState,
                        images: Mapping[str, ResolvedImage]) -> None:
        plan, docker = self.plan, self.ops.docker
        if preview.stack != plan.stack or preview.prune != self.prune \
                or preview.cluster != self.ops.cluster:
            raise UsageError(f"the preview is for stack {preview.stack} on "
                             f"{preview.cluster}{' with prune' if preview.prune else ''}, "
                             "not for this deploy: preview again")
        fresh = build_preview(self.ops.cluster, plan, state, self.prune, images)
        if fresh.lines() != preview.lines():
            raise Refused(f"stack {plan.stack} on cluster {self.ops.cluster} changed since "
                          "the preview: nothing was deployed", hint="preview again")
        problems = list(fresh.problems)
        self.unchanged = {s.name for s in fresh.services if s.action == "unchanged"}
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

    async def _probe_secrets(self, state: StackState) -> list[str]:
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

    # ---- the writes, in order ------------------------------------------------------------
    def _steps(self, state: StackState, images: Mapping[str, ResolvedImage]) -> list[Step]:
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
            if current is not None and spec["Name"] in self.unchanged:
                continue  # not even an update with the same spec: its version stays
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
                        images: Mapping[str, ResolvedImage]) -> Callable[[], Awaitable[None]]:
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
                                               headers=self._headers(container["Image"]))
                self.service_ids[spec["Name"]] = created["ID"]
                self._warn(created)
                return
            latest = await docker.get(f"/services/{current['ID']}")
            # stack deploy has no --force: keep the counter so tasks are not restarted
            task["ForceUpdate"] = latest["Spec"]["TaskTemplate"].get("ForceUpdate", 0)
            answer = await docker.request("POST", f"/services/{current['ID']}/update",
                                          params={"version": latest["Version"]["Index"]},
                                          body=spec, headers=self._headers(container["Image"]))
            self.service_ids[spec["Name"]] = current["ID"]
            self._warn(answer)
        return deploy

    def _headers(self, image: str) -> dict[str, str]:
        return registry_headers(self.auth, image)

    def _warn(self, answer: Any) -> None:
        if isinstance(answer, dict):
            self.warnings += [w for w in answer.get("Warnings") or [] if w]


def _call(fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any
          ) -> Callable[[], Awaitable[None]]:
    async def call() -> None:
        await fn(*args, **kwargs)
    return call
