"""Placement constraints: docker's grammar, which nodes satisfy them, and why the others don't.

Pure. The doctor judges every service's constraints with it; pin and unpin (core.ops.placement)
check a change with it before writing; the CLI and the console show its verdict. Parsing and
matching follow swarmkit (manager/constraint): `KEY==VALUE` or `KEY!=VALUE`, values compared
case-insensitively, a missing node label counts as "", a key swarmkit does not know matches no
node. Only ready, active nodes take new tasks.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from swarmdeck.core.errors import UsageError
from swarmdeck.core.models import Node

NODE_KEYS = ("node.id", "node.hostname", "node.ip", "node.role", "node.platform.os",
             "node.platform.arch")
NODE_LABEL, ENGINE_LABEL = "node.labels.", "engine.labels."
IDENTITY = ("node.id", "node.hostname")  # keys that name one node
OPERATORS = ("==", "!=")
# swarmkit's patterns: a key, and a value holding no operator (current or future: = ! < > ~)
_KEY = re.compile(r"^[a-z_][a-z0-9\-_.]+$", re.IGNORECASE)
_VALUE = re.compile(r"^[a-z0-9:\-_\s.*()?+\[\]\\^$|/]+$", re.IGNORECASE)
GRAMMAR = ("expected KEY==VALUE or KEY!=VALUE, KEY one of node.id, node.hostname, node.role, "
           "node.platform.os, node.platform.arch, node.labels.NAME, engine.labels.NAME; "
           "e.g. node.hostname==web-1 or node.labels.zone==a")
UNAVAILABLE = {"drain": "drained", "pause": "paused"}


class InvalidConstraint(UsageError):
    """A placement constraint docker would refuse, or one naming a key it does not know."""


@dataclass(frozen=True)
class Constraint:
    """`key==value` or `key!=value`, as swarmkit parses placement constraints."""

    text: str
    key: str
    equal: bool
    value: str

    @classmethod
    def parse(cls, text: str) -> Constraint | None:
        """Lenient, for constraints a cluster already holds: None when there is no operator
        or an empty side (an unknown key parses, and matches no node)."""
        for op in OPERATORS:
            if op in text:
                key, value = (p.strip() for p in text.split(op, 1))
                if key and value:
                    return cls(text.strip(), key, op == "==", value)
        return None

    def __str__(self) -> str:
        return f"{self.key}{'==' if self.equal else '!='}{self.value}"

    @property
    def norm_key(self) -> str:
        """The key as swarmkit compares it: the prefix in any case, a label name exactly."""
        lower = self.key.lower()
        for prefix in (NODE_LABEL, ENGINE_LABEL):
            if lower.startswith(prefix):
                return prefix + self.key[len(prefix):]
        return lower

    def same(self, other: Constraint) -> bool:
        return (self.norm_key, self.equal, self.value.lower()) == \
            (other.norm_key, other.equal, other.value.lower())

    @property
    def label(self) -> str | None:
        """The node label an `==` constraint asks for, as `key=value`."""
        if self.equal and self.norm_key.startswith(NODE_LABEL):
            return f"{self.key[len(NODE_LABEL):]}={self.value}"
        return None

    def matches(self, node: Node, engine_labels: Mapping[str, str] | None) -> bool:
        """As swarmkit does: values compare case-insensitively, a missing label is ""."""
        key = self.norm_key
        if key == "node.ip":
            return self._ip_matches(node.address)
        if key.startswith(ENGINE_LABEL) and engine_labels is None:
            return True  # unknown without the engine labels: do not accuse
        actual = {
            "node.id": node.id, "node.hostname": node.hostname, "node.role": node.role,
            "node.platform.os": node.os, "node.platform.arch": node.architecture,
        }.get(key)
        if actual is None and key.startswith(NODE_LABEL):
            actual = node.labels.get(key[len(NODE_LABEL):], "")
        elif actual is None and key.startswith(ENGINE_LABEL) and engine_labels is not None:
            actual = engine_labels.get(key[len(ENGINE_LABEL):], "")
        elif actual is None:
            return False  # swarmkit: a key it does not know matches no node
        return (actual.lower() == self.value.lower()) == self.equal

    def _ip_matches(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
            inside = ip in ipaddress.ip_network(self.value, strict=False)
        except ValueError:
            return False
        return inside == self.equal


def parse_constraint(text: str) -> Constraint:
    """TEXT checked as docker checks it, and for a key it knows; InvalidConstraint says what
    is wrong and what is expected."""
    shown = (text or "").strip()
    bad = f"invalid constraint expression {shown!r}"
    op = next((o for o in OPERATORS if o in shown), None)
    if op is None:
        raise InvalidConstraint(f"{bad}: no == or != operator", hint=GRAMMAR)
    key, value = (p.strip() for p in shown.split(op, 1))
    if not _KEY.match(key):
        raise InvalidConstraint(f"{bad}: {key!r} is not a valid key", hint=GRAMMAR)
    lower = key.lower()
    if lower not in NODE_KEYS and not any(
            lower.startswith(p) and len(key) > len(p) for p in (NODE_LABEL, ENGINE_LABEL)):
        known = [*NODE_KEYS, NODE_LABEL.rstrip("."), ENGINE_LABEL.rstrip(".")]
        match = difflib.get_close_matches(lower, known, n=1, cutoff=0.6)
        raise InvalidConstraint(f"{bad}: unknown key {key!r}"
                                + (f": did you mean {match[0]!r}?" if match else ""),
                                hint=GRAMMAR)
    if not value:
        raise InvalidConstraint(f"{bad}: no value after {op}", hint=GRAMMAR)
    if not _VALUE.match(value):
        raise InvalidConstraint(f"{bad}: the value {value!r} holds a character docker refuses "
                                "(letters, digits and - _ . : / * are fine; = ! < > ~ quotes "
                                "and commas are not)")
    return Constraint(shown, key, op == "==", value)


def label_constraint(text: str) -> Constraint:
    """`KEY=VALUE` -> node.labels.KEY==VALUE."""
    key, sep, value = (text or "").strip().partition("=")
    if not sep or not key.strip() or not value.strip() or value.startswith("="):
        raise InvalidConstraint(f"invalid label {text.strip()!r}: expected KEY=VALUE, "
                                "e.g. zone=a")
    return parse_constraint(f"{NODE_LABEL}{key.strip()}=={value.strip()}")


def node_constraint(node: Node, nodes: Iterable[Node], *, by_id: bool = False) -> Constraint:
    """The constraint that pins to NODE: by hostname, or by ID when asked or when another
    node has the same hostname."""
    shared = sum(1 for n in nodes if n.hostname.lower() == node.hostname.lower()) > 1
    if by_id or shared or not node.hostname:
        return parse_constraint(f"node.id=={node.id}")
    return parse_constraint(f"node.hostname=={node.hostname}")


def find_node(nodes: Sequence[Node], ref: str) -> Node | None:
    """By hostname, ID or unique ID prefix (as `docker node inspect` finds one)."""
    for n in nodes:
        if ref in (n.id, n.hostname):
            return n
    prefixed = [n for n in nodes if ref and n.id.startswith(ref)]
    return prefixed[0] if len(prefixed) == 1 else None


def engine_labels_from_api(nodes: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """Node ID -> the engine's labels, from GET /nodes (the models do not keep them)."""
    return {n["ID"]: dict(((n.get("Description") or {}).get("Engine") or {}).get("Labels")
                          or {}) for n in nodes}


