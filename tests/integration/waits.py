"""Waiting on a console under test, shared by the live console tests."""

from __future__ import annotations

import time
from collections.abc import Callable


async def wait_until(pilot, predicate: Callable[[], object], timeout: float,
                     step: float = 0.1) -> bool:
    """Whether PREDICATE holds within TIMEOUT seconds of the console running (looked at
    every STEP seconds, the app given its turn in between)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await pilot.pause(step)
    return bool(predicate())
