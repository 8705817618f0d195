"""Registries on the lab: a cluster's configured registry credentials travel with deploys,
updates and restarts (the engine accepts the X-Registry-Auth header and the services converge)
and never show in the output, the errors or the audit log; a failing credentials command stops
before any change; the doctor explains services whose nodes cannot get their image.

The lab registry (10.213.0.1:5000) asks for no credentials, so it takes the fake ones the
configured command prints. Every object made here is named reg-... and removed at the end."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import secrets
import sys
import time
from pathlib import Path

import pytest
from cli_checks import ok

from swarmdeck.core.config import load_config
from swarmdeck.core.errors import LabError
from swarmdeck.core.fleet import open_ops
from swarmdeck.core.ops import progress as prog
from swarmdeck.core.ops import services

MANAGER = "prod-m1"
REGISTRY = "10.213.0.1:5000"
IMAGE_1_0 = f"{REGISTRY}/swarmdeck/demo:1.0"
IMAGE_1_1 = f"{REGISTRY}/swarmdeck/demo:1.1"
STACK = "reg-stack"
WEB = f"{STACK}_web"
PASSWORD = f"reg-pw-{secrets.token_hex(8)}"
COMPOSE = f"""\
services:
  web:
    image: {IMAGE_1_0}
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    deploy:
      replicas: 1
      endpoint_mode: dnsrr
