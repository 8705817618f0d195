"""Node changes: availability (drain / active / pause), role (promote / demote), labels,
and removal (drain, wait for the tasks to move, demote a manager, let the node leave, remove).

Quorum is checked before a manager is demoted or removed: the change is refused when it would
leave the swarm's reachable managers short of a majority, or no manager at all.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from swarmdeck.core.destinations import Destination
from swarmdeck.core.errors import OperationFailed, Refused, SwarmdeckError, UsageError
from swarmdeck.core.models import Node
from swarmdeck.core.ops.base import ClusterOps
from swarmdeck.core.transport.docker import DockerEndpoint
from swarmdeck.core.transport.ssh import SSHSettings, connect

AVAILABILITY = ("active", "pause", "drain")
ROLES = ("worker", "manager")
Say = Callable[[str], None]


STATE_WORDS = {"drain": "drained", "active": "active", "pause": "paused"}


def already(node: Node, *, availability: str | None = None, role: str | None = None
            ) -> str | None:
    """Why setting NODE's AVAILABILITY or ROLE would change nothing ("prod-w1 is already a
    worker: nothing to change"), or None when it would change something. Asked before any
    question, by the console and the CLI alike."""
    if availability is not None and node.availability == availability:
        return f"{node.hostname} is already {STATE_WORDS.get(availability, availability)}: " \
               "nothing to change"
    if role is not None and node.role == role:
        return f"{node.hostname} is already a {role}: nothing to change"
    return None


def _hostname(node: Mapping[str, Any]) -> str:
    return (node.get("Description") or {}).get("Hostname") or node["ID"][:12]


def check_quorum(nodes: Sequence[Mapping[str, Any]], leaving_id: str, action: str) -> None:
    """Refuse to take the manager LEAVING_ID out if the rest would have no manager, or fewer
    reachable managers than a majority of those left."""
    managers = [n for n in nodes if n.get("ManagerStatus")]
    if not any(n["ID"] == leaving_id for n in managers):
        return
    left = [n for n in managers if n["ID"] != leaving_id]
    if not left:
        raise Refused(f"{action} refused: {_hostname(_by_id(nodes, leaving_id))} is the "
                      "swarm's last manager", hint="promote another node first")
    reachable = [n for n in left if n["ManagerStatus"].get("Reachability") == "reachable"]
    need = len(left) // 2 + 1
    if len(reachable) < need:
        raise Refused(
            f"{action} refused: it would leave {len(reachable)} of {len(left)} managers "
            f"reachable and the swarm needs {need} for quorum",
            hint="bring the unreachable managers back (or remove them) first")


def _by_id(nodes: Sequence[Mapping[str, Any]], node_id: str) -> Mapping[str, Any]:
    return next(n for n in nodes if n["ID"] == node_id)


async def _update(ops: ClusterOps, node: dict[str, Any]) -> None:
    """Send the node's new spec once; a broken connection is judged by reading it back."""
    spec = node["Spec"]
    await ops.write_versioned(
        lambda: ops.docker.request("POST", f"/nodes/{node['ID']}/update",
                                   params={"version": node["Version"]["Index"]}, body=spec),
        what=f"node {_hostname(node)}", path=f"/nodes/{node['ID']}",
        sent_index=node["Version"]["Index"],
        landed=lambda now: all((now.get("Spec") or {}).get(k) == spec.get(k)
                               for k in ("Availability", "Role", "Labels")))


async def set_availability(ops: ClusterOps, ref: str, availability: str) -> str:
    if availability not in AVAILABILITY:
        raise UsageError(f"availability must be one of {', '.join(AVAILABILITY)}, "
                         f"not {availability!r}")
    ops.check_writable(f"node {availability}", ref)
    node = await ops.node(ref)
    before = node["Spec"].get("Availability")
    unchanged = already(Node.from_api(node), availability=availability)
    if unchanged:
        return unchanged
    node["Spec"]["Availability"] = availability
    await ops.guarded(f"node {availability}", _hostname(node), {"from": before},
                      lambda: _update(ops, node))
    return f"{_hostname(node)}: availability {before} -> {availability}"


async def set_role(ops: ClusterOps, ref: str, role: str) -> str:
    if role not in ROLES:
        raise UsageError(f"role must be worker or manager, not {role!r}")
    action = "node promote" if role == "manager" else "node demote"
    ops.check_writable(action, ref)
    node = await ops.node(ref)
    before = node["Spec"].get("Role")
    unchanged = already(Node.from_api(node), role=role)
    if unchanged:
        return unchanged
    if role == "worker":
        check_quorum(await ops.docker.get("/nodes"), node["ID"], action)
        await _refuse_own_manager(ops, node, action)
    node["Spec"]["Role"] = role
    await ops.guarded(action, _hostname(node), {"from": before},
                      lambda: _update(ops, node))
    return f"{_hostname(node)}: {before} -> {role}"


