"""Faults to inject into a lab node, each reversible: kill its dockerd or its sshd alone, or
cut its link to the bridge. Restoring waits until the daemon answers (or the node is
reachable) again; `heal` puts a whole lab back the way `up` left it, whatever was done to it.

A node's daemons run in its own network, mount and UTS namespaces (see node.py). A killed
one is started again with the same command line inside the same namespaces, entered through
any process still living there (the other daemon, containerd, a container shim).
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from swarmdeck.core.errors import LabError
from swarmdeck.lab import node as labnode
from swarmdeck.lab import system
from swarmdeck.lab.lab import Lab
from swarmdeck.lab.topology import LabNode

KINDS = ("dockerd", "sshd", "link")


@dataclass(frozen=True)
class Fault:
    node: str
    kind: str  # dockerd | sshd | link

    def __str__(self) -> str:
        return f"{'link cut' if self.kind == 'link' else self.kind + ' killed'} on {self.node}"


def lab_node(lab: Lab, name: str) -> LabNode:
    spec = lab.spec()
    found = next((n for n in spec.nodes() if n.name == name), None) if spec else None
    if found is None:
        raise LabError(f"no lab node {name!r}")
    return found


def _pids(node: LabNode, command: str) -> set[int]:
    """The node's processes whose name is COMMAND (every sshd: listener and sessions)."""
    found = set()
    for pid in system.netns_pids(node.netns):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == command:
                found.add(pid)
        except OSError:
            continue
    return found


def _listeners(node: LabNode) -> set[int]:
    """The node's listening sshd. It names itself "sshd: ... [listener] ..." once started
    (before that: its plain command line, with -D); a session's sshd names itself "sshd:
    root@notty", and one re-executed for a new connection carries -R."""
    found = set()
    for pid in _pids(node, "sshd"):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"[listener]" in argv[0] or (b"-D" in argv and b"-R" not in argv):
            found.add(pid)
    return found


def running(lab: Lab, name: str, kind: str) -> bool:
    """Whether the node's link is up or its daemon runs (sshd: its listener; the sessions
    of connections made before a kill may outlive it)."""
    node = lab_node(lab, name)
    if kind == "link":
        return Path(f"/sys/class/net/{node.veth}/operstate").read_text().strip() != "down" \
            if system.link_exists(node.veth) else False
    pids = _listeners(node) if kind == "sshd" else _pids(node, kind)
    return any(system.alive(p) for p in pids)


def inject(lab: Lab, name: str, kind: str, *, sig: int = signal.SIGKILL) -> Fault:
    """Kill the node's dockerd or every sshd process (SIG, default SIGKILL: a crash), or
    take its link down. Returns once the daemon is gone."""
    node = lab_node(lab, name)
    if kind == "link":
        system.run(["ip", "link", "set", node.veth, "down"])
        return Fault(name, kind)
    if kind not in KINDS:
        raise LabError(f"unknown fault {kind!r}: one of {', '.join(KINDS)}")
    pids = _pids(node, kind)
    if not pids:
        raise LabError(f"{name}: no {kind} running")
    # a connection accepted while the kill goes out forks a session the first list missed:
    # list and kill again until none is left
    for _round in range(5):
        system.signal_pids(pids, sig)
        left = system.wait_gone(pids, 20)
        if left:
            system.signal_pids(left, signal.SIGKILL)
            if system.wait_gone(left, 10):
                raise LabError(f"{name}: {kind} would not die")
        pids = {p for p in _pids(node, kind) if system.alive(p)}
        if not pids:
            return Fault(name, kind)
        sig = signal.SIGKILL
    raise LabError(f"{name}: {kind} kept coming back: {sorted(pids)}")


