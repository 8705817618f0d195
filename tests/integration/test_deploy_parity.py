"""Deploying a compose file with swarmdeck gives the cluster the same specs as
`docker stack deploy` does, on the real lab (cluster staging).

The two stacks are deployed one after the other (the CLI's first, then removed) so their
host-mode ports never compete for the same node.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path
from typing import Any

import pytest

from swarmdeck.core.audit import AuditLog
from swarmdeck.core.config import load_config
from swarmdeck.core.errors import LabError, OperationFailed, UsageError
from swarmdeck.core.fleet import open_ops
from swarmdeck.core.ops.base import ClusterOps
from swarmdeck.core.ops.compose import load_compose, stack_plan
from swarmdeck.core.ops.deploy import apply, plan_changes

MANAGER = "staging-m1"
NODES = ("staging-m1", "staging-w1")
CLI_STACK = "parity-cli"
SD_STACK = "parity-sd"
REGISTRY_IMAGE = "10.213.0.1:5000/swarmdeck/demo"

COMPOSE = """\
version: "3.8"
x-defaults: &defaults
  stop_grace_period: 1s
services:
  web:
    <<: *defaults
    image: 10.213.0.1:5000/swarmdeck/demo:{web_tag}
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    hostname: "{{{{.Service.Name}}}}-{{{{.Task.Slot}}}}"
    environment:
      APP_MODE: parity
      DB_PASSWORD: not-a-real-one
      PRICE: "$$5"
      FROM_SHELL:
    env_file: app.env
    labels:
      parity.tier: frontend
    ports:
      - target: 8080
        published: 18181
        protocol: tcp
        mode: host
      - {{target: 8081, published: 18182, protocol: udp, mode: host}}
    networks:
      front:
        aliases: [www]
      back:
    volumes:
      - data:/data
      - type: bind
        source: ./www
        target: /www
        read_only: true
    configs:
      - source: app_conf
        target: /etc/app.conf
        mode: 0440
    secrets: [db_password]
    healthcheck:
      test: ["CMD-SHELL", "true"]
      interval: 10s
      timeout: 3s
      retries: 2
      start_period: 5s
    user: root
    working_dir: /www
    deploy:
      mode: replicated
      replicas: ${{WEB_REPLICAS:-1}}
      endpoint_mode: dnsrr
      labels:
        parity.owner: ops
      placement:
        constraints: [node.platform.os == linux]
        preferences: [{{spread: node.labels.storage}}]
        max_replicas_per_node: 1
      resources:
        limits: {{cpus: "0.25", memory: 64M}}
        reservations: {{cpus: "0.1", memory: 16M}}
      restart_policy: {{condition: on-failure, delay: 2s, max_attempts: 3, window: 30s}}
      update_config:
        parallelism: 2
        delay: 1s
        failure_action: continue
        monitor: 2s
        max_failure_ratio: 0.5
        order: start-first
      rollback_config: {{parallelism: 1, order: stop-first}}
  worker:
    <<: *defaults
    image: 10.213.0.1:5000/swarmdeck/demo:1.0
    entrypoint: sh -c
    command: ["while true; do sleep 5; done"]
    environment: [QUEUE=orders, "COST=$$5"]
    networks: [back]
    configs: [app_conf]
    deploy:
      mode: global
      endpoint_mode: dnsrr
{extra}networks:
  front:
    driver: overlay
    attachable: true
    labels: {{parity.net: front}}
  back:
volumes:
  data:
    labels: {{parity.volume: data}}
configs:
  app_conf:
    file: ./app.conf
    labels: {{parity.kind: conf}}
secrets:
  db_password:
    file: ./db_password.txt
"""

EXTRA = """\
  extra:
    image: 10.213.0.1:5000/swarmdeck/demo:1.0
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    deploy:
      replicas: 1
      endpoint_mode: dnsrr
