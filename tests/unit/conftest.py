"""Unit tests reach no host: `ls` dialling its managers ahead (core.dial_ahead) is off, so
that a test that replaces the load (their configs name hosts such as prod-m1) sends nothing,
not even a DNS query. Tests marked `dials_ahead` keep it (a manager on this machine)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def no_dial_ahead(request, monkeypatch):
    if request.node.get_closest_marker("dials_ahead") is None:
        monkeypatch.setattr("swarmdeck.core.dial_ahead.first_dials", lambda *_a, **_k: [])