# ---- changing a list of constraints -------------------------------------------------------

def pinned(current: Sequence[str], new: Constraint) -> list[str]:
    """CURRENT with NEW added. An `==` replaces the earlier `==` on the same key (a node
    cannot have two hostnames, or a label two values); a node's ID and hostname count as one
    key. Already there: CURRENT unchanged."""
    parsed = [(text, Constraint.parse(text)) for text in current]
    if any(c is not None and c.same(new) for _, c in parsed):
        return list(current)

    def replaced(c: Constraint | None) -> bool:
        if c is None or not (c.equal and new.equal):
            return False
        return c.norm_key == new.norm_key or {c.norm_key, new.norm_key} <= set(IDENTITY)

    return [text for text, c in parsed if not replaced(c)] + [str(new)]


def unpinned(current: Sequence[str], *, node: Node | None = None, node_ref: str = "",
             label: str = "", constraint: Constraint | None = None,
             everything: bool = False) -> list[str]:
    """CURRENT without the constraints naming NODE (or NODE_REF when no such node is left),
    on LABEL (`KEY`, or `KEY=VALUE` for that value only), equal to CONSTRAINT, or all."""
    if everything:
        return []
    names = {v.lower() for v in ((node.id, node.hostname) if node else (node_ref,)) if v}
    key, sep, value = label.partition("=")

    def gone(c: Constraint | None) -> bool:
        if c is None:
            return False
        if constraint is not None:
            return c.same(constraint)
        if names:
            return c.norm_key in IDENTITY and c.value.lower() in names
        if key:
            return c.norm_key == NODE_LABEL + key and (
                not sep or (c.equal and c.value.lower() == value.lower()))
        return False

    return [text for text in current if not gone(Constraint.parse(text))]


# ---- which nodes can run it ---------------------------------------------------------------

def unavailable(node: Node) -> str:
    """Why NODE takes no new task ("" when it can): down (or unknown), drained, paused."""
    if node.status != "ready":
        return node.status
    return UNAVAILABLE.get(node.availability, "")


