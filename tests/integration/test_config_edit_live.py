"""`swarmdeck init` on a machine whose only way to the lab is a docker context, then `cluster
add` and `cluster rm` on the config it wrote: a working config, and a comment placed by hand
kept. Real managers answer (or refuse, a worker); nothing is changed on the lab."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from waits import wait_until


def address(lab, alias: str) -> str:
    """The lab host's address, as its ssh config says."""
    m = re.search(rf"^Host {re.escape(alias)}\n\s+HostName (\S+)$", lab.ssh_config.read_text(),
                  flags=re.M)
    assert m, f"no Host {alias} in {lab.ssh_config}"
    return m.group(1)


@pytest.fixture
def machine(lab, tmp_path: Path) -> dict[str, str]:
    """A HOME whose ssh config knows the lab's addresses only by pattern (so the ssh config
    offers no Host to init) and a docker context pointing at prod's first manager."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "config").write_text(
        "Host 10.213.0.*\n    User root\n"
        f"    IdentityFile {lab.identity}\n    IdentitiesOnly yes\n"
        f"    UserKnownHostsFile {lab.known_hosts}\n")
    env = {k: v for k, v in os.environ.items() if k not in ("SWARMDECK_CONFIG", "SSH_AUTH_SOCK")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_STATE_HOME=str(home / ".state"), DOCKER_CONFIG=str(home / ".docker"))
    subprocess.run(["docker", "context", "create", "labprod", "--docker",
                    f"host=ssh://root@{address(lab, 'prod-m1')}"],
                   env=env, check=True, capture_output=True, timeout=30)
    return env


def swarmdeck(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "swarmdeck", *args], env=env,
                          capture_output=True, text=True, timeout=90)


def clusters(env: dict[str, str]) -> dict[str, dict]:
    proc = swarmdeck(env, "ls", "clusters", "--json")
    assert proc.returncode == 0, proc.stderr
    return {row["cluster"]: row for row in json.loads(proc.stdout)}


def test_init_from_a_docker_context_then_add_and_rm_keep_a_hand_comment(lab, machine):
    proc = swarmdeck(machine, "init", "--yes")
    assert proc.returncode == 0, proc.stderr
    assert "docker context labprod" in proc.stderr and "manager of swarm" in proc.stderr
    path = Path(machine["XDG_CONFIG_HOME"]) / "swarmdeck" / "config.toml"
    assert f"wrote {path} (mode 0600) with cluster labprod" in proc.stdout
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert '[clusters.labprod]\ncontext = "labprod"\n' in path.read_text()
    found = clusters(machine)
    assert list(found) == ["labprod"] and found["labprod"]["status"] == "ok"
    assert found["labprod"]["managers_total"] == 3

    # init again: refused, pointing at cluster add
    again = swarmdeck(machine, "init", "--yes")
    assert again.returncode == 2 and "cluster add" in again.stderr

    # a comment placed by hand, above and beside
    hand = path.read_text().replace(
        '[clusters.labprod]\ncontext = "labprod"\n',
        '# prod, through the docker context (placed by hand)\n[clusters.labprod]\n'
        'context = "labprod"  # see `docker context ls`\n')
    path.write_text(hand)
    staging = f"root@{address(lab, 'staging-m1')}"
    proc = swarmdeck(machine, "cluster", "add", "staging", "--manager", staging,
                     "--read-only")
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"cluster staging: .* answers: manager of swarm \w+ \(\d+ nodes?, 1 manager\)",
                     proc.stdout), proc.stdout
    assert path.read_text() == hand + (f'\n[clusters.staging]\nmanagers = ["{staging}"]\n'
                                       "read_only = true\n")
    found = clusters(machine)
    assert [(n, r["status"]) for n, r in found.items()] == [("labprod", "ok"),
                                                              ("staging", "ok")]

    # a worker does not answer as a manager: refused, nothing written
    worker = swarmdeck(machine, "cluster", "add", "w", "--manager",
                       f"root@{address(lab, 'staging-w1')}")
    assert worker.returncode == 2 and "is a worker, not a swarm manager" in worker.stderr
    assert "[clusters.w]" not in path.read_text()

    proc = swarmdeck(machine, "cluster", "rm", "staging", "--yes")
    assert proc.returncode == 0, proc.stderr
    assert "removed cluster staging" in proc.stdout
    assert path.read_text() == hand
    audit = [json.loads(line) for line in
             (Path(machine["XDG_STATE_HOME"]) / "swarmdeck" / "audit.jsonl").read_text()
             .splitlines()]
    assert [(e["action"], e["cluster"]) for e in audit] == [
        ("config init", "labprod"), ("config cluster add", "staging"),
        ("config cluster rm", "staging")]


def test_init_groups_the_managers_of_one_swarm_from_the_ssh_config(lab, machine, tmp_path):
    """With the lab's ssh config: its three prod managers make one cluster (failover between
    them), its workers and spare hosts are left out."""
    path = tmp_path / "from-ssh.toml"
    proc = swarmdeck(machine, "--config", str(path), "init", "--yes",
                     "--ssh-config", str(lab.ssh_config))
    assert proc.returncode == 0, proc.stderr
    assert "prod-w1" in proc.stderr and "is a worker" in proc.stderr
    text = path.read_text()
    assert f'[ssh]\nconfig = ["{lab.ssh_config}"]\n' in text
    # the docker context reaches prod too: the cluster takes its name, and prod's Hosts
    assert '[clusters.labprod]\nmanagers = ["prod-m1", "prod-m2", "prod-m3"]\n' in text
    assert '[clusters.staging]\nmanagers = ["staging-m1"]\n' in text
    assert "prod-w1" not in text and "spare" not in text
    proc = swarmdeck(machine, "--config", str(path), "ls", "clusters", "--json",
                     "--cluster", "labprod", "--cluster", "staging")
    assert proc.returncode == 0, proc.stderr
    assert {r["cluster"]: r["status"] for r in json.loads(proc.stdout)} == {
        "labprod": "ok", "staging": "ok"}


async def test_console_ctx_add_follows_the_new_cluster_live(lab, tmp_path):
    """`:ctx add` in a console on the real fleet: staging's manager is asked, the config
    gains the cluster under the hand-written text, and its services appear on screen."""

    from swarmdeck.core.config import load_config
    from swarmdeck.core.fleet import Fleet
    from swarmdeck.ui.app import SwarmdeckApp
    from swarmdeck.ui.screens.command import CommandScreen
    from swarmdeck.ui.widgets.table import LiveTable

    path = tmp_path / "config.toml"
    hand = (f'# by hand: prod only, for now\n[ssh]\nconfig = ["{lab.ssh_config}"]\n\n'
            '[clusters.prod]  # the big one\nmanagers = ["prod-m1"]\nmetrics = "off"\n')
    path.write_text(hand)
    path.chmod(0o600)
    config = load_config(path)
    app = SwarmdeckApp(config, Fleet(config), start_cluster="prod")

    def services() -> set[str]:
        table = app.screen.query_one("#services", LiveTable)
        return {str(table.get_cell(k, "name")).strip() for k in table.rows}

    # the lab's own stack (other sessions may be adding and removing services meanwhile)
    theirs = set(lab.docker_on("staging-m1", "service", "ls", "--filter",
                               "label=com.docker.stack.namespace=shop", "--format",
                               "{{.Name}}").split())
    assert theirs
    async with app.run_test(size=(140, 40)) as pilot:
        main = app.screen
        await pilot.press("colon")
        assert await wait_until(pilot, lambda: isinstance(app.screen, CommandScreen), 5)
        await pilot.press(*"ctx add stg staging-m1", "enter")
        assert await wait_until(pilot, lambda: main.cluster == "stg", 20), \
            [str(n.message) for n in app._notifications]
        assert await wait_until(pilot, lambda: theirs <= services(), 30), theirs - services()
    assert path.read_text() == hand + '\n[clusters.stg]\nmanagers = ["staging-m1"]\n'
