"""Host keys the way OpenSSH keeps them: what a server offered that known_hosts did not
trust, and trusting it, which is what answering `yes` at OpenSSH's prompt does: one line
appended to the known_hosts file the connection read, under the name OpenSSH looks up.

Only an UNKNOWN key can be trusted. A key that differs from the one known_hosts holds is
never replaced here: that is for the operator to decide after checking out of band.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncssh

from swarmdeck.core.audit import AuditLog
from swarmdeck.core.errors import HostKeyError, NoManagerReachable, Refused, SwarmdeckError
from swarmdeck.core.host_key_offer import OfferedKey


class ChangedKeys:
    """Every CHANGED host key this process met, whatever path met it: a manager tried after
    another, a node's own link, a quorum probe. A command that found another way in must
    still say it (a changed key is the one warning that is never quiet): the CLI prints them
    when it ends, the console shows them as they come. Keyed by the known_hosts name."""

    def __init__(self) -> None:
        self.seen: dict[str, HostKeyError] = {}
        self._listeners: list[Callable[[HostKeyError], None]] = []

    def add(self, error: HostKeyError) -> None:
        self.seen[error.host] = error
        for listener in list(self._listeners):
            listener(error)

    def clear(self) -> None:
        self.seen.clear()

    def subscribe(self, listener: Callable[[HostKeyError], None]) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def said(self, error: BaseException) -> None:
        """ERROR (or the manager errors it holds) was shown already: a changed key it
        quotes need not be said again at the end."""
        for inner in getattr(error, "errors", None) or [error]:
            host = getattr(inner, "host", None)
            if host is not None:  # errors without a host quote no key
                self.seen.pop(host, None)

    def warnings(self) -> list[str]:
        """One line per host (the error says what to do)."""
        return [f"WARNING: {e}" for e in self.seen.values()]


CHANGED_KEYS = ChangedKeys()


def host_key_problem(error: BaseException | None) -> HostKeyError | None:
    """The host key error behind a cluster's error (one manager's, or one of several): an
    unknown key that can be offered for trust first, else a changed one."""
    found = error.errors if isinstance(error, NoManagerReachable) else [error]
    keyed = [e for e in found if isinstance(e, HostKeyError) and e.key is not None]
    return next((e for e in keyed if not e.changed), keyed[0] if keyed else None)


def known_hosts_name(host: str, port: int, alias: str | None) -> str:
    """The name OpenSSH files a host key under: the HostKeyAlias as is, else the host, in
    brackets with the port when the port is not 22."""
    if alias:
        return alias
    return host if port == 22 else f"[{host}]:{port}"


def offered_key(key: asyncssh.SSHKey, *, name: str, host: str, port: int,
                known_hosts: tuple[str, ...], address: str | None = None,
                destination: str = "") -> OfferedKey:
    """The offered KEY, with what known_hosts already holds for NAME or the peer's ADDRESS
    (a changed key: asyncssh trusts keys filed under either)."""
    known: list[str] = []
    known_in: str | None = None
    for path in known_hosts:
        for trusted in _trusted(Path(path).expanduser(), name, address):
            known.append(trusted.get_fingerprint("sha256"))
            known_in = known_in or path
    key_type, blob = key.export_public_key("openssh").decode().split()[:2]
    return OfferedKey(name=name, host=host, port=port, key_type=key_type,
                      fingerprint=key.get_fingerprint("sha256"),
                      public_key=f"{key_type} {blob}", known_hosts=known_hosts[0],
                      destination=destination,
                      known_fingerprints=tuple(dict.fromkeys(known)), known_in=known_in)


def _trusted(path: Path, name: str, address: str | None = None) -> list[asyncssh.SSHKey]:
    """The keys PATH trusts for NAME (a name in the [host]:port form matches as written,
    and falls back to the bare host as asyncssh does)."""
    if not path.is_file():
        return []
    host, port = name, None
    if name.startswith("[") and "]:" in name:
        host, _, port_text = name[1:].partition("]:")
        port = int(port_text) if port_text.isdigit() else None
    try:
        # "" not None: asyncssh hashes the address for hashed entries
        return list(asyncssh.match_known_hosts(str(path), host, address or "", port)[0])
    except (OSError, ValueError):
        return []


def trust(key: OfferedKey, *, cluster: str = "-", manager: str | None = None,
          audit: AuditLog | None = None) -> str:
    """Append KEY to its known_hosts file (created 0600, its directory 0700, when missing;
    hashed when the file's entries are hashed) and record it in the audit log. Returns what
    was done. A key that differs from a known one is refused, never written."""
    audit = audit or AuditLog.default()
    path = Path(key.known_hosts).expanduser()
    record: dict[str, Any] = dict(
        cluster=cluster, manager=manager, action="trust host key", target=key.name,
        params={"key_type": key.key_type, "fingerprint": key.fingerprint,
                "known_hosts": str(path)})
    offered = asyncssh.import_public_key(key.public_key)
    known = _trusted(path, key.name)
    if offered in known:
        return f"the {key.key_type} key of {key.name} ({key.fingerprint}) is already trusted " \
               f"in {path}"
    if known or key.changed:
        error = Refused(
            f"HOST KEY CHANGED for {key.name}: {path} holds another key for it; the new key "
            f"{key.fingerprint} was not trusted (this may be an attack)",
            hint=f"verify it with the host's owner out of band, then remove the old line "
                 f"with `{key.remove_command}`")
        audit.record(**record, result="refused", error=error.message)
        raise error

    def failed(why: str, hint: str | None = None) -> SwarmdeckError:
        error = SwarmdeckError(f"cannot add the host key of {key.name} to {path}: {why}",
                               hint=hint)
        audit.record(**record, result="error", error=error.message)
        return error

    if os.path.exists(path) and not os.path.isfile(path):  # /dev/null keeps nothing
        raise failed(f"{path} is not a regular file: the key was not trusted",
                     hint="set UserKnownHostsFile in your ssh config to a file (not "
                          "/dev/null) for this host, then trust it again")
    try:
        _append(path, f"{_entry_name(path, key.name)} {key.public_key}\n")
    except OSError as exc:
        raise failed(f"{exc.strerror or exc}") from None
    if offered not in _trusted(path, key.name):  # read back as a connection will read it
        raise failed(f"the key is not in {path} when read back: not trusted",
                     hint="check what else writes to that file")
    audit.record(**record, result="ok")
    return f"trusted the {key.key_type} key of {key.name} ({key.fingerprint}): added to {path}"


def _entry_name(path: Path, name: str) -> str:
    """NAME as the file writes names: hashed (|1|salt|hmac) when every entry there is."""
    if not _hashed(path):
        return name
    salt = os.urandom(20)
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"


def _hashed(path: Path) -> bool:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return False
    names = []
    for line in lines:
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if fields[0].startswith("@") and len(fields) > 1:  # @cert-authority, @revoked
            fields = fields[1:]
        names.append(fields[0])
    return bool(names) and all(n.startswith("|1|") for n in names)


def _append(path: Path, line: str) -> None:
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = "\n" + line  # a last line without its newline stays whole
        os.write(fd, line.encode())
    finally:
        os.close(fd)
