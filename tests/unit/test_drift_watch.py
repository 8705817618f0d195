"""The projects tree's drift mark, from the inventory alone: the file's specs against the
services the console already holds; a rotated secret is not drift; the file is read again
only when it changes."""

from __future__ import annotations

import copy
import os
from pathlib import Path

from swarmdeck.core.config import load_config
from swarmdeck.core.inventory import ClusterState
from swarmdeck.core.models import Service
from swarmdeck.core.ops import environments
from swarmdeck.core.ops.drift import DriftWatch

COMPOSE = '''version: "3.8"
services:
  web:
    image: reg:5000/web:1.4
    secrets: [pw]
    deploy:
      replicas: 2
secrets:
  pw:
    file: ./pw.txt
'''


def setup(tmp_path: Path):
    (tmp_path / "pw.txt").write_text("x")
    (tmp_path / "stack.yml").write_text(COMPOSE)
    config_path = tmp_path / "config.toml"
    config_path.write_text('[clusters.prod]\nmanagers = ["m1"]\n'
                           '[projects.shop.environments.prod]\ncluster = "prod"\n'
                           f'stack = "shop"\ncompose = "{tmp_path / "stack.yml"}"\n')
    config_path.chmod(0o600)
    config = load_config(config_path)
    plan = environments.prepare(config, "shop", "prod").plan
    return config, plan


def state_with(specs: list[dict]) -> ClusterState:
    state = ClusterState("prod", loaded_at=1.0)
    for i, spec in enumerate(specs):
        state.services[f"s{i}"] = Service(id=f"s{i}", name=spec["Name"], mode="replicated",
                                          replicas=2, image="x", stack="shop", raw_spec=spec)
    return state


def test_the_mark_follows_the_inventory_and_the_file(tmp_path):
    config, plan = setup(tmp_path)
    watch = DriftWatch(config)
    spec = copy.deepcopy(plan.services["web"])
    assert watch.drifted("shop", "prod", state_with([spec])) is False

    changed = copy.deepcopy(spec)
    changed["Mode"]["Replicated"]["Replicas"] = 5  # scaled by hand
    assert watch.drifted("shop", "prod", state_with([changed])) is True

    rotated = copy.deepcopy(spec)
    rotated["TaskTemplate"]["ContainerSpec"]["Secrets"][0]["SecretName"] = "shop_pw-v2"
    assert watch.drifted("shop", "prod", state_with([rotated])) is False

    assert watch.drifted("shop", "prod", state_with([])) is True  # the service is gone
    assert watch.drifted("shop", "prod", ClusterState("prod")) is None  # not loaded

    # the file changes: read again (its replicas now 5, as the cluster runs it)
    (tmp_path / "stack.yml").write_text(COMPOSE.replace("replicas: 2", "replicas: 5"))
    stat = (tmp_path / "stack.yml").stat()
    os.utime(tmp_path / "stack.yml", (stat.st_atime, stat.st_mtime + 10))
    assert watch.drifted("shop", "prod", state_with([changed])) is False
    (tmp_path / "stack.yml").write_text("services: [broken")
    os.utime(tmp_path / "stack.yml", (stat.st_atime, stat.st_mtime + 20))
    assert watch.drifted("shop", "prod", state_with([changed])) is None  # not known


def test_the_mark_and_the_preview_leave_out_what_the_engine_is_too_old_for(tmp_path):
    """A field the engine's API is too old for (oom_score_adj needs 1.46) is dropped by the
    engine: the service runs without it. The preview calls that unchanged, and so must the
    tree's mark (it used to mark the environment drifted while `swarmdeck drift` said in
    sync)."""
    from swarmdeck.core.ops.deploy_preview import StackState, build_preview

    (tmp_path / "pw.txt").write_text("x")
    config, _ = setup(tmp_path)
    (tmp_path / "stack.yml").write_text(COMPOSE.replace("    secrets: [pw]\n",
                                                        "    oom_score_adj: 100\n")
                                        .replace('"3.8"', '"3.13"'))
    plan = environments.prepare(config, "shop", "prod").plan
    running = copy.deepcopy(plan.services["web"])
    running["TaskTemplate"]["ContainerSpec"].pop("OomScoreAdj")  # as a 1.41 engine keeps it
    state = state_with([running])
    state.api_version = "1.41"

    shown = build_preview("prod", plan, StackState({"shop_web": {"Spec": running}}, [], {},
                                                   {}, "1.41"), prune=False)
    assert [s.action for s in shown.services] == ["unchanged"]
    assert DriftWatch(config).drifted("shop", "prod", state) is False

    state.api_version = "1.46"  # an engine that takes it: the running spec lacks it, drift
    assert DriftWatch(config).drifted("shop", "prod", state) is True
