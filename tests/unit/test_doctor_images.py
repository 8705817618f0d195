"""The doctor's image checks: a pull failure explained by its cause (from the task's error,
or from the manager's registry lookup), and an image that exists only where it was built."""

from __future__ import annotations

import asyncio

import pytest
from test_doctor import NOW, checks, healthy, managers, node, only, service, task

from swarmdeck.core import doctor, doctor_images
from swarmdeck.core.doctor import SwarmFacts, diagnose, gather_facts
from swarmdeck.core.doctor_images import ImageLookup, lookup_failing, pull_cause
from swarmdeck.core.errors import ConnectionLost, DockerAPIError, NotFound

REG = "10.213.0.1:5000/shop/web"


@pytest.mark.parametrize(("text", "cause"), [
    ("No such image: 10.213.0.1:5000/shop/web:nope", None),  # says nothing of why
    ("No such image: reg.example.com/denied-eof-timeout:1", None),  # not fooled by names
    ("manifest unknown: manifest unknown", "missing"),
    ("manifest for reg.example.com/app:2 not found: manifest unknown", "missing"),
    ("Error response from daemon: pull access denied for app, repository does not exist or "
     "may require 'docker login'", "credentials"),
    ("Head \"https://reg.example.com/v2/app/manifests/1\": no basic auth credentials",
     "credentials"),
    ("unauthorized: authentication required", "credentials"),
    ('Get "https://10.213.0.1:5001/v2/": dial tcp 10.213.0.1:5001: connect: connection '
     "refused", "unreachable"),
    ('Get "https://10.213.0.1:5000/v2/": http: server gave HTTP response to HTTPS client',
     "unreachable"),
    ("dial tcp: lookup reg.example.com: no such host", "unreachable"),
    ("net/http: request canceled (Client.Timeout exceeded)", "unreachable"),
    ("x509: certificate signed by unknown authority", "unreachable"),
])
def test_the_cause_a_pull_error_names(text, cause):
    assert pull_cause(text) == cause


def rejected(svc, nodes=("w1", "w2"), error=None):
    error = error or f"No such image: {svc.image}"
    return [task(svc, on, slot=i, state="rejected", desired="shutdown", ago=30 * k,
                 error=error) for i, on in enumerate(nodes, 1) for k in (1, 2, 3)]


def pull_finding(image, lookup=None, error=None, digest=None):
    app = service("app", replicas=2, image=image, digest=digest)
    ref = f"{image}@{digest}" if digest else image
    facts = SwarmFacts(images={ref: lookup}) if lookup else None
    return only(diagnose(healthy([app], rejected(app, error=error)), now=NOW, facts=facts),
                "service.image_pull")


def test_a_missing_tag_says_so_and_how_to_fix_it():
    found = pull_finding(f"{REG}:nope", ImageLookup(False, "manifest unknown: manifest "
                                                           "unknown"))
    assert found.severity == "error" and found.subject == "service app"
    assert found.what == f"app: nodes cannot get image {REG}:nope (w1, w2)"
    assert found.why.startswith(
        f"10.213.0.1:5000 has no {REG}:nope: the tag or the repository does not exist (asked "
        "from the manager, it answers: manifest unknown: manifest unknown). Each node pulls")
    assert found.why.endswith(f"newest task error on w1: No such image: {REG}:nope")
    assert found.fix == (f"push it (docker push {REG}:nope) or point the service at a tag that "
                         f"exists (swarmdeck update -c c1 app --image {REG}:TAG)")


def test_credentials_needed_point_at_the_config_and_registry_auth():
    found = pull_finding(f"{REG}:1", ImageLookup(False, "unauthorized: authentication "
                                                        "required"))
    assert "10.213.0.1:5000 wants credentials" in found.why
    assert found.fix.startswith('declare the registry in the config, '
                                '[clusters.c1.registries."10.213.0.1:5000"] with credentials = '
                                '"docker" (after `docker login 10.213.0.1:5000`) or command =')
    assert "docker service update --with-registry-auth app" in found.fix


