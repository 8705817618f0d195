"""One SSH connection per manager, configured as OpenSSH would configure it.

asyncssh reads ~/.ssh/config (Include, Host patterns, HostName, Port, User, IdentityFile,
ProxyJump, HostKeyAlias, UserKnownHostsFile) and uses ssh-agent keys. This module adds what
an operator needs on failure: one line saying what went wrong, on which host, and what to do,
and for host keys the SHA256 fingerprint of the key that was offered.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import weakref
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh
from asyncssh.encryption import get_default_encryption_algs

from swarmdeck.core.destinations import Destination, host_problem
from swarmdeck.core.errors import (
    AuthenticationFailed,
    ConfigError,
    HostKeyError,
    HostUnreachable,
    TransportError,
)
from swarmdeck.core.transport import (
    parse_once,  # noqa: F401 - ssh config and known_hosts parsed once
    pubkey,  # noqa: F401 - a login in one round trip
)
from swarmdeck.core.transport.host_keys import CHANGED_KEYS, known_hosts_name, offered_key


@dataclass(frozen=True)
class SSHSettings:
    # OpenSSH client config files to read; None means what OpenSSH reads (~/.ssh/config)
    config_files: tuple[str, ...] | None = None
    connect_timeout: float = 10.0
    keepalive_interval: float = 15.0
    keepalive_count_max: int = 2

    @classmethod
    def chosen(cls, cluster_files: Sequence[str] | None, common_files: Sequence[str] | None,
               **timing: Any) -> SSHSettings:
        """A cluster's settings: its own ssh config files, else the common ones ([ssh]);
        TIMING: connect_timeout, keepalive_interval, keepalive_count_max."""
        files = cluster_files or common_files
        return cls(config_files=tuple(str(p) for p in files) if files else None, **timing)


class _KeyProbe(asyncssh.SSHClient):
    """Remembers the host key the server offered when known_hosts did not trust it."""

    def __init__(self) -> None:
        self.offered: asyncssh.SSHKey | None = None
        self.addr = ""
        self.port = 22

    def connection_made(self, conn: asyncssh.SSHClientConnection) -> None:
        pubkey.publickey_first(conn)

    def validate_host_public_key(self, host: str, addr: str, port: int,
                                 key: asyncssh.SSHKey) -> bool:
        self.offered, self.addr, self.port = key, addr, port
        return False


# AES-GCM first: one AEAD call per packet where chacha20-poly1305 (asyncssh's first choice)
# makes three, and the streams carry many small packets (a log line, a metrics sample):
# reading them costs about half the CPU. A Ciphers line in the ssh config still decides.
PREFERRED_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com",
                     "chacha20-poly1305@openssh.com")


def _cipher_order(configured: bool) -> dict[str, list[str]]:
    if configured:
        return {}
    offered = [a.decode() for a in get_default_encryption_algs()]
    first = [a for a in PREFERRED_CIPHERS if a in offered]
    return {"encryption_algs": first + [a for a in offered if a not in first]}


# Handshakes in flight, bounded: an sshd drops new connections while too many are still
# unauthenticated (OpenSSH's MaxStartups, 10:30:100 by default: past 10 at random), so that
# a fleet of clusters behind one host, dialled all at once, lost dozens of them. Below the
# default's first threshold per host, and a ceiling overall (a jump host's own limits).
PER_HOST = 8
OVERALL = 64
LOST_RETRIES = 2  # a handshake dropped anyway (a stricter MaxStartups) is dialled again


@dataclass
class _Gates:
    overall: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(OVERALL))
    hosts: dict[tuple[str, int], asyncio.Semaphore] = field(default_factory=dict)


_GATES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Gates] = \
    weakref.WeakKeyDictionary()


@contextlib.asynccontextmanager
async def _handshake_slot(host: str, port: int) -> AsyncIterator[None]:
    gates = _GATES.setdefault(asyncio.get_running_loop(), _Gates())
    per_host = gates.hosts.setdefault((host, port), asyncio.Semaphore(PER_HOST))
    async with per_host, gates.overall:
        yield


@dataclass(frozen=True)
class Resolved:
    """Where a destination really goes once the ssh config has been applied."""

    alias: str
    host: str
    port: int
    user: str
    known_hosts: tuple[str, ...]
    host_key_alias: str | None
    ciphers_configured: bool = False  # a Ciphers line in the ssh config changed the choice
    proxied: bool = False  # a ProxyJump or ProxyCommand stands between: no plain TCP dial

    @property
    def label(self) -> str:
        target = f"{self.user}@{self.host}:{self.port}"
        return target if self.alias == self.host else f"{self.alias} ({target})"


async def resolve(dest: Destination, settings: SSHSettings) -> Resolved:
    try:
        options = await asyncssh.SSHClientConnectionOptions.construct(
            config=list(settings.config_files) if settings.config_files is not None else (),
            host=dest.host,
            port=dest.port if dest.port is not None else (),
            username=dest.user if dest.user is not None else (),
        )
    except OSError as exc:  # an ssh config file (or one it includes) cannot be read
        where = exc.filename or "an ssh config file"
        raise ConfigError(f"ssh to {dest.host}: cannot read {where}: "
                          f"{exc.strerror or exc}",
                          hint="fix the [ssh] config list in swarmdeck's config, or the "
                               "file's permissions") from None
    known = options.known_hosts
    if not known:  # None, () or [] (no UserKnownHostsFile): what asyncssh reads then
        default = Path("~/.ssh/known_hosts").expanduser()
        files: tuple[str, ...] = (str(default),)
    elif isinstance(known, str):
        files = (known,)
    else:
        files = tuple(str(k) for k in known)
    return Resolved(
        alias=dest.host, host=options.host, port=options.port, user=options.username,
        known_hosts=files, host_key_alias=options.host_key_alias,
        ciphers_configured=list(options.encryption_algs)
        != list(get_default_encryption_algs()),
        proxied=bool(options.tunnel or options.proxy_command),
    )


Connected = tuple[asyncssh.SSHClientConnection, Resolved]

# Connections dialled ahead (dial_ahead), by destination and settings, not yet taken
_AHEAD: dict[tuple[Destination, SSHSettings], asyncio.Task[Connected]] = {}


def dial_ahead(dest: Destination, settings: SSHSettings) -> None:
    """Start connecting to DEST now, in the running loop: the next connect() with the same
    arguments (and no tunnel) takes this connection, or its error, instead of dialling
    again. A one-shot command dials so before it has validated its config and imported its
    models (core.dial_ahead): the handshake's round trips overlap that work."""
    key = (dest, settings)
    if key not in _AHEAD:
        _AHEAD[key] = asyncio.ensure_future(_dial(dest, settings))


