"""Compose files read as `docker stack deploy` reads them, the specs it would send, and the
deploy preview/apply against a fake engine (the real comparison with the docker CLI is in
tests/integration/test_deploy_parity.py)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from swarmdeck.core.audit import AuditLog
from swarmdeck.core.errors import (
    DockerAPIError,
    OperationFailed,
    Refused,
    UsageError,
)
from swarmdeck.core.ops.base import ClusterOps
from swarmdeck.core.ops.compose import (
    ComposeError,
    go_string,
    load_compose,
    parse_bytes,
    parse_cpus,
    parse_duration,
    parse_port,
    stack_plan,
    substitute,
)
from swarmdeck.core.ops.deploy import (
    DeployPreview,
    apply,
    normalize_image,
    plan_changes,
    registry_auth,
)

LAB_STACKS = Path(__file__).parents[2] / "src" / "swarmdeck" / "lab" / "stacks"
STAGING = Path(__file__).parents[1] / "fixtures" / "lab_staging"


def compose(tmp_path: Path, text: str, env: dict[str, str] | None = None, **files: str):
    for name, content in files.items():
        (tmp_path / name.replace("__", ".")).write_text(content)
    path = tmp_path / "stack.yml"
    path.write_text(text)
    return load_compose(path, env=env or {})


def problems(tmp_path: Path, text: str, **files: str) -> list[str]:
    with pytest.raises(ComposeError) as error:
        compose(tmp_path, text, **files)
    return error.value.problems


# ---- values ------------------------------------------------------------------------------
def test_durations_sizes_cpus_like_go():
    assert parse_duration("1m30s") == 90_000_000_000
    assert parse_duration("1.5s") == 1_500_000_000
    assert parse_duration("300ms") == 300_000_000
    assert parse_duration("0") == 0
    for bad in ("10", "1x", "", "s"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    assert parse_bytes("64M") == 64 * 1024**2
    assert parse_bytes("1.5g") == int(1.5 * 1024**3)
    assert parse_bytes("512MiB") == 512 * 1024**2
    assert parse_bytes(1000) == 1000
    assert parse_cpus("0.25") == 250_000_000
    assert parse_cpus(0.5) == 500_000_000
    assert parse_cpus("1/4") == 250_000_000
    with pytest.raises(ValueError):
        parse_cpus("0.0000000001")  # finer than a nano CPU


def test_yaml_scalars_become_strings_the_way_go_prints_them():
    assert [go_string(v) for v in (True, 1, 1.0, 2.5, 1e21, 0.0001)] == [
        "true", "1", "1", "2.5", "1e+21", "0.0001"]


def test_short_port_syntax():
    assert parse_port("8080:80") == [
        {"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080, "PublishMode": "ingress"}]
    assert [p["PublishedPort"] for p in parse_port("9000-9001:90-91/udp")] == [9000, 9001]
    assert parse_port("53/udp")[0] | {} == {"Protocol": "udp", "TargetPort": 53,
                                            "PublishedPort": 0, "PublishMode": "ingress"}
    for bad in ("http", "80/xtp", "1-3:4-5", "8080:"):
        with pytest.raises(ValueError):
            parse_port(bad)


def test_interpolation_like_the_cli():
    env = {"SET": "x", "EMPTY": ""}
    assert substitute("${SET} $SET ${UNSET}", env) == "x x "
    assert substitute("${EMPTY:-d} ${EMPTY-d} ${UNSET-d}", env) == "d  d"
    assert substitute("cost $$5", env) == "cost $5"
    with pytest.raises(ValueError, match="required variable UNSET is missing a value: say"):
        substitute("${UNSET:?say}", env)
    with pytest.raises(ValueError, match="invalid variable"):
        substitute("5$", env)


# ---- loading -----------------------------------------------------------------------------
def test_loads_interpolates_and_casts_variables(tmp_path):
    project = compose(tmp_path, """\
version: "3.8"
services:
  web:
    image: ${REGISTRY:-docker.io}/web:${TAG}
    command: httpd -f -p "8 0"
    environment: [PLAIN=1, FROM_ENV, "PRICE=$$5"]
    env_file: [web.env]
    deploy:
      replicas: ${REPLICAS}
