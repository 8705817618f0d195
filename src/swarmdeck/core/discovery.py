"""Finding the swarms this machine can already reach, for `swarmdeck init` and the check
`cluster add` makes: docker contexts over ssh:// and the Host entries of the ssh config are
asked, in parallel (bounded), whether they answer as a swarm manager; the managers of one
swarm (the same cluster ID) make one cluster."""

from __future__ import annotations

import asyncio
import glob
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from swarmdeck.core.config import NAME_PATTERN, docker_contexts, parse_config
from swarmdeck.core.config_edit import ClusterEntry, Edit
from swarmdeck.core.destinations import Destination, parse_destination
from swarmdeck.core.errors import ConfigError, SwarmdeckError, TransportError, UsageError
from swarmdeck.core.models import SwarmInfo

if TYPE_CHECKING:
    from swarmdeck.core.transport.ssh import SSHSettings  # asyncssh: imported when dialling

PROBE_TIMEOUT = 5.0  # seconds one candidate gets to answer, connection and all
CONCURRENCY = 8  # candidates asked at once (an sshd drops handshakes past 10 by default)
INCLUDE_DEPTH = 8  # nested Include lines followed (OpenSSH stops at 16)
_WILDCARD = re.compile(r"[*?!]")


@dataclass(frozen=True)
class Candidate:
    destination: Destination
    source: str  # where it was found, said to the user
    context: str | None = None  # the docker context's name
    alias: str | None = None  # the ssh config's Host

    @property
    def label(self) -> str:
        return self.context or self.alias or str(self.destination)


@dataclass
class Probe:
    candidate: Candidate
    info: SwarmInfo | None = None
    error: SwarmdeckError | None = None


@dataclass
class FoundSwarm:
    """The managers found of one swarm, and the cluster entry that reaches them."""

    name: str
    entry: ClusterEntry
    info: SwarmInfo
    found_through: list[str] = field(default_factory=list)


# ---- candidates ----------------------------------------------------------------------------

def ssh_hosts(config_files: Sequence[str] | None = None,
              env: Mapping[str, str] | None = None) -> list[str]:
    """The Host names of the ssh config (those without a pattern), Include followed;
    CONFIG_FILES None: ~/.ssh/config. Unreadable files are skipped."""
    env = os.environ if env is None else env
    home = Path(env.get("HOME") or Path.home())
    files = list(config_files) if config_files is not None else [str(home / ".ssh/config")]
    found: dict[str, None] = {}
    for name in files:
        _hosts_in(Path(name).expanduser(), home, found, INCLUDE_DEPTH)
    return list(found)


def _hosts_in(path: Path, home: Path, found: dict[str, None], depth: int) -> None:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return
    for line in text.splitlines():
        words = line.strip().replace("=", " ", 1).split()
        if not words or words[0].startswith("#"):
            continue
        keyword = words[0].lower()
        if keyword == "host":
            for word in words[1:]:
                word = word.strip('"')
                if word and not _WILDCARD.search(word):
                    found.setdefault(word, None)
        elif keyword == "include" and depth > 0:
            for pattern in words[1:]:
                pattern = os.path.expanduser(pattern.strip('"'))
                if not os.path.isabs(pattern):  # relative: to ~/.ssh (user config files)
                    pattern = str(home / ".ssh" / pattern)
                for included in sorted(glob.glob(pattern)):
                    _hosts_in(Path(included), home, found, depth - 1)


def candidates(ssh_config: Sequence[str] | None = None,
               env: Mapping[str, str] | None = None) -> list[Candidate]:
    """Docker contexts with an ssh:// endpoint, then the ssh config's hosts."""
    found = [Candidate(c.ssh_destination, f"docker context {c.name} ({c.host})",
                       context=c.name)
             for c in docker_contexts(env) if c.ssh_destination is not None]
    for host in ssh_hosts(ssh_config, env):
        try:
            dest = parse_destination(host)
        except ConfigError:
            continue
        found.append(Candidate(dest, f"ssh config Host {host}", alias=host))
    return found


# ---- asking them ---------------------------------------------------------------------------

