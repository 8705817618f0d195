"""The cluster doctor: what is broken or fragile in a swarm, why it matters, what to do.

`diagnose` is pure: it reads a ClusterState, plus the few facts the inventory does not hold
(certificates, engine labels, registry lookups of images that fail to pull) fetched once by
`gather_facts`, and returns findings worst first. The CLI prints them and the console lists
them; neither decides what is a problem. The image checks live in doctor_images.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from swarmdeck.core import doctor_images
from swarmdeck.core.errors import NoLeader, SwarmdeckError
from swarmdeck.core.findings import SEVERITIES, Finding, Severity
from swarmdeck.core.inventory import ClusterState
from swarmdeck.core.models import Service, Task
from swarmdeck.core.placement import Constraint, Placer, engine_labels_from_api

RECENT = 15 * 60  # seconds: failures older than this are history, not a loop
LOOP_FAILURES = 3  # failed tasks of one slot within RECENT that make a restart loop
CERT_WARN_DAYS = 30
MAX_MANAGERS = 7
DAY = 86400.0
PAST = {"drain": "drained", "pause": "paused"}


@dataclass(frozen=True)
class Certificate:
    name: str
    not_after: datetime


@dataclass(frozen=True)
class SwarmFacts:
    """What the inventory does not keep: GET /swarm and the nodes' TLS and engine labels."""

    certificates: tuple[Certificate, ...] = ()
    node_cert_validity: float | None = None  # seconds a node certificate is issued for
    rotation_in_progress: bool = False
    issuer_key: str = ""  # the swarm's current CA public key
    node_issuer_keys: Mapping[str, str] = field(default_factory=dict)
    engine_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    error: str | None = None  # why the facts could not be fetched
    # image -> the manager's registry lookup, for images some node failed to pull
    images: Mapping[str, doctor_images.ImageLookup] = field(default_factory=dict)


async def gather_facts(docker: Any, state: ClusterState | None = None) -> SwarmFacts:
    """One GET /swarm and one GET /nodes on the manager's Docker API; with STATE, a registry
    lookup of each image its nodes recently failed to pull."""
    try:
        swarm, nodes, lookups = await asyncio.gather(
            docker.get("/swarm"), docker.get("/nodes"),
            doctor_images.lookup_failing(docker, state, since=time.time() - RECENT))
    except SwarmdeckError as exc:
        return SwarmFacts(error=str(exc))
    return dataclasses.replace(facts_from_api(swarm, nodes), images=lookups)


def facts_from_api(swarm: dict[str, Any], nodes: list[dict[str, Any]]) -> SwarmFacts:
    tls = swarm.get("TLSInfo") or {}
    ca_config = (swarm.get("Spec") or {}).get("CAConfig") or {}
    certificates = list(_certificates("swarm root CA", tls.get("TrustRoot", "")))
    for ca in ca_config.get("ExternalCAs") or []:
        certificates += _certificates(f"external CA {ca.get('URL', '')}".strip(),
                                      ca.get("CACert", ""))
    expiry = ca_config.get("NodeCertExpiry")
    return SwarmFacts(
        certificates=tuple(certificates),
        node_cert_validity=expiry / 1e9 if expiry else None,
        rotation_in_progress=bool(swarm.get("RootRotationInProgress")),
        issuer_key=tls.get("CertIssuerPublicKey", ""),
        node_issuer_keys={
            n["ID"]: ((n.get("Description") or {}).get("TLSInfo") or {})
            .get("CertIssuerPublicKey", "") for n in nodes},
        engine_labels=engine_labels_from_api(nodes),
    )


def _certificates(name: str, pem: str) -> Iterator[Certificate]:
    if not pem:
        return
    from cryptography import x509  # asyncssh's dependency: always installed with us

    try:
        certs = x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        return
    for i, cert in enumerate(certs):
        yield Certificate(name if len(certs) == 1 else f"{name} #{i + 1}",
                          cert.not_valid_after_utc)


# ---- the diagnosis ----------------------------------------------------------------------

@dataclass
class _Exam:
    state: ClusterState
    now: float
    facts: SwarmFacts | None
    tasks: dict[str, list[Task]]

    def name(self, node_id: str | None) -> str:
        return self.state.node_name(node_id)

    def recent(self, task: Task) -> bool:
        moment = task.timestamp or task.updated_at
        return moment is not None and self.now - moment.timestamp() <= RECENT


