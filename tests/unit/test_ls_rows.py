"""`swarmdeck ls` on a big swarm: what it prints is the views' rows, field for field, and
nothing on its way spells out the whole cluster (bench/ls_services.py has the figures)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from unittest import mock

import pytest
from hostile import recorded

from swarmdeck.cli.main import main
from swarmdeck.cli.render import json_text
from swarmdeck.core import views
from swarmdeck.core.config import load
from swarmdeck.core.inventory import ClusterState
from swarmdeck.core.models import Service


def big(services: int) -> ClusterState:
    """The recorded prod cluster with SERVICES services (clones of the recorded ones)."""
    state = recorded("prod")
    base = list(state.services.values())
    state.services = {}
    for i in range(services):
        s = base[i % len(base)]
        state.services[f"svc{i}"] = s.model_copy(update={"id": f"svc{i}", "name": f"{s.name}-{i}"})
    return state


def test_a_state_reprs_as_counts_whatever_its_size():
    state = big(300)
    assert repr(state) == ("<ClusterState 'prod': 5 nodes, 300 services, 12 tasks, 3 networks, "
                           "connected>")


def test_returning_the_states_from_asyncio_run_spells_out_no_model():
    """asyncio.run reprs the task that returned the states (when it restores Ctrl-C's
    handler): with the default dataclass repr that was every model of the cluster, twice."""
    states = {"prod": big(300)}
    spelled: list[str] = []
    service_repr = Service.__repr__

    def counted(service: Service) -> str:
        spelled.append(service.id)
        return service_repr(service)

    async def load() -> dict[str, ClusterState]:
        return states

    with mock.patch.object(Service, "__repr__", counted):
        assert asyncio.run(load()) is states
        assert "svc7" in repr(states["prod"].services["svc7"])  # the spy does see a repr
    assert spelled == ["svc7"]


@pytest.mark.parametrize("what", ["nodes", "services", "stacks", "tasks"])
def test_ls_json_is_the_views_rows_field_for_field(what, tmp_path, capsys):
    path = tmp_path / "config.toml"
    path.write_text('[clusters.prod]\nmanagers = ["prod-m1"]\n'
                    '[clusters.staging]\nmanagers = ["staging-m1"]\n')
    path.chmod(0o600)
    states = {"prod": big(40), "staging": recorded("staging")}

    async def fetched(_config, _names):
        return states

    with mock.patch("swarmdeck.cli.ls._load", fetched):
        assert main(["--config", str(path), "ls", what, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)

    managed = views.managed_stacks(load(str(path)))
    rows = {"nodes": lambda n, st: views.node_rows(n, st),
            "services": lambda n, st: views.service_rows(n, st),
            "stacks": lambda n, st: views.stack_rows(n, st, managed),
            "tasks": lambda n, st: views.task_rows(n, st, history=True)}[what]
    expected = [asdict(r) for name, st in states.items() for r in rows(name, st)]
    assert {row["cluster"] for row in expected} == {"prod", "staging"}
    assert printed == json.loads(json_text(expected))
