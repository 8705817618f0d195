"""Placement pinning against the lab: a service pinned to one node lands only there (checked
with `docker service ps` over ssh on prod-m1), bad input and constraints no node satisfies
change nothing (the spec's version stays), unpinning frees it, and the console's `P` dialog
does the same. Every test makes its own `pin-` service and removes it."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest
from cli_checks import ok, refused
from test_console_live import wait_until
from test_console_ops_live import finished, select
from textual.widgets import Input

from swarmdeck.core.audit import AuditLog
from swarmdeck.core.config import load_config
from swarmdeck.core.fleet import Fleet
from swarmdeck.ui.app import SwarmdeckApp
from swarmdeck.ui.screens.dialogs import ConfirmDialog
from swarmdeck.ui.screens.placement import PlacementDialog, node_option

NAME = "pin-app"
# the lab registry's image (it holds swarmdeck/demo, with busybox's sleep, not a busybox repo)
IMAGE = "10.213.0.1:5000/swarmdeck/demo:1.0"
EVERY_NODE = "tasks can run on: prod-m1, prod-m2, prod-m3, prod-w1, prod-w2"


def on_m1(lab, *args: str, timeout: float = 60, check: bool = True) -> str:
    """The docker CLI on prod-m1, over ssh."""
    done = subprocess.run(["ssh", "-F", str(Path(lab.dir) / "ssh_config"), "prod-m1",
                           shlex.join(["docker", *args])],  # ssh hands one line to a shell
                          capture_output=True, text=True, timeout=timeout)
    if check:
        assert done.returncode == 0, done.stderr
    return done.stdout


def running_on(lab) -> list[str]:
    """The node of each running task of pin-app."""
    out = on_m1(lab, "service", "ps", NAME, "--filter", "desired-state=running",
                "--format", "{{.Node}}|{{.CurrentState}}")
    return sorted(node for node, _, state in (line.partition("|") for line in out.splitlines())
                  if state.startswith("Running"))


def spec(lab) -> tuple[int, list[str] | None]:
    """(the spec's version, its placement constraints)."""
    out = on_m1(lab, "service", "inspect", NAME, "--format",
                "{{.Version.Index}} {{json .Spec.TaskTemplate.Placement.Constraints}}")
    version, _, constraints = out.strip().partition(" ")
    return int(version), json.loads(constraints)


def audit_lines() -> list[tuple[str, str, str]]:
    path = Path(os.environ["XDG_STATE_HOME"]) / "swarmdeck" / "audit.jsonl"
    entries = [json.loads(line) for line in path.read_text().splitlines()] \
        if path.exists() else []
    return [(e["action"], e["target"], e["result"]) for e in entries]


@pytest.fixture
def pin_app(lab):
    on_m1(lab, "service", "rm", NAME, check=False)  # a leftover of an interrupted run
    on_m1(lab, "service", "create", "--name", NAME, "--replicas", "3", "--endpoint-mode",
          "dnsrr", IMAGE, "sleep", "3600", timeout=180)  # returns once 3/3 run
    try:
        yield NAME
    finally:
        on_m1(lab, "service", "rm", NAME, check=False)


def test_pinned_to_one_node_lands_only_there(lab, swarmdeck, pin_app):
    out = ok(swarmdeck("pin", NAME, "-c", "prod", "--node", "prod-w2", "--yes", timeout=240))
    assert "after the change: node.hostname==prod-w2" in out
    assert "tasks can run on: prod-w2" in out and "3/3 running" in out and "converged" in out
    assert running_on(lab) == ["prod-w2"] * 3
    version, constraints = spec(lab)
    assert constraints == ["node.hostname==prod-w2"]

    shown = json.loads(ok(swarmdeck("placement", NAME, "-c", "prod", "--json")))
    assert shown["constraints"] == ["node.hostname==prod-w2"] and shown["placeable"]
    assert {n["hostname"]: n["why_not"] for n in shown["nodes"]} == {
        "prod-m1": "does not satisfy node.hostname==prod-w2",
        "prod-m2": "does not satisfy node.hostname==prod-w2",
        "prod-m3": "does not satisfy node.hostname==prod-w2",
        "prod-w1": "does not satisfy node.hostname==prod-w2", "prod-w2": None}
    table = ok(swarmdeck("placement", NAME, "-c", "prod"))
    assert "constraints: node.hostname==prod-w2" in table
    assert table.rstrip().endswith("tasks can run on: prod-w2")

    # an invalid expression: a usage error, nothing written
    refused(swarmdeck("pin", NAME, "-c", "prod", "--constraint", "node.labels.zone=b",
                      "--yes"), 2, "invalid constraint expression 'node.labels.zone=b'")
    refused(swarmdeck("pin", NAME, "-c", "prod", "--constraint", "node.hostnme==prod-w1",
                      "--yes"), 2, "did you mean 'node.hostname'?")
    # a constraint no node satisfies: refused unless forced, nothing written
    result = swarmdeck("pin", NAME, "-c", "prod", "--label", "zone=nowhere", "--yes")
    refused(result, 1, "pin pin-app refused: no node satisfies node.labels.zone==nowhere; "
                       "tasks will stay pending")
    assert "--force" in result.stderr
    # with prod-w2 pinned, a role that node does not have: no node meets both
    refused(swarmdeck("pin", NAME, "-c", "prod", "--constraint", "node.role==manager",
                      "--yes"), 1, "no node meets them all; tasks will stay pending")
    assert spec(lab) == (version, constraints)
    assert running_on(lab) == ["prod-w2"] * 3

    out = ok(swarmdeck("unpin", NAME, "-c", "prod", "--node", "prod-w2", "--yes",
                       timeout=240))
    assert "after the change: none" in out and EVERY_NODE in out and "converged" in out
    assert spec(lab)[1] is None
    # the refused pins are attempts on record too (one line each), never as ok
    assert [a for a in audit_lines() if a[2] != "refused"] == [("pin", NAME, "ok"),
                                                                ("unpin", NAME, "ok")]
    assert ("pin", NAME, "refused") in audit_lines()


async def test_pin_to_a_label_through_the_console(lab, pin_app):
    config = load_config(lab.config_file)
    app = SwarmdeckApp(config, Fleet(config), start_cluster="prod")
    async with app.run_test(size=(140, 45)) as pilot:
        assert await wait_until(pilot, lambda: select(app, "#services", NAME), 30)
        await pilot.press("P")
        assert await wait_until(pilot, lambda: isinstance(app.screen, PlacementDialog), 15)
        dialog = app.screen
        await pilot.pause()
        assert EVERY_NODE in str(dialog.query_one("#now").render())
        options = [node_option(n).plain for n in dialog.survey.nodes]  # read afresh
        assert "prod-w1 (worker, storage=ssd,zone=a)" in options

        box = dialog.query_one("#label", Input)
        box.value = "zone"
        assert await wait_until(pilot, lambda: "expected KEY=VALUE" in str(
            dialog.query_one("#error").render()), 5)
        box.value = "zone=a"
        assert await wait_until(pilot, lambda: "tasks can run on: prod-w1" in str(
            dialog.query_one("#preview").render()), 5)
        await pilot.click("#yes")
        assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), 10)
        assert app.screen.question == f"Pin {NAME} on prod?"
        assert "after the change: node.labels.zone==a" in app.screen.details
        await pilot.click("#yes")
        assert await finished(pilot, app) == f"pin {NAME}: done"
    assert running_on(lab) == ["prod-w1"] * 3
    assert spec(lab)[1] == ["node.labels.zone==a"]
    assert [(e["action"], e["target"], e["result"]) for e in AuditLog.default().read()] == [
        ("pin", NAME, "ok")]
