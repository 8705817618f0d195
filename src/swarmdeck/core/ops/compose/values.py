"""Values as the docker CLI parses them: durations, sizes, CPUs, short port syntax, and
scalars turned into strings the way Go prints them."""

from __future__ import annotations

import ipaddress
import re
import shlex
from decimal import Decimal
from fractions import Fraction
from typing import Any

_DURATION_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000,
                   "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_RAM = re.compile(r"(\d+(?:\.\d+)*) ?([kmgtp])?i?b?", re.I)


def parse_duration(text: str) -> int:
    """Go's time.ParseDuration, in nanoseconds (`1m30s`, `1.5s`, `300ms`)."""
    if text in ("0", "+0"):
        return 0
    rest, total = text.lstrip("+"), Decimal(0)
    if not rest:
        raise ValueError(text)
    while rest:
        match = _DURATION_PART.match(rest)
        if not match:
            raise ValueError(text)
        total += Decimal(match[1]) * _DURATION_UNITS[match[2]]
        rest = rest[match.end():]
    return int(total)


def parse_bytes(value: Any) -> int:
    """go-units RAMInBytes: `64M`, `1.5g`, `512MiB`; binary multiples."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _RAM.fullmatch(str(value)) if isinstance(value, str) else None
    if not match:
        raise ValueError(value)
    power = " kmgtp".index((match[2] or " ").lower())
    return int(float(match[1]) * 1024 ** power)


def parse_cpus(value: Any) -> int:
    """opts.ParseCPUs: a decimal or rational number of CPUs, in nano CPUs."""
    if isinstance(value, bool):
        raise ValueError(value)
    try:
        nano = Fraction(str(value)) * 1_000_000_000
    except (ValueError, ZeroDivisionError):
        raise ValueError(value) from None
    if nano.denominator != 1 or nano < 0:
        raise ValueError(value)
    return int(nano)


def go_string(value: Any) -> str:
    """fmt.Sprint of a YAML scalar: how the CLI turns numbers and booleans into strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return {True: "+Inf", False: "-Inf"}[value > 0] if value == value else "NaN"
        number = Decimal(repr(value))
        if -4 <= number.adjusted() < 21:  # Go's %v switches to an exponent from 1e21 on
            text = format(number, "f")
            return text.rstrip("0").rstrip(".") if "." in text else text
        return repr(value)  # 1e+21, 1e-05: Python and Go agree there
    return str(value)


def split_command(value: str) -> list[str]:
    return shlex.split(value, comments=True)


_PORT_RANGE = re.compile(r"(\d+)(?:-(\d+))?")


def _port_range(text: str) -> tuple[int, int]:
    match = _PORT_RANGE.fullmatch(text)
    if not match:
        raise ValueError(text)
    start = int(match[1])
    end = int(match[2]) if match[2] else start
    if end < start or end > 65535:
        raise ValueError(text)
    return start, end


def port_host_ip(spec: str) -> str:
    """The host IP of a short port spec (`127.0.0.1:53:53/udp`, `[::1]:80:80`), "" when it
    has none; ValueError when it is not an IP address (as nat.ParsePortSpec)."""
    parts = spec.split(":")
    if len(parts) < 3:
        return ""
    text = ":".join(parts[:-2])
    ip = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    if ip:
        ipaddress.ip_address(ip)
    return ip


def parse_port(spec: str) -> list[dict[str, Any]]:
    """Short port syntax (`8080:80`, `9000-9001:80-81/udp`, `127.0.0.1:53:53/udp`) as
    nat.ParsePortSpec + opts.ConvertPortToPortConfig turn it into PortConfigs."""
    parts = spec.split(":")
    host = parts[-2] if len(parts) >= 2 else ""
    proto_port = parts[-1]
    port, _, proto = proto_port.partition("/")
    proto = (proto or "tcp").lower()
    if not port or proto not in ("tcp", "udp", "sctp"):
        raise ValueError(spec)
    start, end = _port_range(port)
    host_start, host_end = _port_range(host) if host else (0, 0)
    if host and end - start != host_end - host_start and end != start:
        raise ValueError(spec)
    out = []
    for i in range(end - start + 1):
        if not host:
            published = [0]
        elif start == end:
            published = list(range(host_start, host_end + 1))
        else:
            published = [host_start + i]
        out += [{"Protocol": proto, "TargetPort": start + i, "PublishedPort": pub,
                 "PublishMode": "ingress"} for pub in published]
    return out
