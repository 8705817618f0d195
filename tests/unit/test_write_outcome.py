"""A change whose connection breaks is never sent again: the object is read back and the
change reported as applied, not applied, or unknown (with what to check), and audited so."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest

from swarmdeck.core.audit import AuditLog
from swarmdeck.core.errors import NotApplied, OutcomeUnknown, WriteInterrupted
from swarmdeck.core.ops import services
from swarmdeck.core.ops.base import ClusterOps

SERVICE = {"ID": "s1", "Version": {"Index": 10},
           "Spec": {"Name": "web", "Mode": {"Replicated": {"Replicas": 2}},
                    "TaskTemplate": {"ContainerSpec": {"Image": "img:1"}}}}


class CutDocker:
    """Every write breaks; reads answer what the manager holds afterwards (AFTER)."""

    def __init__(self, after: dict | None, read_fails: bool = False) -> None:
        self.after = after
        self.read_fails = read_fails
        self.writes = 0

    async def request(self, method, path, **_kw):
        if method == "GET":
            return await self.get(path)
        self.writes += 1
        raise WriteInterrupted("lost connection to m1: Channel not open for sending",
                               method=method, path=path)

    async def get(self, path, **_params):
        if self.read_fails:
            raise WriteInterrupted("lost connection to m1: connection closed")
        return copy.deepcopy(self.after if path.startswith("/services/s1") else [])


def ops_on(docker, tmp_path) -> ClusterOps:
    session = SimpleNamespace(docker=docker, label="m1")
    return ClusterOps("prod", session, audit=AuditLog(tmp_path / "audit.jsonl"))


def scaled(index: int, replicas: int) -> dict:
    data = copy.deepcopy(SERVICE)
    data["Version"]["Index"] = index
    data["Spec"]["Mode"]["Replicated"]["Replicas"] = replicas
    return data


async def scale_web(ops):
    original = copy.deepcopy(SERVICE)

    async def service(_name):
        return copy.deepcopy(original)

    ops.service = service
    return await services.scale(ops, {"web": 4})


@pytest.fixture(autouse=True)
def no_baseline(monkeypatch):
    async def nothing(*_args, **_kwargs):
        return None

    monkeypatch.setattr(services, "baseline", nothing)


async def test_a_change_the_manager_took_before_the_link_broke_is_reported_applied(tmp_path):
    docker = CutDocker(after=scaled(11, 4))
    ops = ops_on(docker, tmp_path)
    started = await scale_web(ops)
    assert "web 2 -> 4" in started.summary
    assert docker.writes == 1  # never sent again
    assert [e["result"] for e in ops.audit.read()] == ["ok"]


async def test_a_change_that_never_landed_says_so_and_nothing_changed(tmp_path):
    docker = CutDocker(after=scaled(10, 2))
    ops = ops_on(docker, tmp_path)
    with pytest.raises(NotApplied) as err:
        await scale_web(ops)
    assert "not applied" in str(err.value) and "try again" in str(err.value)
    assert docker.writes == 1
    assert [e["result"] for e in ops.audit.read()] == ["error"]


async def test_a_change_that_cannot_be_read_back_is_unknown_with_what_to_check(tmp_path):
    docker = CutDocker(after=None, read_fails=True)
    ops = ops_on(docker, tmp_path)
    with pytest.raises(OutcomeUnknown) as err:
        await scale_web(ops)
    assert "outcome unknown" in str(err.value) and "check service web" in str(err.value)
    assert [e["result"] for e in ops.audit.read()] == ["unknown"]


async def test_someone_elses_change_in_between_is_not_taken_for_ours(tmp_path):
    docker = CutDocker(after=scaled(12, 7))
    ops = ops_on(docker, tmp_path)
    with pytest.raises(OutcomeUnknown, match="not as asked"):
        await scale_web(ops)
