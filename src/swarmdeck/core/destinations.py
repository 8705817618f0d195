"""Where a manager is: the DEST forms operators already type for ssh.

`prod-m1` (a Host alias from ~/.ssh/config, or a hostname), `user@host`, `user@host:port`,
`host:port`, `ssh://user@host:port`, and bracketed IPv6 (`[::1]:2222`, `user@[fe80::1]`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from swarmdeck.core.errors import ConfigError

FORMS = "a Host alias, user@host, user@host:port or ssh://user@host:port"
_USER = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?$")
_HOST = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class Destination:
    user: str | None
    host: str
    port: int | None = None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port is not None else ""
        return f"{user}{host}{port}"


def parse_destination(text: str) -> Destination:
    """Parse one DEST; a ConfigError says what is wrong and which forms are accepted."""
    raw = text
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"empty destination: expected {FORMS}")
    if any(c.isspace() for c in text):
        raise ConfigError(f"destination {raw!r} contains spaces: expected {FORMS}")
    if "://" in text:
        scheme, _, text = text.partition("://")
        if scheme != "ssh":
            raise ConfigError(f"destination {raw!r}: only ssh:// is supported, not {scheme}://")
        text = text.rstrip("/")
        if "/" in text:
            raise ConfigError(f"destination {raw!r}: a path is not allowed: expected {FORMS}")
    user: str | None = None
    if "@" in text:
        user, _, text = text.rpartition("@")
        if not user or not _USER.match(user):
            raise ConfigError(f"destination {raw!r}: bad user name {user!r}")
    port: int | None = None
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not host:
            raise ConfigError(f"destination {raw!r}: unclosed [ in an IPv6 address")
        if rest:
            if not rest.startswith(":"):
                raise ConfigError(f"destination {raw!r}: expected :PORT after ]")
            port = _port(rest[1:], raw)
    else:
        host, sep, port_text = text.partition(":")
        if ":" in port_text:
            raise ConfigError(f"destination {raw!r}: write an IPv6 address in brackets, "
                              "e.g. [fe80::1]:22")
        if sep:
            port = _port(port_text, raw)
        if not host or not _HOST.match(host):
            raise ConfigError(f"destination {raw!r}: bad host name {host!r}: expected {FORMS}")
    return Destination(user, host, port)


def _port(text: str, raw: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ConfigError(f"destination {raw!r}: port {text!r} must be a number from 1 to 65535")
    return int(text)