""", env={"TAG": "2", "REPLICAS": "3", "FROM_ENV": "shell", "OVERRIDE": "env"},
        web__env="# comment\nFILE=1\nOVERRIDE=\nPLAIN=file\n")
    web = project.services["web"]
    assert web.image == "docker.io/web:2"
    assert web.command == ["httpd", "-f", "-p", "8 0"]
    assert web.replicas == 3
    # env_file first, `environment` over it; empty values are taken from the environment
    assert web.environment == {"FILE": "1", "OVERRIDE": "env", "PLAIN": "1",
                               "FROM_ENV": "shell", "PRICE": "$5"}


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    with pytest.raises(ComposeError) as error:
        compose(tmp_path, "services:\n  web:\n    image: a\n   bad: [\n")
    assert error.value.exit_code == 2
    assert isinstance(error.value, UsageError)
    assert str(error.value).startswith(f"{tmp_path / 'stack.yml'}: line 4, column 4: YAML")


def test_duplicate_keys_are_an_error_not_a_silent_overwrite(tmp_path):
    with pytest.raises(ComposeError, match="line 4: services.web.image is defined twice"):
        compose(tmp_path, "services:\n  web:\n    image: a\n    image: b\n")


def test_every_unsupported_key_is_reported_by_path_and_line(tmp_path):
    found = problems(tmp_path, """\
services:
  web:
    image: a
    build: .
    restart: always
    cap_add: [NET_ADMIN]
    bogus: 1
    deploy:
      resources:
        reservations: {generic_resources: []}
networks:
  n: {ipam: {}}
x-anchors: {}
""")
    assert found == [
        "line 4: services.web.build: not supported by swarm stacks",
        "line 5: services.web.restart: not supported by swarm stacks",
        "line 6: services.web.cap_add: not supported by swarmdeck (deploy this file with "
        "`docker stack deploy`)",
        "line 7: services.web.bogus: unknown key",
        "line 10: services.web.deploy.resources.reservations.generic_resources: not supported "
        "by swarmdeck (deploy this file with `docker stack deploy`)",
        "line 12: networks.n.ipam: not supported by swarmdeck (deploy this file with "
        "`docker stack deploy`)",
    ]


def test_wrong_types_name_the_key_and_what_is_expected(tmp_path):
    found = problems(tmp_path, """\
services:
  web:
    image: a
    ports: ["eighty", {published: 80}]
    stop_grace_period: 10
    healthcheck: {interval: soon}
    deploy:
      replicas: two
      mode: everywhere
      resources: {limits: {memory: lots}}
      update_config: {order: random}
""")
    assert found == [
        "line 4: services.web.ports[0]: expected a port like 80, 8080:80 or 8080:80/udp, "
        "got text 'eighty'",
        "line 4: services.web.ports[1]: needs `target:` (the container's port)",
        "line 5: services.web.stop_grace_period: expected a duration like 10s, 1m30s or 500ms, "
        "got int 10",
        "line 6: services.web.healthcheck.interval: expected a duration like 10s, 1m30s or "
        "500ms, got text 'soon'",
        "line 8: services.web.deploy.replicas: expected a whole number, got text 'two'",
        "line 9: services.web.deploy.mode: expected one of replicated, global, "
        "replicated-job, global-job, got 'everywhere'",
        "line 10: services.web.deploy.resources.limits.memory: expected a size like 512M or "
        "1G, got text 'lots'",
        "line 11: services.web.deploy.update_config.order: expected one of start-first, "
        "stop-first, got 'random'",
    ]


def test_replicas_from_a_variable_that_is_not_a_number(tmp_path):
    with pytest.raises(ComposeError) as error:
        compose(tmp_path, "services:\n  web:\n    image: a\n    deploy:\n      replicas: $N\n",
                env={"N": "two"})
    assert error.value.problems == [
        "line 5: services.web.deploy.replicas: expected a whole number, got text 'two'"]
    assert "1 problem: " in str(error.value)


def test_references_must_be_declared(tmp_path):
    assert problems(tmp_path, """\
services:
  web:
    image: a
    networks: [front]
    volumes: [data:/data]
    configs: [conf]
    secrets: [pw]
""") == [
        "line 4: services.web.networks.front: undefined network 'front' (declare it under "
        "the top-level networks:)",
        "line 5: services.web.volumes[0]: undefined volume 'data' (declare it under the "
        "top-level volumes:)",
        "line 6: services.web.configs[0]: undefined config 'conf' (declare it under the "
        "top-level configs:)",
        "line 7: services.web.secrets[0]: undefined secret 'pw' (declare it under the "
        "top-level secrets:)",
    ]


def test_missing_files_and_images_are_reported(tmp_path):
    found = problems(tmp_path, """\
services:
  web:
    env_file: missing.env
configs:
  conf: {file: nope.txt}