def restore(lab: Lab, fault: Fault, *, timeout: float = 90) -> None:
    """Undo FAULT and wait until the daemon answers (the node is reachable) again."""
    node = lab_node(lab, fault.node)
    d = labnode.NodeDirs(lab.dir, node)
    if fault.kind == "link":
        system.run(["ip", "link", "set", node.veth, "up"])
        if _wait_answers(lab, node, fault.kind, timeout):
            return
        raise LabError(f"lab node {node.name}: not reachable {timeout:.0f}s after its link "
                       "was brought back up")
    q = shlex.quote
    if fault.kind == "dockerd":
        command = f"dockerd --config-file {q(str(d.daemon_json))} " \
                  f">>{q(str(d.root / 'dockerd.log'))} 2>&1"
    else:
        command = f"{q(system.find_command('sshd'))} -D -f {q(str(d.sshd_config))} " \
                  f"-E {q(str(d.root / 'sshd.log'))} >>{q(str(d.root / 'init.log'))} 2>&1"
    deadline = time.monotonic() + timeout
    # a dockerd killed with its containerd may fail its first start ("timeout waiting for
    # containerd to start", while the old shims are cleared): start it again, a few times
    for _attempt in range(3):
        if not running(lab, fault.node, fault.kind):
            _start_inside(node, command)
        if _wait_answers(lab, node, fault.kind, deadline - time.monotonic()):
            return
    raise LabError(f"lab node {node.name}: {fault.kind} did not answer within "
                   f"{timeout:.0f}s after the restore; see {d.root}")


def _start_inside(node: LabNode, command: str) -> None:
    """Start COMMAND detached (setsid, no parent of ours) in the node's namespaces. COMMAND
    redirects its own output: nothing may hold our pipes open."""
    anchor = _anchor(node)
    system.run(["nsenter", f"--target={anchor}", "--net", "--mount", "--uts", "bash", "-c",
                f"setsid {command} </dev/null & disown"], timeout=30)


def _anchor(node: LabNode) -> int:
    """A process living in the node's mount namespace (not the host's)."""
    host_mnt = os.readlink("/proc/self/ns/mnt")
    for pid in sorted(system.netns_pids(node.netns)):
        try:
            if os.readlink(f"/proc/{pid}/ns/mnt") != host_mnt and system.alive(pid):
                return pid
        except OSError:
            continue
    raise LabError(f"lab node {node.name}: no process left in its namespaces to restart a "
                   "daemon from; recreate the lab with `swarmdeck lab up`")


def _wait_answers(lab: Lab, node: LabNode, kind: str, timeout: float) -> bool:
    """Until the daemon answers (dockerd: its API; sshd: a TCP connection; link: the node's
    sshd from the host). False when the daemon died meanwhile or the time ran out."""
    d = labnode.NodeDirs(lab.dir, node)
    started = time.monotonic()
    deadline = started + max(timeout, 0)
    while time.monotonic() < deadline:
        if kind == "dockerd" and labnode._docker_ping(d.socket):
            return True
        if kind != "dockerd" and labnode._tcp_open(node.address, 22):
            return True
        # (a moment's grace: the process just started may not have exec'd its name yet)
        if kind != "link" and time.monotonic() - started > 2 \
                and not running(lab, node.name, kind):
            return False
        time.sleep(0.2)
    return False


@contextmanager
def injected(lab: Lab, name: str, kind: str, **kwargs) -> Iterator[Fault]:
    """The fault for the length of the block, restored however the block ends."""
    fault = inject(lab, name, kind, **kwargs)
    try:
        yield fault
    finally:
        restore(lab, fault)


# ---- the whole lab ----------------------------------------------------------------------
def swarm_view(lab: Lab, cluster: str) -> list[dict]:
    """`docker node ls` of the cluster from the first of its managers that answers."""
    for node in (n for n in lab.running_spec().nodes()
                 if n.cluster == cluster and n.role == "manager"):
        try:
            out = lab.docker(labnode.docker_host(lab.dir, node), "node", "ls", "--format",
                             "{{json .}}", timeout=10)
        except Exception:  # noqa: BLE001 - that manager cannot say: ask the next
            continue
        return [json.loads(line) for line in out.splitlines() if line.strip()]
    return []


def swarm_healthy(lab: Lab, cluster: str, *, active: bool = True) -> bool:
    """Every node Ready (and ACTIVE: Active, as seeded), every manager Reachable or
    Leader."""
    nodes = swarm_view(lab, cluster)
    managers = {n.name for n in lab.running_spec().nodes() if n.cluster == cluster
                and n.role == "manager"}
    wanted = len([n for n in lab.running_spec().nodes() if n.cluster == cluster])
    return len(nodes) == wanted and any(n["ManagerStatus"] == "Leader" for n in nodes) and all(
        n["Status"] == "Ready" and (n["Availability"] == "Active" or not active)
        and (n["Hostname"] not in managers or n["ManagerStatus"] in ("Leader", "Reachable"))
        for n in nodes)


