"""What happened on a cluster: Docker's /events messages, parsed once, kept in a bounded ring.

The inventory follows ONE event stream per cluster (core.inventory); every message it gets is
parsed here into a ClusterEvent and kept in the cluster's EventLog, which the console's events
view reads. `swarmdeck events` reads the same messages through `read()`.

Swarm reports service, node, network, secret and config events for the whole cluster;
container events are those of the manager the stream comes from (Docker has no cluster-wide
container events). Container `exec_*` events are not kept: health probes make three of them
per container and interval, which would push everything else out of the ring (the health
changes themselves, `health_status: ...`, are kept).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from swarmdeck.core.models import Model, split_image

EVENT_TYPES = ("service", "node", "network", "secret", "config", "container")
RING_SIZE = 2000  # events kept per cluster; the oldest go first
BACKLOG = 600.0  # seconds of past events asked for when recording starts (the engine itself
# keeps only its last 256 events in memory, so this is an upper bound)
_SWARM_LABEL = "com.docker.swarm."
_TYPE_FILTER = re.compile(r"(?:type|t):(\S*)", re.I)


class ClusterEvent(Model):
    """One event as the operator reads it: what, which object, and what changed."""

    time_ns: int
    type: str
    action: str
    actor_id: str = ""
    name: str = ""
    scope: str = ""  # swarm | local
    # attribute -> (old, new), e.g. replicas ("1", "2"), image, updatestate, state, role...
    changes: dict[str, tuple[str, str]] = {}
    # the few other attributes worth showing: service, image, exit code, signal, container
    details: dict[str, str] = {}

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> ClusterEvent | None:
        """None for a message that names no type or action (nothing to show)."""
        kind, action = raw.get("Type") or "", raw.get("Action") or ""
        if not kind or not action:
            return None
        actor = raw.get("Actor") or {}
        attrs = {str(k): str(v) for k, v in (actor.get("Attributes") or {}).items()}
        time_ns = raw.get("timeNano") or int(raw.get("time") or 0) * 1_000_000_000
        changes: dict[str, tuple[str, str]] = {}
        for key in attrs:
            what, dot, side = key.rpartition(".")
            if dot and side in ("old", "new") and what not in changes:
                changes[what] = (attrs.get(f"{what}.old", ""), attrs.get(f"{what}.new", ""))
        return cls(time_ns=int(time_ns), type=kind, action=action,
                   actor_id=str(actor.get("ID") or ""), name=_name(kind, attrs),
                   scope=raw.get("scope") or "", changes=changes,
                   details=_details(kind, attrs))

    @property
    def time(self) -> float:
        """Unix seconds."""
        return self.time_ns / 1e9

    @property
    def moment(self) -> datetime:
        return datetime.fromtimestamp(self.time).astimezone()

    @property
    def key(self) -> str:
        """Tells this event from every other one (the same event twice has the same key)."""
        return f"{self.time_ns}:{self.type}:{self.action}:{self.actor_id}"

    @property
    def summary(self) -> str:
        """What changed and the details, in one line: `replicas 1 -> 2`, `exit 137`."""
        parts = [_change(what, old, new) for what, (old, new) in self.changes.items()]
        parts += [f"{k} {v}" for k, v in self.details.items()]
        return ", ".join(parts)

    def text(self) -> str:
        """What a filter word is looked for in."""
        return " ".join((self.type, self.action, self.name, self.summary,
                         self.actor_id)).lower()


def worth_keeping(event: ClusterEvent) -> bool:
    return not (event.type == "container" and event.action.startswith("exec_"))


def _name(kind: str, attrs: dict[str, str]) -> str:
    name = attrs.get("name", "")
    task_id = attrs.get(f"{_SWARM_LABEL}task.id", "")
    if kind == "container" and task_id and name.endswith(f".{task_id}"):
        return name[: -len(task_id) - 1]  # service.slot: the task id is noise here
    return name


def _details(kind: str, attrs: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    if kind == "container":
        if attrs.get(f"{_SWARM_LABEL}service.name"):
            out["service"] = attrs[f"{_SWARM_LABEL}service.name"]
        if attrs.get("exitCode"):
            out["exit"] = attrs["exitCode"]
        if attrs.get("signal"):
            out["signal"] = attrs["signal"]
        if attrs.get("image"):
            out["image"] = split_image(attrs["image"])[0]
    elif kind == "network":
        if attrs.get("container"):
            out["container"] = attrs["container"][:12]
        if attrs.get("type"):
            out["driver"] = attrs["type"]
    return out


def _change(what: str, old: str, new: str) -> str:
    if what == "image":
        old, new = split_image(old)[0] if old else old, split_image(new)[0] if new else new
    if not old:
        return f"{what} -> {new}"
    return f"{what} {old} -> {new or '(none)'}"


class EventLog:
    """The last SIZE events of a cluster, oldest first, each kept once. Written on the event
    loop by the inventory; `events()` gives a copy other threads can read."""

    def __init__(self, size: int = RING_SIZE) -> None:
        self._ring: deque[ClusterEvent] = deque(maxlen=size)
        self._keys: set[str] = set()
        self.started: float | None = None  # unix time recording began (the first connect)
        self.added = 0  # events ever added: tells a reader whether anything is new

    def __len__(self) -> int:
        return len(self._ring)

    @property
    def size(self) -> int:
        return self._ring.maxlen or 0

    def add(self, event: ClusterEvent) -> bool:
        """Keep EVENT; False when it is already kept (streams overlap after a reconnect)."""
        key = event.key
        if key in self._keys:
            return False
        if len(self._ring) == self._ring.maxlen:
            self._keys.discard(self._ring[0].key)
        self._ring.append(event)
        self._keys.add(key)
        self.added += 1
        return True

    def events(self) -> list[ClusterEvent]:
        return list(self._ring)

    @property
    def last_time(self) -> float | None:
        return max((e.time for e in self._ring), default=None)


@dataclass(frozen=True)
class EventFilter:
    """`type:service,node web`: only those types, and every word somewhere in the event."""

    types: frozenset[str] = frozenset()
    words: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> EventFilter:
        """Raises ValueError naming an unknown type."""
        types: set[str] = set()
        for match in _TYPE_FILTER.finditer(text):
            types |= set(parse_types([match[1]]))
        words = tuple(w.lower() for w in _TYPE_FILTER.sub(" ", text).split())
        return cls(frozenset(types), words)

    def matches(self, event: ClusterEvent) -> bool:
        if self.types and event.type not in self.types:
            return False
        if not self.words:
            return True
        text = event.text()
        return all(w in text for w in self.words)

    def __str__(self) -> str:
        parts = [f"type:{','.join(sorted(self.types))}"] if self.types else []
        return " ".join([*parts, *self.words])


def parse_types(values: Iterable[str]) -> list[str]:
    """`service,node` and `config` -> the types, each checked; ValueError names a bad one."""
    values = list(values)
    found: list[str] = []
    for value in values:
        for part in filter(None, value.lower().split(",")):
            kind = part.rstrip("s") if part.rstrip("s") in EVENT_TYPES else part
            if kind not in EVENT_TYPES:
                raise ValueError(f"unknown event type {part!r} (types: "
                                 f"{', '.join(EVENT_TYPES)})")
            if kind not in found:
                found.append(kind)
    if not found and any(values):
        raise ValueError(f"no event type given (types: {', '.join(EVENT_TYPES)})")
    return found


def params(types: Sequence[str], since: float | None, until: float | None = None
           ) -> dict[str, Any]:
    """The query of GET /events for these types and times (unix seconds)."""
    out: dict[str, Any] = {"filters": {"type": list(types or EVENT_TYPES)}}
    if since is not None:
        out["since"] = f"{since:.6f}"
    if until is not None:
        out["until"] = f"{until:.6f}"
    return out


async def read(docker, types: Sequence[str] = EVENT_TYPES, *, since: float | None = None,
               until: float | None = None) -> AsyncIterator[ClusterEvent]:
    """The events worth keeping from one GET /events (finite with UNTIL, else until the
    stream drops)."""
    async for raw in docker.events(params(types, since, until)):
        event = ClusterEvent.from_api(raw)
        if event is not None and worth_keeping(event):
            yield event