async def probe(dest: Destination, settings: SSHSettings, *, socket_path: str | None = None,
                timeout: float = PROBE_TIMEOUT) -> SwarmInfo:
    """What DEST's engine says of its swarm, over one connection, within TIMEOUT seconds;
    raises when it does not answer as a swarm manager (NotAManager says worker or no swarm)."""
    from swarmdeck.core.failover import check_manager
    from swarmdeck.core.transport.docker import DEFAULT_SOCKET
    from swarmdeck.core.transport.session import ManagerSession

    session = None
    try:
        async with asyncio.timeout(timeout):
            session = await ManagerSession.open(dest, settings, socket_path or DEFAULT_SOCKET)
            info = SwarmInfo.from_api(await session.docker.get("/info"))
    except TimeoutError:
        raise TransportError(f"{dest}: no answer as a swarm manager within {timeout:g}s",
                             hint="check that it is reachable and its swarm has a leader")\
            from None
    finally:
        if session is not None:
            await session.close(abort=True)
    check_manager(session.label if session else str(dest), info)
    return info


async def probe_all(found: Sequence[Candidate], settings: SSHSettings, *,
                    timeout: float = PROBE_TIMEOUT, concurrency: int = CONCURRENCY
                    ) -> list[Probe]:
    """Every candidate asked, CONCURRENCY at a time; in the candidates' order."""
    gate = asyncio.Semaphore(concurrency)

    async def one(candidate: Candidate) -> Probe:
        async with gate:
            try:
                return Probe(candidate, info=await probe(candidate.destination, settings,
                                                         timeout=timeout))
            except SwarmdeckError as exc:
                return Probe(candidate, error=exc)

    return list(await asyncio.gather(*(one(c) for c in found)))


def swarms(probes: Sequence[Probe], taken: Sequence[str] = ()) -> list[FoundSwarm]:
    """The managers that answered, one cluster per swarm: reached through its ssh Hosts
    (every one found, for failover) when there are some, else its docker context. Named
    after the context, else after the Host less its -m1 (prod-m1: prod)."""
    groups: dict[str, list[Probe]] = {}
    for p in probes:
        if p.info is not None:
            groups.setdefault(p.info.cluster_id or p.candidate.label, []).append(p)
    names = set(taken)
    out = []
    for group in groups.values():
        contexts = [p.candidate.context for p in group if p.candidate.context]
        aliases = [p.candidate.alias for p in group if p.candidate.alias]
        entry = (ClusterEntry(managers=tuple(aliases)) if aliases
                 else ClusterEntry(context=contexts[0]))
        name = _free_name(contexts[0] if contexts else _base(aliases[0]), names)
        names.add(name)
        out.append(FoundSwarm(name, entry, group[0].info or SwarmInfo(),
                              [p.candidate.source for p in group]))
    return out


def _base(alias: str) -> str:
    base = re.sub(r"[-_.]?(m|mgr|manager|master)?\d*$", "", alias) or alias
    base = re.sub(r"[^A-Za-z0-9_.-]", "-", base).lstrip("_.-")
    return base or "cluster"


def _free_name(name: str, taken: set[str]) -> str:
    if not re.match(NAME_PATTERN, name):
        name = re.sub(r"[^A-Za-z0-9_.-]", "-", name).lstrip("_.-") or "cluster"
    chosen, n = name, 2
    while chosen in taken:
        chosen, n = f"{name}-{n}", n + 1
    return chosen


def swarm_text(info: SwarmInfo) -> str:
    return (f"manager of swarm {info.cluster_id[:12] or '?'} ({info.nodes} node"
            f"{'s' if info.nodes != 1 else ''}, {info.managers} manager"
            f"{'s' if info.managers != 1 else ''})")


async def answering_manager(edit: Edit, timeout: float = PROBE_TIMEOUT) -> str:
    """Before EDIT adds a cluster: the first of its managers that answers as a swarm manager
    (tried one at a time), said in one line; UsageError when none does."""
    from swarmdeck.core.fleet import ssh_settings

    config = parse_config(edit.after, edit.path)
    name = edit.clusters[0]
    cluster = config.clusters[name]
    settings = ssh_settings(config, name)
    errors: list[str] = []
    for dest in cluster.manager_destinations():
        try:
            info = await probe(dest, settings, socket_path=cluster.docker_socket,
                               timeout=timeout)
        except SwarmdeckError as exc:
            errors.append(str(exc))
            continue
        return f"{dest} answers: {swarm_text(info)}"
    raise UsageError(f"cluster {name} not added: no manager of it answers as a swarm "
                     f"manager: {'; '.join(errors)}",
                     hint="fix the destination, or pass --no-check to write it anyway")
