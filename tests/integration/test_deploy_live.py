"""`swarmdeck deploy` and the console's `d` key on the lab: preview, confirm, apply, follow;
bad compose files are refused with what to fix and change nothing. (Spec parity with
`docker stack deploy` is proven in test_deploy_parity.py.)"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from pathlib import Path

import pytest
from test_console_live import wait_until

from swarmdeck.core.config import load_config
from swarmdeck.core.errors import LabError
from swarmdeck.core.fleet import Fleet
from swarmdeck.ui.app import SwarmdeckApp
from swarmdeck.ui.screens.dialogs import ConfirmDialog
from swarmdeck.ui.screens.operation import OperationScreen

STACK = "decktest"
COMPOSE = """\
services:
  app:
    image: 10.213.0.1:5000/swarmdeck/demo:1.0
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    environment:
      MODE: {mode}
    deploy:
      replicas: {replicas}
      endpoint_mode: dnsrr
"""


@pytest.fixture
def project(lab, tmp_path):
    compose = tmp_path / "decktest.yml"
    compose.write_text(COMPOSE.format(mode="one", replicas=1))
    config = tmp_path / "config.toml"
    config.write_text(lab.config_file.read_text() + (
        f'\n[projects.deck.environments.test]\ncluster = "staging"\nstack = "{STACK}"\n'
        f'compose = "{compose}"\n'))
    config.chmod(0o600)
    yield config, compose
    with contextlib.suppress(LabError):
        lab.docker_on("staging-m1", "stack", "rm", STACK)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and STACK in lab.docker_on(
            "staging-m1", "network", "ls", "--format", "{{.Name}}"):
        time.sleep(0.5)


def spec(lab) -> dict:
    out = lab.docker_on("staging-m1", "service", "inspect", f"{STACK}_app")
    return json.loads(out)[0]["Spec"]


def audit() -> list[dict]:
    path = Path(os.environ["XDG_STATE_HOME"]) / "swarmdeck" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() \
        else []


def test_deploy_previews_applies_and_follows(lab, swarmdeck, project):
    config, compose = project
    dry = swarmdeck("deploy", "deck", "--env", "test", "--dry-run", config=config)
    assert dry.returncode == 0, dry.stderr
    assert f"create service {STACK}_app" in dry.stdout
    assert f"create network {STACK}_default" in dry.stdout
    assert STACK not in lab.docker_on("staging-m1", "service", "ls")  # a dry run changes nothing

    refused = swarmdeck("deploy", "deck", "--env", "test", config=config)
    assert refused.returncode == 2 and "pass --yes" in refused.stderr

    first = swarmdeck("deploy", "deck", "--yes", config=config, timeout=120)
    assert first.returncode == 0, first.stderr + first.stdout
    assert f"{STACK}_app: 1/1 running -> converged" in first.stdout
    assert spec(lab)["Labels"]["com.docker.stack.namespace"] == STACK

    compose.write_text(COMPOSE.format(mode="two", replicas=2))
    second = swarmdeck("deploy", "deck", "--yes", config=config, timeout=120)
    assert second.returncode == 0, second.stderr + second.stdout
    assert "replicas: 1 -> 2" in second.stdout and "MODE=one -> two" in second.stdout
    assert "update completed -> converged" in second.stdout
    current = spec(lab)
    assert current["Mode"]["Replicated"]["Replicas"] == 2
    assert "MODE=two" in current["TaskTemplate"]["ContainerSpec"]["Env"]

    again = swarmdeck("deploy", "deck", "--yes", config=config)
    assert again.returncode == 0 and "nothing to change" in again.stdout
    # the refusal without a terminal is an attempt on record too; "nothing to change" is none
    assert [(e["action"], e["target"], e["result"]) for e in audit()] == \
        [("deploy", STACK, "refused"), ("deploy", STACK, "ok"), ("deploy", STACK, "ok")]

    compose.write_text(COMPOSE.format(mode="three", replicas=1))
    ro = swarmdeck("--read-only", "deploy", "deck", "--yes", config=config)
    assert ro.returncode == 1 and "read-only" in ro.stderr
    assert spec(lab)["Mode"]["Replicated"]["Replicas"] == 2


@pytest.mark.parametrize("text, says", [
    ("services:\n  app:\n\timage: x\n", "line 3"),
    ("services:\n  app:\n    image: x\n    mem_limit: 64m\n", "services.app.mem_limit"),
    ("services:\n  app:\n    image: x\n    deploy:\n      replicas: two\n",
     "services.app.deploy.replicas"),
])
def test_bad_compose_files_change_nothing(lab, swarmdeck, project, text, says):
    config, compose = project
    compose.write_text(text)
    result = swarmdeck("deploy", "deck", "--yes", config=config)
    assert result.returncode == 2, result.stderr
    assert says in result.stderr and "Traceback" not in result.stderr
    assert STACK not in lab.docker_on("staging-m1", "service", "ls")


async def test_deploy_from_the_console(lab, project):
    config_path, _compose = project
    config = load_config(config_path)
    app = SwarmdeckApp(config, Fleet(config), start_cluster="staging")
    async with app.run_test(size=(140, 40)) as pilot:
        tree = app.screen.query_one("#projects")
        line = None

        def find() -> bool:
            nonlocal line
            for i in range(tree.last_line + 1):
                node = tree.get_node_at_line(i)
                if node and node.data and node.data.kind == "environment" \
                        and node.data.project == "deck":
                    line = i
                    return True
            return False

        assert await wait_until(pilot, find, 20)
        tree.focus()
        tree.move_cursor_to_line(line)
        await pilot.pause(0.3)
        await pilot.press("d")
        assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), 20)
        assert f"create service {STACK}_app" in "\n".join(app.screen.details)
        await pilot.click("#yes")
        assert await wait_until(pilot, lambda: isinstance(app.screen, OperationScreen)
                                and app.screen.outcome is not None, 120)
        assert app.screen.outcome == "deploy deck/test: done", app.screen.lines
    replicas = await asyncio.to_thread(spec, lab)
    assert replicas["Mode"]["Replicated"]["Replicas"] == 1
