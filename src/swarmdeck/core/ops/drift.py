"""Drift: whether a project environment's running stack still is what its compose file says.

The comparison is the deploy preview's (the same canonical specs, so "in sync" here is what
a deploy would call "nothing to change"): services changed by hand (each field with its
running and declared value), services the file has that do not run, and services running
under the stack's name that the file no longer has.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swarmdeck.core.config import Config
from swarmdeck.core.errors import SwarmdeckError
from swarmdeck.core.inventory import ClusterState
from swarmdeck.core.models import split_image
from swarmdeck.core.ops import environments, history
from swarmdeck.core.ops.base import ClusterOps
from swarmdeck.core.ops.compose import StackPlan
from swarmdeck.core.ops.deploy_diff import FieldChange
from swarmdeck.core.ops.deploy_preview import declared_changes


@dataclass(frozen=True)
class Drift:
    project: str
    environment: str
    cluster: str
    stack: str
    changes: tuple[dict[str, Any], ...] = field(default=())  # service, field, running, declared

    @property
    def drifted(self) -> bool:
        return bool(self.changes)

    def row(self) -> dict[str, Any]:
        return {"project": self.project, "environment": self.environment,
                "cluster": self.cluster, "stack": self.stack, "drifted": self.drifted,
                "changes": list(self.changes)}


async def check(ops: ClusterOps, prepared: environments.Prepared) -> Drift:
    shown = await environments.preview(ops, prepared, prune=True)
    changes: list[dict[str, Any]] = []
    for service in shown.services:
        if service.action == "update":
            changes += [{"service": service.name, "field": f.field, "running": f.running,
                         "declared": f.declared} for f in service.fields]
        elif service.action == "create":
            changes.append({"service": service.name, "field": "service",
                            "running": None, "declared": "present"})
        elif service.action == "remove":
            changes.append({"service": service.name, "field": "service",
                            "running": "present", "declared": None})
    return Drift(prepared.project, prepared.environment, ops.cluster, prepared.stack,
                 tuple(changes))


_VERSIONED = re.compile(r"-v\d+$")  # a rotated secret's or config's version (core.ops.rotate)


def _unversioned(spec: dict[str, Any]) -> dict[str, Any]:
    """A copy of SPEC with rotated secret and config names taken back to their family's: a
    rotation is not drift (the next deploy keeps the newest version, by design)."""
    spec = copy.deepcopy(spec)
    container = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
    for key, name_key in (("Secrets", "SecretName"), ("Configs", "ConfigName")):
        for ref in container.get(key) or []:
            if ref.get(name_key):
                ref[name_key] = _VERSIONED.sub("", ref[name_key])
    return spec


@dataclass(frozen=True)
class Against:
    """One service of a plan against what runs: `update` (CHANGES: running -> planned),
    `unchanged`, `create` (not running) or `remove` (runs under the stack, not planned)."""

    service: str
    action: str
    changes: tuple[FieldChange, ...] = ()


def against_running(plan: StackPlan, state: ClusterState) -> list[Against]:
    """How the stack as the inventory holds it differs from PLAN, service by service, as the
    deploy preview compares (deploy_preview.declared_changes, the engine's API version
    included). No request: what the console already follows. A rotated secret or config is
    no difference. Digests are compared when both sides name one (a revision's plan pins
    them; a compose file's tags do not: resolving those needs the registry, which
    `swarmdeck drift` asks)."""
    running = {s.name: s for s in state.services.values() if s.stack == plan.stack}
    names = {n.id: n.name for n in state.networks.values()}
    out = []
    for key in sorted(plan.services):
        spec = plan.services[key]
        current = running.get(spec["Name"])
        if current is None:
            out.append(Against(spec["Name"], "create"))
            continue
        found = declared_changes(_unversioned(current.raw_spec), _unversioned(spec), names,
                                 state.api_version)
        old, new = (split_image(((s.get("TaskTemplate") or {}).get("ContainerSpec") or {})
                                .get("Image", ""))[1] for s in (current.raw_spec, spec))
        if old and new and old != new:
            found.insert(0, FieldChange("image digest", old, new,
                                        f"image digest: {old[:19]}… -> {new[:19]}…"))
        out.append(Against(spec["Name"], "update" if found else "unchanged", tuple(found)))
    planned = {spec["Name"] for spec in plan.services.values()}
    out += [Against(name, "remove") for name in sorted(set(running) - planned)]
    return out


def drifted_from_state(plan: StackPlan, state: ClusterState) -> bool:
    """Whether the stack as the inventory holds it differs from PLAN (the file's specs):
    services missing or extra, or a field of one (against_running)."""
    return any(a.action != "unchanged" for a in against_running(plan, state))


def running_revision(kept: list[history.Stored], state: ClusterState) -> int | None:
    """The newest revision that is what runs now (specs and digests), None when none is
    (changed by hand since, or deployed from a file with other content)."""
    for one in reversed(kept):
        if one.plan is not None and all(a.action == "unchanged"
                                        for a in against_running(one.plan, state)):
            return one.revision.revision
    return None


class DriftWatch:
    """Drift of each project environment from the inventory, for the projects tree: the
    compose file is read again only when it changes, the comparison only when the stack's
    services or the file did. None: not known (the file does not load, the cluster is not
    loaded)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._plans: dict[tuple[str, str], tuple[float, StackPlan | None]] = {}
        self._results: dict[tuple[str, str], tuple[tuple, bool]] = {}

    def drifted(self, project: str, environment: str, state: ClusterState | None
                ) -> bool | None:
        env = self.config.projects[project].environments[environment]
        if state is None or not state.loaded:
            return None
        try:
            mtime = Path(env.compose).stat().st_mtime
        except OSError:
            return None
        key = (project, environment)
        held = self._plans.get(key)
        if held is None or held[0] != mtime:
            try:
                plan: StackPlan | None = environments.prepare(self.config, project,
                                                              environment).plan
            except SwarmdeckError:
                plan = None
            held = self._plans[key] = (mtime, plan)
        plan = held[1]
        if plan is None:
            return None
        inputs = (mtime, tuple(sorted((s.id, id(s.raw_spec)) for s in state.services.values()
                                      if s.stack == env.stack)),
                  tuple(sorted(state.networks)), state.api_version)
        done = self._results.get(key)
        if done is None or done[0] != inputs:
            done = self._results[key] = (inputs, drifted_from_state(plan, state))
        return done[1]
