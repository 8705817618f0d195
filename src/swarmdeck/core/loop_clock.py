"""The clock of the running event loop, for every wait the core measures (heartbeat,
reconnect backoff, stream reopening, retry pauses).

In the product it is time.monotonic() (asyncio's loops read that clock), so nothing changes;
under a test's virtual clock (looptime) the measured silences and backoffs follow the same
fake time as the loop's sleeps and timeouts, and such tests neither wait nor depend on the
machine's load.
"""

from __future__ import annotations

import asyncio
import time


def now() -> float:
    """Seconds on the running loop's clock; time.monotonic() outside a loop."""
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return time.monotonic()
