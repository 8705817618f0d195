"""Pinning a service: placement constraints added or removed through the service update path
(the spec posted back with the version it was read at).

Checked before anything is written: the expression as docker parses it, and that some ready,
active node can still run the tasks; when none can, the change is refused unless forced (its
tasks would stay pending). Removing constraints never makes that worse, so it is not refused.
Callers survey, plan (pure: the CLI and the console show the plan), then apply.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from swarmdeck.core.errors import DockerAPIError, Refused, UsageError
from swarmdeck.core.models import Node, Service
from swarmdeck.core.ops.base import ClusterOps, did_you_mean
from swarmdeck.core.ops.progress import baseline
from swarmdeck.core.ops.services import Started, image_auth, post_update
from swarmdeck.core.placement import (
    Constraint,
    Placement,
    engine_labels_from_api,
    find_node,
    label_constraint,
    node_constraint,
    parse_constraint,
    pinned,
    place,
    unpinned,
)


def listed(constraints: Sequence[str]) -> str:
    return ", ".join(constraints) or "none"


@dataclass(frozen=True)
class Survey:
    """A service's placement as the cluster has it now: the service (with the version an
    update is posted against) and every node, read together."""

    data: dict[str, Any]
    service: Service
    nodes: list[Node]
    engine: dict[str, dict[str, str]]  # node ID -> engine labels

    @classmethod
    def from_api(cls, service: dict[str, Any], nodes: list[dict[str, Any]]) -> Survey:
        return cls(service, Service.from_api(service),
                   sorted(map(Node.from_api, nodes), key=lambda n: n.hostname),
                   engine_labels_from_api(nodes))

    @property
    def name(self) -> str:
        return self.service.name

    @property
    def constraints(self) -> list[str]:
        return list(self.service.constraints)

    def place(self, constraints: Sequence[str]) -> Placement:
        s = self.service
        per_node = ((s.raw_spec.get("TaskTemplate") or {}).get("Placement") or {}) \
            .get("MaxReplicas") or 0
        return place(constraints, self.nodes, self.engine, max_per_node=per_node,
                     replicas=s.replicas if s.mode == "replicated" else None)

    def node(self, ref: str, cluster: str) -> Node:
        found = find_node(self.nodes, ref)
        if found is None:
            names = [n.hostname for n in self.nodes]
            raise UsageError(f"no node {ref!r} in cluster {cluster}"
                             f"{did_you_mean(ref, names, 'nodes')}")
        return found


async def survey(ops: ClusterOps, ref: str) -> Survey:
    data, nodes = await asyncio.gather(ops.service(ref), ops.docker.get("/nodes"))
    return Survey.from_api(data, nodes)


@dataclass(frozen=True)
class Change:
    """New constraints for a surveyed service, judged before anything is written."""

    survey: Survey
    action: str  # pin | unpin | set constraints (the audit's action)
    after: tuple[str, ...]
    placement: Placement  # of AFTER

    @property
    def before(self) -> list[str]:
        return self.survey.constraints

    @property
    def changed(self) -> bool:
        return list(self.after) != self.before

    @property
    def only_removes(self) -> bool:
        return set(self.after) <= set(self.before)

    def lines(self) -> list[str]:
        out = [f"constraints now:  {listed(self.before)}",
               f"after the change: {listed(self.after)}", self.placement.verdict()]
        return out + ([self.placement.shortfall] if self.placement.shortfall else [])

    def refusal(self, *, force: bool = False) -> Refused | None:
        """Why this change is not made unless forced (None: it may be)."""
        if force or self.placement.placeable or self.only_removes:
            return None
        return Refused(f"{self.action} {self.survey.name} refused: {self.placement.verdict()}",
                       hint="nothing was changed; --force writes it anyway")


def plan(found: Survey, after: Sequence[str], action: str | None = None) -> Change:
    """The change to AFTER; ACTION by default: unpin when it only removes, pin when it only
    adds, set constraints otherwise."""
    if action is None:
        before, new = set(found.constraints), set(after)
        action = "unpin" if new <= before else "pin" if before <= new else "set constraints"
    return Change(found, action, tuple(after), found.place(after))


def pin_constraint(found: Survey, cluster: str, *, node: str | None = None,
                   label: str | None = None, constraint: str | None = None) -> Constraint:
    """The one constraint asked for: to NODE (hostname, or ID when it was given as one), to a
    LABEL `KEY=VALUE`, or the CONSTRAINT expression."""
    if sum(1 for given in (node, label, constraint) if given) != 1:
        raise UsageError("pin to what? give one node, one label (KEY=VALUE) or one "
                         "constraint expression")
    if label:
        return label_constraint(label)
    if constraint:
        return parse_constraint(constraint)
    assert node
    target = found.node(node, cluster)
    return node_constraint(target, found.nodes, by_id=node != target.hostname)


def plan_pin(found: Survey, cluster: str, *, node: str | None = None,
             label: str | None = None, constraint: str | None = None) -> Change:
    new = pin_constraint(found, cluster, node=node, label=label, constraint=constraint)
    return plan(found, pinned(found.constraints, new), "pin")


def plan_unpin(found: Survey, cluster: str, *, node: str | None = None,
               label: str | None = None, constraint: str | None = None,
               everything: bool = False) -> Change:
    """Without the constraints naming NODE, on LABEL (KEY or KEY=VALUE), equal to CONSTRAINT,
    or all of them; naming one that is not there is a usage error."""
    if sum(1 for given in (node, label, constraint, everything) if given) != 1:
        raise UsageError("unpin what? give one node, one label (KEY), one constraint "
                         "expression, or all")
    parsed = parse_constraint(constraint) if constraint else None
    if label and not label.partition("=")[0].strip():
        raise UsageError(f"invalid label {label!r}: expected KEY or KEY=VALUE")
    target = find_node(found.nodes, node) if node else None
    after = unpinned(found.constraints, node=target, node_ref=node or "",
                     label=(label or "").strip(), constraint=parsed, everything=everything)
    if after == found.constraints and found.constraints:
        what = node or label or constraint
        raise UsageError(f"{found.name} has no constraint on {what!r} (its constraints: "
                         f"{listed(found.constraints)})")
    return plan(found, after, "unpin")


async def apply(ops: ClusterOps, change: Change, *, force: bool = False) -> Started:
    """Write CHANGE (refused as Change.refusal says); follow it only when some node can run
    the tasks: otherwise they stay pending and nothing would converge."""
    found = change.survey
    ops.check_writable(change.action, found.name)
    if not change.changed:
        return Started({}, f"{found.name}: constraints already {listed(change.after)}: "
                           "nothing to change")
    refusal = change.refusal(force=force)
    if refusal is not None:
        raise refusal
    data = found.data
    spec = copy.deepcopy(data["Spec"])
    placement = spec.setdefault("TaskTemplate", {}).setdefault("Placement", {})
    if change.after:
        placement["Constraints"] = list(change.after)
    else:
        placement.pop("Constraints", None)
    follow = change.placement.placeable
    # a task whose node still satisfies the new constraints is kept: the update may not start
    base = {data["ID"]: await baseline(ops.docker, data["ID"], expect_update=True)} \
        if follow else {}
    # tasks that move pull the image on their new node: a configured registry's
    # credentials go along, as with any update
    auth = await image_auth(ops, spec)
    try:
        await ops.guarded(change.action, found.name,
                          {"constraints": list(change.after), "from": change.before,
                           **({"registry_auth": True} if auth else {})},
                          lambda: post_update(ops, data, spec, auth=auth))
    except DockerAPIError as exc:
        if "out of sequence" not in str(exc):
            raise
        raise Refused(f"{found.name} changed since its placement was read: nothing was "
                      "written", hint="look at it again and retry") from None
    return Started(base, f"{found.name}: constraints {listed(change.before)} -> "
                         f"{listed(change.after)}; {change.placement.verdict()}")


async def pin(ops: ClusterOps, ref: str, *, node: str | None = None, label: str | None = None,
              constraint: str | None = None, force: bool = False) -> Started:
    ops.check_writable("pin", ref)
    found = await survey(ops, ref)
    return await apply(ops, plan_pin(found, ops.cluster, node=node, label=label,
                                     constraint=constraint), force=force)


async def unpin(ops: ClusterOps, ref: str, *, node: str | None = None, label: str | None = None,
                constraint: str | None = None, everything: bool = False) -> Started:
    ops.check_writable("unpin", ref)
    found = await survey(ops, ref)
    return await apply(ops, plan_unpin(found, ops.cluster, node=node, label=label,
                                       constraint=constraint, everything=everything))


async def set_constraints(ops: ClusterOps, ref: str, constraints: Sequence[str], *,
                          force: bool = False) -> Started:
    """Replace every constraint of the service with CONSTRAINTS (each one checked)."""
    checked = [str(parse_constraint(text)) for text in constraints]
    ops.check_writable("set constraints", ref)
    found = await survey(ops, ref)
    return await apply(ops, plan(found, checked, "set constraints"), force=force)
