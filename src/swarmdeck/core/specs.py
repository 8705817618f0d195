"""Readable summaries of a service's spec (placement, resources, update policy...)."""

from __future__ import annotations

from typing import Any

import humanize


def _nanos(value: int | None) -> str:
    return f"{value / 1e9:g} CPU" if value else ""


def _bytes(value: int | None) -> str:
    return humanize.naturalsize(value, binary=True) if value else ""


def _duration(nanos: int | None) -> str:
    return f"{nanos / 1e9:g}s" if nanos else "0s"


def service_summary(spec: dict[str, Any], network_names: dict[str, str] | None = None
                    ) -> list[tuple[str, str]]:
    """(label, value) pairs, in the order an operator reads them. Values are untrusted."""
    task = spec.get("TaskTemplate") or {}
    container = task.get("ContainerSpec") or {}
    placement = task.get("Placement") or {}
    resources = task.get("Resources") or {}
    limits = resources.get("Limits") or {}
    reserve = resources.get("Reservations") or {}
    out: list[tuple[str, str]] = [("image", container.get("Image", "").split("@")[0])]
    if container.get("Command") or container.get("Args"):
        out.append(("command", " ".join(container.get("Command") or [])
                    + " " + " ".join(container.get("Args") or [])))
    out.append(("constraints", ", ".join(placement.get("Constraints") or []) or "none"))
    prefs = [p.get("Spread", {}).get("SpreadDescriptor", "")
             for p in placement.get("Preferences") or []]
    if prefs:
        out.append(("spread over", ", ".join(prefs)))
    if placement.get("MaxReplicas"):
        out.append(("max per node", str(placement["MaxReplicas"])))
    lim = ", ".join(x for x in (_nanos(limits.get("NanoCPUs")), _bytes(limits.get("MemoryBytes")))
                    if x)
    res = ", ".join(x for x in (_nanos(reserve.get("NanoCPUs")),
                                _bytes(reserve.get("MemoryBytes"))) if x)
    out.append(("limits", lim or "none"))
    out.append(("reservations", res or "none"))
    for key, label in (("UpdateConfig", "update"), ("RollbackConfig", "rollback")):
        cfg = spec.get(key)
        if cfg:
            out.append((label, f"parallelism {cfg.get('Parallelism', 1)}, delay "
                               f"{_duration(cfg.get('Delay'))}, on failure "
                               f"{cfg.get('FailureAction', 'pause')}, order "
                               f"{cfg.get('Order', 'stop-first')}"))
    restart = task.get("RestartPolicy") or {}
    if restart:
        out.append(("restart", f"{restart.get('Condition', 'any')}, max attempts "
                               f"{restart.get('MaxAttempts', 0) or 'unlimited'}"))
    names = network_names or {}
    networks = [names.get(n.get("Target", ""), n.get("Target", ""))
                for n in task.get("Networks") or spec.get("Networks") or []]
    out.append(("networks", ", ".join(networks) or "none"))
    mounts = [f"{m.get('Source', '')}:{m.get('Target', '')} ({m.get('Type', '')})"
              for m in container.get("Mounts") or []]
    out.append(("mounts", ", ".join(mounts) or "none"))
    env = container.get("Env") or []
    out.append(("environment", f"{len(env)} variables" if env else "none"))
    return out
