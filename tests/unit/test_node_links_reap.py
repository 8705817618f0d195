"""A cluster in the background keeps no node connection nothing uses (core.node_links):
an idle one closes at once, one in use closes when its last channel ends however long that
takes, one opened while the cluster stays behind is reaped too, and showing the cluster
again stops the reaping. On a virtual clock (looptime); the lab test counts the real TCP
connections."""

from __future__ import annotations

import asyncio

import pytest

from swarmdeck.core import node_links
from swarmdeck.core.node_links import NodeLinks

pytestmark = pytest.mark.looptime


class Conn:
    def __init__(self, channels: int = 0) -> None:
        self._channels = {n: object() for n in range(channels)}
        self.closed = False

    def close(self) -> None:
        self.closed = True

    def is_closed(self) -> bool:
        return self.closed


class Endpoint:
    def drop_idle(self) -> None:
        pass


class Inventory:
    in_background = True


def links_with(**conns: Conn) -> NodeLinks:
    links = NodeLinks(Inventory())
    for node_id, conn in conns.items():
        links._conns[node_id] = (conn, Endpoint())  # type: ignore[assignment]
    return links


async def test_idle_connections_close_at_once_and_busy_ones_when_freed():
    idle, busy = Conn(), Conn(channels=1)
    links = links_with(a=idle, b=busy)
    links.reap()
    await asyncio.sleep(0.05)
    assert idle.closed and not busy.closed
    # in use long past the quick spell (a shell): still looked at, closed once it is free
    await asyncio.sleep(node_links.REAP_QUICK + 60)
    assert not busy.closed
    busy._channels.clear()
    await asyncio.sleep(node_links.REAP_SLOW + 0.1)
    assert busy.closed and not links._conns
    assert links._reaper is not None and links._reaper.done()  # nothing left: it stops


async def test_shown_again_the_reaping_stops():
    busy = Conn(channels=1)
    links = links_with(b=busy)
    links.reap()
    await asyncio.sleep(1)
    links.inventory.in_background = False
    busy._channels.clear()
    await asyncio.sleep(node_links.REAP_QUICK + node_links.REAP_SLOW + 1)
    assert not busy.closed and "b" in links._conns
    assert links._reaper is not None and links._reaper.done()


async def test_a_connection_opened_behind_is_reaped(monkeypatch):
    opened = Conn(channels=1)

    async def dial(self, node_id, session):
        return opened, Endpoint()

    monkeypatch.setattr(NodeLinks, "_dial", dial)
    monkeypatch.setattr(NodeLinks, "_managers_own", lambda self, node_id: False)
    links = NodeLinks(Inventory())
    await links.engine("w1", session=None)  # a log stream starts while the cluster is behind
    await asyncio.sleep(1)
    assert not opened.closed
    opened._channels.clear()  # the stream ends
    await asyncio.sleep(0.2)
    assert opened.closed and not links._conns
