"""A host key a server offered that known_hosts did not trust: what an operator checks
before trusting it (or, for a CHANGED key, what to remove once verified). Plain data, so
that errors can carry it without importing the transport."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field


@dataclass(frozen=True)
class OfferedKey:
    """A host key a server offered that known_hosts did not trust."""

    name: str  # how known_hosts names the host: HostKeyAlias, host, or [host]:port
    host: str  # where the connection went once the ssh config was applied
    port: int
    key_type: str  # e.g. ssh-ed25519
    fingerprint: str  # SHA256:...
    public_key: str  # "TYPE BASE64", as it appears in a known_hosts line
    known_hosts: str  # the file the connection read first: where a trusted key goes
    destination: str = ""  # as the operator named the host (an ssh alias, user@host...)
    # a changed key: the fingerprints known_hosts holds for the name, and the file holding them
    known_fingerprints: tuple[str, ...] = field(default=())
    known_in: str | None = None

    @property
    def changed(self) -> bool:
        return bool(self.known_fingerprints)

    @property
    def remove_command(self) -> str:
        """The command that deletes the old line (for a changed key)."""
        return (f"ssh-keygen -R {shlex.quote(self.name)} -f "
                f"{shlex.quote(self.known_in or self.known_hosts)}")

    def describe(self) -> list[str]:
        """What an operator checks before trusting, one fact per line."""
        lines = [f"host: {self.destination or self.host}",
                 f"address: {self.host} port {self.port}",
                 f"known_hosts name: {self.name}",
                 f"key type: {self.key_type}",
                 f"fingerprint: {self.fingerprint}"]
        if self.changed:
            lines.insert(4, "known fingerprint: " + ", ".join(self.known_fingerprints))
            lines.append(f"known_hosts: {self.known_in or self.known_hosts}")
        else:
            lines.append(f"would be added to: {self.known_hosts}")
        return lines
