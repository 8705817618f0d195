"""The times an operator gives (`--since`, `--until`): one reading for every command.

A duration ago (90s, 10m, 1.5h, 1d), a unix time, or an RFC 3339 time (without a zone: UTC,
as the engine's own times). Durations count back from the manager's clock once it is known,
so a jump host whose clock drifts does not shift the window. A value the engine could not
take (not finite, before 1970, past the year 2262 where its nanoseconds end, a start in the
future) is refused here with what to give, never passed on to come back as the engine's
own parse error.
"""

from __future__ import annotations

import math
import re

from swarmdeck.core.errors import UsageError
from swarmdeck.core.models import parse_time

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
LATEST = 9_000_000_000.0  # unix seconds, year 2255: the engine counts nanoseconds in int64
SKEW = 5.0  # seconds a start may lie ahead of the manager's clock (rounding, transit)
FORMS = "give a duration (90s, 10m, 2h, 1d), a unix time or an RFC 3339 time " \
        "(2026-11-20T10:00:00Z)"


def moment(text: str, now: float, flag: str = "since") -> float:
    """TEXT as unix seconds; a duration counts back from NOW (a duration longer than the
    time since 1970 means from the start). Raises UsageError naming --FLAG."""
    match = _DURATION.fullmatch(text.strip())
    if match:
        ago = float(match[1]) * _UNITS[match[2]]
        if not math.isfinite(ago):
            raise UsageError(f"--{flag} {text!r}: the duration is too large; {FORMS}")
        return max(now - ago, 0.0)
    try:
        value = float(text)
    except ValueError:
        found = parse_time(text.strip())
        if found is None:
            raise UsageError(f"--{flag} {text!r}: {FORMS}") from None
        value = found.timestamp()
    if not math.isfinite(value) or not 0 <= value <= LATEST:
        raise UsageError(f"--{flag} {text!r}: out of range (a time between 1970 and 2255); "
                         f"{FORMS}")
    return value


def window(since: str | None, until: str | None, now: float, *,
           default_since: str | None = None) -> tuple[float | None, float | None]:
    """(since, until) as unix seconds, NOW being the manager's clock: a start after NOW or
    after the end is refused (the engine would answer with an error, or nothing at all)."""
    first = since or default_since
    start = moment(first, now) if first else None
    end = moment(until, now, "until") if until else None
    if start is not None and start > now + SKEW:
        raise UsageError(f"--since {since!r} is in the future by the manager's clock "
                         f"(now {now:.0f}): give a time before now")
    if start is not None and end is not None and end < start:
        raise UsageError(f"--until {until!r} is before --since {since!r}: give an end after "
                         "the start")
    return start, end


def check(since: str | None, until: str | None, now: float) -> None:
    """Before any connection: the forms and ranges that do not depend on the manager's
    clock (NOW: this machine's), so that bad input costs no round trip."""
    for text, flag in ((since, "since"), (until, "until")):
        if text:
            moment(text, now, flag)
