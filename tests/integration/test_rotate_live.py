"""Rotating a secret and a config on the lab: the running container reads the new content at
the same path (mode kept), the old object is gone, the audit has one line without the data;
a rotation whose service cannot converge is undone and the old version stays in use."""

from __future__ import annotations

import contextlib
import json
import time

import pytest

from swarmdeck.core.audit import AuditLog
from swarmdeck.core.errors import LabError

IMAGE = "10.213.0.1:5000/swarmdeck/demo:1.0"
NODE = "staging-m1"


def docker(lab, *args: str, timeout: float = 120) -> str:
    return lab.docker_on(NODE, *args, timeout=timeout)


def container_read(lab, service: str, path: str, timeout: float = 60) -> str:
    """PATH as the service's running container reads it (on whichever node runs it)."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        for node in ("staging-m1", "staging-w1"):
            ids = lab.docker_on(node, "ps", "-q", "--filter",
                                f"label=com.docker.swarm.service.name={service}").split()
            for cid in ids:
                with contextlib.suppress(LabError):
                    return lab.docker_on(node, "exec", cid, "cat", path)
        time.sleep(0.5)
    raise AssertionError(f"no running container of {service} could read {path}: {last}")


def names(lab, kind: str) -> set[str]:
    return set(docker(lab, kind, "ls", "--format", "{{.Name}}").split())


def refs(lab, service: str, key: str) -> list[dict]:
    out = docker(lab, "service", "inspect", service, "--format",
                 "{{json .Spec.TaskTemplate.ContainerSpec." + key + "}}")
    return json.loads(out) or []


@pytest.fixture
def cleanup(lab):
    made: list[tuple[str, str]] = []
    yield made
    for kind, name in reversed(made):
        with contextlib.suppress(LabError):
            docker(lab, kind, "rm", name)


def test_a_rotated_secret_is_read_anew_at_the_same_path(lab, swarmdeck, tmp_path, cleanup):
    (tmp_path / "old").write_text("old-value")
    cleanup += [("secret", "rt_pw"), ("secret", "rt_pw-v2"), ("service", "rt_app")]
    docker(lab, "secret", "create", "rt_pw", str(tmp_path / "old"))
    docker(lab, "service", "create", "--name", "rt_app", "--detach", "--replicas", "1",
           "--secret", "source=rt_pw,target=pw,mode=0400", IMAGE, "sleep", "3600")
    assert container_read(lab, "rt_app", "/run/secrets/pw") == "old-value"

    done = swarmdeck("secret", "rotate", "rt_pw", "-", "--yes", "-c", "staging",
                     input="new-value", timeout=180)
    assert done.returncode == 0, done.stderr
    assert "rotated secret rt_pw -> rt_pw-v2 on staging (rt_app); rt_pw removed" in done.stdout
    assert "new-value" not in done.stdout + done.stderr
    assert container_read(lab, "rt_app", "/run/secrets/pw") == "new-value"
    [ref] = refs(lab, "rt_app", "Secrets")
    assert ref["SecretName"] == "rt_pw-v2" and ref["File"]["Name"] == "pw"
    assert ref["File"]["Mode"] == 0o400
    assert "rt_pw" not in names(lab, "secret") and "rt_pw-v2" in names(lab, "secret")
    labels = json.loads(docker(lab, "secret", "inspect", "rt_pw-v2", "--format",
                               "{{json .Spec.Labels}}"))
    assert labels == {"swarmdeck.rotate.family": "rt_pw", "swarmdeck.rotate.version": "2"}
    [line] = [e for e in AuditLog.default().read() if e["action"] == "secret rotate"]
    assert line["result"] == "ok" and line["params"]["to"] == "rt_pw-v2"
    assert "new-value" not in json.dumps(line)

    # again: the family goes on (v3), from the name the operator knows now
    done = swarmdeck("secret", "rotate", "rt_pw-v2", "-", "--yes", "-c", "staging",
                     input="third", timeout=180)
    assert done.returncode == 0, done.stderr
    cleanup.append(("secret", "rt_pw-v3"))
    assert "rt_pw-v2 -> rt_pw-v3" in done.stdout
    assert container_read(lab, "rt_app", "/run/secrets/pw") == "third"


def test_a_rotation_that_cannot_converge_is_undone(lab, swarmdeck, tmp_path, cleanup):
    """The service's health check accepts only a config holding `good`: the new version
    makes the update fail; the service is rolled back to the old config, which stays, and
    the new one is removed."""
    (tmp_path / "good").write_text("good\n")
    (tmp_path / "bad").write_text("bad\n")
    cleanup += [("config", "rt_cfg"), ("config", "rt_cfg-v2"), ("service", "rt_checked")]
    docker(lab, "config", "create", "rt_cfg", str(tmp_path / "good"))
    docker(lab, "service", "create", "--name", "rt_checked", "--detach", "--replicas", "1",
           "--config", "source=rt_cfg,target=/etc/app.conf",
           "--health-cmd", "grep -q good /etc/app.conf", "--health-interval", "1s",
           "--health-retries", "1", "--health-timeout", "2s",
           "--update-failure-action", "pause", "--update-monitor", "4s",
           IMAGE, "sleep", "3600")
    assert container_read(lab, "rt_checked", "/etc/app.conf").strip() == "good"

    done = swarmdeck("config", "rotate", "rt_cfg", "--file", str(tmp_path / "bad"), "--yes",
                     "-c", "staging", "--timeout", "60", timeout=240)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "rotation of config rt_cfg failed and was undone" in done.stderr
    assert "rt_cfg" in names(lab, "config") and "rt_cfg-v2" not in names(lab, "config")
    [ref] = refs(lab, "rt_checked", "Configs")
    assert ref["ConfigName"] == "rt_cfg"
    assert container_read(lab, "rt_checked", "/etc/app.conf").strip() == "good"
    [line] = [e for e in AuditLog.default().read() if e["action"] == "config rotate"]
    assert line["result"] == "error"


def test_bad_rotations_change_nothing(lab, swarmdeck, tmp_path):
    (tmp_path / "empty").write_text("")
    done = swarmdeck("secret", "rotate", "rt_nope", "-", "--yes", "-c", "staging", input="x")
    assert done.returncode == 2 and "no secret named 'rt_nope'" in done.stderr
    done = swarmdeck("config", "rotate", "shop_x", "--file", str(tmp_path / "empty"), "--yes",
                     "-c", "staging")
    assert done.returncode == 2 and "empty" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_a_stack_keeps_its_rotated_secret_on_the_next_deploy(lab, swarmdeck, tmp_path):
    """Deployed from a file, rotated, deployed again from the same file: the deploy maps the
    file's secret to its newest version (and says so) instead of putting the old content
    back; the container still reads the rotated value."""
    (tmp_path / "pw.txt").write_text("file-value")
    (tmp_path / "stack.yml").write_text(
        'version: "3.8"\nservices:\n  app:\n'
        f'    image: {IMAGE}\n    command: ["sleep", "3600"]\n    secrets: [pw]\n'
        'secrets:\n  pw:\n    file: ./pw.txt\n')
    config = tmp_path / "config.toml"
    config.write_text(lab.config_file.read_text() + "\n[projects.rot.environments.lab]\n"
                      f'cluster = "staging"\nstack = "rot"\n'
                      f'compose = "{tmp_path / "stack.yml"}"\n')
    config.chmod(0o600)
    try:
        done = swarmdeck("deploy", "rot", "--yes", config=config, timeout=180)
        assert done.returncode == 0, done.stderr
        assert container_read(lab, "rot_app", "/run/secrets/pw") == "file-value"
        done = swarmdeck("secret", "rotate", "rot_pw", "-", "--yes", "-c", "staging",
                         config=config, input="rotated-value", timeout=180)
        assert done.returncode == 0, done.stderr
        assert container_read(lab, "rot_app", "/run/secrets/pw") == "rotated-value"

        done = swarmdeck("deploy", "rot", "--yes", config=config, timeout=180)
        assert done.returncode == 0, done.stderr
        assert "secret rot_pw was rotated: the services keep rot_pw-v2" in done.stdout
        assert "rot_app" in done.stdout and "unchanged" in done.stdout, done.stdout
        assert "rot_pw" not in names(lab, "secret")  # not put back
        assert container_read(lab, "rot_app", "/run/secrets/pw") == "rotated-value"
    finally:
        with contextlib.suppress(LabError):
            docker(lab, "stack", "rm", "rot")
        deadline = time.monotonic() + 60  # a secret in use cannot be removed
        while "rot_app" in docker(lab, "service", "ls", "--format", "{{.Name}}").split() \
                and time.monotonic() < deadline:
            time.sleep(0.5)
        for name in ("rot_pw", "rot_pw-v2"):
            with contextlib.suppress(LabError):
                docker(lab, "secret", "rm", name)
        history = docker(lab, "config", "ls", "-q", "--filter",
                         "label=swarmdeck.history.stack=rot").split()
        if history:
            with contextlib.suppress(LabError):
                docker(lab, "config", "rm", *history)
