"""Giving freed memory back to the system.

A log flood allocates and frees large buffers (SSH packets, 64 KiB blocks, batches of
lines) interleaved with the lines the view keeps. glibc's malloc then holds the freed space
(90 MB after 1M lines, 15 MB of it in use) because it only returns memory from the top of
its heap. malloc_trim(0) returns every free page, wherever it is. Elsewhere than glibc this
does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import time

_trim = None
try:
    _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    _trim = _libc.malloc_trim
    _trim.argtypes = [ctypes.c_size_t]
    _trim.restype = ctypes.c_int
except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to call
    _trim = None


def release() -> float:
    """Return free heap pages to the system; the seconds it took (0 where unsupported)."""
    if _trim is None:
        return 0.0
    started = time.perf_counter()
    _trim(0)
    return time.perf_counter() - started


class Releaser:
    """Calls release() after every EVERY lines, at most once per MIN_GAP seconds."""

    def __init__(self, every: int = 20_000, min_gap: float = 0.5) -> None:
        self.every = every
        self.min_gap = min_gap
        self._count = 0
        self._last = 0.0

    def count(self, lines: int) -> None:
        self._count += lines
        if self._count >= self.every:
            now = time.monotonic()
            if now - self._last >= self.min_gap:
                self._count = 0
                self._last = now
                release()
