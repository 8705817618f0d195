"""`docker stack deploy` against a fake engine: the preview of what would change, and apply
(the compose file and its specs are tested in test_compose.py; the real comparison with the
docker CLI is in tests/integration/test_deploy_parity.py)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from test_compose import FULL, compose

import swarmdeck.cli.session as cli_session
from swarmdeck.cli.main import main
from swarmdeck.core.audit import AuditLog
from swarmdeck.core.config import load_config
from swarmdeck.core.errors import (
    DockerAPIError,
    OperationFailed,
    Refused,
    UsageError,
)
from swarmdeck.core.ops.base import ClusterOps
from swarmdeck.core.ops.compose import load_compose, stack_plan
from swarmdeck.core.ops.deploy import (
    DeployPreview,
    DeployProgress,
    apply,
    normalize_image,
    plan_changes,
    registry_auth,
)

LAB_STACKS = Path(__file__).parents[2] / "src" / "swarmdeck" / "lab" / "stacks"
STAGING = Path(__file__).parents[1] / "fixtures" / "lab_staging"


@pytest.fixture
def plan(tmp_path):
    """The stack test_compose.py checks spec by spec, ready to deploy."""
    return stack_plan(compose(tmp_path, FULL, app__conf="listen 80\n", pw__txt="hunter2"),
                      "shop")


def test_image_references_as_the_engine_client_sends_them():
    assert normalize_image("nginx") == "nginx:latest"
    assert normalize_image("docker.io/library/nginx:1") == "nginx:1"
    assert normalize_image("reg:5000/a/b") == "reg:5000/a/b:latest"
    assert normalize_image("a/b@sha256:abc") == "a/b@sha256:abc"
    assert normalize_image("Bad/Name") == "Bad/Name"


# ---- deploy against a fake engine --------------------------------------------------------
class FakeDocker:
    """Answers like the engine from a few lists; records every call; fails on request."""

    def __init__(self, *, services=(), networks=(), configs=(), secrets=(),
                 fail: tuple[str, str] | None = None, refuse_secret_update: bool = False,
                 digests: dict[str, str] | None = None):
        """DIGESTS: what the registry answers per image (else sha256:d1)."""
        self.digests = digests or {}
        self.services = list(services)
        self.networks = list(networks)
        self.configs = list(configs)
        self.secrets = list(secrets)
        self.fail = fail
        self.refuse_secret_update = refuse_secret_update
        self.calls: list[tuple[str, str, Any, Any]] = []
        self.headers: dict[str, dict[str, str]] = {}

    async def get(self, path: str, **params: Any) -> Any:
        return await self.request("GET", path, params=params or None)

    async def request(self, method: str, path: str, *, params=None, body=None, headers=None):
        self.calls.append((method, path, params, body))
        self.headers[f"{method} {path}"] = headers or {}
        if self.fail == (method, path):
            raise DockerAPIError(400, "fake: rejected", method=method, path=path)
        if method == "GET":
            if path.startswith("/distribution/"):
                image = path.removeprefix("/distribution/").removesuffix("/json")
                return {"Descriptor": {"digest": self.digests.get(image, "sha256:d1")},
                        "Platforms": [{"architecture": "amd64", "os": "linux"}]}
            for kind in ("services", "networks", "configs", "secrets"):
                if path == f"/{kind}":
                    return getattr(self, kind)
                if path.startswith(f"/{kind}/"):
                    return next(x for x in getattr(self, kind) if x["ID"] == path.split("/")[2])
        if method == "POST" and path.endswith("/update") and path.startswith("/secrets/") \
                and self.refuse_secret_update:
            raise DockerAPIError(400, "rpc error: only updates to Labels are allowed")
        if path.endswith("/create"):
            return {"ID": f"new-{body['Name']}"}
        return None

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p, _, _ in self.calls if m != "GET"]


class FakeSession:
    def __init__(self, docker: FakeDocker) -> None:
        self.docker = docker
        self.label = "root@fake-m1"


def fake_ops(docker: FakeDocker, tmp_path: Path) -> ClusterOps:
    return ClusterOps("staging", FakeSession(docker), audit=AuditLog(tmp_path / "audit.jsonl"))


def audit(tmp_path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]


async def test_apply_creates_everything_in_order_with_ids_digests_and_auth(plan, tmp_path):
    docker = FakeDocker()
    ops = fake_ops(docker, tmp_path)
    preview = await plan_changes(ops, plan)
    assert [(s.name, s.action) for s in preview.services] == [("shop_agent", "create"),
                                                              ("shop_web", "create")]
    auth = registry_auth("u", "p", "registry:5000")
    result = await apply(ops, plan, preview, with_registry_auth=auth)
    assert docker.writes() == [
        ("POST", "/networks/create"), ("POST", "/networks/create"),
        ("POST", "/configs/create"), ("POST", "/secrets/create"),
        ("POST", "/services/create"), ("POST", "/services/create")]
    assert result.applied == ("create network shop_default", "create network shop_front",
                              "create config shop_conf", "create secret shared_pw",
                              "create service shop_agent", "create service shop_web")
    web = [b for m, p, _, b in docker.calls if p == "/services/create"][1]
    container = web["TaskTemplate"]["ContainerSpec"]
    assert container["Image"] == "registry:5000/web:1@sha256:d1"
    assert web["TaskTemplate"]["Placement"]["Platforms"] == [{"Architecture": "amd64",
                                                              "OS": "linux"}]
    assert container["Configs"][0]["ConfigID"] == "new-shop_conf"
    assert container["Secrets"][0]["SecretID"] == "new-shared_pw"
    assert docker.headers["POST /services/create"] == {"X-Registry-Auth": auth}
    assert json.loads(base64.urlsafe_b64decode(auth)) == {
        "username": "u", "password": "p", "serveraddress": "registry:5000"}
    assert audit(tmp_path)[-1]["result"] == "ok"
    assert audit(tmp_path)[-1]["params"]["registry_auth"] is True


async def test_a_failed_step_says_what_was_applied_and_what_was_not(plan, tmp_path):
    docker = FakeDocker(fail=("POST", "/secrets/create"))
    ops = fake_ops(docker, tmp_path)
    with pytest.raises(OperationFailed) as failed:
        await apply(ops, plan, await plan_changes(ops, plan))
    assert str(failed.value) == (
        "deploy of stack shop on cluster staging stopped at step 4 of 6 (create secret "
        "shared_pw): fake: rejected. Applied: create network shop_default, create network "
        "shop_front, create config shop_conf. Not applied: create secret shared_pw, create "
        "service shop_agent, create service shop_web. (fix the cause and deploy again: what "
        "was applied is kept)")
    assert audit(tmp_path)[-1]["result"] == "error"


def stack_object(name: str, ident: str, **spec: Any) -> dict[str, Any]:
    return {"ID": ident, "Version": {"Index": 7},
            "Spec": {"Name": name, "Labels": {"com.docker.stack.namespace": "shop"}, **spec}}


async def test_validation_failures_write_nothing(plan, tmp_path):
    foreign = stack_object("shop_conf", "c1", Data="eA==")
    foreign["Spec"]["Labels"] = {}
    docker = FakeDocker(configs=[foreign])
    ops = fake_ops(docker, tmp_path)
    with pytest.raises(UsageError, match="config shop_conf exists outside stack shop"):
        await apply(ops, plan, await plan_changes(ops, plan))
    assert docker.writes() == []


async def test_changed_config_or_secret_content_is_refused_before_any_write(plan, tmp_path):
    docker = FakeDocker(configs=[stack_object("shop_conf", "c1", Data="eA==")])
    ops = fake_ops(docker, tmp_path)
    preview = await plan_changes(ops, plan)
    assert any("config shop_conf has new content" in p for p in preview.problems)
    with pytest.raises(UsageError, match="config shop_conf has new content"):
        await apply(ops, plan, preview)
    assert docker.writes() == []

    # a secret's content is never shown: an update keeping name and labels is the probe
    docker = FakeDocker(secrets=[stack_object("shared_pw", "s1")], refuse_secret_update=True)
    ops = fake_ops(docker, tmp_path)
    with pytest.raises(UsageError, match="secret shared_pw has new content"):
        await apply(ops, plan, await plan_changes(ops, plan))
    assert docker.writes() == [("POST", "/secrets/s1/update")]
    probe = docker.calls[-1]
    assert probe[2] == {"version": 7}
    assert probe[3]["Labels"] == {"com.docker.stack.namespace": "shop"}


async def test_a_stale_preview_is_refused(plan, tmp_path):
    docker = FakeDocker()
    ops = fake_ops(docker, tmp_path)
    preview = await plan_changes(ops, plan)
    docker.networks.append({"Id": "n1", "Name": "shop_front", "Scope": "swarm",
                            "Driver": "overlay", "Attachable": True,
                            "Labels": {"com.docker.stack.namespace": "shop", "n": "1"}})
    with pytest.raises(Refused, match="changed since the preview"):
        await apply(ops, plan, preview)
    assert docker.writes() == []


def lab_staging_docker() -> FakeDocker:
    """The staging cluster as recorded after `docker stack deploy -c shop.yml shop`, its
    registry still naming the images the services run."""
    services = json.loads((STAGING / "services.json").read_text())
    running = [s["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] for s in services]
    return FakeDocker(services=services,
                      networks=json.loads((STAGING / "networks.json").read_text()),
                      digests=dict(image.split("@") for image in running))


async def test_a_stack_deployed_by_the_cli_previews_as_unchanged(tmp_path):
    plan = stack_plan(load_compose(LAB_STACKS / "shop.yml", env={}), "shop")
    ops = fake_ops(lab_staging_docker(), tmp_path)
    preview = await plan_changes(ops, plan)
    assert [(s.name, s.action, s.details) for s in preview.services] == [
        ("shop_web", "unchanged", ()), ("shop_worker", "unchanged", ())]
    assert preview.lines() == ["deploy stack shop on cluster staging",
                               "  unchanged service shop_web",
                               "  unchanged service shop_worker",
                               "  nothing to change"]


async def test_preview_lists_changes_in_plain_words_and_masks_secrets(tmp_path):
    text = (LAB_STACKS / "shop.yml").read_text()
    text = text.replace("replicas: 3", "replicas: 4").replace(
        "QUEUE: orders", "QUEUE: refunds\n      DB_PASSWORD: hunter2").replace(
        "limits: {memory: 32M}", "limits: {memory: 64M}").replace(
        "stop_grace_period: 1s\n    environment", "stop_grace_period: 5s\n    environment")
    path = tmp_path / "shop.yml"
    path.write_text(text)
    plan = stack_plan(load_compose(path, env={}), "shop")
    ops = fake_ops(lab_staging_docker(), tmp_path)
    preview = await plan_changes(ops, plan)
    worker = preview.services[1]
    assert worker.details == (
        "replicas: 3 -> 4",
        "env added: DB_PASSWORD=****",
        "env changed: QUEUE=orders -> refunds",
        "resources changed: limits memory=32 MiB -> 64 MiB",
        "StopGracePeriod: 1s -> 5s",
    )
    assert "hunter2" not in "\n".join(preview.lines())


async def test_update_sends_the_inspected_version_and_keeps_force_update(tmp_path):
    docker = lab_staging_docker()
    worker = next(s for s in docker.services if s["Spec"]["Name"] == "shop_worker")
    worker["Spec"]["TaskTemplate"]["ForceUpdate"] = 4
    path = tmp_path / "shop.yml"
    path.write_text((LAB_STACKS / "shop.yml").read_text().replace("QUEUE: orders",
                                                                  "QUEUE: refunds"))
    plan = stack_plan(load_compose(path, env={}), "shop")
    ops = fake_ops(docker, tmp_path)
    result = await apply(ops, plan, await plan_changes(ops, plan))
    updates = [(p, params, body) for m, p, params, body in docker.calls
               if p.endswith("/update")]
    assert [p for p, _, _ in updates] == [f"/services/{worker['ID']}/update"]
    path, params, body = updates[0]
    assert params == {"version": worker["Version"]["Index"]}
    assert body["TaskTemplate"]["ForceUpdate"] == 4
    assert result.applied == ("update service shop_worker",)


def engine_copy(spec: dict[str, Any], number: int) -> dict[str, Any]:
    """A service as the engine keeps what the CLI sent: its defaults filled in (an endpoint
    without ports is in vip mode), an ID and a version."""
    stored = json.loads(json.dumps(spec))
    stored["EndpointSpec"] = {"Mode": "vip", **stored["EndpointSpec"]}
    stored["TaskTemplate"]["ContainerSpec"]["Image"] += "@sha256:d1"
    for net in stored["TaskTemplate"]["Networks"]:
        net["Target"] = f"net-{net['Target']}"  # the engine keeps network IDs
    if "RestartPolicy" in stored["TaskTemplate"]:  # and its default delay (seen on 20.10)
        stored["TaskTemplate"]["RestartPolicy"].setdefault("Delay", 5_000_000_000)
    return {"ID": f"id{number}", "Version": {"Index": 10 + number}, "Spec": stored}


def stack_networks(plan: Any) -> list[dict[str, Any]]:
    return [{"Id": f"net-{name}", "Name": name, "Driver": "overlay", "Scope": "swarm",
             "Labels": body["Labels"]} for name, body in plan.networks.items()]


PLAIN = """\
services:
  api:
    image: busybox:1.36
    environment: {MODE: "1"}
    restart: on-failure:5
  agent:
    image: busybox:1.36
    deploy: {mode: global}
  dns:
    image: busybox:1.36
    ports: ["127.0.0.1:5353:53/udp"]
