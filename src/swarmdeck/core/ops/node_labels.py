"""A node's labels: what an operator asked for, and what it would change, before anything is
written.

`zone=b disk=ssd -old` sets two labels and removes one; the labels not named stay as they
are, and nothing named is nothing changed. The plan says exactly what is added, changed and
removed, and which running services' placement constraints use the keys touched: those that
would have no node left to run on, and those whose tasks on the node would have to move.
Parsing and planning are pure (the console and the CLI show the same plan); apply() writes it
through nodes.set_labels, which reads the node again and changes only the keys named.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from swarmdeck.core.errors import UsageError
from swarmdeck.core.models import Node, Service, Task
from swarmdeck.core.ops.base import ClusterOps
from swarmdeck.core.ops.nodes import set_labels
from swarmdeck.core.placement import (
    NODE_LABEL,
    Constraint,
    Placement,
    engine_labels_from_api,
    place,
)

SYNTAX = "KEY=VALUE sets a label, -KEY removes one; several separated by spaces"


@dataclass(frozen=True)
class LabelEdits:
    """Labels to set (key -> value) and keys to remove; every other label stays."""

    set: Mapping[str, str] = field(default_factory=dict)
    remove: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.set and not self.remove


def check_key(key: str) -> str:
    if not key or any(c.isspace() for c in key) or "=" in key:
        raise UsageError(f"{key!r} is not a valid label key", hint=SYNTAX)
    return key


def label_edits(pairs: Iterable[str] = (), remove: Iterable[str] = ()) -> LabelEdits:
    """From KEY=VALUE items and keys to remove (the CLI's arguments)."""
    wanted: dict[str, str] = {}
    for item in pairs:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"{item!r}: expected KEY=VALUE (remove a label with --rm KEY)")
        wanted[check_key(key)] = value
    gone = tuple(dict.fromkeys(check_key(k) for k in remove))
    both = [k for k in gone if k in wanted]
    if both:
        raise UsageError(f"label {both[0]!r} is both set and removed: which one?")
    return LabelEdits(wanted, gone)


def parse_label_edits(text: str) -> LabelEdits:
    """What was typed in the console's prompt: `KEY=VALUE` and `-KEY` items separated by
    spaces. An empty line is no edit at all (never "remove everything")."""
    pairs, remove = [], []
    for item in text.split():
        if item.startswith("-"):
            key = item[1:]
            if "=" in key:
                raise UsageError(f"{item!r}: -KEY removes a label, give no value", hint=SYNTAX)
            remove.append(key)
        elif "=" not in item:
            raise UsageError(f"{item!r}: use KEY=VALUE to set a label, -{item} to remove it",
                             hint=SYNTAX)
        else:
            pairs.append(item)
    return label_edits(pairs, remove)


@dataclass(frozen=True)
class Affected:
    """A running service whose constraints use a label the change touches."""

    service: Service
    uses: tuple[str, ...]  # its constraints on the labels touched
    before: Placement
    after: Placement
    moving: int  # its tasks on the node that would no longer satisfy the constraints

    @property
    def unplaceable(self) -> bool:
        """It could run somewhere before the change and nowhere after."""
        return self.before.placeable and not self.after.placeable

    def line(self) -> str:
        head = f"{self.service.name} (uses {', '.join(self.uses)}): "
        one = self.moving == 1
        tasks = f"its {self.moving} task{'' if one else 's'} on this node"
        if self.unplaceable:
            return (head + "becomes UNPLACEABLE, no node would satisfy its constraints"
                    + (f"; {tasks} {'stops' if one else 'stop'} and {'stays' if one else 'stay'}"
                       " pending" if self.moving else "; new tasks would stay pending"))
        if self.moving:
            where = ", ".join(n.hostname for n in self.after.nodes)
            return head + f"{tasks} {'moves' if one else 'move'} (it can run on: {where})"
        if not self.after.placeable:
            return head + "still unplaceable"
        return head + "still " + self.after.verdict()


