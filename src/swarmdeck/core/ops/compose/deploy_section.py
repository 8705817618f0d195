"""A service's `deploy:` section (mode, replicas, placement, resources, restart, update and
rollback policies), and `restart:`, into the Engine API's shape as the CLI converts them."""

from __future__ import annotations

from typing import Any

from swarmdeck.core.ops.compose.checks import Reader
from swarmdeck.core.ops.compose.model import KeyPath, ServiceDef
from swarmdeck.core.ops.compose.values import go_string, parse_bytes, parse_cpus

_DEPLOY = {"mode", "replicas", "placement", "resources", "restart_policy", "update_config",
           "rollback_config", "labels", "endpoint_mode"}
_UPDATE = {"parallelism", "delay", "failure_action", "monitor", "max_failure_ratio", "order"}
_RESTARTS = {"no": None, "always": "any", "unless-stopped": "any", "on-failure": "on-failure"}


def restart_policy_of(r: Reader, value: Any, p: KeyPath) -> dict[str, Any] | None:
    """`restart:` as opts.ParseRestartPolicy reads it and convertRestartPolicy maps it."""
    text = r.string(value, p)
    name, has_count, count = text.partition(":")
    if (has_count and not name) or (count and not count.isdigit()) \
            or name not in _RESTARTS:
        r.problem(p, "expected no, always, unless-stopped or on-failure[:N], got "
                     f"{text!r}")
        return None
    condition = _RESTARTS[name]
    if condition is None:
        return None
    policy: dict[str, Any] = {"Condition": condition}
    if condition == "on-failure":
        policy["MaxAttempts"] = int(count) if count else 0
    return policy


def read_deploy(r: Reader, s: ServiceDef, v: dict[str, Any], p: KeyPath) -> None:
    r.keys(v, p, _DEPLOY)
    s.mode = r.choice(v.get("mode"), (*p, "mode"),
                      ("replicated", "global", "replicated-job", "global-job")) or "replicated"
    s.replicas = r.integer(v.get("replicas"), (*p, "replicas"))
    if s.replicas is not None and s.mode in ("global", "global-job"):
        r.problem((*p, "replicas"), f"cannot be set with mode: {s.mode}")
    s.deploy_labels = r.labels(v.get("labels"), (*p, "labels"))
    mode = r.string(v.get("endpoint_mode"), (*p, "endpoint_mode")).lower()
    if mode not in ("", "vip", "dnsrr"):
        r.problem((*p, "endpoint_mode"), f"expected vip or dnsrr, got {mode!r}")
    s.endpoint_mode = mode
    s.placement = _placement(r, r.mapping(v.get("placement"), (*p, "placement")),
                             (*p, "placement"))
    s.resources = _resources(r, r.mapping(v.get("resources"), (*p, "resources")),
                             (*p, "resources"))
    if "restart_policy" in v:
        s.restart_policy = _restart_policy(r, r.mapping(v["restart_policy"],
                                                        (*p, "restart_policy")),
                                           (*p, "restart_policy"))
    for key in ("update_config", "rollback_config"):
        if key in v:
            config = _update_config(r, r.mapping(v[key], (*p, key)), (*p, key))
            setattr(s, key, config)


def _placement(r: Reader, v: dict[str, Any], p: KeyPath) -> dict[str, Any]:
    r.keys(v, p, {"constraints", "preferences", "max_replicas_per_node"})
    out: dict[str, Any] = {}
    constraints = r.strings(v.get("constraints"), (*p, "constraints"))
    if constraints:
        out["Constraints"] = constraints
    preferences = []
    for i, item in enumerate(r.sequence(v.get("preferences"), (*p, "preferences"))):
        pref = r.mapping(item, (*p, "preferences", i))
        r.keys(pref, (*p, "preferences", i), {"spread"})
        spread = r.string(pref.get("spread"), (*p, "preferences", i, "spread"))
        if not spread:
            r.problem((*p, "preferences", i), "needs `spread: node.labels.NAME`")
        preferences.append({"Spread": {"SpreadDescriptor": spread}})
    if preferences:
        out["Preferences"] = preferences
    max_replicas = r.integer(v.get("max_replicas_per_node"), (*p, "max_replicas_per_node"))
    if max_replicas:
        out["MaxReplicas"] = max_replicas
    return out