"""


def write_project(directory: Path, *, web_tag: str = "${WEB_TAG:-1.0}",
                  extra: bool = True, name: str = "stack.yml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "www").mkdir(exist_ok=True)
    (directory / "www" / "index.html").write_text("parity\n")
    (directory / "app.env").write_text("LOG_LEVEL=debug\n# a comment\nFROM_FILE=yes\n")
    (directory / "app.conf").write_text("listen = 8080\n")
    (directory / "db_password.txt").write_text("hunter2\n")
    path = directory / name
    path.write_text(COMPOSE.format(web_tag=web_tag, extra=EXTRA if extra else ""))
    return path


# ---- reading the cluster -----------------------------------------------------------------
def label_filter(stack: str) -> dict[str, Any]:
    return {"filters": {"label": [f"com.docker.stack.namespace={stack}"]}}


async def stack_objects(ops: ClusterOps, stack: str) -> dict[str, list[dict[str, Any]]]:
    kinds = ("services", "networks", "configs", "secrets")
    found = await asyncio.gather(*(ops.docker.get(f"/{k}", **label_filter(stack))
                                   for k in kinds))
    return dict(zip(kinds, (f or [] for f in found), strict=True))


async def snapshot(ops: ClusterOps, stack: str) -> dict[str, Any]:
    """The stack's services (spec, previous spec, endpoint spec), networks, configs and
    secrets, with IDs replaced by names and the stack's name by STACK."""
    # a service's Endpoint is filled in by the manager's allocator a moment after the
    # service is created (under load, after the read: CI once saw "EndpointSpec: docker CLI
    # {}, swarmdeck '(absent)'"); read again, for up to 15 s, until every one has it
    for _ in range(150):
        objects = await stack_objects(ops, stack)
        if all((s.get("Endpoint") or {}).get("Spec") is not None
               for s in objects["services"]):
            break
        await asyncio.sleep(0.1)
    all_networks = await ops.docker.get("/networks")
    names = {n["Id"]: n["Name"] for n in all_networks}
    names |= {o["ID"]: o["Spec"]["Name"] for k in ("configs", "secrets") for o in objects[k]}
    services = {
        s["Spec"]["Name"]: {"Spec": s["Spec"], "PreviousSpec": s.get("PreviousSpec"),
                            "EndpointSpec": (s.get("Endpoint") or {}).get("Spec")}
        for s in objects["services"]
    }
    networks = {
        n["Name"]: {k: n.get(k) for k in ("Driver", "Scope", "Attachable", "Internal",
                                          "Ingress", "Labels", "EnableIPv6")}
        | {"Options": {k: v for k, v in (n.get("Options") or {}).items()
                       if not k.endswith("vxlanid_list")}}
        for n in objects["networks"]
    }
    configs = {c["Spec"]["Name"]: c["Spec"] for c in objects["configs"]}
    secrets = {s["Spec"]["Name"]: s["Spec"] for s in objects["secrets"]}
    text = json.dumps({"services": services, "networks": networks, "configs": configs,
                       "secrets": secrets}, sort_keys=True)
    for ident, name in names.items():
        text = text.replace(f'"{ident}"', json.dumps(name))
    return json.loads(text.replace(stack, "STACK"))


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out |= flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return out or {prefix: {}}
    if isinstance(value, list):
        out = {}
        for i, item in enumerate(value):
            out |= flatten(item, f"{prefix}[{i}]")
        return out or {prefix: []}
    return {prefix: value}


def differences(cli: dict[str, Any], ours: dict[str, Any]) -> list[str]:
    a, b = flatten(cli), flatten(ours)
    return [f"{path}: docker CLI {a.get(path, '(absent)')!r}, swarmdeck "
            f"{b.get(path, '(absent)')!r}"
            for path in sorted(set(a) | set(b)) if a.get(path) != b.get(path)]


# ---- driving both tools ------------------------------------------------------------------
def cli_deploy(lab, path: Path, stack: str, *extra: str) -> None:
    lab.docker_on(MANAGER, "stack", "deploy", *extra, "-c", str(path), stack, timeout=120)


