"""The running lab, shared with other sessions: wait for it to be healthy, never rebuild it.

`Lab.up` purges and rebuilds a lab that does not look healthy, and another session may have
cut a link or stopped a daemon on purpose a moment ago: a bench must not tear that down.
"""

from __future__ import annotations

import time

from swarmdeck.cli.lab import lab_dir
from swarmdeck.lab.lab import Lab

WAIT = 180.0  # seconds


def shared_lab() -> Lab:
    lab = Lab(lab_dir(None), say=lambda m: print(f"lab: {m}", flush=True))
    deadline = time.monotonic() + WAIT
    while not (lab.spec() is not None and lab.healthy()):
        if time.monotonic() > deadline:
            raise SystemExit(f"no healthy lab in {lab.dir} after {WAIT:.0f}s: bring it up with "
                             "`swarmdeck lab up` first (the benches never rebuild it)")
        time.sleep(5)
    return lab