class Placer:
    """Which nodes satisfy a set of constraints, worked out once per distinct set: a big
    fleet has many services but few distinct sets."""

    def __init__(self, nodes: Iterable[Node],
                 engine: Mapping[str, Mapping[str, str]] | None) -> None:
        self.nodes = sorted(nodes, key=lambda n: n.hostname)
        self.eligible = [n for n in self.nodes if not unavailable(n)]
        self.engine = engine
        self._fitting: dict[tuple[str, ...], tuple[list[Constraint], list[Node]]] = {}
        self._why_not: dict[tuple[str, ...], tuple[list[Constraint], str]] = {}

    def failed(self, node: Node, constraints: Iterable[Constraint]) -> list[Constraint]:
        labels = self.engine.get(node.id, {}) if self.engine is not None else None
        return [c for c in constraints if not c.matches(node, labels)]

    def fits(self, node: Node, constraints: Iterable[Constraint]) -> bool:
        return not self.failed(node, constraints)

    def fitting(self, texts: Sequence[str]) -> tuple[list[Constraint], list[Node]]:
        """(the constraints parsed, the ready and active nodes that satisfy them all)."""
        key = tuple(texts)
        if key not in self._fitting:
            parsed = [c for c in map(Constraint.parse, texts) if c]
            self._fitting[key] = (parsed, [n for n in self.eligible if self.fits(n, parsed)])
        return self._fitting[key]

    def why_not(self, parsed: list[Constraint]) -> tuple[list[Constraint], str]:
        """(the constraints no node satisfies even alone, why no available node fits)."""
        key = tuple(c.text for c in parsed)
        if key not in self._why_not:
            self._why_not[key] = self._explain(parsed)
        return self._why_not[key]

    def _explain(self, parsed: list[Constraint]) -> tuple[list[Constraint], str]:
        dead = [c for c in parsed if not any(self.fits(n, [c]) for n in self.nodes)]
        if dead:
            reason = f"no node satisfies {', '.join(c.text for c in dead)}"
            if any(c.norm_key == "node.platform.arch" for c in dead):
                reported = sorted({n.architecture for n in self.nodes if n.architecture})
                reason += (f" (nodes report their architecture as {', '.join(reported)}, "
                           f"e.g. x86_64 rather than amd64)")
            return dead, reason
        if not parsed:
            return dead, "no node is ready and active"
        matching = [n for n in self.nodes if self.fits(n, parsed)]
        if matching:
            return dead, ("only nodes that are down, drained or paused satisfy them: "
                          + ", ".join(f"{n.hostname} ({n.status}, {n.availability})"
                                      for n in matching))
        return dead, "each constraint is met by some node, but no node meets them all"


@dataclass(frozen=True)
class NodeFit:
    node: Node
    failed: tuple[Constraint, ...]  # the constraints it does not satisfy
    unavailable: str  # "" when it takes new tasks, else down, drained, paused...

    @property
    def can_run(self) -> bool:
        return not self.failed and not self.unavailable

    def why_not(self) -> str:
        parts = []
        if self.failed:
            parts.append("does not satisfy " + ", ".join(c.text for c in self.failed))
        if self.unavailable in UNAVAILABLE.values():
            parts.append(f"{self.unavailable}: takes no new tasks")
        elif self.unavailable:
            parts.append(f"{self.unavailable}: not ready")
        return "; ".join(parts)


@dataclass(frozen=True)
class Placement:
    """Where a service's tasks can go under a set of constraints."""

    constraints: tuple[str, ...]
    fits: tuple[NodeFit, ...]  # every node, by hostname
    reason: str = ""  # why no node can run it ("" when some can)
    shortfall: str = ""  # replicas that cannot be placed (max per node), "" when none

    @property
    def nodes(self) -> list[Node]:
        return [f.node for f in self.fits if f.can_run]

    @property
    def placeable(self) -> bool:
        return bool(self.nodes)

    def verdict(self) -> str:
        """"tasks can run on: X, Y", or the warning that none can."""
        if self.placeable:
            return "tasks can run on: " + ", ".join(n.hostname for n in self.nodes)
        return f"{self.reason}; tasks will stay pending"


def place(constraints: Sequence[str], nodes: Iterable[Node],
          engine: Mapping[str, Mapping[str, str]] | None = None, *,
          replicas: int | None = None, max_per_node: int = 0) -> Placement:
    """Judge CONSTRAINTS against NODES (ENGINE: node ID -> engine labels; None when unknown).
    REPLICAS and MAX_PER_NODE: also say how many replicas cannot be placed."""
    placer = Placer(nodes, engine)
    parsed, fitting = placer.fitting(constraints)
    fits = tuple(NodeFit(n, tuple(placer.failed(n, parsed)), unavailable(n))
                 for n in placer.nodes)
    reason = ""
    if not fitting:
        dead, why = placer.why_not(parsed)
        reason = why if dead or not parsed else \
            f"no available node satisfies {', '.join(c.text for c in parsed)}: {why}"
    shortfall = ""
    if fitting and replicas and max_per_node and max_per_node * len(fitting) < replicas:
        shortfall = (f"only {max_per_node * len(fitting)} of {replicas} replicas can be "
                     f"placed: at most {max_per_node} per node on {len(fitting)} node"
                     f"{'s' if len(fitting) > 1 else ''}; the rest stay pending")
    return Placement(tuple(constraints), fits, reason, shortfall)
