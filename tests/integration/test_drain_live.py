"""Draining against the lab: the plan is printed before the question, the command returns
once no task is meant to run on the node any more (checked with `docker node ps` on
prod-m1), and changes that would change nothing are refused before asking, unaudited."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from cli_checks import ok

from swarmdeck.core.errors import LabError

HOST = "prod-w2"


def audit_lines() -> list[dict]:
    path = Path(os.environ["XDG_STATE_HOME"]) / "swarmdeck" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() \
        else []


def running_here(lab, host: str = HOST) -> list[str]:
    out = lab.docker_on("prod-m1", "node", "ps", host, "--filter", "desired-state=running",
                        "--format", "{{.Name}}")
    return [line for line in out.splitlines() if line.strip()]


def test_drain_shows_its_plan_and_returns_once_the_tasks_have_moved(lab, swarmdeck):
    assert running_here(lab), "the lab runs tasks on prod-w2 (shop_worker, the agent)"
    try:
        out = ok(swarmdeck("node", "drain", "-c", "prod", HOST, "--yes", timeout=240))
        lines = out.splitlines()
        assert lines[0] == f"drain {HOST} on prod:" and "stop on prod-w2:" in lines[1], out
        assert any("monitoring_agent: stops here" in line for line in lines), out
        assert f"{HOST}: availability active -> drain" in out
        assert "still on the drained node" not in lines[-1], out
        # followed until settled: nothing is meant to run there when the command returns
        assert running_here(lab) == []
        assert "converged" in out
    finally:
        with contextlib.suppress(LabError):
            lab.docker_on("prod-m1", "node", "update", "--availability", "active", HOST)


def test_changes_that_change_nothing_are_refused_before_asking(lab, swarmdeck):
    before = len(audit_lines())
    # no --yes and no terminal: a question would refuse with exit 2, so exit 0 shows none came
    out = ok(swarmdeck("node", "demote", "-c", "prod", HOST))
    assert out.strip() == f"{HOST} is already a worker: nothing to change"
    out = ok(swarmdeck("node", "activate", "-c", "prod", HOST))
    assert out.strip() == f"{HOST} is already active: nothing to change"
    out = ok(swarmdeck("node", "promote", "-c", "prod", "prod-m1"))
    assert out.strip() == "prod-m1 is already a manager: nothing to change"
    assert len(audit_lines()) == before
