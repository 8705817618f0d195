"""How long a big config takes to load, and a config full of mistakes to be refused.

    python bench/config_load.py

Prints seconds and peak memory for: 20,000 clusters (about 1.3 MB), 10 MB of clusters, and
20,000 clusters plus 50,000 unknown keys (refused, the first 20 problems explained). The
floor is tomllib parsing the same file in the same run.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import time
import tomllib
import tracemalloc
from pathlib import Path

from swarmdeck.core.config import load_config
from swarmdeck.core.errors import ConfigError


def clusters(n: int) -> str:
    return "".join(f"[clusters.c{i}]\nmanagers = ['ops@host{i}.example.com:22']\n"
                   for i in range(n))


def measure(path: Path) -> tuple[float, float, float]:
    """(load seconds, tomllib seconds, peak MiB); the peak is taken in a second load (the
    tracing slows it several times over)."""
    start = time.perf_counter()
    tomllib.loads(path.read_text())
    floor = time.perf_counter() - start
    start = time.perf_counter()
    with contextlib.suppress(ConfigError):  # the third case is refused, as it should be
        load_config(path)
    took = time.perf_counter() - start
    tracemalloc.start()
    with contextlib.suppress(ConfigError):
        load_config(path)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return took, floor, peak


def main() -> int:
    cases = {"20,000 clusters": clusters(20_000),
             "10 MB config": clusters(160_000),
             "20,000 clusters + 50,000 unknown keys": clusters(20_000) + "".join(
                 f"[clusters.x{i}]\nmanagerz = ['h{i}']\n" for i in range(50_000))}
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in cases.items():
            path = Path(tmp) / "config.toml"
            path.write_text(text)
            path.chmod(0o600)
            took, floor, peak = measure(path)
            print(f"{name:40} {len(text) / 2**20:5.1f} MB  load {took:6.2f}s  "
                  f"tomllib alone {floor:5.2f}s  ratio {took / floor:4.1f}x  "
                  f"peak {peak:6.0f} MiB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
