"""Where a manager is: the DEST forms operators already type for ssh.

`prod-m1` (a Host alias from ~/.ssh/config, or a hostname), `user@host`, `user@host:port`,
`host:port`, `ssh://user@host:port`, `ssh://host`, and bracketed IPv6 (`[::1]:2222`,
`user@[fe80::1]:22`). A host must be one DNS can hold: labels of 1 to 63 characters between
single dots, 253 in all (Python's resolver raises on others, deep in the connect).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from swarmdeck.core.errors import ConfigError

FORMS = ("a Host alias or hostname, user@host, user@host:port, host:port, "
         "ssh://user@host:port or [IPv6]:port")
_USER = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?$")
_HOST = re.compile(r"^[A-Za-z0-9_.-]+$")
_SPACE = re.compile(r"\s")


@dataclass(frozen=True)
class Destination:
    """One SSH destination; `host` may be an alias that the ssh config resolves."""

    user: str | None
    host: str
    port: int | None = None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port is not None else ""
        return f"{user}{host}{port}"


def _bad(raw: str, why: str) -> ConfigError:
    return ConfigError(f"destination {raw!r}: {why}; expected {FORMS}")


def host_problem(host: str) -> str | None:
    """Why HOST can never be looked up (a label empty or over 63 characters, a name over
    253), or None. One dot at the end (a rooted name) is allowed."""
    if ":" in host:  # an IPv6 address
        return None
    name = host[:-1] if host.endswith(".") else host
    if len(name) > 253:
        return f"host {_shown(host)} is {len(name)} characters long: a DNS name has at most 253"
    for label in name.split("."):
        if not label:
            return (f"host {_shown(host)} has an empty label (two dots in a row, or a dot at "
                    "the start)")
        if len(label) > 63:
            return (f"host {_shown(host)} has a label of {len(label)} characters "
                    f"({_shown(label, 20)}): DNS allows at most 63 between dots")
    return None


def _shown(text: str, limit: int = 80) -> str:
    return repr(text if len(text) <= limit else text[:limit - 1] + "…")


def parse_destination(text: str, *, dns: bool = True) -> Destination:
    """Parse one DEST; a ConfigError says what is wrong and which forms are accepted.
    DNS=False: a host no DNS can hold is let through (the config reports it as its
    cluster's own problem, not the whole file's)."""
    if not isinstance(text, str):
        raise ConfigError(f"destination {text!r}: not a string; expected {FORMS}")
    raw = text
    if not text.strip():
        raise ConfigError(f"empty destination; expected {FORMS}")
    if _SPACE.search(text):
        raise _bad(raw, "it contains spaces")
    if "://" in text:
        scheme, _, text = text.partition("://")
        if scheme.lower() != "ssh":
            raise _bad(raw, f"only ssh:// is supported, not {scheme}://")
        text = text.removesuffix("/")
        if "/" in text:
            raise _bad(raw, "a path is not allowed after the host")
    user: str | None = None
    if "@" in text:
        user, _, text = text.rpartition("@")
        if not _USER.match(user):
            raise _bad(raw, f"bad user name {user!r}")
    port: int | None = None
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep:
            raise _bad(raw, "unclosed [ around an IPv6 address")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise _bad(raw, f"{host!r} in brackets is not an IPv6 address") from None
        if rest:
            if not rest.startswith(":"):
                raise _bad(raw, "expected :PORT after ]")
            port = _port(rest[1:], raw)
    else:
        host, sep, port_text = text.partition(":")
        if ":" in port_text:
            raise _bad(raw, "write an IPv6 address in brackets, e.g. [fe80::1]:22")
        if sep:
            port = _port(port_text, raw)
        if not host:
            raise _bad(raw, "the host is missing")
        if not _HOST.match(host):
            raise _bad(raw, f"bad host name {host!r}")
        if dns and (problem := host_problem(host)):
            raise _bad(raw, problem)
    return Destination(user, host, port)


def _port(text: str, raw: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise _bad(raw, f"port {text!r} is not a number from 1 to 65535")
    return int(text)
