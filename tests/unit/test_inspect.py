"""core.inspect: an object read by ID, rendered as YAML (docker's key order) or JSON;
secrets and configs without their data; IDs that would change the API path refused."""

from __future__ import annotations

import json

import pytest
import yaml

from swarmdeck.core import inspect
from swarmdeck.core.errors import UsageError


class Docker:
    def __init__(self, found: dict) -> None:
        self.found = found
        self.paths: list[str] = []

    async def get(self, path: str, **_):
        self.paths.append(path)
        return self.found


async def test_a_config_is_shown_without_its_data():
    docker = Docker({"ID": "c1", "Spec": {"Name": "app.conf", "Data": "cG9ydD04MAo=",
                                         "Labels": {"a": "b"}}})
    found = await inspect.fetch(docker, "config", "c1")
    assert docker.paths == ["/configs/c1"]
    assert found["Spec"] == {"Name": "app.conf", "Labels": {"a": "b"},
                             "Data": "<left out: config data is not shown here>"}


async def test_other_objects_are_shown_whole():
    service = {"ID": "s1", "Spec": {"Name": "web", "Data": "not a secret's"}}
    assert await inspect.fetch(Docker(service), "service", "s1") == service


@pytest.mark.parametrize("ident", ["", "../containers/x", "a?b", "a b", "s1/update"])
async def test_an_id_that_would_change_the_path_is_refused(ident):
    docker = Docker({})
    with pytest.raises(UsageError):
        await inspect.fetch(docker, "service", ident)
    assert docker.paths == []


async def test_an_unknown_kind_is_refused():
    with pytest.raises(UsageError, match="one of service, node, task"):
        await inspect.fetch(Docker({}), "volume", "v1")


def test_yaml_keeps_dockers_order_and_json_reads_back():
    found = {"ID": "s1", "Version": {"Index": 3}, "Spec": {"Name": "web", "Labels": {
        "z": "1", "a": "caf\u00e9"}}, "Long": "x" * 300}
    text = inspect.render(found)
    assert text.splitlines()[:3] == ["ID: s1", "Version:", "  Index: 3"]
    assert text.index("z:") < text.index("a:")  # as docker sent them, not sorted
    assert yaml.safe_load(text) == found  # one line per value: never folded
    assert all(len(line) < 320 for line in text.splitlines())
    assert json.loads(inspect.render(found, "json")) == found
    assert "caf\u00e9" in inspect.render(found, "json")