def diagnose(state: ClusterState, *, now: float, facts: SwarmFacts | None = None
             ) -> list[Finding]:
    """Every finding about STATE at NOW (unix seconds), errors first."""
    if not state.loaded:
        return [_unreadable(state)]
    exam = _Exam(state, now, facts, state.tasks_by_service())
    findings = [f for check in CHECKS for f in check(exam)]
    return sorted(findings, key=lambda f: SEVERITIES.index(f.severity))


def counts(findings: Iterable[Finding]) -> dict[str, int]:
    out: dict[str, int] = dict.fromkeys(SEVERITIES, 0)
    for f in findings:
        out[f.severity] += 1
    return out


def _no_leader(error: SwarmdeckError | None) -> Finding | None:
    """The swarm has no leader: said plainly, with the managers counted when they were."""
    reason = str(error) if error else ""
    if not isinstance(error, NoLeader) and "does not have a leader" not in reason:
        return None
    counted = error if isinstance(error, NoLeader) and error.total is not None else None
    return Finding(
        "error", "managers.quorum", "cluster",
        counted.message if counted else "quorum lost: the swarm has no leader",
        f"fewer than a majority of managers are reachable, so nothing can be read or "
        f"changed ({reason})",
        "bring the lost managers back online; if they are gone for good, run `docker "
        "swarm init --force-new-cluster` on a surviving manager, then add managers again")


def _unreadable(state: ClusterState) -> Finding:
    reason = str(state.error) if state.error else "not loaded yet"
    lost = _no_leader(state.error)
    if lost is not None:
        return lost
    return Finding("error", "cluster.unreachable", "cluster",
                   "the cluster's state could not be read", reason,
                   "check the manager addresses and SSH access in the config")


def _stale(exam: _Exam) -> Iterator[Finding]:
    st = exam.state
    if not st.connected and st.loaded_at:
        yield Finding("warning", "cluster.stale", "cluster",
                      f"the data is {exam.now - st.loaded_at:.0f}s old: the connection "
                      f"was lost", str(st.error or "reconnecting"),
                      "these findings describe the cluster as it was; wait for the "
                      "reconnection or check the manager")