"""


@pytest.fixture
def plain(tmp_path):
    def make(text: str = PLAIN) -> Any:
        path = tmp_path / "plain.yml"
        path.write_text(text)
        return stack_plan(load_compose(path, env={}), "plain")
    return make


async def test_services_without_ports_or_global_preview_as_unchanged(plain, tmp_path):
    deployed = plain()
    docker = FakeDocker(services=[engine_copy(spec, i) for i, spec in
                                  enumerate(deployed.services.values())],
                        networks=stack_networks(deployed))
    ops = fake_ops(docker, tmp_path)
    preview = await plan_changes(ops, plain())
    assert [(s.name, s.action, s.details) for s in preview.services] == [
        ("plain_agent", "unchanged", ()), ("plain_api", "unchanged", ()),
        ("plain_dns", "unchanged", ())]
    assert not preview.changed
    assert preview.lines()[-1] == "  nothing to change"


async def test_a_new_global_service_is_previewed_as_global(plain, tmp_path):
    preview = await plan_changes(fake_ops(FakeDocker(), tmp_path), plain())
    agent = preview.services[0]
    assert (agent.name, agent.action, agent.details) == (
        "plain_agent", "create", ("image busybox:1.36", "global"))


async def test_apply_writes_only_the_service_whose_spec_differs(plain, tmp_path):
    docker = FakeDocker(services=[engine_copy(spec, i) for i, spec in
                                  enumerate(plain().services.values())],
                        networks=stack_networks(plain()))
    ops = fake_ops(docker, tmp_path)
    changed = plain(PLAIN.replace('MODE: "1"', 'MODE: "2"'))
    preview = await plan_changes(ops, changed)
    assert [(s.name, s.action) for s in preview.services] == [
        ("plain_agent", "unchanged"), ("plain_api", "update"), ("plain_dns", "unchanged")]
    result = await apply(ops, changed, preview)
    api = next(s for s in docker.services if s["Spec"]["Name"] == "plain_api")
    assert docker.writes() == [("POST", f"/services/{api['ID']}/update")]
    assert result.applied == ("update service plain_api",)
    assert result.service_ids == {"plain_api": api["ID"]}


async def test_a_tag_that_names_another_image_now_is_an_update(plain, tmp_path):
    """docker stack deploy looks every image up again: a moved tag updates its services."""
    deployed = plain()
    docker = FakeDocker(services=[engine_copy(spec, i) for i, spec in
                                  enumerate(deployed.services.values())],
                        networks=stack_networks(deployed),
                        digests={"busybox:1.36": "sha256:e2e2e2e2e2e2e2e2e2e2"})
    ops = fake_ops(docker, tmp_path)
    preview = await plan_changes(ops, plain())
    moved = ("image digest: sha256:d1… -> sha256:e2e2e2e2e2e2… (busybox:1.36 now names "
             "another image; the nodes pull it)",)
    assert [(s.action, s.details) for s in preview.services] == [("update", moved)] * 3
    result = await apply(ops, plain(), preview)
    assert len(result.applied) == 3
    bodies = [b for m, p, _, b in docker.calls if p.endswith("/update")]
    assert {b["TaskTemplate"]["ContainerSpec"]["Image"] for b in bodies} == {
        "busybox:1.36@sha256:e2e2e2e2e2e2e2e2e2e2"}


async def test_an_image_the_registry_does_not_answer_for_is_compared_by_tag(plain, tmp_path):
    class NoRegistry(FakeDocker):
        async def request(self, method, path, **kwargs):
            if path.startswith("/distribution/"):
                self.calls.append((method, path, None, None))
                raise DockerAPIError(500, "no route to registry", method=method, path=path)
            return await super().request(method, path, **kwargs)

    deployed = plain()
    docker = NoRegistry(services=[engine_copy(spec, i) for i, spec in
                                  enumerate(deployed.services.values())],
                        networks=stack_networks(deployed))
    ops = fake_ops(docker, tmp_path)
    changed = plain(PLAIN.replace('MODE: "1"', 'MODE: "2"'))
    preview = await plan_changes(ops, changed)
    assert [s.action for s in preview.services] == ["unchanged", "update", "unchanged"]
    result = await apply(ops, changed, preview)
    assert result.applied == ("update service plain_api",)
    assert result.warnings == ("image busybox:1.36 could not be looked up in its registry "
                               "(no route to registry); each node will pull it by tag",)


async def test_fields_an_older_engine_drops_are_named_and_not_compared(plain, tmp_path):
    text = PLAIN.replace('environment: {MODE: "1"}', 'environment: {MODE: "1"}\n'
                                                      '    oom_score_adj: 200')
    docker = FakeDocker(services=[engine_copy(spec, i) for i, spec in
                                  enumerate(plain().services.values())],  # kept without it
                        networks=stack_networks(plain()))
    docker.api_version = "1.41"
    preview = await plan_changes(fake_ops(docker, tmp_path), plain(text))
    assert [s.action for s in preview.services] == ["unchanged"] * 3
    assert preview.warnings[-1] == (
        "services.api: oom_score_adj needs Docker engine API 1.46 (Docker 27.0); this engine "
        "speaks 1.41 and drops it: the service runs without it (as with docker stack deploy)")
    docker.api_version = "1.46"  # an engine that keeps it: a change, and no warning
    preview = await plan_changes(fake_ops(docker, tmp_path), plain(text))
    assert preview.services[1].details == ("OomScoreAdj: (unset) -> 200",)
    assert not any("oom_score_adj" in w for w in preview.warnings)


async def test_the_preview_names_what_is_ignored_or_changed_on_the_way(plain, tmp_path):
    preview = await plan_changes(fake_ops(FakeDocker(), tmp_path), plain())
    lines = preview.lines()
    assert lines[1].startswith("  warning: line 11: services.dns.ports[0]: host IP 127.0.0.1 "
                               "ignored: swarm publishes 5353/udp on EVERY address of every "
                               "node (0.0.0.0)")
    assert preview.warnings == plain().warnings


def test_preview_lines_for_prune_and_creates():
    preview = DeployPreview("prod", "shop", True, services=(), create=("network shop_default",))
    assert preview.lines() == ["deploy stack shop on cluster prod (prune)",
                               "  create network shop_default"]
    assert preview.changed


# ---- interrupted (Ctrl-C, a cancelled task) --------------------------------------------
TWELVE = "services:\n" + "".join(f"  s{i:02}:\n    image: busybox:1.36\n" for i in range(1, 13))
FIRST_THREE = ["create network many_default", "create service many_s01",
               "create service many_s02", "create service many_s03"]
LAST_EIGHT = [f"create service many_s{i:02}" for i in range(5, 13)]


class StoppingDocker(FakeDocker):
    """Stops at its Nth service create: raises KeyboardInterrupt ("raise"), sends this
    process SIGINT as a Ctrl-C would ("sigint"), or waits there until cancelled ("wait")."""

    def __init__(self, at: int, how: str) -> None:
        super().__init__()
        self.at, self.how = at, how
        self.creates = 0
        self.stopped = asyncio.Event()

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        if (method, path) == ("POST", "/services/create"):
            self.creates += 1
            if self.creates == self.at:
                self.stopped.set()
                if self.how == "raise":
                    raise KeyboardInterrupt
                if self.how == "sigint":
                    os.kill(os.getpid(), signal.SIGINT)
                await asyncio.Event().wait()  # until cancelled
        return await super().request(method, path, **kwargs)


@pytest.fixture
def twelve(tmp_path):
    path = tmp_path / "many.yml"
    path.write_text(TWELVE)
    return stack_plan(load_compose(path, env={}), "many")


def check_interrupted(progress: DeployProgress, tmp_path: Path, error: str) -> None:
    assert progress.applied == FIRST_THREE
    assert progress.unknown == "create service many_s04"
    assert progress.not_applied == LAST_EIGHT
    assert progress.lines() == [
        "deploy of stack many interrupted: 4 of 13 steps applied",
        "  applied: " + ", ".join(FIRST_THREE),
        "  under way (may or may not be applied): create service many_s04",
        "  not applied: " + ", ".join(LAST_EIGHT),
        "running the same deploy again completes it (what was applied is kept)"]
    last = audit(tmp_path)[-1]
    assert (last["action"], last["result"], last["error"]) == ("deploy", "interrupted", error)
    assert last["params"]["applied"] == FIRST_THREE
    assert last["params"]["unknown"] == "create service many_s04"
    assert last["params"]["not_applied"] == LAST_EIGHT


async def test_ctrl_c_during_apply_says_what_was_applied_and_what_was_not(twelve, tmp_path):
    docker = StoppingDocker(at=4, how="raise")
    ops = fake_ops(docker, tmp_path)
    progress = DeployProgress()
    with pytest.raises(KeyboardInterrupt):
        await apply(ops, twelve, await plan_changes(ops, twelve), progress=progress)
    check_interrupted(progress, tmp_path, "KeyboardInterrupt")


async def test_a_cancelled_apply_says_what_was_applied_and_what_was_not(twelve, tmp_path):
    docker = StoppingDocker(at=4, how="wait")
    ops = fake_ops(docker, tmp_path)
    progress = DeployProgress()
    applying = asyncio.create_task(apply(ops, twelve, await plan_changes(ops, twelve),
                                         progress=progress))
    await docker.stopped.wait()
    applying.cancel()
    with pytest.raises(asyncio.CancelledError):
        await applying
    check_interrupted(progress, tmp_path, "CancelledError")


def test_interrupted_before_the_first_write_says_nothing_was_applied():
    assert DeployProgress("many").lines() == [
        "deploy of stack many interrupted before its first change: nothing was applied"]


def test_ctrl_c_during_swarmdeck_deploy_prints_the_lists_and_exits_130(
        tmp_path, isolated_env, monkeypatch, capsys):
    """The whole command, asyncio.run's own SIGINT handling included: the signal cancels the
    main task while the 4th of 12 services is being created."""
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    (tmp_path / "many.yml").write_text(TWELVE)
    path = tmp_path / "config.toml"
    path.write_text('[clusters.prod]\nmanagers = ["root@192.0.2.1:1"]\n'
                    '[projects.many.environments.production]\ncluster = "prod"\n'
                    f'stack = "many"\ncompose = "{tmp_path / "many.yml"}"\n')
    path.chmod(0o600)
    config = load_config(path)
    docker = StoppingDocker(at=4, how="sigint")

    class Session(FakeSession):
        async def close(self) -> None:
            pass

    async def open_ops(config_, cluster, **kwargs):
        return ClusterOps(cluster, Session(docker), audit=AuditLog(tmp_path / "audit.jsonl"),
                          config=config)

    monkeypatch.setattr(cli_session, "open_ops", open_ops)
    assert main(["--config", str(path), "deploy", "many", "--yes"]) == 130
    err = capsys.readouterr().err
    assert ("deploy of stack many interrupted: 4 of 13 steps applied\n"
            f"  applied: {', '.join(FIRST_THREE)}\n"
            "  under way (may or may not be applied): create service many_s04\n"
            f"  not applied: {', '.join(LAST_EIGHT)}\n"
            "running the same deploy again completes it (what was applied is kept)\n"
            "swarmdeck: interrupted\n") in err
    check_interrupted(DeployProgress("many", [*FIRST_THREE, "create service many_s04",
                                              *LAST_EIGHT], 4, True), tmp_path,
                      "CancelledError")


def test_field_changes_name_each_field_with_both_values_and_mask_secrets():
    from swarmdeck.core.ops.deploy_diff import field_changes, spec_differences

    running = {"Mode": {"Replicated": {"Replicas": 4}}, "TaskTemplate": {"ContainerSpec": {
        "Image": "reg/app:1", "Env": ["QUEUE=by-hand", "DB_PASSWORD=old", "GONE=1"]}}}
    declared = {"Mode": {"Replicated": {"Replicas": 3}}, "TaskTemplate": {"ContainerSpec": {
        "Image": "reg/app:1", "Env": ["QUEUE=orders", "DB_PASSWORD=new", "NEW=x"]}}}
    found = {(c.field, c.running, c.declared) for c in field_changes(running, declared)}
    assert found == {("replicas", "4", "3"), ("env QUEUE", "by-hand", "orders"),
                     ("env DB_PASSWORD", "****", "****"), ("env GONE", "1", None),
                     ("env NEW", None, "x")}
    assert "env changed: DB_PASSWORD (value hidden)" in spec_differences(running, declared)
