"""Adding a host to a swarm over SSH, with a preflight that stops before anything changes.

Steps, each announced through `progress` and named at the start of any error it raises:
connect (ssh to the host), docker (its engine answers), swarm (it is in no swarm yet),
advertise (the address it will advertise), reach (it reaches the managers' swarm port),
join (POST /swarm/join on its engine), ready (the cluster lists it Ready).

The join token goes from the manager's API to the new host's API and nowhere else: it is
never printed, put in a message, nor passed to guarded() (so never audited).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shlex
import time
from collections.abc import Callable, Iterator
from typing import Any

from swarmdeck.core.destinations import parse_destination
from swarmdeck.core.errors import (
    ConnectionLost,
    DockerAPIError,
    DockerUnavailable,
    HostUnreachable,
    OperationFailed,
    Refused,
    SwarmdeckError,
    UsageError,
)
from swarmdeck.core.ops.base import ClusterOps
from swarmdeck.core.transport.session import ManagerSession
from swarmdeck.core.transport.ssh import SSHSettings

ROLES = ("worker", "manager")
LISTEN_ADDR = "0.0.0.0:2377"
Progress = Callable[[str], None]


async def add_node(ops: ClusterOps, destination: str, role: str, *, settings: SSHSettings,
                   advertise_addr: str | None = None, timeout: float = 120,
                   progress: Progress | None = None) -> dict[str, Any]:
    """Join the host at DESTINATION (an ssh DEST) to the cluster as ROLE; returns the node's
    inspect data once the cluster lists it Ready. TIMEOUT bounds the join and the wait."""
    if role not in ROLES:
        raise UsageError(f"role {role!r}: a node joins as a worker or a manager",
                         hint="use role worker or manager")
    dest = parse_destination(destination)
    say = progress or (lambda _message: None)

    async def work() -> dict[str, Any]:
        with _step("connect", say, f"ssh to {destination}"):
            host = await ManagerSession.open(dest, settings, ops.docker.socket_path)
        try:
            return await _join(ops, host, role, advertise_addr, timeout, say)
        finally:
            await host.close()

    params = {"role": role, "advertise_addr": advertise_addr}
    return await ops.guarded("node add", destination, params, work)


async def _join(ops: ClusterOps, host: ManagerSession, role: str, advertise_addr: str | None,
                timeout: float, say: Progress) -> dict[str, Any]:
    with _step("docker", say, f"checking the Docker engine on {host.label}"):
        info = await _engine_info(host)
    hostname = info.get("Name") or host.destination.host

    with _step("swarm", say, f"checking that {hostname} is in no swarm yet"):
        nodes = await ops.docker.get("/nodes")
        _check_not_in_swarm(ops.cluster, hostname, info.get("Swarm") or {}, nodes)
        managers = _manager_addrs(nodes)
        if not managers:
            raise OperationFailed(f"cluster {ops.cluster} lists no manager address")
        for node in nodes:
            if node["Description"].get("Hostname") == hostname:
                say(f"swarm: warning: cluster {ops.cluster} already lists a node named "
                    f"{hostname} ({node['ID'][:12]}, {node['Status'].get('State')}); the new "
                    "one will be a second node of that name")

    with _step("advertise", say, f"finding the address {hostname} will advertise"):
        address = advertise_addr or await _route_source(host, _ip(managers[0]))
        say(f"advertise: {address}")

    with _step("reach", say, f"checking that {hostname} reaches {', '.join(managers)}"):
        await _check_reach(host, hostname, role, managers, say)

    deadline = time.monotonic() + timeout
    with _step("join", say, f"{hostname} joins cluster {ops.cluster} as a {role}"):
        token = (await ops.swarm())["JoinTokens"][role.capitalize()]
        body = {"ListenAddr": LISTEN_ADDR, "AdvertiseAddr": address,
                "RemoteAddrs": managers, "JoinToken": token}
        try:
            await asyncio.wait_for(host.docker.request("POST", "/swarm/join", body=body),
                                   timeout)
        except DockerAPIError as exc:
            raise OperationFailed(
                f"{host.label} could not join cluster {ops.cluster}: "
                f"{str(exc).replace(token, '****')}",
                hint=f"see `docker info` on {hostname}; if it shows a swarm state other than "
                     "inactive, `docker swarm leave --force` there before retrying",
            ) from None
        except TimeoutError:
            raise OperationFailed(
                f"{host.label} did not finish joining within {timeout:g}s",
                hint=f"see `docker info` on {hostname} and `docker node ls` on a manager",
            ) from None

    with _step("ready", say, f"waiting for {hostname} to be Ready"):
        node_id = ((await host.docker.get("/info")).get("Swarm") or {}).get("NodeID") or ""
        node = await _wait_ready(ops, node_id, hostname, address, role, deadline, timeout)
        say(f"ready: {hostname} is a Ready {role} of cluster {ops.cluster} "
            f"({node['ID'][:12]})")
        return node


@contextlib.contextmanager
def _step(name: str, say: Progress, what: str) -> Iterator[None]:
    """Announce step NAME; any swarmdeck error inside it is prefixed with the name (keeping
    its type and fields, e.g. a host key error's fingerprint)."""
    say(f"{name}: {what}")
    try:
        yield
    except SwarmdeckError as exc:
        exc.message = f"{name}: {exc.message}"
        exc.args = (exc.message,)
        raise


# ---- docker ------------------------------------------------------------------------------
async def _engine_info(host: ManagerSession) -> dict[str, Any]:
    try:
        return await host.docker.get("/info")
    except (DockerUnavailable, ConnectionLost) as exc:
        problem = await _why_no_docker(host)
        raise (problem or exc) from None


async def _why_no_docker(host: ManagerSession) -> DockerUnavailable | None:
    """Not installed, not running, or not ours to use? None: none of these (the original
    error says more)."""
    sock = host.docker.socket_path
    path = shlex.quote(sock)
    probe = (
        "if ! command -v docker >/dev/null 2>&1 && ! command -v dockerd >/dev/null 2>&1 "
        f"&& [ ! -e {path} ]; then echo missing; "
        f"elif [ ! -S {path} ]; then echo stopped; "
        f"elif [ -r {path} ] && [ -w {path} ]; then echo ok; else echo denied; fi; id -un"
    )
    try:
        words = (await host.run(probe, timeout=15)).split()
    except SwarmdeckError:
        return None
    state = words[0] if words else "unknown"
    user = words[1] if len(words) > 1 else "this user"
    if state == "missing":
        return DockerUnavailable(
            f"Docker is not installed on {host.label} (no docker or dockerd command, "
            f"no {sock})",
            hint="install Docker Engine there (https://docs.docker.com/engine/install/)",
        )
    if state == "stopped":
        return DockerUnavailable(
            f"the Docker daemon is not running on {host.label} ({sock} does not exist)",
            hint="start it there: `sudo systemctl start docker`",
        )
    if state == "denied":
        return DockerUnavailable(
            f"permission denied on {sock} on {host.label} for user {user}",
            hint=f"add {user} to the docker group there (`sudo usermod -aG docker {user}`), "
                 "or connect as root",
        )
    return None


# ---- swarm -------------------------------------------------------------------------------
def _check_not_in_swarm(cluster: str, hostname: str, swarm: dict[str, Any],
                        nodes: list[dict[str, Any]]) -> None:
    state = swarm.get("LocalNodeState") or "inactive"
    if state == "inactive":
        return
    node_id = swarm.get("NodeID") or "?"
    if state == "active" and node_id in {n["ID"] for n in nodes}:
        raise Refused(f"{hostname} is already a node of cluster {cluster} ({node_id[:12]})",
                      hint="nothing to do: `docker node ls` on a manager lists it")
    if state == "active":
        cluster_id = (swarm.get("Cluster") or {}).get("ID")
        remote = ", ".join(m["Addr"] for m in swarm.get("RemoteManagers") or [])
        which = f"swarm {cluster_id}" if cluster_id else f"the swarm of managers {remote}"
        raise Refused(
            f"{hostname} is already in another swarm: node {node_id[:12]} of {which}",
            hint=f"to move it, run `docker swarm leave` on {hostname} first, then add it "
                 "again; its tasks in that swarm stop",
        )
    error = f": {swarm['Error']}" if swarm.get("Error") else ""
    raise Refused(f"{hostname} is in swarm state {state!r}{error}",
                  hint=f"`docker info` on {hostname} says more; `docker swarm leave --force` "
                       "there resets it")


def _manager_addrs(nodes: list[dict[str, Any]]) -> list[str]:
    """The managers' swarm addresses (IP:PORT), the leader first, unreachable ones last."""
    managers = [n["ManagerStatus"] for n in nodes if n.get("ManagerStatus", {}).get("Addr")]
    managers.sort(key=lambda m: (not m.get("Leader"), m.get("Reachability") != "reachable"))
    return [m["Addr"] for m in managers]


def _ip(addr: str) -> str:
    return addr.rpartition(":")[0].strip("[]")


def _port(addr: str) -> str:
    return addr.rpartition(":")[2]


# ---- advertise ---------------------------------------------------------------------------
async def _route_source(host: ManagerSession, manager_ip: str) -> str:
    """The source address the host's routing table picks to reach the manager."""
    ip = shlex.quote(manager_ip)
    out = await host.run(f"ip route get {ip} 2>&1 || true", timeout=15)
    match = re.search(r"\bsrc\s+(\S+)", out)
    if match is None:
        raise UsageError(
            f"cannot tell which address {host.label} uses to reach the manager {manager_ip} "
            f"(`ip route get {manager_ip}`: {out.strip()[:120] or 'no output'})",
            hint="pass the address to advertise (advertise_addr, --advertise-addr)",
        )
    return match.group(1)


# ---- reach -------------------------------------------------------------------------------
def _probe_script(addr: str) -> str:
    """A shell line printing which tool checked ADDR and its exit status (0: port open).
    Tools in order: an nc that knows -z, bash's /dev/tcp under timeout, busybox nc (whose
    Debian build lacks -z: it connects and runs `true`), else `none`."""
    ip, port = shlex.quote(_ip(addr)), shlex.quote(_port(addr))
    dev_tcp = shlex.quote(f"exec 3<>/dev/tcp/{_ip(addr)}/{_port(addr)}")
    return (
        "if command -v nc >/dev/null 2>&1 && nc -h 2>&1 | grep -q -- -z; then "
        f"t=nc; nc -z -w3 {ip} {port} </dev/null >/dev/null 2>&1; "
        "elif command -v bash >/dev/null 2>&1 && command -v timeout >/dev/null 2>&1; then "
        f"t=bash; timeout 4 bash -c {dev_tcp} >/dev/null 2>&1; "
        "elif command -v busybox >/dev/null 2>&1; then "
        f"t=busybox; busybox nc -w3 {ip} {port} -e true </dev/null >/dev/null 2>&1; "
        "else t=none; false; fi; echo \"$t $?\""
    )


async def _check_reach(host: ManagerSession, hostname: str, role: str, managers: list[str],
                       say: Progress) -> None:
    results = await asyncio.gather(*(host.run(_probe_script(a), timeout=20) for a in managers))
    checked = [r.split() for r in results]
    if any(words[:1] == ["none"] for words in checked):
        say(f"reach: warning: {hostname} has no nc, bash or busybox to test the managers' "
            "port with; skipped the check")
        return
    tool = checked[0][0] if checked and checked[0] else "?"
    closed = [a for a, words in zip(managers, checked, strict=True) if words[1:] != ["0"]]
    if not closed:
        return
    # a worker needs one manager; a manager joins raft and must reach every one of them
    if role == "worker" and len(closed) < len(managers):
        say(f"reach: warning: {hostname} cannot reach {', '.join(closed)} (checked with "
            f"{tool}); joining through the others")
        return
    raise HostUnreachable(
        f"{hostname} cannot reach the manager{'s' if len(closed) > 1 else ''} "
        f"{', '.join(closed)} (checked with {tool} on {hostname})",
        hint="open the swarm port from this host to the managers (firewall, security group, "
             "routing); nodes also need 7946/tcp+udp and 4789/udp between them",
    )


# ---- ready -------------------------------------------------------------------------------
async def _wait_ready(ops: ClusterOps, node_id: str, hostname: str, address: str, role: str,
                      deadline: float, timeout: float) -> dict[str, Any]:
    """Poll the cluster until the new node is Ready (and, for a manager, reachable)."""
    node: dict[str, Any] | None = None
    while True:
        node = _find(await ops.docker.get("/nodes"), node_id, hostname, address) or node
        if node is not None and _is_ready(node, role):
            return node
        if time.monotonic() >= deadline:
            break
        await asyncio.sleep(1)
    if node is None:
        seen = "the cluster does not list it"
    else:
        status = node.get("Status") or {}
        seen = f"it is {status.get('State')}"
        if status.get("Message"):
            seen += f": {status['Message']}"
        if role == "manager":
            reach = (node.get("ManagerStatus") or {}).get("Reachability") or "unknown"
            seen += f", manager reachability {reach}"
    raise OperationFailed(
        f"{hostname} joined cluster {ops.cluster} as a {role} but is not Ready after "
        f"{timeout:g}s ({seen})",
        hint=f"look with `docker node ls` and `docker node ps {hostname}` on a manager, and "
             f"`docker info` / `journalctl -u docker` on {hostname}",
    )


def _find(nodes: list[dict[str, Any]], node_id: str, hostname: str,
          address: str) -> dict[str, Any] | None:
    for node in nodes:
        if node_id and node["ID"] == node_id:
            return node
        if (not node_id and node["Description"].get("Hostname") == hostname
                and (node.get("Status") or {}).get("Addr") == address):
            return node
    return None


def _is_ready(node: dict[str, Any], role: str) -> bool:
    if (node.get("Status") or {}).get("State") != "ready":
        return False
    if role == "manager":
        return (node.get("ManagerStatus") or {}).get("Reachability") == "reachable"
    return True
