"""No background task dies quietly: an unexpected error in a cluster's following marks the
cluster stale, says so in one line naming a report file (0600, no local values), and the
following starts over by itself."""

from __future__ import annotations

import stat
import time
from pathlib import Path

from swarmdeck.core.errors import SwarmdeckError
from swarmdeck.core.inventory import ClusterInventory
from swarmdeck.core.transport.ssh import SSHSettings


async def test_an_unexpected_error_while_following_is_said_and_the_loop_goes_on():
    inventory = ClusterInventory("prod", [], SSHSettings())
    said: list[str] = []
    calls = 0

    async def load():
        nonlocal calls
        calls += 1
        if calls == 1:
            token = "SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-1awxwuwd3z9j1z3puu7rcgdbx"  # noqa: E501
            raise AttributeError(f"'NotAManager' object has no attribute 'status' {token}")
        inventory._closed = True
        raise SwarmdeckError("closed")

    inventory.load = load

    def on_change(change) -> None:
        if change.kind == "connection" and inventory.state.error is not None:
            said.append(str(inventory.state.error))

    inventory.subscribe(on_change)
    await inventory.run()
    assert calls == 2  # it went on after the bug
    assert said[0].startswith("internal error while following the cluster: AttributeError: ")
    assert "retried by itself" in said[0]
    path = Path(said[0].split("details in ", 1)[1].split(" ", 1)[0])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "AttributeError" in text and "load" in text  # the frames are there
    assert "1awxwuwd3z9j" not in text and "1awxwuwd3z9j" not in said[0]  # tokens never


async def test_stale_age_counts_from_the_loss_not_from_the_last_event():
    """A cluster followed quietly for five minutes (no event since its load) then lost:
    the header's STALE age starts at the loss (the events kept the data true until then),
    and a failed reconnection does not move that moment."""
    from swarmdeck.core import views

    inventory = ClusterInventory("prod", [], SSHSettings())
    ages: list[float] = []
    calls = 0

    async def load():
        nonlocal calls
        calls += 1
        if calls == 1:  # what a successful load leaves (st.connected True, lost_at None)
            inventory.state.connected = True
            inventory.state.lost_at = None
            inventory.state.loaded_at = time.time() - 300
            return
        if calls == 2:
            raise SwarmdeckError("prod-m1: connection refused")  # the retry fails too
        inventory._closed = True
        raise SwarmdeckError("closed")

    async def follow():
        raise SwarmdeckError("prod-m1: connection lost")

    inventory.load, inventory.follow = load, follow
    inventory._retry.set()  # no backoff wait

    def on_change(change) -> None:
        if change.kind == "connection" and not inventory.state.connected:
            inventory._retry.set()
            ages.append(views.cluster_health("prod", inventory.state).age)

    inventory.subscribe(on_change)
    lost = time.time()
    await inventory.run()
    assert ages and all(age < 5 for age in ages), ages  # was 300 s and more
    assert inventory.state.lost_at is not None and inventory.state.lost_at >= lost - 1
