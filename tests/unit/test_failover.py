"""Choosing a manager: in order, but a silent one (link cut) does not hold up the next."""

from __future__ import annotations

import asyncio
import time

import pytest

from swarmdeck.core import inventory as inv
from swarmdeck.core.destinations import Destination
from swarmdeck.core.errors import HostUnreachable, TransportError
from swarmdeck.core.transport.ssh import SSHSettings


class FakeSession:
    def __init__(self, host: str) -> None:
        self.host = host
        self.closed = False

    async def close(self) -> None:
        self.closed = True


def cluster(behaviour: dict[str, float | None], monkeypatch, stagger=0.2):
    """BEHAVIOUR: host -> seconds until it connects, or None: refused at once, or inf."""
    opened: list[str] = []
    sessions: list[FakeSession] = []

    async def open_(dest, ssh, socket_path):
        opened.append(dest.host)
        delay = behaviour[dest.host]
        if delay is None:
            raise HostUnreachable(f"ssh to {dest.host}: connection refused")
        await asyncio.sleep(delay)
        session = FakeSession(dest.host)
        sessions.append(session)
        return session

    monkeypatch.setattr(inv.ManagerSession, "open", staticmethod(open_))
    monkeypatch.setattr(inv, "CONNECT_STAGGER", stagger)
    dests = [Destination(None, h, None) for h in behaviour]
    return inv.ClusterInventory("prod", dests, SSHSettings()), opened, sessions


async def test_the_first_manager_is_preferred(monkeypatch):
    inventory, opened, _ = cluster({"m1": 0.01, "m2": 0.01, "m3": 0.01}, monkeypatch)
    assert (await inventory.connect()).host == "m1"
    assert opened == ["m1"]


async def test_a_silent_manager_costs_the_stagger_not_the_timeout(monkeypatch):
    inventory, opened, _ = cluster({"m1": float("inf"), "m2": 0.01, "m3": 0.01},
                                   monkeypatch)
    started = time.monotonic()
    session = await inventory.connect()
    assert session.host == "m2" and time.monotonic() - started < 1.0
    assert opened == ["m1", "m2"]


async def test_a_refused_manager_moves_on_at_once(monkeypatch):
    inventory, opened, _ = cluster({"m1": None, "m2": 0.01}, monkeypatch, stagger=5)
    started = time.monotonic()
    assert (await inventory.connect()).host == "m2"
    assert time.monotonic() - started < 0.5


async def test_a_late_second_winner_is_closed(monkeypatch):
    # m1 is slow but connects before m2 (started later) would: m1 wins, nothing leaks
    inventory, _opened, sessions = cluster({"m1": 0.3, "m2": 0.3}, monkeypatch, stagger=0.2)
    session = await inventory.connect()
    assert session.host == "m1"
    await asyncio.sleep(0.4)
    assert all(s.closed for s in sessions if s is not session)


async def test_every_manager_down_names_each(monkeypatch):
    inventory, _, _ = cluster({"m1": None, "m2": None}, monkeypatch)
    with pytest.raises(TransportError, match="no manager reachable: ssh to m1.*; ssh to m2"):
        await inventory.connect()