""")
    assert found[0].startswith("line 2: services.web.image: missing")
    assert found[1].startswith("line 3: services.web.env_file: cannot read ")
    assert found[2].startswith("line 5: configs.conf.file: cannot read ")


def test_unreadable_or_wrong_version_file(tmp_path):
    with pytest.raises(ComposeError, match="cannot read compose file"):
        load_compose(tmp_path / "absent.yml", env={})
    assert problems(tmp_path, 'version: "2.4"\nservices:\n  web: {image: a}\n') == [
        "line 1: version: swarm stacks need a version 3 compose file, got '2.4'"]


# ---- the specs ---------------------------------------------------------------------------
FULL = """\
version: "3.8"
x-base: &base
  stop_grace_period: 2s
services:
  web:
    <<: *base
    image: registry:5000/web:1
    entrypoint: ["/bin/sh", "-c"]
    command: echo hi
    environment: {B: 2, A: "1", NOVALUE: }
    labels: [tier=front]
    ports:
      - "8080:80"
      - {target: 443, published: 8443, mode: host}
    networks:
      front: {aliases: [www]}
    volumes:
      - data:/data:ro
      - ./site:/site
      - {type: tmpfs, target: /tmp, tmpfs: {size: 1M}}
    configs:
      - {source: conf, target: /etc/app.conf, mode: 0440, uid: "100"}
    secrets: [pw]
    healthcheck: {test: "curl -f localhost", interval: 5s, retries: 2}
    hostname: web
    user: app
    working_dir: /site
    deploy:
      replicas: 2
      endpoint_mode: DNSRR
      labels: {owner: ops}
      placement:
        constraints: [node.role==worker]
        preferences: [{spread: node.labels.zone}]
        max_replicas_per_node: 1
      resources:
        limits: {cpus: "0.5", memory: 128M, pids: 50}
        reservations: {memory: 32M}
      restart_policy: {condition: on-failure, max_attempts: 3}
      update_config: {delay: 10s, failure_action: rollback}
  agent:
    image: busybox
    deploy: {mode: global}
networks:
  front: {attachable: true, labels: {n: "1"}}
volumes:
  data: {driver_opts: {type: tmpfs}, labels: {v: "1"}}
configs:
  conf: {file: app.conf}
secrets:
  pw: {file: pw.txt, name: shared_pw}
