"""asyncssh's probe for liboqs at import asks the ld cache only (core/transport/__init__):
no compiler is run to look further on every start of every command."""

from __future__ import annotations

import ctypes.util
import sys

import pytest

import swarmdeck.core.transport  # noqa: F401 - what installs the quick probe


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the gcc fallback is Linux's")
def test_the_liboqs_probe_runs_no_compiler(monkeypatch):
    def no_compiler(name):
        raise AssertionError(f"gcc was run to look for {name}")

    monkeypatch.setattr(ctypes.util, "_findLib_gcc", no_compiler)
    monkeypatch.setattr(ctypes.util, "_findLib_ld", no_compiler)
    monkeypatch.setattr(ctypes.util, "_findSoname_ldconfig",
                        lambda name: "liboqs.so.5" if name == "oqs" else None)
    monkeypatch.setattr("swarmdeck.core.transport._in_ld_cache",
                        ctypes.util._findSoname_ldconfig)
    assert ctypes.util.find_library("oqs") == "liboqs.so.5"
    assert ctypes.util.find_library("liboqs") is None
    with pytest.raises(AssertionError, match="gcc was run to look for nettle"):
        ctypes.util.find_library("nettle-not-in-cache")  # other names: as before