def test_an_unreachable_registry_points_at_the_network():
    found = pull_finding(f"{REG}:1", ImageLookup(False, "dial tcp 10.213.0.1:5000: connect: "
                                                        "connection refused"))
    assert found.why.startswith("10.213.0.1:5000 cannot be reached, from the manager either "
                                "(asked from the manager, it answers: dial tcp")
    assert "insecure-registries" in found.fix and "firewall" in found.fix


def test_an_image_the_manager_gets_blames_the_failing_nodes():
    found = pull_finding(f"{REG}:1", ImageLookup(True), digest="sha256:abc")
    assert found.why.startswith("The manager can get it from 10.213.0.1:5000, so only those "
                                "nodes cannot")
    assert found.fix.startswith(f"`docker pull {REG}:1` on w1 shows the registry's answer")
    assert "--with-registry-auth" in found.fix


def test_the_task_s_own_words_beat_a_lookup():
    found = pull_finding(f"{REG}:1", ImageLookup(True),
                         error="pull access denied for 10.213.0.1:5000/shop/web")
    assert found.why.startswith("10.213.0.1:5000 wants credentials the service was not given")
    assert "asked from the manager" not in found.why


def test_without_a_lookup_every_cause_is_named_with_how_to_tell():
    found = pull_finding(f"{REG}:nope")
    assert found.why.startswith("10.213.0.1:5000 may not have that tag, may want credentials "
                                "the service was not given, or may not be reachable from "
                                "those nodes. Each node pulls")
    assert found.fix.startswith(f"`docker pull {REG}:nope` on w1 shows which")


def test_an_image_named_without_registry_is_looked_for_on_docker_hub():
    found = pull_finding("myapp:1.0", ImageLookup(False, "dial tcp: lookup "
                                                         "registry-1.docker.io: no such host"))
    assert found.why.startswith("myapp:1.0 names no registry, so the nodes look for it on "
                                "Docker Hub: an image built or loaded on one node exists only")
    assert "docker tag myapp:1.0 REGISTRY/myapp:1.0 && docker push" in found.fix


# ---- the manager's lookups ---------------------------------------------------------------

class LookupDocker:
    def __init__(self, answers):
        self.answers = answers
        self.asked: list[str] = []

    async def get(self, path, **params):
        if path in ("/swarm", "/nodes"):
            return {} if path == "/swarm" else []
        image = path.removeprefix("/distribution/").removesuffix("/json")
        self.asked.append(image)
        answer = self.answers[image]
        if answer == "slow":
            await asyncio.sleep(5)
        if isinstance(answer, Exception):
            raise answer
        return answer


def failing_state():
    ok, nope, denied, slow, lost = (service(n, image=f"{REG}:{n}", digest=None)
                                    for n in ("ok", "nope", "denied", "slow", "lost"))
    pinned = service("pinned", image=f"{REG}:1", digest="sha256:abc")
    fine = service("fine", image=f"{REG}:fine", digest=None)
    old = service("old", image=f"{REG}:old", digest=None)
    tasks = [t for s in (ok, nope, denied, slow, lost, pinned) for t in rejected(s, ["w1"])]
    tasks += [task(fine, "w1"),
              task(old, "w1", state="rejected", error="No such image: x", ago=3600)]
    return healthy([ok, nope, denied, slow, lost, pinned, fine, old], tasks)


async def test_lookups_ask_only_for_images_that_failed_recently(monkeypatch):
    monkeypatch.setattr(doctor_images, "LOOKUP_TIMEOUT", 0.1)
    docker = LookupDocker({
        f"{REG}:ok": {"Descriptor": {"digest": "sha256:1"}},
        f"{REG}:nope": NotFound(404, "manifest unknown: manifest unknown"),
        f"{REG}:denied": DockerAPIError(500, "unauthorized: authentication required"),
        f"{REG}:slow": "slow",
        f"{REG}:lost": ConnectionLost("lost connection to m1"),
        f"{REG}:1@sha256:abc": {"Descriptor": {"digest": "sha256:abc"}},
    })
    for error in docker.answers.values():
        if isinstance(error, DockerAPIError):
            error.raw = error.message
    found = await lookup_failing(docker, failing_state(), since=NOW - 900)
    assert sorted(docker.asked) == sorted(docker.answers)  # not "fine", not the old failure
    assert found == {
        f"{REG}:ok": ImageLookup(True),
        f"{REG}:nope": ImageLookup(False, "manifest unknown: manifest unknown"),
        f"{REG}:denied": ImageLookup(False, "unauthorized: authentication required"),
        f"{REG}:slow": ImageLookup(False, "no answer within 0.1 s (i/o timeout)"),
        f"{REG}:1@sha256:abc": ImageLookup(True),
    }  # a lost manager connection tells nothing about the registry: left out
    assert [found[f"{REG}:{k}"].cause for k in ("ok", "nope", "denied", "slow")] == [
        "nodes", "missing", "credentials", "unreachable"]
    assert await lookup_failing(docker, None, since=0) == {}