"""


@pytest.fixture
def plan(tmp_path):
    return stack_plan(compose(tmp_path, FULL, app__conf="listen 80\n", pw__txt="hunter2"),
                      "shop")


def test_service_spec_as_the_cli_builds_it(plan, tmp_path):
    web = plan.services["web"]
    container = web["TaskTemplate"]["ContainerSpec"]
    assert web["Name"] == "shop_web"
    assert web["Labels"] == {"owner": "ops", "com.docker.stack.namespace": "shop",
                             "com.docker.stack.image": "registry:5000/web:1"}
    assert container["Labels"] == {"tier": "front", "com.docker.stack.namespace": "shop"}
    assert container["Command"] == ["/bin/sh", "-c"]
    assert container["Args"] == ["echo", "hi"]
    assert container["Env"] == ["A=1", "B=2", "NOVALUE"]  # sorted, as the CLI does
    assert container["Healthcheck"] == {"Test": ["CMD-SHELL", "curl -f localhost"],
                                        "Interval": 5_000_000_000, "Retries": 2}
    assert container["StopGracePeriod"] == 2_000_000_000
    assert container["Mounts"] == [
        {"Type": "volume", "Source": "shop_data", "Target": "/data", "ReadOnly": True,
         "VolumeOptions": {"Labels": {"v": "1", "com.docker.stack.namespace": "shop"},
                           "DriverConfig": {"Name": "", "Options": {"type": "tmpfs"}}}},
        {"Type": "bind", "Source": str(tmp_path / "site"), "Target": "/site"},
        {"Type": "tmpfs", "Target": "/tmp", "TmpfsOptions": {"SizeBytes": 1024**2}},
    ]
    assert container["Configs"] == [{"File": {"Name": "/etc/app.conf", "UID": "100",
                                              "GID": "0", "Mode": 0o440},
                                     "ConfigName": "shop_conf"}]
    assert container["Secrets"] == [{"File": {"Name": "pw", "UID": "0", "GID": "0",
                                              "Mode": 0o444}, "SecretName": "shared_pw"}]
    assert (container["Hostname"], container["User"], container["Dir"]) == ("web", "app",
                                                                             "/site")
    task = web["TaskTemplate"]
    assert task["Networks"] == [{"Target": "shop_front", "Aliases": ["www", "web"]}]
    assert task["Placement"] == {"Constraints": ["node.role==worker"],
                                 "Preferences": [{"Spread": {"SpreadDescriptor":
                                                             "node.labels.zone"}}],
                                 "MaxReplicas": 1}
    assert task["Resources"] == {"Limits": {"NanoCPUs": 500_000_000, "MemoryBytes": 128 * 2**20,
                                            "Pids": 50},
                                 "Reservations": {"MemoryBytes": 32 * 2**20}}
    assert task["RestartPolicy"] == {"Condition": "on-failure", "MaxAttempts": 3}
    assert web["Mode"] == {"Replicated": {"Replicas": 2}}
    assert web["EndpointSpec"] == {"Mode": "dnsrr", "Ports": [
        {"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080, "PublishMode": "ingress"},
        {"Protocol": "", "TargetPort": 443, "PublishedPort": 8443, "PublishMode": "host"}]}
    # parallelism defaults to 1 once update_config is there; no rollback_config: none sent
    assert web["UpdateConfig"] == {"Parallelism": 1, "Delay": 10_000_000_000,
                                   "FailureAction": "rollback", "MaxFailureRatio": 0,
                                   "Order": ""}
    assert "RollbackConfig" not in web


def test_defaults_the_cli_leaves_unset(plan):
    agent = plan.services["agent"]
    assert agent["Mode"] == {"Global": {}}
    assert agent["EndpointSpec"] == {}
    assert agent["TaskTemplate"]["Resources"] == {}
    assert agent["TaskTemplate"]["Placement"] == {}
    assert "RestartPolicy" not in agent["TaskTemplate"]
    assert "UpdateConfig" not in agent
    assert agent["TaskTemplate"]["Networks"] == [{"Target": "shop_default",
                                                  "Aliases": ["agent"]}]
    assert agent["TaskTemplate"]["ContainerSpec"]["Privileges"] == {
        "CredentialSpec": None, "SELinuxContext": None}


def test_networks_configs_and_secrets(plan):
    assert plan.networks == {
        "shop_default": {"Name": "shop_default", "Driver": "overlay",
                         "Labels": {"com.docker.stack.namespace": "shop"},
                         "Internal": False, "Attachable": False},
        "shop_front": {"Name": "shop_front", "Driver": "overlay",
                       "Labels": {"n": "1", "com.docker.stack.namespace": "shop"},
                       "Internal": False, "Attachable": True},
    }
    assert plan.configs == {"shop_conf": {
        "Name": "shop_conf", "Labels": {"com.docker.stack.namespace": "shop"},
        "Data": base64.b64encode(b"listen 80\n").decode()}}
    assert list(plan.secrets) == ["shared_pw"]


def test_stack_and_service_names_are_checked(tmp_path):
    project = compose(tmp_path, "services:\n  web.v2: {image: a}\n")
    with pytest.raises(ComposeError) as error:
        stack_plan(project, "bad name")
    assert error.value.problems == [
        "stack name 'bad name': use letters, digits, - and _ (starting with a letter or digit)",
        "service 'web.v2': 'bad name_web.v2' is not a valid swarm service name (letters, "
        "digits, - and _; at most 63 characters)",
    ]


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
                 fail: tuple[str, str] | None = None, refuse_secret_update: bool = False):
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
                return {"Descriptor": {"digest": "sha256:d1"},
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
    """The staging cluster as recorded after `docker stack deploy -c shop.yml shop`."""
    return FakeDocker(services=json.loads((STAGING / "services.json").read_text()),
                      networks=json.loads((STAGING / "networks.json").read_text()))


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
    plan = stack_plan(load_compose(LAB_STACKS / "shop.yml", env={}), "shop")
    ops = fake_ops(docker, tmp_path)
    result = await apply(ops, plan, await plan_changes(ops, plan))
    updates = [(p, params, body) for m, p, params, body in docker.calls
               if p.endswith("/update")]
    assert [p for p, _, _ in updates] == [f"/services/{s['ID']}/update"
                                          for s in sorted(docker.services,
                                                          key=lambda s: s["Spec"]["Name"])]
    path, params, body = updates[1]
    assert params == {"version": worker["Version"]["Index"]}
    assert body["TaskTemplate"]["ForceUpdate"] == 4
    assert result.applied == ("update service shop_web", "update service shop_worker")


def test_preview_lines_for_prune_and_creates():
    preview = DeployPreview("prod", "shop", True, services=(), create=("network shop_default",))
    assert preview.lines() == ["deploy stack shop on cluster prod (prune)",
                               "  create network shop_default"]
    assert preview.changed