def fault_tolerance(managers: int) -> int:
    return max(0, (managers - 1) // 2)


def quorum(managers: int) -> int:
    return managers // 2 + 1


def _managers(exam: _Exam) -> Iterator[Finding]:
    lost = None if exam.state.connected else _no_leader(exam.state.error)
    if lost is not None:  # the data is from before: its leader and reachability are gone
        yield lost
        return
    managers = sorted((n for n in exam.state.nodes.values() if n.role == "manager"),
                      key=lambda n: n.hostname)
    n = len(managers)
    rule = (f"Raft needs a majority (quorum) of managers to change anything; N managers "
            f"tolerate (N-1)/2 failures, rounded down: {n} tolerate{'s' if n == 1 else ''} "
            f"{fault_tolerance(n)}")
    if_lost = ("if it is lost, running containers keep running but nothing can be scheduled, "
               "updated or recovered")
    if n in (1, 2):
        yield Finding(
            "warning", "managers.count", "cluster",
            f"{n} manager{'s' if n > 1 else ''}: the swarm tolerates no manager failure",
            f"{rule}. " + (if_lost.capitalize() + "." if n == 1 else
                           "With 2, losing either one loses the quorum of 2: twice the "
                           "machines that can stop the swarm, for no gain."),
            "promote workers (docker node promote NODE) or join managers to have 3 "
            "(1 failure tolerated) or 5, in different failure domains")
    elif n % 2 == 0 and n:
        yield Finding(
            "warning", "managers.count", "cluster",
            f"{n} managers: an even count adds no fault tolerance",
            f"{rule}, the same as {n - 1}; and a network split into halves leaves neither "
            f"side with a quorum",
            f"have {n + 1} (docker node promote NODE) or {n - 1} (docker node demote "
            f"NODE) managers")
    elif n > MAX_MANAGERS:
        yield Finding("info", "managers.count", "cluster", f"{n} managers",
                      f"{rule}, but every Raft write waits for a majority: more than "
                      f"{MAX_MANAGERS} managers slow the swarm down",
                      "demote managers to 5 or 7 (docker node demote NODE)")
    reachable = [m for m in managers if m.reachability == "reachable"]
    away = [m for m in managers if m.reachability != "reachable"]
    if n and len(reachable) < quorum(n):
        yield Finding(
            "error", "managers.quorum", "cluster",
            f"quorum lost: {len(reachable)} of {n} managers reachable, quorum needs "
            f"{quorum(n)}",
            f"without a quorum the swarm cannot schedule, update or recover anything "
            f"(unreachable: {', '.join(m.hostname for m in away)})",
            "bring the lost managers back online; if they are gone for good, run `docker "
            "swarm init --force-new-cluster` on a surviving manager, then add managers")
        return
    if away:
        spare = len(reachable) - quorum(n)
        yield Finding(
            "error", "managers.unreachable", "cluster",
            f"{len(away)} of {n} managers unreachable: "
            + ", ".join(f"{m.hostname} ({m.reachability or m.status})" for m in away),
            f"{len(reachable)} reachable of {n} with a quorum of {quorum(n)}: the swarm "
            f"tolerates {spare} more manager failure{'' if spare == 1 else 's'}",
            "check dockerd on those hosts and that port 2377/tcp is open between managers; "
            "if a host is gone for good: docker node demote NODE, docker node rm --force "
            "NODE, then promote a healthy node")
    if n and exam.state.leader() is None:
        yield Finding("error", "managers.leader", "cluster", "no manager is the leader",
                      "an election is under way or the managers cannot reach each other; "
                      "until a leader is elected nothing can change",
                      "wait a few seconds; if it lasts, check the network between managers")


def _nodes(exam: _Exam) -> Iterator[Finding]:
    validity = exam.facts.node_cert_validity if exam.facts else None
    for node in sorted(exam.state.nodes.values(), key=lambda n: n.hostname):
        subject = f"node {node.hostname}"
        counted = node.role == "manager" and node.reachability != "reachable"
        note = f" ({node.status_message})" if node.status_message else ""
        if node.status == "down" and not counted:
            why = (f"its tasks were rescheduled on other nodes where they fit, so the "
                   f"swarm has less capacity{note}")
            fix = ("check dockerd on the host and the network to the managers (2377/tcp, "
                   f"7946/tcp+udp, 4789/udp); if the host is gone: docker node rm "
                   f"{node.hostname}")
            since = node.updated_at.timestamp() if node.updated_at else None
            if validity and since and exam.now - since > validity:
                why += (f"; it has been down longer than the node certificate lifetime "
                        f"({validity / DAY:.0f} days), so its certificate has expired")
                fix = (f"remove it (docker node rm {node.hostname}) and join the host again "
                       f"with a join token: its old certificate is no longer valid")
            yield Finding("error", "node.down", subject, f"node {node.hostname} is down",
                          why, fix)
        elif node.status in ("unknown", "disconnected") and not counted:
            yield Finding("warning", "node.status", subject,
                          f"node {node.hostname} is {node.status}",
                          f"the managers have not heard from it recently{note}",
                          "check dockerd on the host and the network to the managers")
        if node.availability in ("drain", "pause"):
            effect = ("runs no tasks: its tasks moved to other nodes"
                      if node.availability == "drain" else "gets no new tasks")
            yield Finding(
                "warning", f"node.{node.availability}", subject,
                f"node {node.hostname} is {PAST[node.availability]}",
                f"it {effect}; fine during maintenance, a loss of capacity if forgotten",
                f"when the maintenance is over: docker node update --availability active "
                f"{node.hostname}")


def _newest_problem(exam: _Exam, tasks: Iterable[Task]) -> str:
    def stamp(t: Task) -> float:
        moment = t.timestamp or t.updated_at
        return moment.timestamp() if moment else 0.0

    for t in sorted(tasks, key=stamp, reverse=True):
        if t.error or t.state in ("failed", "rejected"):
            code = f", exit code {t.exit_code}" if t.exit_code else ""
            where = f" on {exam.name(t.node_id)}" if t.node_id else ""
            return f"newest task error{where}: {t.error or t.message or t.state}{code}"
    return ""


def _services(exam: _Exam) -> Iterator[Finding]:
    st = exam.state
    for service in sorted(st.services.values(), key=lambda s: s.name):
        tasks = exam.tasks.get(service.id, [])
        yield from _convergence(exam, service, tasks)
        # failures of an image the service no longer uses (rolled back) are history
        current = [t for t in tasks if exam.recent(t) and t.image in ("", service.image)]
        pulls = doctor_images.failing(current)
        yield from _restart_loop(exam, service, current, pulls)
        if pulls:
            nodes = sorted({exam.name(t.node_id) for t in pulls if t.node_id})
            yield doctor_images.image_pull(st.name, service, pulls, nodes,
                                           _newest_problem(exam, pulls),
                                           exam.facts.images if exam.facts else None)
        elif local := doctor_images.local_image(
                service, sorted({exam.name(t.node_id) for t in tasks
                                 if t.desired_state == "running" and t.node_id}),
                st.nodes.values()):
            yield local


def _convergence(exam: _Exam, service: Service, tasks: list[Task]) -> Iterator[Finding]:
    if service.mode.endswith("job"):
        return
    running, desired = exam.state.replicas(service, tasks)
    if running >= desired:
        return
    updating = service.update_state in ("updating", "rollback_started")
    severity: Severity = "info" if updating else "error" if running == 0 else "warning"
    why = ("it is being updated, so some replicas are being replaced; " if updating else
           "fewer replicas serve than the service asks for; ")
    yield Finding(severity, "service.replicas", f"service {service.name}",
                  f"{service.name}: {running} of {desired} replicas running",
                  why + (_newest_problem(exam, tasks) or "no task reports an error yet"),
                  f"see each attempt with `docker service ps --no-trunc {service.name}` "
                  f"(or open the service in the console) and fix what the error says; the swarm "
                  f"keeps retrying on its own")


def _restart_loop(exam: _Exam, service: Service, recent: list[Task], pulls: list[Task]
                  ) -> Iterator[Finding]:
    # a long-running service's container that exits, even with 0, is restarted too
    ends = ("failed", "rejected") if service.mode.endswith("job") else \
        ("failed", "rejected", "complete")
    slots: dict[object, list[Task]] = defaultdict(list)
    for t in recent:
        if t.state in ends:
            slots[t.slot if t.slot is not None else t.node_id].append(t)
    looping = {k: v for k, v in slots.items() if len(v) >= LOOP_FAILURES}
    failures = [t for v in looping.values() for t in v]
    if not failures or all(t in pulls for t in failures):
        return  # none, or an image that cannot be pulled (its own finding says so)
    yield Finding(
        "error", "service.restart_loop", f"service {service.name}",
        f"{service.name} is restarting in a loop: {len(failures)} ended tasks in "
        f"{len(looping)} slot{'s' if len(looping) > 1 else ''} in the last "
        f"{RECENT // 60} minutes",
        "its containers keep ending soon after they start; " + (
            _newest_problem(exam, failures) or "they exit with code 0: the command "
                                               "finishes instead of running on"),
        f"read the failed tasks' logs (docker service logs {service.name}); a restart "
        f"policy with a delay and max_attempts keeps a crash loop from churning the nodes")


# ---- placement ----------------------------------------------------------------------------

def _placement(exam: _Exam) -> Iterator[Finding]:
    engine = exam.facts.engine_labels if exam.facts and not exam.facts.error else None
    placer = Placer(exam.state.nodes.values(), engine)
    for service in sorted(exam.state.services.values(), key=lambda s: s.name):
        per_node = ((service.raw_spec.get("TaskTemplate") or {}).get("Placement") or {}) \
            .get("MaxReplicas") or 0
        if not service.constraints and not per_node:
            continue
        parsed, fitting = placer.fitting(service.constraints)
        replicated = service.mode.startswith("replicated")
        wants = (service.replicas or 0) if replicated else 1
        if parsed and not fitting and wants:
            yield _unplaceable(service, parsed, placer, "error" if replicated else "warning")
        elif service.mode == "replicated" and per_node and fitting \
                and per_node * len(fitting) < wants:
            yield Finding(
                "error", "service.placement", f"service {service.name}",
                f"{service.name}: only {per_node * len(fitting)} of {wants} replicas can be "
                f"placed",
                f"at most {per_node} per node on the {len(fitting)} node"
                f"{'s' if len(fitting) > 1 else ''} that can run it "
                f"({', '.join(n.hostname for n in fitting)}): the rest stay pending",
                "raise max_replicas_per_node, add nodes that satisfy the constraints, or "
                "lower the replicas")


PINNING = ("node.hostname==", "node.id==")


def _local_volumes(exam: _Exam) -> Iterator[Finding]:
    """A service keeping data in a local named volume while its tasks may run on another
    node: each node has its own volume of that name, so the data forks or is left behind."""
    for service in sorted(exam.state.services.values(), key=lambda s: s.name):
        container = (service.raw_spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
        local = sorted({m.get("Source", "") for m in container.get("Mounts") or []
                        if m.get("Type") == "volume" and m.get("Source")
                        and ((m.get("VolumeOptions") or {}).get("DriverConfig") or {})
                        .get("Name", "local") in ("", "local")})
        if not local:
            continue
        pinned = any(c.replace(" ", "").startswith(PINNING) for c in service.constraints)
        several = service.mode.startswith("global") or (service.replicas or 0) > 1
        if pinned and not several:
            continue
        why = ("each of its replicas writes to the volume of the node it runs on"
               if several else "its task may be moved to another node (a drain, a node down, "
               "an update), which has an empty volume of that name")
        yield Finding(
            "warning", "service.local_volume", f"service {service.name}",
            f"{service.name} keeps data in local volume{'s' if len(local) > 1 else ''} "
            f"{', '.join(local)} but is not pinned to one node",
            f"a local volume lives on one node; {why}: the data forks or is left behind",
            f"pin it to the node holding the data (swarmdeck pin {service.name} --node NODE; "
            "`swarmdeck volume ls` shows where each volume is), or use a volume driver "
            "shared between nodes")


def _unplaceable(service: Service, parsed: list[Constraint], placer: Placer,
                 severity: Severity) -> Finding:
    dead, reason = placer.why_not(parsed)
    shown = ", ".join(c.text for c in (dead or parsed))
    outcome = ("its tasks stay pending and it never runs" if severity == "error"
               else "it runs on no node")
    labels = [c.label for c in dead if c.label]
    if dead and len(labels) == len(dead):
        return Finding(
            severity, "service.placement", f"service {service.name}",
            f"{service.name}: nodes missing labels that placement constraints need ({shown})",
            f"a task is placed only on a node that satisfies every constraint; no node has "
            f"the label{'s' if len(labels) > 1 else ''} {', '.join(labels)}, so {outcome}",
            f"label the nodes that should run it: docker node update --label-add "
            f"{labels[0]} NODE; or change the constraint (docker service update "
            f"--constraint-rm '{dead[0].text}' {service.name})")
    return Finding(
        severity, "service.placement", f"service {service.name}",
        f"{service.name}: no available node satisfies its placement constraints ({shown})",
        f"a task is placed only on a ready, active node that satisfies every constraint; "
        f"{reason}, so {outcome}",
        f"change the constraints (docker service update --constraint-rm/--constraint-add "
        f"... {service.name}) or make a node match them")


# ---- versions, networks, certificates -----------------------------------------------------

def _engine_versions(exam: _Exam) -> Iterator[Finding]:
    by_version: dict[str, list[str]] = defaultdict(list)
    for node in exam.state.nodes.values():
        if node.engine_version:
            by_version[node.engine_version].append(node.hostname)
    if len(by_version) < 2:
        return
    releases = {m.group(1) if (m := re.match(r"(\d+)\.", v)) else v for v in by_version}
    listing = "; ".join(f"{v} ({', '.join(sorted(h))})" for v, h in sorted(
        by_version.items(), key=lambda kv: -len(kv[1])))
    yield Finding(
        "warning" if len(releases) > 1 else "info", "engine.versions", "cluster",
        f"engine versions differ across nodes: {listing}",
        "a swarm is meant to run mixed versions only during an upgrade: managers and "
        "workers on different releases can disagree about features, defaults and the API",
        "upgrade one node at a time to the same version: drain it, upgrade the engine, "
        "set it active again (managers one by one, keeping a quorum)")


def _service_networks(service: Service) -> list[str]:
    spec = service.raw_spec
    attached = (spec.get("TaskTemplate") or {}).get("Networks") or spec.get("Networks") or []
    return [a.get("Target", "") for a in attached]


def _networks(exam: _Exam) -> Iterator[Finding]:
    st = exam.state
    by_ref = {ref: n for n in st.networks.values() for ref in (n.id, n.name)}
    carried: dict[str, set[str]] = defaultdict(set)  # network id -> services
    spans: dict[str, set[str]] = defaultdict(set)  # network id -> node ids
    for service in st.services.values():
        nodes = {t.node_id for t in exam.tasks.get(service.id, []) if t.is_running
                 and t.node_id}
        for ref in _service_networks(service):
            network = by_ref.get(ref)
            if network is None or network.driver != "overlay" or network.encrypted \
                    or network.ingress:
                continue
            carried[network.id].add(service.name)
            spans[network.id] |= nodes
    for net_id in sorted(carried, key=lambda i: st.networks[i].name):
        if len(spans[net_id]) < 2:
            continue
        name = st.networks[net_id].name
        yield Finding(
            "warning", "network.unencrypted", f"network {name}",
            f"overlay network {name} is not encrypted and links {len(spans[net_id])} nodes",
            f"traffic between containers on different nodes crosses the hosts' network as "
            f"plain VXLAN (services: {', '.join(sorted(carried[net_id]))}); Docker's guidance "
            f"for multi-node swarms is to encrypt overlays unless that network is trusted",
            f"recreate it encrypted: docker network create -d overlay --opt encrypted {name} "
            f"(in a stack file: driver_opts: {{encrypted: \"\"}}); a network cannot be "
            f"changed in place, and IPsec ESP (IP protocol 50) must be allowed between nodes")


def _certificates_check(exam: _Exam) -> Iterator[Finding]:
    facts = exam.facts
    if facts is None:
        return
    if facts.error:
        yield Finding("info", "facts.unavailable", "cluster",
                      "certificates and engine labels were not checked", facts.error,
                      "run the doctor again when the manager answers GET /swarm")
        return
    for cert in facts.certificates:
        days = (cert.not_after.timestamp() - exam.now) / DAY
        if days >= CERT_WARN_DAYS:
            continue
        when = cert.not_after.astimezone(UTC).strftime("%Y-%m-%d")
        yield Finding(
            "error" if days <= 0 else "warning", "certificate.expiry", cert.name,
            f"the {cert.name} certificate " + (f"expired on {when}" if days <= 0 else
                                              f"expires in {days:.0f} days ({when})"),
            "every node's certificate chains to it: once it expires, nodes cannot "
            "authenticate to each other and the swarm stops working",
            "rotate it while every node is online: docker swarm ca --rotate (nodes get "
            "new certificates automatically)")
    stale = sorted(exam.name(node_id) for node_id, key in facts.node_issuer_keys.items()
                   if key and facts.issuer_key and key != facts.issuer_key)
    if stale:
        yield Finding(
            "info" if facts.rotation_in_progress else "warning", "certificate.issuer",
            "cluster", f"{len(stale)} node certificate(s) issued by another CA than the "
            f"swarm's current one: {', '.join(stale)}",
            "a root CA rotation is under way" if facts.rotation_in_progress else
            "those nodes did not get a certificate from the current CA; they may be "
            "offline, and will not be trusted once the old CA is gone",
            "keep those nodes online until they are reissued; if they stay behind, run "
            "docker swarm ca --rotate again")
    if facts.node_cert_validity and facts.node_cert_validity < CERT_WARN_DAYS * DAY:
        days = facts.node_cert_validity / DAY
        yield Finding(
            "info", "certificate.node_validity", "cluster",
            f"node certificates are issued for only {days:g} days",
            "nodes renew them on their own while online; a node offline for longer cannot "
            "rejoin and has to leave and join again",
            "docker swarm update --cert-expiry 2160h (90 days, the default)")


# in this order within a severity: a cause (placement) reads before its symptom (replicas)
CHECKS = (_stale, _managers, _nodes, _placement, _local_volumes, _services, _engine_versions,
          _networks, _certificates_check)
