"""The deploy history from the console, and `deploy --pull`, on the lab. One small project
environment (stack hc on staging, one replica) is deployed twice once for the module; then
the console (headless, with the lab's config) opens its history, rolls back to the first
revision through the preview and the question, and `docker service inspect` says the spec is
the first revision's; then `deploy --pull` moves the service to a new image pushed under the
same tag, and changes nothing when run again."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_console_live import wait_until

from swarmdeck.core.audit import AuditLog
from swarmdeck.core.config import load_config
from swarmdeck.core.errors import LabError
from swarmdeck.core.fleet import Fleet
from swarmdeck.ui.app import SwarmdeckApp
from swarmdeck.ui.screens.dialogs import ConfirmDialog
from swarmdeck.ui.screens.history import RUNNING, HistoryScreen
from swarmdeck.ui.screens.operation import OperationScreen

BASE = "10.213.0.1:5000/swarmdeck/demo:1.0"
TAG = "10.213.0.1:5000/swarmdeck/histpull:live"
NODE = "staging-m1"
SERVICE = "hc_app"


def compose(version: str) -> str:
    return (f'version: "3.8"\nservices:\n  app:\n    image: {TAG}\n'
            f'    command: ["sleep", "3600"]\n    environment:\n      VERSION: "{version}"\n'
            '    stop_grace_period: 1s\n'  # sleep ignores SIGTERM: each update waits this
            '    deploy:\n      replicas: 1\n')


def docker(lab, *args: str) -> str:
    return lab.docker_on(NODE, *args, timeout=120).strip()


def pushed_digest(lab) -> str:
    out = docker(lab, "push", TAG)
    return next(w for w in out.split() if w.startswith("sha256:"))


def spec(lab) -> tuple[list[str], str, str]:
    """The service's env, image and version index, as docker holds them."""
    out = docker(lab, "service", "inspect", SERVICE, "--format",
                 "{{json .Spec.TaskTemplate.ContainerSpec.Env}} "
                 "{{.Spec.TaskTemplate.ContainerSpec.Image}} {{.Version.Index}}")
    env, image, index = out.rsplit(" ", 2)
    return json.loads(env), image, index


class Project:
    def __init__(self, lab, folder: Path) -> None:
        self.lab = lab
        self.file = folder / "stack.yml"
        self.config = folder / "config.toml"
        self.config.write_text(lab.config_file.read_text() + "\n[projects.hc.environments.lab]\n"
                               f'cluster = "staging"\nstack = "hc"\ncompose = "{self.file}"\n')
        self.config.chmod(0o600)
        self.state = folder / "state"
        self.first_digest = ""

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "XDG_STATE_HOME": str(self.state)}
        return subprocess.run([sys.executable, "-m", "swarmdeck", "--config",
                               str(self.config), *args], capture_output=True, text=True,
                              timeout=180, env=env)


@pytest.fixture(scope="module")
def project(lab, tmp_path_factory):
    """Revision 1 (VERSION one) and revision 2 (VERSION two) of stack hc; removed after."""
    here = Project(lab, tmp_path_factory.mktemp("hc"))
    docker(lab, "pull", BASE)
    docker(lab, "tag", BASE, TAG)
    here.first_digest = pushed_digest(lab)
    try:
        for version, number in (("one", 1), ("two", 2)):
            here.file.write_text(compose(version))
            done = here.run("deploy", "hc", "--yes")
            assert done.returncode == 0, done.stderr
            assert f"recorded as revision {number} of hc" in done.stdout
        yield here
    finally:
        with contextlib.suppress(LabError):
            docker(lab, "stack", "rm", "hc")
        with contextlib.suppress(LabError):
            docker(lab, "rm", "-f", "hc_build")
        names = docker(lab, "config", "ls", "-q", "--filter",
                       "label=swarmdeck.history.stack=hc").split()
        if names:
            with contextlib.suppress(LabError):
                docker(lab, "config", "rm", *names)


def test_deploy_pull_moves_to_a_new_digest_under_the_same_tag(lab, project):
    env, image, index = spec(lab)  # revision 2, from the file
    assert env == ["VERSION=two"] and image == f"{TAG}@{project.first_digest}"
    done = project.run("deploy", "hc", "--pull", "--yes")
    assert done.returncode == 0, done.stderr
    assert "the running digests are current" in done.stdout
    assert "nothing to change" in done.stdout
    assert spec(lab)[2] == index  # not written to

    # a new image under the same tag
    docker(lab, "run", "--name", "hc_build", TAG, "touch", "/rebuilt")
    docker(lab, "commit", "hc_build", TAG)
    second = pushed_digest(lab)
    assert second != project.first_digest
    done = project.run("deploy", "hc", "--pull", "--yes")
    assert done.returncode == 0, done.stderr
    assert f"image digest: {project.first_digest[:19]}… -> {second[:19]}…" in done.stdout
    assert "1 service(s) move to a new digest (hc_app)" in done.stdout
    env, image, index = spec(lab)
    assert env == ["VERSION=two"] and image == f"{TAG}@{second}"
    done = project.run("deploy", "hc", "--pull", "--yes")
    assert done.returncode == 0 and "nothing to change" in done.stdout, done.stderr
    assert spec(lab)[2] == index


async def test_the_console_rolls_back_to_the_first_revision(lab, project):
    assert (await asyncio.to_thread(spec, lab))[0] == ["VERSION=two"]  # 2, or the pull's
    config = load_config(project.config)
    app = SwarmdeckApp(config, Fleet(config), start_cluster="staging")
    async with app.run_test(size=(140, 40)) as pilot:
        assert await wait_until(pilot, lambda: app.fleet.state("staging").loaded, 30)
        from swarmdeck.ui import commands

        assert commands.run(app, ":history hc") is None
        assert await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen), 10)
        screen = app.screen
        assert await wait_until(pilot, lambda: len(screen.kept) >= 2 and screen.running
                                == screen.kept[0].revision.revision, 30)  # the newest runs
        newest = len(screen.kept)
        table = screen.table
        assert [str(table.get_cell(k, "now")) for k in table.rows] == \
            [RUNNING] + [""] * (newest - 1)
        await pilot.press("G", "d")  # revision 1, the oldest
        assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), 30)
        assert app.screen.question == "Deploy hc/lab (revision 1 again) as stack hc on staging?"
        assert "  update service hc_app" in app.screen.details
        await pilot.press("y")
        assert await wait_until(pilot, lambda: isinstance(app.screen, OperationScreen)
                                and app.screen.outcome is not None, 120)
        assert app.screen.outcome == "deploy hc/lab (revision 1 again): done"
        await pilot.press("escape")
        assert await wait_until(pilot, lambda: len(screen.kept) == newest + 1, 30)
        # the inventory follows the update: the new revision (= 1) is the one running now
        assert await wait_until(pilot, lambda: screen.running == newest + 1, 30)
    env, image, _index = await asyncio.to_thread(spec, lab)
    assert env == ["VERSION=one"] and image == f"{TAG}@{project.first_digest}"
    entries = [e for e in AuditLog.default().read() if e["action"] == "deploy"]
    assert [(e["target"], e["result"]) for e in entries] == [("hc", "ok")]
