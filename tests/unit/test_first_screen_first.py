"""core.fleet: the clusters off screen start after the one shown first has loaded (or
failed once, or FIRST_SCREEN_WAIT passed, or the screen moved on), so that their
handshakes and loads do not slow the first screen the operator waits for
(bench/ten_clusters.py measures the effect on the lab). On a virtual clock (looptime)."""

from __future__ import annotations

import asyncio

import pytest

from swarmdeck.core import fleet as fleet_module
from swarmdeck.core.config import ClusterConfig, Config
from swarmdeck.core.errors import HostUnreachable
from swarmdeck.core.fleet import Fleet
from swarmdeck.core.inventory import ClusterInventory

pytestmark = pytest.mark.looptime


class Inventory(ClusterInventory):
    """Loads after LOAD seconds (or fails then, with FAIL), records when run() started."""

    def __init__(self, name: str, started: dict[str, float], load: float,
                 fail: bool = False) -> None:
        super().__init__(name, [], None)  # type: ignore[arg-type]
        self.started, self.delay, self.fail = started, load, fail

    async def run(self, *, max_backoff: float = 30.0) -> None:
        self.started[self.name] = asyncio.get_running_loop().time()
        await asyncio.sleep(self.delay)
        if self.fail:
            self.state.error = HostUnreachable("no route")
            self.notify("connection")
        else:
            self.notify("loaded")
        await asyncio.Event().wait()


def fleet_of(started: dict[str, float], **loads: tuple[float, bool]) -> Fleet:
    config = Config(clusters={name: ClusterConfig(managers=["m"], metrics="off")
                              for name in loads})
    fleet = Fleet(config)
    for name, (load, fail) in loads.items():
        fleet.inventories[name] = Inventory(name, started, load, fail)
    return fleet


async def run_all(fleet: Fleet, seconds: float) -> None:
    runs = [asyncio.ensure_future(fleet.run(name)) for name in fleet.names]
    await asyncio.sleep(seconds)
    for run in runs:
        run.cancel()
    await asyncio.gather(*runs, return_exceptions=True)


async def test_the_others_start_once_the_shown_cluster_has_loaded():
    started: dict[str, float] = {}
    fleet = fleet_of(started, a=(0.8, False), b=(0.1, False), c=(0.1, False))
    fleet.show(["a"])
    t0 = asyncio.get_running_loop().time()
    await run_all(fleet, 5)
    assert started["a"] - t0 == pytest.approx(0, abs=0.01)
    assert started["b"] - t0 == pytest.approx(0.8, abs=0.01)
    assert started["c"] - t0 == pytest.approx(0.8, abs=0.01)


async def test_a_shown_cluster_that_fails_lets_the_others_start_too():
    started: dict[str, float] = {}
    fleet = fleet_of(started, a=(0.5, True), b=(0.1, False))
    fleet.show(["a"])
    t0 = asyncio.get_running_loop().time()
    await run_all(fleet, 5)
    assert started["b"] - t0 == pytest.approx(0.5, abs=0.01)


async def test_a_slow_shown_cluster_holds_the_others_back_at_most_the_limit():
    started: dict[str, float] = {}
    fleet = fleet_of(started, a=(60, False), b=(0.1, False))
    fleet.show(["a"])
    t0 = asyncio.get_running_loop().time()
    await run_all(fleet, fleet_module.FIRST_SCREEN_WAIT + 5)
    assert started["b"] - t0 == pytest.approx(fleet_module.FIRST_SCREEN_WAIT, abs=0.01)


async def test_switching_screens_starts_every_cluster_at_once():
    started: dict[str, float] = {}
    fleet = fleet_of(started, a=(60, False), b=(0.1, False), c=(0.1, False))
    fleet.show(["a"])
    t0 = asyncio.get_running_loop().time()
    runs = asyncio.ensure_future(run_all(fleet, 5))
    await asyncio.sleep(0.3)
    fleet.show(["b"])  # the operator went to b before a loaded
    await runs
    assert started["b"] - t0 == pytest.approx(0.3, abs=0.01)
    assert started["c"] - t0 == pytest.approx(0.3, abs=0.01)


async def test_with_every_cluster_looked_at_none_waits():
    started: dict[str, float] = {}
    fleet = fleet_of(started, a=(60, False), b=(0.1, False))
    t0 = asyncio.get_running_loop().time()  # no show(): every cluster is looked at
    await run_all(fleet, 1)
    assert started["b"] - t0 == pytest.approx(0, abs=0.01)
