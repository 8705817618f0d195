"""The doctor's checks on crafted cluster states: each one fires when it should, stays quiet
when it should not, and says why and what to do."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from swarmdeck.cli import doctor as cli_doctor
from swarmdeck.cli.main import main
from swarmdeck.core.doctor import (
    Finding,
    SwarmFacts,
    counts,
    diagnose,
    facts_from_api,
    fault_tolerance,
    gather_facts,
    quorum,
)
from swarmdeck.core.doctor_images import registry_host
from swarmdeck.core.errors import ConnectionLost, DockerAPIError
from swarmdeck.core.inventory import ClusterState
from swarmdeck.core.models import Network, Node, Service, Task

FIXTURES = Path(__file__).parent.parent / "fixtures"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC).timestamp()
IMAGE = "registry.example.com/shop/web:1.0"


def at(seconds_ago: float) -> datetime:
    return datetime.fromtimestamp(NOW - seconds_ago, UTC)


def node(name: str, role: str = "worker", *, status: str = "ready",
         availability: str = "active", reach: str | None = "reachable", leader: bool = False,
         engine: str = "27.3.1", labels: dict[str, str] | None = None, arch: str = "x86_64",
         address: str = "10.0.0.9", updated: float = 3600) -> Node:
    return Node(id=f"id-{name}", hostname=name, role=role, availability=availability,
                status=status, leader=leader, reachability=reach if role == "manager" else None,
                engine_version=engine, labels=labels or {}, os="linux", architecture=arch,
                address=address, updated_at=at(updated))


def service(name: str, *, replicas: int | None = 1, mode: str = "replicated",
            image: str = IMAGE, digest: str | None = "sha256:abc",
            constraints: tuple[str, ...] = (), networks: tuple[str, ...] = (),
            max_replicas: int = 0, update_state: str | None = None) -> Service:
    spec = {"TaskTemplate": {"Networks": [{"Target": n} for n in networks],
                             "Placement": {"MaxReplicas": max_replicas}}}
    return Service(id=f"sid-{name}", name=name, mode=mode, replicas=replicas, image=image,
                   image_digest=digest, constraints=list(constraints),
                   update_state=update_state, raw_spec=spec)


_task_ids = iter(range(10**6))


def task(svc: Service, on: str, *, slot: int | None = 1, state: str = "running",
         desired: str = "running", error: str = "", ago: float = 600,
         image: str | None = None, exit_code: int | None = None) -> Task:
    return Task(id=f"t{next(_task_ids)}", service_id=svc.id, node_id=f"id-{on}", slot=slot,
                state=state, desired_state=desired, error=error, exit_code=exit_code,
                image=svc.image if image is None else image, timestamp=at(ago),
                updated_at=at(ago))


def cluster(nodes: list[Node], services: list[Service] = (), tasks: list[Task] = (),
            networks: list[Network] = ()) -> ClusterState:
    state = ClusterState("c1", nodes={n.id: n for n in nodes},
                         services={s.id: s for s in services}, tasks={t.id: t for t in tasks},
                         networks={n.id: n for n in networks})
    state.loaded_at = NOW - 1
    state.connected = True
    return state


def managers(count: int, **overrides) -> list[Node]:
    return [node(f"m{i}", "manager", leader=i == 1, **overrides) for i in range(1, count + 1)]


def healthy(extra_services: list[Service] = (), extra_tasks: list[Task] = (),
            nodes: list[Node] | None = None, networks: list[Network] = ()) -> ClusterState:
    """3 managers, 2 workers, one converged service: nothing to say."""
    web = service("web", replicas=2)
    return cluster(nodes if nodes is not None else managers(3) + [node("w1"), node("w2")],
                   [web, *extra_services],
                   [task(web, "w1", slot=1), task(web, "w2", slot=2), *extra_tasks],
                   networks)


def checks(findings: list[Finding]) -> list[str]:
    return [f.check for f in findings]


def only(findings: list[Finding], check: str) -> Finding:
    matching = [f for f in findings if f.check == check]
    assert len(matching) == 1, findings
    return matching[0]


def test_a_healthy_cluster_has_nothing_to_say():
    assert diagnose(healthy(), now=NOW) == []


# ---- managers ----------------------------------------------------------------------------

@pytest.mark.parametrize(("count", "tolerates", "needs"),
                         [(1, 0, 1), (2, 0, 2), (3, 1, 2), (4, 1, 3), (5, 2, 3), (7, 3, 4)])
def test_fault_tolerance_and_quorum(count, tolerates, needs):
    assert fault_tolerance(count) == tolerates
    assert quorum(count) == needs


@pytest.mark.parametrize(("count", "severity", "says"), [
    (1, "warning", "1 tolerates 0"),
    (2, "warning", "losing either one loses the quorum of 2"),
    (4, "warning", "4 tolerate 1, the same as 3"),
    (6, "warning", "6 tolerate 2, the same as 5"),
    (9, "info", "more than 7 managers"),
])
def test_manager_counts_without_fault_tolerance(count, severity, says):
    found = only(diagnose(healthy(nodes=managers(count) + [node("w1"), node("w2")]),
                          now=NOW), "managers.count")
    assert found.severity == severity
    assert says in found.why and "(N-1)/2" in found.why
    assert "docker node" in found.fix


@pytest.mark.parametrize("count", [3, 5, 7])
def test_odd_manager_counts_are_fine(count):
    findings = diagnose(healthy(nodes=managers(count) + [node("w1"), node("w2")]), now=NOW)
    assert "managers.count" not in checks(findings)


def test_an_unreachable_manager_is_an_error_that_says_what_is_left():
    nodes = managers(2) + [node("m3", "manager", reach="unreachable", status="down"),
                           node("w1"), node("w2")]
    findings = diagnose(healthy(nodes=nodes), now=NOW)
    found = only(findings, "managers.unreachable")
    assert found.severity == "error"
    assert "1 of 3 managers unreachable: m3" in found.what
    assert "tolerates 0 more manager failures" in found.why
    assert "node.down" not in checks(findings)  # the manager finding already says it


def test_quorum_lost_says_how_many_are_needed():
    nodes = managers(1) + [node("m2", "manager", reach="unreachable"),
                           node("m3", "manager", reach="unreachable"), node("w1"), node("w2")]
    findings = diagnose(healthy(nodes=nodes), now=NOW)
    found = only(findings, "managers.quorum")
    assert found.what == "quorum lost: 1 of 3 managers reachable, quorum needs 2"
    assert "--force-new-cluster" in found.fix
    assert "managers.unreachable" not in checks(findings)


def test_no_leader():
    nodes = [node(f"m{i}", "manager") for i in (1, 2, 3)] + [node("w1"), node("w2")]
    found = only(diagnose(healthy(nodes=nodes), now=NOW), "managers.leader")
    assert found.severity == "error"


def test_a_cluster_that_cannot_be_read():
    lost = ClusterState("c1", error=DockerAPIError(
        503, "rpc error: The swarm does not have a leader. It's possible that too few "
             "managers are online."))
    assert checks(diagnose(lost, now=NOW)) == ["managers.quorum"]
    down = ClusterState("c1", error=ConnectionLost("ssh to m1 failed"))
    found = only(diagnose(down, now=NOW), "cluster.unreachable")
    assert found.severity == "error" and "ssh to m1 failed" in found.why


def test_stale_data_is_said():
    state = healthy()
    state.connected = False
    state.loaded_at = NOW - 90
    found = only(diagnose(state, now=NOW), "cluster.stale")
    assert found.severity == "warning" and "90s old" in found.what


# ---- nodes -------------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "availability", "check", "severity"), [
    ("down", "active", "node.down", "error"),
    ("unknown", "active", "node.status", "warning"),
    ("disconnected", "active", "node.status", "warning"),
    ("ready", "drain", "node.drain", "warning"),
    ("ready", "pause", "node.pause", "warning"),
])
def test_nodes_down_drained_or_paused(status, availability, check, severity):
    nodes = managers(3) + [node("w1"), node("w2", status=status, availability=availability)]
    findings = diagnose(healthy(nodes=nodes), now=NOW)
    found = only(findings, check)
    assert found.severity == severity and found.subject == "node w2"
    assert "w2" in found.what and found.why and found.fix


def test_a_drained_node_says_how_to_bring_it_back():
    nodes = managers(3) + [node("w1"), node("w2", availability="drain")]
    found = only(diagnose(healthy(nodes=nodes), now=NOW), "node.drain")
    assert found.what == "node w2 is drained"
    assert "docker node update --availability active w2" in found.fix


def test_a_node_down_longer_than_its_certificate_must_rejoin():
    nodes = managers(3) + [node("w1"), node("w2", status="down", updated=10 * 86400)]
    facts = SwarmFacts(node_cert_validity=7 * 86400)
    found = only(diagnose(healthy(nodes=nodes), now=NOW, facts=facts), "node.down")
    assert "certificate has expired" in found.why and "join the host again" in found.fix
    recent = only(diagnose(healthy(nodes=nodes), now=NOW, facts=SwarmFacts(
        node_cert_validity=90 * 86400)), "node.down")
    assert "certificate" not in recent.why


# ---- services ----------------------------------------------------------------------------

def test_a_service_short_of_replicas_names_the_newest_error():
    api = service("api", replicas=2)
    tasks = [task(api, "w1", slot=1),
             task(api, "w2", slot=2, state="failed", desired="shutdown", ago=300,
                  error="task: non-zero exit (1)", exit_code=1),
             task(api, "w2", slot=2, state="pending", ago=30,
                  error="no suitable node (insufficient resources on 5 nodes)")]
    found = only(diagnose(healthy([api], tasks), now=NOW), "service.replicas")
    assert found.severity == "warning"
    assert found.what == "api: 1 of 2 replicas running"
    assert "newest task error on w2: no suitable node (insufficient resources" in found.why
    assert "docker service ps --no-trunc api" in found.fix


def test_a_service_with_nothing_running_is_an_error_and_an_update_only_a_note():
    api = service("api", replicas=1)
    down = only(diagnose(healthy([api]), now=NOW), "service.replicas")
    assert down.severity == "error" and "0 of 1" in down.what
    updating = service("api", replicas=1, update_state="updating")
    assert only(diagnose(healthy([updating]), now=NOW), "service.replicas").severity == "info"


def test_jobs_are_not_replicas_to_converge():
    job = service("backup", mode="replicated-job", replicas=1)
    done = task(job, "w1", state="complete", desired="complete")
    assert diagnose(healthy([job], [done]), now=NOW) == []


def test_a_restart_loop_counts_recent_failures_of_one_slot():
    api = service("api", replicas=1)
    crashes = [task(api, "w1", state="failed", desired="shutdown", ago=ago, exit_code=137,
                    error="task: non-zero exit (137)") for ago in (60, 200, 400, 700)]
    findings = diagnose(healthy([api], [task(api, "w2", ago=10), *crashes]), now=NOW)
    found = only(findings, "service.restart_loop")
    assert found.severity == "error"
    assert "4 ended tasks in 1 slot in the last 15 minutes" in found.what
    assert "newest task error on w1: task: non-zero exit (137), exit code 137" in found.why
    assert "service.replicas" not in checks(findings)  # running right now


def test_a_command_that_keeps_finishing_is_a_loop_too_but_not_for_a_job():
    api = service("api", replicas=1)
    ends = [task(api, "w1", state="complete", desired="shutdown", ago=ago)
            for ago in (60, 200, 400)]
    found = only(diagnose(healthy([api], [task(api, "w1", ago=10), *ends]), now=NOW),
                 "service.restart_loop")
    assert "they exit with code 0" in found.why
    job = service("batch", mode="replicated-job", replicas=3)
    done = [task(job, "w1", slot=1, state="complete", desired="complete", ago=ago)
            for ago in (60, 200, 400)]
    assert diagnose(healthy([job], done), now=NOW) == []


@pytest.mark.parametrize("agos", [(60, 200), (3600, 4000, 5000, 6000)])
def test_few_or_old_failures_are_no_loop(agos):
    api = service("api", replicas=1)
    crashes = [task(api, "w1", state="failed", desired="shutdown", ago=ago) for ago in agos]
    assert diagnose(healthy([api], [task(api, "w2", ago=10), *crashes]), now=NOW) == []


def test_failures_spread_over_slots_are_no_loop():
    api = service("api", replicas=3)
    tasks = [task(api, "w1", slot=s, ago=10) for s in (1, 2, 3)] + [
        task(api, "w2", slot=s, state="failed", desired="shutdown", ago=100) for s in (1, 2, 3)]
    assert diagnose(healthy([api], tasks), now=NOW) == []


def test_images_nodes_cannot_pull_explain_registries():
    app = service("app", replicas=2, image="myapp:1.0", digest=None)
    rejected = [task(app, on, slot=s, state="rejected", desired="shutdown", ago=ago,
                     error="No such image: myapp:1.0")
                for on, s in (("w1", 1), ("w2", 2)) for ago in (30, 90, 150)]
    findings = diagnose(healthy([app], rejected), now=NOW)
    found = only(findings, "service.image_pull")
    assert found.severity == "error"
    assert found.what == "app: nodes cannot get image myapp:1.0 (w1, w2)"
    assert "No such image: myapp:1.0" in found.why
    assert "myapp:1.0 names no registry, so the nodes look for it on Docker Hub" in found.why
    assert "docker push REGISTRY/myapp:1.0" in found.fix
    assert "service.restart_loop" not in checks(findings)  # the same story, told once
    assert "service.local_image" not in checks(findings)


def test_pull_errors_of_an_image_since_rolled_back_are_history():
    web = service("web2", replicas=1)
    old = [task(web, "w1", state="rejected", desired="shutdown", ago=ago,
                image="registry.example.com/shop/web:missing",
                error="No such image: registry.example.com/shop/web:missing")
           for ago in (100, 200, 300)]
    assert diagnose(healthy([web], [task(web, "w2", ago=50), *old]), now=NOW) == []


def test_an_unpinned_image_without_registry_on_several_nodes():
    app = service("app", replicas=2, image="myapp:1.0", digest=None)
    tasks = [task(app, "w1", slot=1), task(app, "w2", slot=2)]
    found = only(diagnose(healthy([app], tasks), now=NOW), "service.local_image")
    assert found.severity == "warning"
    assert "myapp:1.0 names no registry" in found.what and "w1, w2" in found.why
    assert "--with-registry-auth" in found.fix


@pytest.mark.parametrize(("image", "digest", "where"), [
    ("myapp:1.0", "sha256:abc", ("w1", "w2")),  # resolved in a registry when deployed
    ("registry.example.com/myapp:1.0", None, ("w1", "w2")),
])
def test_images_nodes_can_agree_on(image, digest, where):
    app = service("app", replicas=2, image=image, digest=digest)
    tasks = [task(app, on, slot=i) for i, on in enumerate(where, 1)]
    assert diagnose(healthy([app], tasks), now=NOW) == []


@pytest.mark.parametrize(("image", "host"), [
    ("myapp:1.0", None), ("library/nginx", None), ("user/app:2", None),
    ("registry.example.com/app", "registry.example.com"), ("10.0.0.1:5000/a/b:1", "10.0.0.1:5000"),
    ("localhost/app", "localhost"), ("localhost:5000/app", "localhost:5000"),
])
def test_registry_host(image, host):
    assert registry_host(image) == host


def test_engine_versions_that_differ_by_release_warn_by_patch_inform():
    skewed = managers(3) + [node("w1", engine="24.0.7"), node("w2")]
    found = only(diagnose(healthy(nodes=skewed), now=NOW), "engine.versions")
    assert found.severity == "warning"
    assert found.what == "engine versions differ across nodes: 27.3.1 (m1, m2, m3, w2); " \
                         "24.0.7 (w1)"
    patch = managers(3) + [node("w1", engine="27.3.0"), node("w2")]
    assert only(diagnose(healthy(nodes=patch), now=NOW), "engine.versions").severity == "info"


# ---- placement ---------------------------------------------------------------------------

def test_a_label_no_node_has_is_named_with_the_command_that_adds_it():
    db = service("db", constraints=("node.labels.disk==ssd", "node.role==worker"))
    findings = diagnose(healthy([db]), now=NOW)
    found = only(findings, "service.placement")
    assert found.severity == "error"
    assert found.what == ("db: nodes missing labels that placement constraints need "
                          "(node.labels.disk==ssd)")
    assert "no node has the label disk=ssd" in found.why
    assert "docker node update --label-add disk=ssd NODE" in found.fix
    assert "service.replicas" in checks(findings)  # and the symptom: 0 of 1 running


def test_satisfiable_constraints_say_nothing():
    nodes = managers(3) + [node("w1", labels={"disk": "ssd"}), node("w2")]
    db = service("db", constraints=("node.labels.disk==ssd", "node.role!=manager"))
    state = healthy([db], [task(db, "w1")], nodes=nodes)
    assert diagnose(state, now=NOW) == []


def test_constraints_only_a_drained_node_meets():
    nodes = managers(3) + [node("w1", labels={"disk": "ssd"}, availability="drain"),
                           node("w2")]
    db = service("db", constraints=("node.labels.disk==ssd",))
    found = only(diagnose(healthy([db], nodes=nodes), now=NOW), "service.placement")
    assert "only nodes that are down, drained or paused satisfy them: w1 (ready, drain)" \
        in found.why


def test_constraints_no_node_meets_together():
    nodes = managers(3) + [node("w1", labels={"disk": "ssd"}), node("w2", labels={"gpu": "1"})]
    ml = service("ml", constraints=("node.labels.disk==ssd", "node.labels.gpu==1"))
    found = only(diagnose(healthy([ml], nodes=nodes), now=NOW), "service.placement")
    assert "no node meets them all" in found.why


def test_amd64_is_explained():
    app = service("app", constraints=("node.platform.arch==amd64",))
    found = only(diagnose(healthy([app]), now=NOW), "service.placement")
    assert "x86_64 rather than amd64" in found.why


def test_a_global_service_placed_nowhere_is_a_warning():
    agent = service("agent", mode="global", replicas=None,
                    constraints=("node.labels.monitor==yes",))
    found = only(diagnose(healthy([agent]), now=NOW), "service.placement")
    assert found.severity == "warning" and "it runs on no node" in found.why


def test_more_replicas_than_max_per_node_allows():
    web = service("web3", replicas=3, max_replicas=1, constraints=("node.role==worker",))
    tasks = [task(web, "w1", slot=1), task(web, "w2", slot=2)]
    found = only(diagnose(healthy([web], tasks), now=NOW), "service.placement")
    assert found.what == "web3: only 2 of 3 replicas can be placed"
    assert "at most 1 per node on the 2 nodes that can run it (w1, w2)" in found.why


# ---- networks ----------------------------------------------------------------------------

def overlay(name: str, *, encrypted: bool = False, ingress: bool = False) -> Network:
    return Network(id=f"nid-{name}", name=name, driver="overlay", scope="swarm",
                   encrypted=encrypted, ingress=ingress)


@pytest.mark.parametrize("by_name", [False, True])
def test_an_unencrypted_overlay_between_nodes(by_name):
    net = overlay("backend")
    api = service("api", replicas=2, networks=(net.name if by_name else net.id,))
    tasks = [task(api, "w1", slot=1), task(api, "w2", slot=2)]
    found = only(diagnose(healthy([api], tasks, networks=[net]), now=NOW),
                 "network.unencrypted")
    assert found.severity == "warning" and found.subject == "network backend"
    assert "links 2 nodes" in found.what and "api" in found.why
    assert "--opt encrypted backend" in found.fix


@pytest.mark.parametrize(("net", "where"), [
    (overlay("backend", encrypted=True), ("w1", "w2")),
    (overlay("backend"), ("w1", "w1")),
    (overlay("ingress", ingress=True), ("w1", "w2")),
])
def test_overlays_that_need_no_encryption(net, where):
    api = service("api", replicas=2, networks=(net.id,))
    tasks = [task(api, on, slot=i) for i, on in enumerate(where, 1)]
    assert diagnose(healthy([api], tasks, networks=[net]), now=NOW) == []


# ---- certificates and the facts ----------------------------------------------------------

def pem(days: float) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "swarm-ca")])
    start = datetime.fromtimestamp(NOW, UTC) - timedelta(days=400)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(start)
            .not_valid_after(datetime.fromtimestamp(NOW, UTC) + timedelta(days=days))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def swarm_api(trust_root: str, *, issuer: str = "KEY", rotating: bool = False,
              cert_expiry_days: float = 90) -> dict:
    return {"TLSInfo": {"TrustRoot": trust_root, "CertIssuerPublicKey": issuer},
            "RootRotationInProgress": rotating,
            "Spec": {"CAConfig": {"NodeCertExpiry": int(cert_expiry_days * 86400e9)}}}


def nodes_api(*issuers: str, engine_labels: dict | None = None) -> list[dict]:
    return [{"ID": f"id-{name}", "Description": {
        "TLSInfo": {"CertIssuerPublicKey": key},
        "Engine": {"Labels": engine_labels or {}}}}
        for name, key in zip(("m1", "m2", "m3", "w1", "w2"), issuers, strict=False)]


def test_the_recorded_root_ca_parses():
    recorded = json.loads((FIXTURES / "lab_staging" / "nodes.json").read_text())
    tls = recorded[0]["Description"]["TLSInfo"]
    facts = facts_from_api({"TLSInfo": tls}, recorded)
    assert [c.name for c in facts.certificates] == ["swarm root CA"]
    assert facts.certificates[0].not_after.year == 2046
    assert set(facts.node_issuer_keys.values()) == {tls["CertIssuerPublicKey"]}


@pytest.mark.parametrize(("days", "severity", "says"), [
    (10, "warning", "expires in 10 days"), (-2, "error", "expired on"), (365, None, "")])
def test_root_ca_expiry(days, severity, says):
    facts = facts_from_api(swarm_api(pem(days)), nodes_api("KEY"))
    findings = diagnose(healthy(), now=NOW, facts=facts)
    if severity is None:
        assert findings == []
        return
    found = only(findings, "certificate.expiry")
    assert found.severity == severity and says in found.what
    assert "docker swarm ca --rotate" in found.fix


def test_nodes_with_certificates_from_another_ca():
    facts = facts_from_api(swarm_api(pem(365)), nodes_api("KEY", "KEY", "KEY", "OLD", "KEY"))
    found = only(diagnose(healthy(), now=NOW, facts=facts), "certificate.issuer")
    assert found.severity == "warning" and found.what.endswith(": w1")
    rotating = facts_from_api(swarm_api(pem(365), rotating=True),
                              nodes_api("KEY", "KEY", "KEY", "OLD", "KEY"))
    assert only(diagnose(healthy(), now=NOW, facts=rotating),
                "certificate.issuer").severity == "info"


def test_short_node_certificates_are_noted():
    facts = facts_from_api(swarm_api(pem(365), cert_expiry_days=7), nodes_api("KEY"))
    found = only(diagnose(healthy(), now=NOW, facts=facts), "certificate.node_validity")
    assert found.severity == "info" and "only 7 days" in found.what


def test_engine_labels_come_from_the_facts():
    gpu = service("gpu", constraints=("engine.labels.gpu==yes",))
    assert "service.placement" not in checks(diagnose(healthy([gpu]), now=NOW))
    facts = facts_from_api(swarm_api(pem(365)), nodes_api("KEY"))
    assert "service.placement" in checks(diagnose(healthy([gpu]), now=NOW, facts=facts))


class FakeDocker:
    def __init__(self, answers: dict, fail: Exception | None = None) -> None:
        self.answers = answers
        self.fail = fail
        self.asked: list[str] = []

    async def get(self, path: str, **params):
        self.asked.append(path)
        if self.fail:
            raise self.fail
        return self.answers[path]


async def test_gather_facts_asks_twice_and_errors_become_a_note():
    docker = FakeDocker({"/swarm": swarm_api(pem(10)), "/nodes": nodes_api("KEY")})
    facts = await gather_facts(docker)
    assert sorted(docker.asked) == ["/nodes", "/swarm"]
    assert facts.error is None and len(facts.certificates) == 1
    broken = await gather_facts(FakeDocker({}, ConnectionLost("link to m1 lost")))
    found = only(diagnose(healthy(), now=NOW, facts=broken), "facts.unavailable")
    assert found.severity == "info" and "link to m1 lost" in found.why


def test_worst_first():
    nodes = managers(1) + [node("w1", availability="pause"), node("w2", status="down")]
    app = service("app", replicas=2, image="myapp:1.0", digest=None)
    facts = facts_from_api(swarm_api(pem(365), cert_expiry_days=7), nodes_api("KEY"))
    findings = diagnose(healthy([app], nodes=nodes), now=NOW, facts=facts)
    severities = [f.severity for f in findings]
    assert severities == sorted(severities, key=["error", "warning", "info"].index)
    assert checks(findings) == ["node.down", "service.replicas",  # app: 0 of 2
                                "managers.count", "node.pause",
                                "service.replicas",  # web: its task on the down node
                                "certificate.node_validity"]
    assert counts(findings) == {"error": 2, "warning": 3, "info": 1}


# ---- the command -------------------------------------------------------------------------

@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[clusters.prod]\nmanagers = ["m1"]\n[clusters.staging]\n'
                    'managers = ["s1"]\n')
    path.chmod(0o600)
    return path


def fake_examine(reports):
    async def examine(config, names):
        return [r for r in reports if r.cluster in names]
    return examine


def report(name: str, findings: list[Finding]) -> cli_doctor.Report:
    return cli_doctor.Report(name, findings, nodes=2, managers=1, services=3)


WARN = Finding("warning", "managers.count", "cluster", "1 manager: tolerates nothing",
               "because", "promote")
ERROR = Finding("error", "node.down", "node w\x1b[31m1", "node w\x1b[31m1 is down",
                "it is \x07 gone", "docker node rm w1")


@pytest.mark.parametrize(("findings", "code"), [([], 0), ([WARN], 0), ([WARN, ERROR], 1)])
def test_exit_code_is_1_only_for_errors(config_file, monkeypatch, capsys, findings, code):
    monkeypatch.setattr(cli_doctor, "examine", fake_examine([report("prod", findings)]))
    assert main(["--config", str(config_file), "doctor", "-c", "prod"]) == code


def test_report_is_readable_and_inert(config_file, monkeypatch, capsys):
    monkeypatch.setattr(cli_doctor, "examine", fake_examine(
        [report("prod", [ERROR, WARN]), report("staging", [])]))
    assert main(["--config", str(config_file), "doctor"]) == 1
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    lines = out.splitlines()
    assert lines[0] == "prod · 2 nodes, 1 manager, 3 services: 1 error, 1 warning"
    assert lines[2] == "  ERROR    node w<ESC>[31m1 is down"
    assert lines[3] == "           why: it is <BEL> gone"
    assert lines[4] == "           fix: docker node rm w1"
    assert "  WARNING  1 manager: tolerates nothing" in lines
    assert "staging · 2 nodes, 1 manager, 3 services: no problems found" in lines


def test_long_text_wraps_under_its_label():
    long = Finding("warning", "x", "cluster", "w " * 80, "y " * 80, "z " * 80)
    text = cli_doctor.format_report(report("prod", [long]), width=70)
    assert all(len(line) <= 70 for line in text.splitlines())
    assert "                y y" in text  # continuation aligned under the text


def test_json_lists_every_cluster(config_file, monkeypatch, capsys):
    monkeypatch.setattr(cli_doctor, "examine", fake_examine(
        [report("prod", [ERROR, WARN]), report("staging", [])]))
    assert main(["--config", str(config_file), "doctor", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert [c["cluster"] for c in data] == ["prod", "staging"]
    assert data[0]["ok"] is False and data[0]["errors"] == 1 and data[0]["warnings"] == 1
    assert data[0]["findings"][0] == {
        "severity": "error", "check": "node.down", "subject": "node w\x1b[31m1",
        "what": "node w\x1b[31m1 is down", "why": "it is \x07 gone", "fix": "docker node rm w1"}
    assert data[1] == {"cluster": "staging", "ok": True, "errors": 0, "warnings": 0,
                       "infos": 0, "findings": []}


def test_usage_errors_exit_2(config_file, capsys):
    with pytest.raises(SystemExit) as done:
        main(["doctor", "--bogus"])
    assert done.value.code == 2
    assert main(["--config", str(config_file), "doctor", "-c", "prd"]) == 2
    assert "prod" in capsys.readouterr().err  # did you mean


async def test_examine_diagnoses_a_cluster_that_cannot_be_reached(config_file, monkeypatch):
    from swarmdeck.core.config import load
    from swarmdeck.core.fleet import Fleet

    async def load_fleet(self, names=None):
        return {n: ConnectionLost(f"cannot reach {n}") for n in names}

    monkeypatch.setattr(Fleet, "load", load_fleet)
    reports = await cli_doctor.examine(load(str(config_file)), ["prod"])
    assert [checks(r.findings) for r in reports] == [["cluster.unreachable"]]
    assert reports[0].has_errors


def test_a_local_volume_on_a_service_that_may_move_is_a_finding():
    from swarmdeck.core.doctor import _Exam, _local_volumes
    from swarmdeck.core.inventory import ClusterState
    from swarmdeck.core.models import Service

    def svc(name, constraints=(), replicas=1, driver=None):
        mount = {"Type": "volume", "Source": f"{name}_data", "Target": "/data"}
        if driver:
            mount["VolumeOptions"] = {"DriverConfig": {"Name": driver}}
        return Service(id=name, name=name, mode="replicated", replicas=replicas,
                       image="x", constraints=list(constraints), raw_spec={
                           "TaskTemplate": {"ContainerSpec": {"Mounts": [mount]}}})

    state = ClusterState("prod", services={s.id: s for s in (
        svc("loose"), svc("pinned", ["node.hostname == w1"]),
        svc("pinned_twice", ["node.hostname==w1"], replicas=2),
        svc("shared", driver="nfs-driver"))})
    found = list(_local_volumes(_Exam(state, 0.0, None, {})))
    assert [f.subject for f in found] == ["service loose", "service pinned_twice"]
    assert all(f.severity == "warning" for f in found)