async def sd_deploy(ops: ClusterOps, path: Path, stack: str, env: dict[str, str] | None = None,
                    *, prune: bool = False):
    plan = stack_plan(load_compose(path, env=env or {}), stack)
    preview = await plan_changes(ops, plan, prune=prune)
    result = await apply(ops, plan, preview, prune=prune)
    return preview, result


async def remove_stack(lab, ops: ClusterOps, stack: str, timeout: float = 120) -> None:
    """docker stack rm, then wait until the services and networks are gone, then drop the
    named volume it left on every node."""
    def stack_rm() -> None:
        with contextlib.suppress(LabError):  # a network already going: the loop waits
            lab.docker_on(MANAGER, "stack", "rm", stack, timeout=60)

    stack_rm()
    deadline = time.monotonic() + timeout
    while True:
        left = await stack_objects(ops, stack)
        if not any(left.values()):
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"stack {stack} still has {left} after {timeout}s")
        if not left["services"] and left["networks"]:
            stack_rm()  # networks are freed once the tasks are gone
        await asyncio.sleep(1)
    for node in NODES:  # containers go after their tasks; the named volume after them
        while lab.docker_on(node, "ps", "-aq", "--filter",
                            f"label=com.docker.stack.namespace={stack}").split():
            if time.monotonic() > deadline:
                raise AssertionError(f"containers of {stack} still on {node}")
            await asyncio.sleep(1)
        for volume in lab.docker_on(node, "volume", "ls", "-q", "--filter",
                                    f"label=com.docker.stack.namespace={stack}").split():
            lab.docker_on(node, "volume", "rm", volume)