"""


def forms_of_the_secret() -> list[str]:
    """The password as is, and inside the header the engine gets (base64url of the JSON)."""
    header = base64.urlsafe_b64encode(json.dumps(
        {"username": "reg-ci", "password": PASSWORD, "serveraddress": REGISTRY}).encode())
    return [PASSWORD, header.decode()[:40], base64.b64encode(PASSWORD.encode()).decode()]


def write_config(lab, tmp_path: Path, command_body: str) -> Path:
    creds = tmp_path / "registry-creds"
    creds.write_text(f"#!{sys.executable}\nimport json, os, sys\n{command_body}\n")
    creds.chmod(0o700)
    compose = tmp_path / "reg.yml"
    compose.write_text(COMPOSE)
    config = tmp_path / "config.toml"
    config.write_text(lab.config_file.read_text() + (
        f'\n[projects.reg.environments.lab]\ncluster = "prod"\nstack = "{STACK}"\n'
        f'compose = "{compose}"\n'
        f'\n[clusters.prod.registries."{REGISTRY}"]\ncommand = ["{creds}", "--vault=lab"]\n'))
    config.chmod(0o600)
    return config


@pytest.fixture
def reg_config(lab, tmp_path):
    config = write_config(lab, tmp_path, (
        'assert os.environ["SWARMDECK_REGISTRY"] == "10.213.0.1:5000"\n'
        f'print(json.dumps({{"username": "reg-ci", "password": "{PASSWORD}"}}))'))
    yield config
    with contextlib.suppress(LabError):
        lab.docker_on(MANAGER, "stack", "rm", STACK)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and STACK in lab.docker_on(
            MANAGER, "network", "ls", "--format", "{{.Name}}"):
        time.sleep(0.5)


@pytest.fixture
def made(lab):
    """Names of services created with the docker CLI, removed at the end."""
    names: list[str] = []
    yield names
    for name in names:
        with contextlib.suppress(LabError):
            lab.docker_on(MANAGER, "service", "rm", name)


def image_of(lab, service: str) -> str:
    return lab.docker_on(MANAGER, "service", "inspect", service, "--format",
                         "{{.Spec.TaskTemplate.ContainerSpec.Image}}").strip()


def audit_text() -> str:
    path = Path(os.environ["XDG_STATE_HOME"]) / "swarmdeck" / "audit.jsonl"
    return path.read_text() if path.exists() else ""


def test_credentials_travel_with_deploy_update_restart_and_never_show(lab, swarmdeck,
                                                                      reg_config):
    said: list[str] = []

    def run(*args: str, timeout: float = 180):
        result = swarmdeck(*args, config=reg_config, timeout=timeout)
        said.extend([result.stdout, result.stderr])
        return result

    out = ok(run("deploy", "reg", "--env", "lab", "--yes"))
    assert f"{WEB}: 1/1 running -> converged" in out
    assert "could not be looked up" not in out  # the engine took the header for the lookup
    assert image_of(lab, WEB).startswith(f"{IMAGE_1_0}@sha256:")  # resolved, pinned

    out = ok(run("update", "-c", "prod", WEB, "--image", IMAGE_1_1, "--yes"))
    assert "converged" in out and image_of(lab, WEB) == IMAGE_1_1

    # pinning moves the task: its new node pulls the image with the same credentials
    out = ok(run("pin", "-c", "prod", WEB, "--node", "prod-w2", "--yes"))
    assert "converged" in out

    entries = [json.loads(line) for line in audit_text().splitlines()]
    assert [(e["action"], e["target"], e["result"], e["params"].get("registry_auth"))
            for e in entries] == [("deploy", STACK, "ok", True),
                                  ("update image", WEB, "ok", True),
                                  ("pin", WEB, "ok", True)]
    said += [ok(run("audit")), ok(run("audit", "--json"))]

    # in-process, the header itself on its way to the real engine (a restart pulls again)
    async def restart() -> list[str]:
        config = load_config(reg_config)
        ops = await open_ops(config, "prod")  # the audit log of this test's XDG_STATE_HOME
        sent: list[str] = []
        request = ops.docker.request

        async def recording(method, path, **kwargs):
            if (kwargs.get("headers") or {}).get("X-Registry-Auth"):
                sent.append(f"{method} {path} " + kwargs["headers"]["X-Registry-Auth"])
            return await request(method, path, **kwargs)

        ops.session.docker.request = recording  # type: ignore[method-assign]
        try:
            started = await services.restart(ops, WEB)
            rounds = [p async for p in prog.watch(ops.docker, started.services, timeout=120)]
            assert prog.outcome_error(rounds[-1]) is None
        finally:
            await ops.session.close()
        return sent

    sent = asyncio.run(restart())
    assert len(sent) == 1 and sent[0].startswith("POST /services/")
    header = json.loads(base64.urlsafe_b64decode(sent[0].split()[-1]))
    assert header == {"username": "reg-ci", "password": PASSWORD, "serveraddress": REGISTRY}

    said.append(audit_text())
    for text in said:
        for form in forms_of_the_secret():
            assert form not in text


def test_a_failing_credentials_command_changes_nothing(lab, swarmdeck, tmp_path, made):
    config = write_config(lab, tmp_path, (
        'print("vault is sealed: run vault-unseal", file=sys.stderr); '
        f'print("{PASSWORD}"); sys.exit(3)'))
    lab.docker_on(MANAGER, "service", "create", "--detach", "--name", "reg-keep",
                  "--endpoint-mode", "dnsrr", IMAGE_1_0, "sleep", "3600")
    made.append("reg-keep")
    for args in (("update", "-c", "prod", "reg-keep", "--image", IMAGE_1_1, "--yes"),
                 ("deploy", "reg", "--env", "lab", "--yes")):
        result = swarmdeck(*args, config=config, timeout=60)
        assert result.returncode == 2, result.stderr + result.stdout
        assert "Traceback" not in result.stderr
        error = result.stderr.strip().splitlines()[-1]
        assert f'registry {REGISTRY} ([clusters.prod.registries."{REGISTRY}"]) failed (exit ' \
               'code 3): vault is sealed: run vault-unseal' in error
        for text in (result.stdout, result.stderr):
            assert PASSWORD not in text and "--vault=lab" not in text
    assert image_of(lab, "reg-keep").startswith(IMAGE_1_0)
    assert STACK not in lab.docker_on(MANAGER, "service", "ls", "--format", "{{.Name}}")
    # nothing made; an attempt that got as far as the cluster is on record as an error,
    # without the credentials
    lines = [json.loads(line) for line in audit_text().splitlines()]
    assert all(e["result"] == "error" for e in lines), lines
    assert PASSWORD not in audit_text()


def doctor_findings(swarmdeck) -> list[dict]:
    proc = swarmdeck("doctor", "--cluster", "prod", "--json", timeout=90)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)[0]["findings"]


def test_the_doctor_explains_images_nodes_cannot_pull(lab, swarmdeck, made):
    missing = f"{REGISTRY}/swarmdeck/demo:reg-nope"
    unreachable = "10.213.0.1:5001/swarmdeck/demo:1.0"  # nothing listens there
    for name, image in (("reg-nopull", missing), ("reg-noreg", unreachable)):
        lab.docker_on(MANAGER, "service", "create", "--detach", "--name", name,
                      "--endpoint-mode", "dnsrr", image, "sleep", "3600")
        made.append(name)
    wanted = {"service reg-nopull", "service reg-noreg"}
    deadline = time.monotonic() + 90
    while True:
        found = {f["subject"]: f for f in doctor_findings(swarmdeck)
                 if f["check"] == "service.image_pull" and f["subject"] in wanted}
        if set(found) == wanted:
            break
        assert time.monotonic() < deadline, f"no pull findings yet: {found}"
        time.sleep(3)

    nopull = found["service reg-nopull"]
    assert nopull["severity"] == "error"
    assert nopull["what"].startswith(f"reg-nopull: nodes cannot get image {missing} (prod-")
    assert nopull["why"].startswith(
        f"{REGISTRY} has no {missing}: the tag or the repository does not exist (asked from "
        "the manager, it answers: manifest unknown")
    assert f"No such image: {missing}" in nopull["why"]
    assert nopull["fix"] == (f"push it (docker push {missing}) or point the service at a tag "
                             f"that exists (swarmdeck update -c prod reg-nopull --image "
                             f"{REGISTRY}/swarmdeck/demo:TAG)")

    noreg = found["service reg-noreg"]
    assert noreg["why"].startswith("10.213.0.1:5001 cannot be reached, from the manager "
                                   "either (asked from the manager, it answers: ")
    assert "connection refused" in noreg["why"]
    assert "insecure-registries" in noreg["fix"]

    text = swarmdeck("doctor", "--cluster", "prod", timeout=90)
    assert text.returncode == 1  # errors
    assert "ERROR    reg-nopull: nodes cannot get image" in text.stdout
    assert "fix: push it (docker push" in text.stdout