async def drop_dialled() -> None:
    """Close the connections dialled ahead that no connect() took. What went wrong with
    them is not said: nothing asked for them (a changed host key among it is forgotten
    too; the command that needs that host meets it again)."""
    dialled = list(_AHEAD.values())
    _AHEAD.clear()
    for task in dialled:
        task.cancel()
    for result in await asyncio.gather(*dialled, return_exceptions=True):
        if isinstance(result, BaseException):
            CHANGED_KEYS.said(result)
        else:
            conn, _ = result
            conn.close()
            with contextlib.suppress(asyncssh.Error, OSError):
                await conn.wait_closed()


async def connect(dest: Destination, settings: SSHSettings,
                  tunnel: asyncssh.SSHClientConnection | None = None,
                  sock: socket.socket | None = None) -> Connected:
    """TUNNEL: an open connection to hop through (a node reached via its manager). SOCK: a
    TCP connection to the host already made (core.task_locate dials before asyncssh is
    even imported), used for the first attempt."""
    ahead = _AHEAD.pop((dest, settings), None) if tunnel is None else None
    if ahead is not None and ahead.get_loop() is asyncio.get_running_loop():
        if sock is not None:
            sock.close()
        return await ahead
    if ahead is not None:  # left by another loop (a test's): not usable here
        ahead.cancel()
    return await _dial(dest, settings, tunnel, sock)


