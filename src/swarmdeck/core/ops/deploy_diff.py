"""Comparing service specs: the cluster's copy and the file's are made canonical (what the
server or the registry adds taken out, defaults filled in), then their differences are told
in words an operator reads, secrets masked."""

from __future__ import annotations

import copy
import json
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from swarmdeck.core.models import STACK_LABEL, PublishedPort, split_image
from swarmdeck.core.ops.compose import IMAGE_LABEL

MASKED_NAMES = re.compile(r"passw|pwd|token|secret|credential|api_?key|private_?key", re.I)
_DURATIONS = {"Delay", "Monitor", "Window", "Interval", "Timeout", "StartPeriod",
              "StopGracePeriod"}


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


def canonical_spec(given: Mapping[str, Any], network_names: Mapping[str, str], *,
                   stack_image: bool = True) -> dict[str, Any]:
    """A spec with what the server or the registry adds taken out and defaults filled in, so
    the cluster's copy and the file's compare equal when a deploy would change nothing.
    STACK_IMAGE: the image is the one the stack file named (its label) when there is one, as
    a deploy compares; False: the one the tasks run (an update outside the stack file, e.g.
    `swarmdeck update --image`, changes only that one)."""
    spec = copy.deepcopy(dict(given))
    labels = spec.setdefault("Labels", {}) or {}
    labels.pop(STACK_LABEL, None)
    task = spec.get("TaskTemplate") or {}
    container = task.get("ContainerSpec") or {}
    named = labels.pop(IMAGE_LABEL, None)
    image = (named if stack_image else None) or split_image(container.get("Image", ""))[0]
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
    endpoint = spec["EndpointSpec"] = dict(spec.get("EndpointSpec") or {})
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
        policy = task["RestartPolicy"]
        policy["Condition"] = policy.get("Condition") or "any"
        if policy.get("Delay") is None:  # the engine keeps its default, 5s (seen on 20.10)
            policy["Delay"] = 5_000_000_000
    mode = spec.get("Mode") or {"Replicated": {"Replicas": 1}}
    out = _prune(spec)
    kind = next(iter(mode))  # kept when empty: {"Global": {}} is a mode, not "unset"
    out["Mode"] = {kind: _prune(mode[kind] or {})}
    return out


def _prune(value: Any) -> Any:
    """Absent, null, zero, false and empty all mean "not set" to the engine."""
    if isinstance(value, dict):
        pruned = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, "", 0, False, [], {})}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def spec_summary(spec: Mapping[str, Any]) -> tuple[str, ...]:
    c = canonical_spec(spec, {})
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


def _bytes(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:g} {unit}" if unit == "B" else f"{size:.4g} {unit}"
        size /= 1024
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


@dataclass(frozen=True)
class FieldChange:
    """One difference between a running spec and a declared one: the field (`replicas`,
    `env FOO`, `image`, a spec path...), each side's value (None: absent; a masked env value
    shows as ****), and the words the preview shows."""

    field: str
    running: str | None
    declared: str | None
    text: str


def _mapping_changes(what: str, before: Mapping[str, Any], after: Mapping[str, Any],
                     masked: bool = False) -> list[FieldChange]:
    def hidden(key: str) -> bool:
        return masked and bool(MASKED_NAMES.search(key))

    def value(key: str, v: Any) -> str:
        return "****" if hidden(key) else ("" if v is None else str(v))

    def shown(key: str, v: Any) -> str:
        if v is None:
            return key
        return f"{key}=****" if hidden(key) else f"{key}={v}"
    out = [FieldChange(f"{what} {k}", None, value(k, after[k]),
                       f"{what} added: {shown(k, after[k])}")
           for k in sorted(set(after) - set(before))]
    out += [FieldChange(f"{what} {k}", value(k, before[k]), None, f"{what} removed: {k}")
            for k in sorted(set(before) - set(after))]
    for key in sorted(set(before) & set(after)):
        if before[key] != after[key]:
            out.append(FieldChange(
                f"{what} {key}", value(key, before[key]), value(key, after[key]),
                f"{what} changed: {key} (value hidden)" if hidden(key) else
                f"{what} changed: {shown(key, before[key])} -> {after[key]}"))
    return out


def _list_changes(what: str, before: list[str], after: list[str]) -> list[FieldChange]:
    if before == after:
        return []
    added = [x for x in after if x not in before]
    removed = [x for x in before if x not in after]
    if not added and not removed:
        return [FieldChange(what, ", ".join(before), ", ".join(after), f"{what}: order changed")]
    return [FieldChange(what, None, x, f"{what} added: {x}") for x in added] + \
        [FieldChange(what, x, None, f"{what} removed: {x}") for x in removed]


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


def field_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[FieldChange]:
    """What changes from BEFORE to AFTER (canonical specs), field by field."""
    out: list[FieldChange] = []
    for what, read, _paths in _ASPECTS:
        old, new = read(before), read(after)
        if old == new:
            continue
        if isinstance(new, dict):
            out += _mapping_changes(what, old, new, masked=what == "env")
        elif isinstance(new, list):
            out += _list_changes(what, old, new)
        elif what == "mode" and old.startswith("replicas") and new.startswith("replicas"):
            old_n, new_n = old.split()[1], new.split()[1]
            out.append(FieldChange("replicas", old_n, new_n, f"replicas: {old_n} -> {new_n}"))
        else:
            out.append(FieldChange(what, str(old), str(new), f"{what}: {old} -> {new}"))
    covered = tuple(path for _w, _r, paths in _ASPECTS for path in paths)
    flat_before, flat_after = _flatten(before), _flatten(after)
    for path in sorted(set(flat_before) | set(flat_after)):
        if path.startswith(covered) or flat_before.get(path) == flat_after.get(path):
            continue
        name = path.replace("TaskTemplate.", "").replace("ContainerSpec.", "")
        old_s, new_s = _shown(path, flat_before.get(path)), _shown(path, flat_after.get(path))
        out.append(FieldChange(name, old_s, new_s, f"{name}: {old_s} -> {new_s}"))
    return out


def spec_differences(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """What changes from BEFORE to AFTER (canonical specs), in words an operator reads."""
    return [change.text for change in field_changes(before, after)]


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
