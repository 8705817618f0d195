"""Shared fixtures. Every test runs with its own empty HOME/XDG dirs, so a developer's real
config, ssh keys or docker contexts never leak into a result."""

from __future__ import annotations

import hypothesis  # noqa: F401  (see below)
import pytest

# hypothesis' pytest plugin imports hypothesis lazily at the end of a session; on CPython
# 3.11.7, after a run of only the console's live tests, that late compile() fails with
# "AST constructor recursion depth mismatch" (a CPython bug). Imported up front, it cannot.


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("DOCKER_CONFIG", str(home / ".docker"))
    monkeypatch.delenv("SWARMDECK_CONFIG", raising=False)
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return home


def pytest_collection_modifyitems(config, items):
    """Tests that tear the lab down run after everything that uses it."""
    items.sort(key=lambda item: item.get_closest_marker("lab_teardown") is not None)