def _resources(r: Reader, v: dict[str, Any], p: KeyPath) -> dict[str, Any]:
    r.keys(v, p, {"limits", "reservations"})
    out: dict[str, Any] = {}
    for key, api, allowed in (("limits", "Limits", {"cpus", "memory", "pids"}),
                              ("reservations", "Reservations",
                               {"cpus", "memory", "generic_resources"})):
        if key not in v:
            continue
        part = r.mapping(v[key], (*p, key))
        r.keys(part, (*p, key), allowed)
        for unit in ("cpus", "memory"):  # format 3 wants text: `cpus: 0.5` is refused
            if isinstance(part.get(unit), int | float) and not isinstance(part[unit], bool):
                r.problem((*p, key, unit), f"expected text, got a number: quote it "
                                           f"({unit}: \"{go_string(part[unit])}\")")
                part = {k: x for k, x in part.items() if k != unit}
        values = {
            "NanoCPUs": r.convert(part.get("cpus"), (*p, key, "cpus"), parse_cpus,
                                  "a number of CPUs like 0.5"),
            "MemoryBytes": r.convert(part.get("memory"), (*p, key, "memory"), parse_bytes,
                                     "a size like 512M or 1G"),
            "Pids": r.integer(part.get("pids"), (*p, key, "pids")),
        }
        out[api] = {k: x for k, x in values.items() if x}
        generic = _generic_resources(r, part.get("generic_resources"),
                                     (*p, key, "generic_resources"))
        if generic:
            out[api]["GenericResources"] = generic
    return out


def _generic_resources(r: Reader, value: Any, p: KeyPath) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, item in enumerate(r.sequence(value, p)):
        entry = r.mapping(item, (*p, i))
        r.keys(entry, (*p, i), {"discrete_resource_spec"})
        spec = r.mapping(entry.get("discrete_resource_spec"), (*p, i, "discrete_resource_spec"))
        where = (*p, i, "discrete_resource_spec")
        r.keys(spec, where, {"kind", "value"})
        if not entry.get("discrete_resource_spec"):
            out.append({})  # as the CLI sends it: a resource without a spec
            continue
        out.append({"DiscreteResourceSpec": {
            "Kind": r.string(spec.get("kind"), (*where, "kind")),
            "Value": r.integer(spec.get("value"), (*where, "value")) or 0}})
    return out


def _restart_policy(r: Reader, v: dict[str, Any], p: KeyPath) -> dict[str, Any]:
    r.keys(v, p, {"condition", "delay", "max_attempts", "window"})
    out: dict[str, Any] = {}
    condition = r.choice(v.get("condition"), (*p, "condition"), ("none", "on-failure", "any"))
    if condition:
        out["Condition"] = condition
    for key, api in (("delay", "Delay"), ("window", "Window")):
        nanos = r.duration(v.get(key), (*p, key))
        if nanos is not None:
            out[api] = nanos
    attempts = r.integer(v.get("max_attempts"), (*p, "max_attempts"))
    if attempts is not None:
        out["MaxAttempts"] = attempts
    return out


def _update_config(r: Reader, v: dict[str, Any], p: KeyPath) -> dict[str, Any]:
    r.keys(v, p, _UPDATE)
    parallelism = r.integer(v.get("parallelism"), (*p, "parallelism"))
    out: dict[str, Any] = {"Parallelism": 1 if parallelism is None else parallelism}
    delay = r.duration(v.get("delay"), (*p, "delay"))
    if delay:
        out["Delay"] = delay
    action = r.choice(v.get("failure_action"), (*p, "failure_action"),
                      ("continue", "rollback", "pause"))
    if action:
        out["FailureAction"] = action
    monitor = r.duration(v.get("monitor"), (*p, "monitor"))
    if monitor:
        out["Monitor"] = monitor
    out["MaxFailureRatio"] = r.number(v.get("max_failure_ratio"),
                                      (*p, "max_failure_ratio")) or 0
    out["Order"] = r.choice(v.get("order"), (*p, "order"), ("start-first", "stop-first"))
    return out