async def set_labels(ops: ClusterOps, ref: str, add: Mapping[str, str],
                     remove: Sequence[str]) -> str:
    for key in [*add, *remove]:
        if not key or any(c.isspace() for c in key) or "=" in key:
            raise UsageError(f"{key!r} is not a valid label key")
    ops.check_writable("node label", ref)
    node = await ops.node(ref)
    labels = dict(node["Spec"].get("Labels") or {})
    missing = [k for k in remove if k not in labels]
    if missing:
        raise UsageError(f"{_hostname(node)} has no label {', '.join(missing)}")
    labels.update(add)
    for key in remove:
        labels.pop(key)
    node["Spec"]["Labels"] = labels
    await ops.guarded("node label", _hostname(node), {"add": dict(add), "rm": list(remove)},
                      lambda: _update(ops, node))
    return f"{_hostname(node)}: labels " + (", ".join(f"{k}={v}" for k, v in labels.items())
                                             or "none")


async def _refuse_own_manager(ops: ClusterOps, node: Mapping[str, Any], action: str) -> None:
    info = await ops.docker.get("/info")
    if (info.get("Swarm") or {}).get("NodeID") == node["ID"]:
        raise Refused(f"{action} refused: {_hostname(node)} is the manager this session goes "
                      "through", hint=f"put another manager first in [clusters.{ops.cluster}] "
                                      "managers and run it again")


async def _wait(what: str, check: Callable[[], Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise OperationFailed(f"timed out after {timeout:g}s waiting until {what}")
        await asyncio.sleep(1)


async def remove_node(ops: ClusterOps, ref: str, *, settings: SSHSettings | None = None,
                      user: str | None = None, timeout: float = 180,
                      say: Say = lambda _m: None) -> str:
    """Drain, wait for the node's tasks to move, demote a manager, have the node leave (over
    SSH, when it is up and reachable), then remove it from the swarm."""
    ops.check_writable("node remove", ref)
    node = await ops.node(ref)
    host = _hostname(node)
    nodes = await ops.docker.get("/nodes")
    check_quorum(nodes, node["ID"], "node remove")
    await _refuse_own_manager(ops, node, "node remove")
    done: list[str] = []

    async def fresh() -> dict[str, Any]:
        return await ops.docker.get(f"/nodes/{node['ID']}")

    async def work() -> str:
        current = await fresh()
        if current["Spec"].get("Availability") != "drain":
            say(f"{host}: draining")
            current["Spec"]["Availability"] = "drain"
            await _update(ops, current)
            done.append("drained")

        async def tasks_moved() -> bool:
            flt = json.dumps({"node": [node["ID"]], "desired-state": ["running"]})
            left = await ops.docker.get("/tasks", filters=flt)
            if left:
                say(f"{host}: waiting for {len(left)} task(s) to move")
            return not left

        await _wait(f"{host}'s tasks have moved", tasks_moved, timeout)
        current = await fresh()
        if current["Spec"].get("Role") == "manager":
            say(f"{host}: demoting")
            current["Spec"]["Role"] = "worker"
            await _update(ops, current)
            done.append("demoted")

            async def demoted() -> bool:
                return not (await fresh()).get("ManagerStatus")

            await _wait(f"{host} is a worker", demoted, timeout)
        current = await fresh()
        force = False
        if (current.get("Status") or {}).get("State") != "down":
            force = not await _leave(current, settings, user, say)
            if not force:
                done.append("left the swarm")

                async def down() -> bool:
                    return ((await fresh()).get("Status") or {}).get("State") == "down"

                await _wait(f"{host} is down", down, 60)
        say(f"{host}: removing from the swarm" + (" (forced: it is still up)" if force
                                                  else ""))
        await ops.docker.request("DELETE", f"/nodes/{node['ID']}",
                                 params={"force": "true"} if force else None)
        return f"removed node {host}" + (" (forced)" if force else "")

    try:
        return await ops.guarded("node remove", host, {}, work)
    except SwarmdeckError as exc:
        if done:
            raise OperationFailed(f"node remove {host} stopped after it was "
                                  f"{', '.join(done)}: {exc}") from None
        raise


async def _leave(node: Mapping[str, Any], settings: SSHSettings | None, user: str | None,
                 say: Say) -> bool:
    """Ask the node's own engine to leave the swarm; False when it cannot be reached."""
    address = (node.get("Status") or {}).get("Addr")
    if settings is None or not address or address == "0.0.0.0":
        return False
    try:
        conn, resolved = await connect(Destination(user, address, None), settings)
    except SwarmdeckError as exc:
        say(f"{_hostname(node)}: cannot reach it to leave the swarm ({exc})")
        return False
    docker = DockerEndpoint(conn, resolved.label)
    say(f"{_hostname(node)}: leaving the swarm")
    try:
        for attempt in (1, 2):
            try:
                await docker.request("POST", "/swarm/leave")
                return True
            except SwarmdeckError as exc:
                # a busy swarm may time the answer out ("context deadline exceeded") after
                # the node did leave: its own state says; if not, one more try
                info = await docker.get("/info")
                if (info.get("Swarm") or {}).get("LocalNodeState") == "inactive":
                    return True
                if attempt == 2:
                    say(f"{_hostname(node)}: leaving failed ({exc})")
        return False
    except SwarmdeckError as exc:
        say(f"{_hostname(node)}: leaving failed ({exc})")
        return False
    finally:
        await docker.close()
        conn.close()