def leader(lab: Lab, cluster: str) -> str | None:
    return next((n["Hostname"] for n in swarm_view(lab, cluster)
                 if n["ManagerStatus"] == "Leader"), None)


def wait_swarm_healthy(lab: Lab, cluster: str, timeout: float = 90, *,
                       active: bool = True) -> None:
    deadline = time.monotonic() + timeout
    while not swarm_healthy(lab, cluster, active=active):
        if time.monotonic() > deadline:
            raise LabError(f"swarm {cluster} not healthy after {timeout:.0f}s: "
                           f"{swarm_view(lab, cluster)}")
        time.sleep(0.5)


def heal(lab: Lab, *, timeout: float = 120, leaders: bool = True) -> list[str]:
    """Bring back every link and daemon that is down and every node drained, then wait
    until every swarm is healthy and its services converged. LEADERS: also try to give
    leadership back to the manager `up` made leader (tests may expect it). Returns what
    had to be restored. A lab that is not up (a later test tore it down) has nothing to
    heal."""
    restored: list[str] = []
    spec = lab.spec()
    if spec is None:
        return restored
    for node in spec.nodes():
        for kind in ("link", "sshd", "dockerd"):
            if not running(lab, node.name, kind):
                restore(lab, Fault(node.name, kind))
                restored.append(str(Fault(node.name, kind)))
    for cluster in spec.clusters:
        for n in swarm_view(lab, cluster.name):  # a drain left behind by a failed test
            if n["Availability"] != "Active" and n["Status"] == "Ready":
                _on_a_manager(lab, cluster.name, "node", "update", "--availability", "active",
                              n["Hostname"])
                restored.append(f"{n['Hostname']} {n['Availability'].lower()} -> active")
        wait_swarm_healthy(lab, cluster.name, timeout)
        first = next(n for n in spec.nodes() if n.cluster == cluster.name)
        if leaders and leader(lab, cluster.name) != first.name:
            now = prefer_leader(lab, cluster.name, first.name)
            restored.append(f"leader {cluster.name}: {now}")
        wait_converged(lab, cluster.name, timeout)
    return restored


def wait_converged(lab: Lab, cluster: str, timeout: float = 120) -> None:
    """Until every replicated/global service runs all its replicas. A manager that just
    came back may call an election (its term moved on while it was cut off): "no leader"
    for a moment is waited out, not an error."""
    deadline = time.monotonic() + timeout
    pending: list[str] = []
    while time.monotonic() < deadline:
        try:
            out = _on_a_manager(lab, cluster, "service", "ls", "--format",
                                "{{.Name}}|{{.Mode}}|{{.Replicas}}")
        except LabError as exc:
            pending = [str(exc)]
        else:
            pending = [line for line in out.splitlines() if _short(line)]
            if not pending:
                return
        time.sleep(0.5)
    raise LabError(f"swarm {cluster}: services not converged after {timeout:.0f}s: {pending}")


def _on_a_manager(lab: Lab, cluster: str, *args: str) -> str:
    error: Exception | None = None
    for node in (n for n in lab.running_spec().nodes()
                 if n.cluster == cluster and n.role == "manager"):
        try:
            return lab.docker(labnode.docker_host(lab.dir, node), *args, timeout=60)
        except LabError as exc:
            error = exc
    raise LabError(f"swarm {cluster}: no manager could run docker {' '.join(args)}: {error}")


def prefer_leader(lab: Lab, cluster: str, wanted: str, *, tries: int = 4) -> str | None:
    """Best effort: make WANTED (the leader `up` made) the leader again by killing and
    restarting the dockerd of whichever manager leads instead, a few times at most (Raft
    picks the next leader freely; SIGKILL leaves the containers running)."""
    current = leader(lab, cluster)
    for _ in range(tries):
        if current in (wanted, None):
            break
        restore(lab, inject(lab, current, "dockerd"))
        wait_swarm_healthy(lab, cluster)
        current = leader(lab, cluster)
    return current


def _short(line: str) -> bool:
    """A `service ls` line (NAME|MODE|RUNNING/DESIRED ...) of a service missing replicas;
    jobs are never short."""
    _name, mode, replicas = line.split("|")[:3]
    running, _, desired = replicas.split()[0].partition("/")
    return "job" not in mode and running != desired
