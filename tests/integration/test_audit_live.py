"""The audit log on the lab: fail closed when it cannot be written, one line per attempt
with its true result (a failed update is "failed", refusals and unreachable managers are
recorded), and replica counts no cluster can hold refused before anything is created."""

from __future__ import annotations

import contextlib
import os

import pytest
from cli_checks import ok, refused

from swarmdeck.core.audit import AuditLog
from swarmdeck.lab.topology import DEMO_IMAGE

UPDATED = "audit-upd"


def replicas(lab, service: str = "shop_worker") -> int:
    return int(lab.docker_on("prod-m1", "service", "inspect", service, "--format",
                             "{{.Spec.Mode.Replicated.Replicas}}").strip())


def results(audit: AuditLog) -> list[tuple[str, str, str]]:
    return [(e["action"], e["target"], e["result"]) for e in audit.read()]


def test_an_unwritable_audit_log_refuses_the_change_and_names_the_file(lab, swarmdeck):
    audit = AuditLog.default()
    audit.path.parent.mkdir(parents=True, exist_ok=True)
    audit.path.mkdir()  # a directory where the log should be
    before = replicas(lab)
    result = swarmdeck("scale", "-c", "prod", "--yes", f"shop_worker={before + 1}")
    refused(result, 1, f"refused: the audit log {audit.path} cannot be written")
    assert "nothing was changed" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert replicas(lab) == before  # fail closed: nothing was made


def test_runaway_replica_counts_are_refused_before_anything_is_made(lab, swarmdeck):
    before = replicas(lab)
    result = swarmdeck("scale", "-c", "prod", "--yes", "shop_worker=99999999999")
    refused(result, 2, "99999999999 replicas is not a count a swarm can run")
    result = swarmdeck("scale", "-c", "prod", "--yes", f"shop_worker={before * 10 + 1}")
    refused(result, 1, f"more than 10x its current count ({before * 10})")
    assert "--force" in result.stderr
    assert replicas(lab) == before
    assert results(AuditLog.default())[-1] == ("scale", "shop_worker", "refused")


def test_every_attempt_is_one_line_with_its_true_result(lab, swarmdeck, tmp_path):
    audit = AuditLog.default()
    # without a terminal and without --yes: refused, and on record
    result = swarmdeck("scale", "-c", "prod", "shop_worker=3")
    refused(result, 2, "refused without confirmation")
    # the node this session goes through cannot be demoted by it: refused, on record
    result = swarmdeck("node", "demote", "-c", "prod", "--yes", "prod-m1")
    refused(result, 1, "node demote refused")
    # a change whose manager cannot be reached: on record too
    config = tmp_path / "config.toml"
    config.write_text(f'[ssh]\nconfig = ["{lab.ssh_config}"]\n'
                      '[clusters.gone]\nmanagers = ["root@10.213.0.11:2999"]\n')
    config.chmod(0o600)
    result = swarmdeck("scale", "-c", "gone", "--yes", "shop_worker=3", config=config)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert results(audit) == [("scale", "shop_worker", "refused"),
                              ("node demote", "prod-m1", "refused"),
                              ("scale", "shop_worker", "error")]


@pytest.fixture
def updatable(lab):
    with contextlib.suppress(Exception):
        lab.docker_on("prod-m1", "service", "rm", UPDATED)
    lab.docker_on("prod-m1", "service", "create", "--detach", "--name", UPDATED,
                  "--replicas", "1", "--update-failure-action", "pause",
                  "--update-monitor", "2s", "--restart-max-attempts", "1",
                  f"{DEMO_IMAGE}:1.0", "sleep", "3600", timeout=90)
    yield UPDATED
    lab.docker_on("prod-m1", "service", "rm", UPDATED)


def test_a_failed_update_is_recorded_as_failed(lab, swarmdeck, updatable):
    ok(swarmdeck("ls", "services", "--cluster", "prod"))
    result = swarmdeck("update", "-c", "prod", "--yes", "--timeout", "120", updatable,
                       "--image", f"{DEMO_IMAGE}:no-such-tag", timeout=180)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    entries = AuditLog.default().read()
    assert [(e["action"], e["result"]) for e in entries] == [("update image", "failed")]
    assert "paused" in entries[0]["error"] or "failed" in entries[0]["error"]


def test_a_change_followed_to_its_end_is_one_ok_line_in_a_private_file(lab, swarmdeck):
    before = replicas(lab)
    try:
        ok(swarmdeck("scale", "-c", "prod", "--yes", f"shop_worker={before + 1}", timeout=120))
        assert replicas(lab) == before + 1
    finally:
        lab.docker_on("prod-m1", "service", "scale", "--detach", f"shop_worker={before}")
    audit = AuditLog.default()
    assert results(audit) == [("scale", "shop_worker", "ok")]
    assert oct(os.stat(audit.path).st_mode & 0o777) == oct(0o600)
