"""The console's idea of "now", for ages and staleness. Snapshot tests pin it."""

from __future__ import annotations

import time
from collections.abc import Callable

now: Callable[[], float] = time.time
