"""Replica counts a cluster cannot sensibly hold are refused before anything is created."""

from __future__ import annotations

import pytest

from swarmdeck.core.config import load_config
from swarmdeck.core.errors import Refused, UsageError
from swarmdeck.core.ops.environments import prepare
from swarmdeck.core.ops.services import check_scale, parse_scale


@pytest.mark.parametrize(("current", "wanted"), [(3, 31), (0, 11), (5, 1001)])
def test_a_runaway_count_is_refused_without_force(current, wanted):
    with pytest.raises(Refused, match="refused") as err:
        check_scale("tick", current, wanted, 1000)
    assert "--force" in str(err.value)
    check_scale("tick", current, wanted, 1000, force=True)


@pytest.mark.parametrize(("current", "wanted"), [(3, 30), (0, 10), (500, 20), (900, 1000)])
def test_ordinary_counts_pass(current, wanted):
    check_scale("tick", current, wanted, 1000)


def test_a_count_no_swarm_can_run_is_bad_input():
    with pytest.raises(UsageError, match="not a count a swarm can run"):
        parse_scale(["tick=99999999999"])
    with pytest.raises(UsageError, match="non-negative integer"):
        parse_scale(["tick=٣"])  # a digit, but not an ASCII one


def test_deploy_refuses_replicas_beyond_max_replicas(tmp_path):
    compose = tmp_path / "stack.yml"
    compose.write_text('version: "3.8"\nservices:\n  tick:\n    image: busybox:1\n'
                       '    deploy:\n      replicas: 99999999999\n')
    config = tmp_path / "config.toml"
    config.write_text('[clusters.lab]\nmanagers = ["m1"]\nmax_replicas = 50\n'
                      '[projects.p.environments.e]\ncluster = "lab"\nstack = "s"\n'
                      f'compose = "{compose}"\n')
    with pytest.raises(UsageError) as err:
        prepare(load_config(config), "p", "e")
    assert "s_tick asks for 99999999999 replicas" in str(err.value)
    assert "max_replicas = 50" in str(err.value) and err.value.exit_code == 2