async def test_gather_facts_carries_the_lookups(monkeypatch):
    monkeypatch.setattr(doctor.time, "time", lambda: NOW)
    nope = service("nope", image=f"{REG}:nope", digest=None)
    docker = LookupDocker({f"{REG}:nope": NotFound(404, "manifest unknown")})
    docker.answers[f"{REG}:nope"].raw = "manifest unknown"
    facts = await gather_facts(docker, healthy([nope], rejected(nope, ["w1"])))
    assert facts.error is None
    assert facts.images == {f"{REG}:nope": ImageLookup(False, "manifest unknown")}
    assert (await gather_facts(docker)).images == {}


# ---- images that exist only where they were built -----------------------------------------

def test_a_registryless_image_on_one_node_of_many_warns():
    app = service("app", replicas=1, image="myapp:1.0", digest=None)
    found = only(diagnose(healthy([app], [task(app, "w1")]), now=NOW), "service.local_image")
    assert found.severity == "warning"
    assert found.what == ("app: image myapp:1.0 names no registry and is not pinned to a "
                          "digest: it may exist only on w1")
    assert "a node without that image (m1, m2, m3, ...) looks for it on Docker Hub" in found.why
    assert "push the image to a registry every node can reach" in found.fix


@pytest.mark.parametrize(("constraints", "nodes"), [
    (("node.hostname==w1",), None),  # pinned to its node: that copy is the image
    ((), [*managers(1), node("w1")]),  # only one node could ever run it (m1 is drained)
])
def test_a_registryless_image_that_cannot_move_is_fine(constraints, nodes):
    if nodes:
        nodes[0] = node("m1", "manager", leader=True, availability="drain")
    app = service("app", replicas=1, image="myapp:1.0", digest=None, constraints=constraints)
    state = healthy([app], [task(app, "w1")], nodes=nodes)
    assert "service.local_image" not in checks(diagnose(state, now=NOW))


# ---- the console's services table ---------------------------------------------------------

def test_the_services_table_marks_a_service_its_nodes_cannot_pull():
    from swarmdeck.core.views import service_rows
    from swarmdeck.ui.widgets.cells import service_cells

    stuck = service("stuck", replicas=2, image=f"{REG}:nope", digest=None)
    healed = service("healed", replicas=1, image=f"{REG}:1", digest=None)
    crashing = service("crashing", replicas=1, image=f"{REG}:1", digest=None)
    tasks = [*rejected(stuck, ["w1"]),
             # pull failures, then a task that runs: converged, nothing to mark
             *rejected(healed, ["w1"]), task(healed, "w2", ago=5),
             # a pull failure long ago, a crash since: not a pull problem now
             task(crashing, "w1", state="rejected", desired="shutdown", ago=300,
                  error=f"No such image: {REG}:1"),
             task(crashing, "w1", state="failed", desired="shutdown", ago=20,
                  error="task: non-zero exit (1)")]
    rows = {r.name: r for r in service_rows("c1", healthy([stuck, healed, crashing], tasks))}
    assert {n: r.pull_failing for n, r in rows.items()} == {
        "stuck": True, "healed": False, "crashing": False, "web": False}
    image = service_cells(rows["stuck"], with_cluster=False, metrics=None)[-1]
    assert image.plain == f"{REG}:nope  ✗ pull failing"
    assert service_cells(rows["healed"], with_cluster=False, metrics=None)[-1] == f"{REG}:1"
