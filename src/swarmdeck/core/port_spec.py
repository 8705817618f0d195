"""`[LOCAL:]REMOTE` as `port-forward` and the console's `:pf` take it: read before anything
else, so that bad input is said before any connection (and without importing the SSH
transport, which the early dial of `port-forward` must not wait for)."""

from __future__ import annotations

from dataclasses import dataclass

from swarmdeck.core.errors import UsageError


@dataclass(frozen=True)
class PortSpec:
    local: int
    remote: int


def parse_ports(text: str) -> PortSpec:
    """`[LOCAL:]REMOTE` (LOCAL 0: any free port)."""
    local_text, _, remote_text = text.rpartition(":")
    try:
        remote = int(remote_text)
        local = int(local_text) if local_text else remote
    except ValueError:
        raise UsageError(f"{text!r}: give [LOCAL:]REMOTE ports, e.g. 8080 or 18080:80") \
            from None
    if not 1 <= remote <= 65535 or not 0 <= local <= 65535:
        raise UsageError(f"{text!r}: ports are 1 to 65535 (LOCAL 0: any free port)")
    return PortSpec(local, remote)