async def wait_until(predicate, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(1)
    return await predicate()


@pytest.fixture
async def staging(lab, tmp_path):
    ops = await open_ops(load_config(lab.config_file), "staging",
                         audit=AuditLog(tmp_path / "audit.jsonl"))
    try:
        yield ops
    finally:
        await ops.session.close()


async def test_swarmdeck_deploys_the_same_specs_as_docker_stack_deploy(lab, staging, tmp_path):
    ops = staging
    v1 = write_project(tmp_path)
    v2 = write_project(tmp_path, web_tag="1.1", name="stack-1.1.yml")
    try:
        cli_deploy(lab, v1, CLI_STACK)
        cli_first = await snapshot(ops, CLI_STACK)
        cli_deploy(lab, v2, CLI_STACK)
        cli_second = await snapshot(ops, CLI_STACK)
        await remove_stack(lab, ops, CLI_STACK)

        preview, result = await sd_deploy(ops, v1, SD_STACK)
        assert [s.action for s in preview.services] == ["create"] * 3
        assert not result.warnings, result.warnings
        ours_first = await snapshot(ops, SD_STACK)
        assert set(ours_first["services"]) == {"STACK_web", "STACK_worker", "STACK_extra"}
        assert differences(cli_first, ours_first) == []

        # deployed again unchanged: the preview says so for every service
        again = await plan_changes(ops, stack_plan(load_compose(v1, env={}), SD_STACK))
        assert [s.action for s in again.services] == ["unchanged"] * 3, again.lines()
        assert not again.changed

        # a new image: the preview names it, the update matches the CLI's (PreviousSpec too)
        preview, _ = await sd_deploy(ops, v2, SD_STACK)
        web = next(s for s in preview.services if s.name == f"{SD_STACK}_web")
        assert web.action == "update"
        assert web.details == (f"image: {REGISTRY_IMAGE}:1.0 -> {REGISTRY_IMAGE}:1.1",)
        assert {s.action for s in preview.services if s is not web} == {"unchanged"}
        ours_second = await snapshot(ops, SD_STACK)
        assert ours_second["services"]["STACK_web"]["Spec"]["TaskTemplate"][
            "ContainerSpec"]["Image"].startswith(f"{REGISTRY_IMAGE}:1.1@sha256:")
        # the CLI also sent the unchanged services again (a no-op update that leaves a
        # PreviousSpec equal to the spec); swarmdeck did not write to them at all
        for name in ("STACK_worker", "STACK_extra"):
            cli_service = cli_second["services"][name]
            assert differences(cli_service["PreviousSpec"], cli_service["Spec"]) == []
            cli_service["PreviousSpec"] = None
            assert ours_second["services"][name]["PreviousSpec"] is None
        assert differences(cli_second, ours_second) == []
    finally:
        await remove_stack(lab, ops, CLI_STACK)
        await remove_stack(lab, ops, SD_STACK)


async def test_preview_shows_changes_in_plain_words_and_prune_removes_dropped_service(
        lab, staging, tmp_path):
    ops = staging
    v1 = write_project(tmp_path)
    v2 = write_project(tmp_path, extra=False, name="stack-without-extra.yml")
    try:
        await sd_deploy(ops, v1, SD_STACK)
        env = {"WEB_REPLICAS": "2", "WEB_TAG": "1.1"}
        (tmp_path / "app.env").write_text("LOG_LEVEL=info\nFROM_FILE=yes\nAPI_TOKEN=x\n")
        plan = stack_plan(load_compose(v1, env=env), SD_STACK)
        preview = await plan_changes(ops, plan)
        web = next(s for s in preview.services if s.name == f"{SD_STACK}_web")
        assert web.details == (
            f"image: {REGISTRY_IMAGE}:1.0 -> {REGISTRY_IMAGE}:1.1",
            "replicas: 1 -> 2",
            "env added: API_TOKEN=****",
            "env changed: LOG_LEVEL=debug -> info",
        ), preview.lines()

        # without prune a service dropped from the file is kept, and the preview says so
        write_project(tmp_path)  # app.env as deployed
        plan = stack_plan(load_compose(v2, env={}), SD_STACK)
        kept = await plan_changes(ops, plan)
        assert any(f"{SD_STACK}_extra is no longer in the file" in n for n in kept.notes)
        preview = await plan_changes(ops, plan, prune=True)
        assert [(s.name, s.action) for s in preview.services] == [
            (f"{SD_STACK}_web", "unchanged"), (f"{SD_STACK}_worker", "unchanged"),
            (f"{SD_STACK}_extra", "remove")]
        assert f"  remove service {SD_STACK}_extra" in preview.lines()
        result = await apply(ops, plan, preview, prune=True)
        assert result.applied[-1] == f"remove service {SD_STACK}_extra"

        async def extra_gone() -> bool:
            names = [s["Spec"]["Name"] for s in
                     (await stack_objects(ops, SD_STACK))["services"]]
            return sorted(names) == [f"{SD_STACK}_web", f"{SD_STACK}_worker"]
        assert await wait_until(extra_gone, 30)
        audit = [json.loads(line) for line in
                 (tmp_path / "audit.jsonl").read_text().splitlines()]
        assert [(a["action"], a["target"], a["result"]) for a in audit] == [
            ("deploy", SD_STACK, "ok"), ("deploy", SD_STACK, "ok")]
    finally:
        await remove_stack(lab, ops, SD_STACK)


HALF_GOOD = """\
version: "3.8"
services:
  a:
    image: 10.213.0.1:5000/swarmdeck/demo:1.0
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    deploy: {endpoint_mode: dnsrr}
  b:
    image: 10.213.0.1:5000/swarmdeck/demo:1.0
    deploy:
      endpoint_mode: dnsrr
      placement: {constraints: ["node.role = manager"]}
"""


async def test_failure_says_what_was_applied_and_refusal_writes_nothing(lab, staging, tmp_path):
    ops = staging
    refused = tmp_path / "refused.yml"
    refused.write_text(HALF_GOOD.replace('deploy: {endpoint_mode: dnsrr}',
                                         'deploy: {endpoint_mode: dnsrr}\n    networks: [outside]')
                       + "networks:\n  outside:\n    external: true\n    name: no-such-net\n")
    half = tmp_path / "half.yml"
    half.write_text(HALF_GOOD)
    try:
        plan = stack_plan(load_compose(refused, env={}), SD_STACK)
        preview = await plan_changes(ops, plan)
        with pytest.raises(UsageError, match="external network no-such-net does not exist"):
            await apply(ops, plan, preview)
        assert not any((await stack_objects(ops, SD_STACK)).values())

        # the engine refuses b's constraint (one "="): network and a are in place, b is not
        plan = stack_plan(load_compose(half, env={}), SD_STACK)
        preview = await plan_changes(ops, plan)
        with pytest.raises(OperationFailed) as failed:
            await apply(ops, plan, preview)
        message = str(failed.value)
        assert "stopped at step 3 of 3 (create service parity-sd_b)" in message
        assert ("Applied: create network parity-sd_default, create service parity-sd_a. "
                "Not applied: create service parity-sd_b.") in message
        names = [s["Spec"]["Name"] for s in (await stack_objects(ops, SD_STACK))["services"]]
        assert names == [f"{SD_STACK}_a"]
        audit = [json.loads(line) for line in
                 (tmp_path / "audit.jsonl").read_text().splitlines()]
        assert [a["result"] for a in audit] == ["error", "error"]
    finally:
        await remove_stack(lab, ops, SD_STACK)


# ---- keys docker converts, ignores or changes on the way ---------------------------------
CLI2_STACK = "parity2_cli"
SD2_STACK = "parity2_sd"
KEYS = """\
version: "3.8"
services:
  app:
    build: .
    image: 10.213.0.1:5000/swarmdeck/demo:1.0
    container_name: parity-app
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    depends_on: [side]
    restart: on-failure:5
    cap_add: [NET_ADMIN]
    tty: true
    stdin_open: true
    dns: [10.213.0.1]
    sysctls:
      net.core.somaxconn: 1024
    ulimits:
      nofile: {{soft: 1024, hard: 2048}}
    expose: ["8080"]
    environment:
      MODE: {mode}
    networks:
      inner:
    deploy:
      endpoint_mode: dnsrr
  side:
    image: 10.213.0.1:5000/swarmdeck/demo:1.0
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    ports: ["127.0.0.1:18353:53/udp"]
    networks: [inner]
networks:
  inner:
    ipam:
      config:
        - subnet: 10.250.7.0/24
"""


async def versions(ops: ClusterOps, stack: str) -> dict[str, int]:
    return {s["Spec"]["Name"]: s["Version"]["Index"]
            for s in (await stack_objects(ops, stack))["services"]}


async def subnets(ops: ClusterOps, stack: str) -> dict[str, list[str]]:
    return {n["Name"].replace(stack, "STACK"): [c.get("Subnet") for c in
                                                (n.get("IPAM") or {}).get("Config") or []]
            for n in (await stack_objects(ops, stack))["networks"]}


async def test_keys_docker_converts_or_ignores_deploy_alike_and_redeploy_touches_only_changes(
        lab, staging, swarmdeck, tmp_path):
    ops = staging
    path = tmp_path / "keys.yml"
    path.write_text(KEYS.format(mode="one"))
    config = tmp_path / "config.toml"
    config.write_text(lab.config_file.read_text() + (
        f'\n[projects.keys.environments.test]\ncluster = "staging"\nstack = "{SD2_STACK}"\n'
        f'compose = "{path}"\n'))
    config.chmod(0o600)
    try:
        cli_deploy(lab, path, CLI2_STACK)  # the host-IP port: both stacks cannot hold it
        cli = await snapshot(ops, CLI2_STACK)
        cli_subnets = await subnets(ops, CLI2_STACK)
        await remove_stack(lab, ops, CLI2_STACK)

        plan = stack_plan(load_compose(path, env={}), SD2_STACK)
        warned = [w.split(": ")[1] for w in plan.warnings]
        assert warned == ["services.app.build", "services.app.container_name",
                          "services.app.depends_on", "services.app.expose",
                          "services.side.ports[0]"], plan.warnings
        assert "host IP 127.0.0.1 ignored: swarm publishes 18353/udp on EVERY address" \
               in plan.warnings[-1]
        preview, result = await sd_deploy(ops, path, SD2_STACK)
        assert [w for w in preview.lines() if "warning:" in w] == [
            f"  warning: {w}" for w in plan.warnings]
        assert not result.warnings, result.warnings
        ours = await snapshot(ops, SD2_STACK)
        assert differences(cli, ours) == []
        assert await subnets(ops, SD2_STACK) == cli_subnets == {
            "STACK_inner": ["10.250.7.0/24"]}
        app = ours["services"]["STACK_app"]["Spec"]["TaskTemplate"]
        assert app["RestartPolicy"]["MaxAttempts"] == 5
        assert app["ContainerSpec"]["CapabilityAdd"] == ["CAP_NET_ADMIN"]  # kept by 20.10

        # deployed again unchanged: nothing to change, no service written to
        before = await versions(ops, SD2_STACK)
        again = swarmdeck("deploy", "keys", "--yes", config=config, timeout=120)
        assert again.returncode == 0, again.stderr + again.stdout
        assert again.stdout.splitlines()[-1] == "  nothing to change", again.stdout
        assert "unchanged service parity2_sd_app" in again.stdout
        assert await versions(ops, SD2_STACK) == before

        # one field changed: exactly that service is updated
        path.write_text(KEYS.format(mode="two"))
        changed = swarmdeck("deploy", "keys", "--yes", config=config, timeout=180)
        assert changed.returncode == 0, changed.stderr + changed.stdout
        out = changed.stdout.splitlines()
        assert "  update service parity2_sd_app" in out
        assert "      env changed: MODE=one -> two" in out
        assert "  unchanged service parity2_sd_side" in out
        assert "stack parity2_sd: 1 steps applied" in out  # the summary, one step a line
        assert "  update service parity2_sd_app" in out[out.index(
            "stack parity2_sd: 1 steps applied"):]
        assert "<LF>" not in changed.stdout
        after = await versions(ops, SD2_STACK)
        assert after[f"{SD2_STACK}_side"] == before[f"{SD2_STACK}_side"]
        assert after[f"{SD2_STACK}_app"] > before[f"{SD2_STACK}_app"]
    finally:
        await remove_stack(lab, ops, CLI2_STACK)
        await remove_stack(lab, ops, SD2_STACK)


NEWER = """\
version: "3.13"
services:
  newer:
    image: 10.213.0.1:5000/swarmdeck/demo:1.0
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    oom_score_adj: 200
    healthcheck: {test: ["CMD", "true"], start_interval: 2s}
    deploy: {endpoint_mode: dnsrr}
"""


async def test_fields_the_engine_is_too_old_for_are_named_and_dropped_alike(lab, staging,
                                                                             tmp_path):
    """Engine 20.10 (API 1.41) drops oom_score_adj and healthcheck.start_interval, for the
    CLI's deploy as for ours: the preview says so, and the redeploy is unchanged."""
    ops = staging
    path = tmp_path / "newer.yml"
    path.write_text(NEWER)
    try:
        cli_deploy(lab, path, CLI2_STACK)
        cli = await snapshot(ops, CLI2_STACK)
        container = cli["services"]["STACK_newer"]["Spec"]["TaskTemplate"]["ContainerSpec"]
        assert "OomScoreAdj" not in container and container["Healthcheck"] == {
            "Test": ["CMD", "true"]}
        await remove_stack(lab, ops, CLI2_STACK)

        preview, _ = await sd_deploy(ops, path, SD2_STACK)
        api = ops.docker.api_version
        assert [w for w in preview.warnings if "engine" in w] == [
            f"services.newer: {key} needs Docker engine API {needs} (Docker {release}); this "
            f"engine speaks {api} and drops it: the service runs without it (as with docker "
            "stack deploy)"
            for key, needs, release in (("healthcheck.start_interval", "1.44", "25.0"),
                                        ("oom_score_adj", "1.46", "27.0"))]
        assert differences(cli, await snapshot(ops, SD2_STACK)) == []
        again = await plan_changes(ops, stack_plan(load_compose(path, env={}), SD2_STACK))
        assert [s.action for s in again.services] == ["unchanged"], again.lines()
    finally:
        await remove_stack(lab, ops, CLI2_STACK)
        await remove_stack(lab, ops, SD2_STACK)
