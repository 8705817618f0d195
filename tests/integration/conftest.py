"""The real lab: brought up once per test session (or reused when already healthy).

Integration tests need root (namespaces, bridge, one dockerd per node). They are never
skipped: without root they fail with the lab's own message saying so.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from swarmdeck.lab.lab import Lab
from swarmdeck.lab.topology import LabSpec

LAB_DIR = Path(os.environ.get("SWARMDECK_LAB_DIR", "/var/lib/swarmdeck-lab"))


# Set SWARMDECK_LAB_REUSE_ONLY=1 when several test sessions share one lab (another session may
# be cutting a link or killing a daemon on purpose): the session then waits for the lab to be
# healthy again and fails rather than purging and rebuilding it under the other session.
REUSE_ONLY = os.environ.get("SWARMDECK_LAB_REUSE_ONLY", "") not in ("", "0")
REUSE_WAIT = 180.0


@pytest.fixture(scope="session")
def lab() -> Lab:
    lab = Lab(LAB_DIR, say=lambda m: print(f"lab: {m}", file=sys.stderr))
    if REUSE_ONLY:
        deadline = time.monotonic() + REUSE_WAIT
        while not (lab.spec() is not None and lab.healthy()):
            if time.monotonic() > deadline:
                pytest.fail(f"SWARMDECK_LAB_REUSE_ONLY is set and the lab in {LAB_DIR} is "
                            f"not up and healthy after {REUSE_WAIT:.0f}s: bring it up with "
                            "`swarmdeck lab up` (or unset the variable to let the tests "
                            "rebuild it)")
            time.sleep(5)
        return lab
    lab.up(LabSpec())
    return lab


@pytest.fixture
def swarmdeck(lab):
    """Run the real `swarmdeck` command against the lab's config."""

    def run(*args: str, config: Path | None = None, timeout: float = 60,
            prefix: Sequence[str] = (), input: str | None = None
            ) -> subprocess.CompletedProcess[str]:
        """PREFIX: a command to run swarmdeck under (e.g. setpriv dropping capabilities);
        INPUT: text for its standard input."""
        return subprocess.run(
            [*prefix, sys.executable, "-m", "swarmdeck", "--config",
             str(config or lab.config_file), *args],
            capture_output=True, text=True, timeout=timeout,
            **({"input": input} if input is not None else {}),
        )

    return run


@pytest.fixture(scope="session")
def lab_leaders_back(lab):
    """For the tests that kill managers' daemons (they may move the raft leadership): once
    the session is done, the managers `lab up` made leaders lead again, best effort (other
    tests expect prod-m1 to lead). Once per session: each try costs an election."""
    yield
    from swarmdeck.lab import faults

    faults.heal(lab)