@dataclass(frozen=True)
class LabelPlan:
    node: Node
    added: Mapping[str, str]
    changed: Mapping[str, tuple[str, str]]  # key -> (old value, new value)
    removed: Mapping[str, str]  # key -> the value it had
    unchanged: tuple[str, ...]  # keys asked to be set to the value they already have
    affected: tuple[Affected, ...] = ()

    @property
    def changes(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    @property
    def unplaceable(self) -> list[Affected]:
        return [a for a in self.affected if a.unplaceable]

    @property
    def after(self) -> dict[str, str]:
        labels = {k: v for k, v in self.node.labels.items() if k not in self.removed}
        labels.update(self.added)
        labels.update({k: new for k, (_old, new) in self.changed.items()})
        return labels

    def lines(self) -> list[str]:
        out = [f"add     {k}={v}" for k, v in self.added.items()]
        out += [f"change  {k}: {old} -> {new}" for k, (old, new) in self.changed.items()]
        out += [f"remove  {k} (was {v})" if v else f"remove  {k}"
                for k, v in self.removed.items()]
        if self.unchanged:
            out.append("already so: " + ", ".join(
                f"{k}={self.node.labels[k]}" for k in self.unchanged))
        if not self.changes:
            out.append("nothing to change")
        kept = sorted(set(self.node.labels) - set(self.removed) - set(self.changed)
                      - set(self.unchanged))
        if self.changes and kept:
            out.append("kept    " + ", ".join(f"{k}={self.node.labels[k]}" for k in kept))
        if self.affected:
            out.append("services whose constraints use these labels:")
            out += [f"  {a.line()}" for a in self.affected]
        return out


def plan_labels(node: Node, edits: LabelEdits, nodes: Iterable[Node],
                services: Iterable[Service], tasks: Iterable[Task],
                engine: Mapping[str, Mapping[str, str]] | None = None) -> LabelPlan:
    """What EDITS would change on NODE, judged against the cluster's NODES, SERVICES and
    TASKS (ENGINE: node ID -> engine labels, None when unknown). Removing a label NODE does
    not have is a usage error: it is a typo more often than not."""
    current = node.labels
    missing = [k for k in edits.remove if k not in current]
    if missing:
        have = ", ".join(sorted(current)) or "none"
        raise UsageError(f"{node.hostname} has no label {', '.join(map(repr, missing))} "
                         f"(its labels: {have})")
    added = {k: v for k, v in edits.set.items() if k not in current}
    changed = {k: (current[k], v) for k, v in edits.set.items()
               if k in current and current[k] != v}
    unchanged = tuple(k for k, v in edits.set.items() if current.get(k) == v)
    removed = {k: current[k] for k in edits.remove}
    plan = LabelPlan(node, added, changed, removed, unchanged)
    touched = {*added, *changed, *removed}
    if not touched:
        return plan
    return LabelPlan(node, added, changed, removed, unchanged,
                     _affected(plan, touched, list(nodes), services, list(tasks), engine))


def _affected(plan: LabelPlan, touched: set[str], nodes: list[Node],
              services: Iterable[Service], tasks: list[Task],
              engine: Mapping[str, Mapping[str, str]] | None) -> tuple[Affected, ...]:
    relabelled = plan.node.model_copy(update={"labels": plan.after})
    after_nodes = [relabelled if n.id == plan.node.id else n for n in nodes]
    running = {t.service_id for t in tasks if t.desired_state == "running"}
    found = []
    for service in sorted(services, key=lambda s: s.name):
        if service.id not in running:
            continue
        uses = tuple(text for text in service.constraints if _names_label(text, touched))
        if not uses:
            continue
        before = place(service.constraints, nodes, engine)
        after = place(service.constraints, after_nodes, engine)
        fit = next((f for f in after.fits if f.node.id == plan.node.id), None)
        leaves = fit is not None and bool(fit.failed)  # the node no longer satisfies them
        moving = sum(1 for t in tasks if t.service_id == service.id
                     and t.node_id == plan.node.id and t.desired_state == "running") \
            if leaves else 0
        found.append(Affected(service, uses, before, after, moving))
    return tuple(found)


def _names_label(text: str, keys: set[str]) -> bool:
    parsed = Constraint.parse(text)
    return parsed is not None and parsed.norm_key.startswith(NODE_LABEL) and \
        parsed.norm_key[len(NODE_LABEL):] in keys


async def survey(ops: ClusterOps, ref: str, edits: LabelEdits) -> LabelPlan:
    """The plan against the cluster as it is now (the CLI: nodes, services, tasks read
    together)."""
    node_data = await ops.node(ref)
    nodes, services, tasks = await asyncio.gather(
        ops.docker.get("/nodes"), ops.docker.get("/services"), ops.docker.get("/tasks"))
    return plan_labels(Node.from_api(node_data), edits, map(Node.from_api, nodes),
                       map(Service.from_api, services), map(Task.from_api, tasks),
                       engine_labels_from_api(nodes))


async def apply(ops: ClusterOps, plan: LabelPlan) -> str:
    """Write PLAN: only the keys it adds, changes and removes (read again, so a label set
    meanwhile by someone else stays)."""
    wanted = {**plan.added, **{k: new for k, (_old, new) in plan.changed.items()}}
    return await set_labels(ops, plan.node.id, wanted, list(plan.removed))


def plan_text(plan: LabelPlan, cluster: str) -> list[str]:
    """The plan as shown before asking: a title line, then plan.lines() indented."""
    return [f"labels of {plan.node.hostname} on {cluster}:",
            *(f"  {line}" for line in plan.lines())]


def affected_summary(affected: Sequence[Affected]) -> str:
    """One line naming the services that would become unplaceable ("" when none)."""
    names = [a.service.name for a in affected if a.unplaceable]
    if not names:
        return ""
    return (f"{', '.join(names)} would have no node to run on (placement constraints on "
            "these labels)")
