"""Join tokens: show (masked unless asked) and rotate."""

from __future__ import annotations

from swarmdeck.core.audit import mask_token
from swarmdeck.core.errors import UsageError
from swarmdeck.core.ops.base import ClusterOps

ROLES = ("worker", "manager")


def _check(role: str) -> str:
    if role not in ROLES:
        raise UsageError(f"token role must be worker or manager, not {role!r}")
    return role.capitalize()


async def show(ops: ClusterOps, role: str, *, reveal: bool = False) -> str:
    key = _check(role)
    token = (await ops.swarm())["JoinTokens"][key]
    return token if reveal else mask_token(token)


async def rotate(ops: ClusterOps, role: str, *, reveal: bool = False) -> str:
    """Rotate the ROLE token; nodes already in the swarm are not affected. Returns the new
    token (masked unless REVEAL)."""
    key = _check(role)
    ops.check_writable(f"token rotate {role}", ops.cluster)

    async def work() -> str:
        swarm = await ops.swarm()
        await ops.docker.request(
            "POST", "/swarm/update",
            params={"version": swarm["Version"]["Index"], f"rotate{key}Token": "true"},
            body=swarm["Spec"])
        return (await ops.swarm())["JoinTokens"][key]

    token = await ops.guarded(f"token rotate {role}", ops.cluster, {}, work)
    return token if reveal else mask_token(token)
