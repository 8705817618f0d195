"""One task's last lines (core.task_logs) on fake engines: from its node's engine, through
the manager when the node cannot be reached or its container is gone (and said), tagged
with the task."""

from __future__ import annotations

import contextlib

import pytest
from test_replica_logs import FakeInventory, FakeLinks, frame, task

from swarmdeck.core.errors import HostUnreachable, NotFound
from swarmdeck.core.task_logs import recent_task_lines


class Engine:
    """Serves PATHS: path -> line numbers; a path not there is a 404."""

    def __init__(self, paths: dict[str, list[int]]) -> None:
        self.paths = paths
        self.asked: list[tuple[str, dict]] = []

    @contextlib.asynccontextmanager
    async def stream(self, path: str, params=None, **_):
        self.asked.append((path, dict(params or {})))
        if path not in self.paths:
            raise NotFound(404, f"no such container: {path}")

        async def body():
            for n in self.paths[path]:
                yield frame(n, f"{path.split('/')[2]} line {n}")

        yield body()


def texts(found) -> list[str]:
    return [line.text for line in found.lines]


async def test_read_from_the_node_that_ran_it():
    node = Engine({"/containers/c1/logs": [1, 2, 3]})
    manager = Engine({})
    inventory = FakeInventory([task("t1", "n1", "c1", 1)], manager)
    found = await recent_task_lines(inventory, FakeLinks({"n1": node}), "t1", tail=3)
    assert texts(found) == ["c1 line 1", "c1 line 2", "c1 line 3"]
    assert found.source == "node n1" and found.note == ""
    assert node.asked == [("/containers/c1/logs", {
        "stdout": True, "stderr": True, "timestamps": True, "follow": False, "tail": "3",
        "since": None})]
    assert manager.asked == []
    assert {(line.task_id, line.node_id, line.service_id) for line in found.lines} == \
        {("t1", "n1", "s1")}


async def test_through_the_manager_when_the_node_cannot_be_reached():
    manager = Engine({"/tasks/t1/logs": [7]})
    inventory = FakeInventory([task("t1", "n2", "c1", 1)], manager)
    links = FakeLinks({"n2": HostUnreachable("n2: connection refused")})
    found = await recent_task_lines(inventory, links, "t1")
    assert texts(found) == ["t1 line 7"]
    assert found.source == "the manager"
    assert found.note == "n2 could not be read (n2: connection refused)"
    assert manager.asked[0][1]["follow"] is False and manager.asked[0][1]["tail"] == "50"


async def test_a_container_gone_from_its_node_is_read_through_the_manager():
    manager = Engine({"/tasks/t1/logs": [4, 5]})
    inventory = FakeInventory([task("t1", "n1", "c1", 1)], manager)
    found = await recent_task_lines(inventory, FakeLinks({"n1": Engine({})}), "t1")
    assert texts(found) == ["t1 line 4", "t1 line 5"]
    assert found.note == "its container is gone from n1"


async def test_logs_read_on_the_manager_only_when_asked():
    manager = Engine({"/tasks/t1/logs": [1]})
    inventory = FakeInventory([task("t1", "n1", "c1", 1)], manager)
    found = await recent_task_lines(inventory, FakeLinks({}), "t1", from_nodes=False)
    assert found.source == "the manager" and found.note == ""


async def test_an_unknown_task_says_so():
    inventory = FakeInventory([], Engine({}))
    with pytest.raises(NotFound, match="task nosuchtask is no longer known"):
        await recent_task_lines(inventory, FakeLinks({}), "nosuchtask")
