"""Drift: whether a project environment's running stack still is what its compose file says.

The comparison is the deploy preview's (the same canonical specs, so "in sync" here is what
a deploy would call "nothing to change"): services changed by hand (each field with its
running and declared value), services the file has that do not run, and services running
under the stack's name that the file no longer has.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from swarmdeck.core.ops import environments
from swarmdeck.core.ops.base import ClusterOps


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