async def _dial(dest: Destination, settings: SSHSettings,
                tunnel: asyncssh.SSHClientConnection | None = None,
                sock: socket.socket | None = None) -> Connected:
    try:
        resolved = await resolve(dest, settings)
    except UnicodeError as exc:
        raise _bad_name(dest, dest.host, exc) from None
    # a host no DNS can hold (`a..b`, a label over 63 characters, perhaps from HostName):
    # Python's resolver would raise a UnicodeError from inside asyncio
    problem = host_problem(resolved.host)
    if problem:
        raise HostUnreachable(
            f"ssh to {dest.host}: cannot resolve it: {problem}",
            hint="fix HostName for it in your ssh config" if resolved.host != dest.host
            else "fix the host name")
    probe = _KeyProbe()
    extra: dict = {"tunnel": tunnel} if tunnel is not None else {}
    if sock is not None:
        extra["sock"] = sock

    async def handshake() -> asyncssh.SSHClientConnection:
        for attempt in range(LOST_RETRIES + 1):
            try:
                async with _handshake_slot(resolved.host, resolved.port):
                    return await asyncssh.connect(
                        dest.host,
                        port=dest.port if dest.port is not None else (),
                        username=dest.user if dest.user is not None else (),
                        config=list(settings.config_files)
                        if settings.config_files is not None else (),
                        client_factory=lambda: probe,
                        connect_timeout=settings.connect_timeout,
                        keepalive_interval=settings.keepalive_interval,
                        keepalive_count_max=settings.keepalive_count_max,
                        **_cipher_order(resolved.ciphers_configured),
                        **extra,
                    )
            except asyncssh.ConnectionLost:
                if attempt == LOST_RETRIES:
                    raise
            extra.pop("sock", None)  # spent: a new attempt dials its own
            await asyncio.sleep(random.uniform(0.2, 0.6) * (attempt + 1))
        raise AssertionError("unreachable")

    try:
        conn = await handshake()
    except asyncssh.HostKeyNotVerifiable:
        raise _host_key_error(dest, resolved, probe) from None
    except asyncssh.PermissionDenied:
        raise AuthenticationFailed(
            f"ssh to {resolved.label}: authentication failed, no key was accepted",
            hint=f"check the user ({resolved.user}), IdentityFile in your ssh config "
                 "or the keys in ssh-agent",
        ) from None
    except socket.gaierror:
        raise HostUnreachable(
            f"ssh to {dest.host}: cannot resolve '{resolved.host}'",
            hint="it is neither a Host in your ssh config nor a DNS name",
        ) from None
    except ConnectionRefusedError:
        raise HostUnreachable(
            f"ssh to {resolved.label}: connection refused",
            hint=f"is sshd running and listening on port {resolved.port}?",
        ) from None
    except TimeoutError:
        raise HostUnreachable(
            f"ssh to {resolved.label}: no answer within {settings.connect_timeout:g}s",
            hint="check the address, the port and the network path",
        ) from None
    except OSError as exc:
        raise HostUnreachable(
            f"ssh to {resolved.label}: {exc.strerror or exc}",
        ) from None
    except asyncssh.Error as exc:
        raise TransportError(f"ssh to {resolved.label}: {exc.reason}") from None
    except UnicodeError as exc:  # the idna codec, on a name that got past the checks
        raise _bad_name(dest, resolved.host, exc) from None
    return conn, resolved


def _bad_name(dest: Destination, host: str, exc: UnicodeError) -> HostUnreachable:
    return HostUnreachable(f"ssh to {dest.host}: cannot resolve {host!r}: it is not a valid "
                           f"host name ({exc})", hint="fix the host name")


def _host_key_error(dest: Destination, resolved: Resolved, probe: _KeyProbe) -> HostKeyError:
    name = known_hosts_name(resolved.host, resolved.port, resolved.host_key_alias)
    files = ", ".join(resolved.known_hosts)
    where = f"{resolved.label}"
    if probe.offered is None:  # refused before any key was offered (no common algorithm)
        return HostKeyError(f"host key of {where} not verifiable against known_hosts ({files})",
                            host=name, fingerprint=None, changed=False)
    key = offered_key(probe.offered, name=name, host=resolved.host, port=resolved.port,
                      known_hosts=resolved.known_hosts, address=probe.addr or None,
                      destination=str(dest))
    if key.changed:
        changed = HostKeyError(
            f"HOST KEY CHANGED for {where}: the server offered {key.fingerprint}, but "
            f"{key.known_in} holds {', '.join(key.known_fingerprints)} for {name}. This may "
            "be an attack (someone in the middle) or a reinstalled host; refusing to connect",
            host=name, fingerprint=key.fingerprint, changed=True, key=key,
            hint="verify the new key with the host's owner out of band; only then remove the "
                 f"old line with `{key.remove_command}`",
        )
        CHANGED_KEYS.add(changed)
        return changed
    return HostKeyError(
        f"unknown host key for {where}: {key.key_type} {key.fingerprint} is not in "
        f"known_hosts ({files}); refusing to connect",
        host=name, fingerprint=key.fingerprint, changed=False, key=key,
        hint=f"check the fingerprint out of band, then trust it with `swarmdeck trust {dest}` "
             f"or `ssh-keyscan -p {resolved.port} {resolved.host} >> {resolved.known_hosts[0]}`",
    )
