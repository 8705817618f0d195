"""`:ctx add NAME DEST` in the console: the cluster is written to the config as `swarmdeck
cluster add` writes it (the user's comments kept), once its manager answers, and the console
switches to it. The manager's answer is faked here (recorded data has no hosts); the lab test
tests/integration/test_config_edit_live.py asks a real one through the same core function."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_command_mode import SIZE, notices, type_command
from ui_waits import wait_until

from swarmdeck.core import discovery
from swarmdeck.core.config import load_config
from swarmdeck.core.errors import NotAManager
from swarmdeck.core.models import SwarmInfo

HAND_WRITTEN = """\
# my clusters, by hand
[clusters.prod]
managers = ["prod-m1"]  # the leader

# staging is shared
[clusters.staging]
managers = ["staging-m1"]
read_only = true
"""


@pytest.fixture
def commented(tmp_path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(HAND_WRITTEN)
    path.chmod(0o600)
    return path


def answers(monkeypatch, asked: list[str], *, manager: bool = True) -> None:
    async def probe(dest, settings, *, socket_path=None, timeout=5.0):
        asked.append(str(dest))
        if not manager:
            raise NotAManager(f"{dest} is a worker, not a swarm manager")
        return SwarmInfo(cluster_id="abcdefabcdef0123", nodes=2, managers=1,
                         local_state="active", control_available=True)
    monkeypatch.setattr(discovery, "probe", probe)


async def test_ctx_add_writes_the_cluster_keeps_comments_and_switches_to_it(
        make_app, fleet, commented, monkeypatch):
    asked: list[str] = []
    answers(monkeypatch, asked)
    app = make_app(config=load_config(commented))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        main = app.screen
        await type_command(pilot, "ctx add lab2 root@10.213.0.16:22")
        assert await wait_until(pilot, lambda: main.cluster == "lab2")
        assert asked == ["root@10.213.0.16:22"]
        assert fleet.added == ["lab2"] and "lab2" in app.config.clusters
        assert "Services · lab2" in str(main.query_one("#services").border_title)
        assert any("added to" in n for n in notices(app))
        # the other clusters are still there to switch back to
        await type_command(pilot, "ctx prod")
        assert main.cluster == "prod"
    assert commented.read_text() == HAND_WRITTEN + \
        '\n[clusters.lab2]\nmanagers = ["root@10.213.0.16:22"]\n'
    assert commented.stat().st_mode & 0o777 == 0o600


async def test_ctx_add_refusals_leave_the_config_as_it_was(make_app, fleet, commented,
                                                          monkeypatch):
    asked: list[str] = []
    answers(monkeypatch, asked, manager=False)
    app = make_app(config=load_config(commented))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await type_command(pilot, "ctx add prod prod-m2")
        assert "cluster 'prod' is already in" in notices(app)[-1]
        await type_command(pilot, "ctx add x bad:host:1")
        assert "destination 'bad:host:1'" in notices(app)[-1]
        await type_command(pilot, "ctx add lonely")
        assert notices(app)[-1].startswith("usage: :ctx add NAME DEST")
        await type_command(pilot, "ctx add w1 staging-w1")  # answers, but as a worker
        assert await wait_until(pilot, lambda: any(
            "staging-w1 is a worker" in n for n in notices(app)))
        assert asked == ["staging-w1"] and fleet.added == []
        assert app.screen.cluster == "prod"
    assert commented.read_text() == HAND_WRITTEN
