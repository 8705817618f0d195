"""Rolling a service back: what would change from its spec now to its previous one, told
before asking, with the same comparison deploy's preview uses (core.ops.deploy_diff: image,
replicas, env with secret-looking values masked, ports, constraints, resources, the rest).
The rollback itself is services.rollback."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from swarmdeck.core.errors import Refused
from swarmdeck.core.ops.base import ClusterOps
from swarmdeck.core.ops.deploy_diff import canonical_spec, spec_differences


@dataclass(frozen=True)
class RollbackPlan:
    name: str
    differences: tuple[str, ...]  # from the spec now to the previous one

    def lines(self) -> list[str]:
        if not self.differences:
            return ["its previous spec is the same as the current one: nothing in the spec "
                    "changes"]
        return ["what changes (now -> after the rollback):",
                *(f"  {line}" for line in self.differences)]


def plan_rollback(data: Mapping[str, Any], network_names: Mapping[str, str]) -> RollbackPlan:
    """DATA: the service's inspect; NETWORK_NAMES: network ID -> name (specs hold IDs).
    Refused when the service has no previous spec (it has never been updated)."""
    name = data["Spec"]["Name"]
    previous = data.get("PreviousSpec")
    if not previous:
        raise Refused(f"{name} has no previous spec to roll back to",
                      hint="a service gets one after its first update")
    now, then = (canonical_spec(spec, network_names, stack_image=False)
                 for spec in (data["Spec"], previous))
    return RollbackPlan(name, tuple(spec_differences(now, then)))


async def survey(ops: ClusterOps, ref: str) -> RollbackPlan:
    data, networks = await asyncio.gather(ops.service(ref), ops.docker.get("/networks"))
    names = {n.get("Id") or n.get("ID", ""): n.get("Name", "") for n in networks or []}
    return plan_rollback(data, names)
