"""What every change shares: the manager to talk to, the read-only guard, the audit line,
and finding a service or node by the name an operator types."""

from __future__ import annotations

import asyncio
import difflib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from swarmdeck.core.audit import AuditLog
from swarmdeck.core.config import Config
from swarmdeck.core.errors import (
    AuditUnavailable,
    ConnectionLost,
    FollowLost,
    NoLeader,
    NotApplied,
    NotConfirmed,
    NotFound,
    OperationFailed,
    OutcomeUnknown,
    ReadOnly,
    Refused,
    SwarmdeckError,
    UsageError,
    WriteInterrupted,
)
from swarmdeck.core.inventory import ClusterInventory
from swarmdeck.core.transport.docker import DockerEndpoint
from swarmdeck.core.transport.session import ManagerSession

T = TypeVar("T")
REREAD_TIMEOUT = 15.0  # seconds to read back an object whose change was cut off


class ClusterOps:
    """Changes to one cluster through one manager session."""

    def __init__(self, cluster: str, session: ManagerSession, *, audit: AuditLog,
                 read_only: str | None = None, config: Config | None = None,
                 no_leader: str | None = None) -> None:
        """READ_ONLY: why the cluster is read-only (None: it is not). NO_LEADER: why the
        swarm cannot take changes now ("no leader: 1 of 3 managers reachable, ...")."""
        self.cluster = cluster
        self.session = session
        self.audit = audit
        self.read_only = read_only
        self.config = config
        self.no_leader = no_leader
        # one audit line per attempt, with its true result: the attempt (action, target) is
        # known from the first check_writable; with defer_outcome (set by a caller that
        # follows the change and then calls conclude), a change made is recorded once its
        # outcome is known, not as "ok" the moment the manager took it
        self.attempt: tuple[str, str] | None = None
        self.recorded = False
        self.defer_outcome = False
        self._unsettled: list[dict[str, Any]] = []

    @property
    def docker(self) -> DockerEndpoint:
        return self.session.docker

    @property
    def manager(self) -> str:
        return self.session.label

    def record(self, **entry: Any) -> None:
        """One audit line (raises AuditUnavailable when it cannot be written)."""
        self.audit.record(**entry)
        self.recorded = True

    def check_writable(self, action: str, target: str = "") -> None:
        """Refuse (and record the refusal) when the cluster is read-only or has no leader, or
        when the audit log cannot be written (fail closed: no change goes unrecorded)."""
        if self.attempt is None:
            self.attempt = (action, target)
        self.audit.check()
        if self.read_only:
            self.record(cluster=self.cluster, manager=self.manager, action=action,
                        target=target, result="refused", error="read-only")
            raise ReadOnly(f"{action} refused: cluster {self.cluster} is read-only "
                           f"({self.read_only})")
        if self.no_leader:
            self.record(cluster=self.cluster, manager=self.manager, action=action,
                        target=target, result="refused", error=self.no_leader)
            raise Refused(f"{action} refused: cluster {self.cluster}: {self.no_leader}")

    def conclude(self, error: BaseException | None = None) -> None:
        """The attempt is over (ERROR: how it ended, None: well). Changes made and not yet
        recorded get their line with the outcome; an attempt refused or failed before any
        line was written (not confirmed, a refusal of the core's, an error) gets one."""
        if isinstance(error, AuditUnavailable):
            return  # nothing can be recorded; the error itself says so
        outcome, note = _outcome(error)
        for entry in self._unsettled:  # made: only a failed outcome makes them not ok
            made = "failed" if outcome == "failed" else "ok"
            self.record(**entry, result=made, **({"error": note} if note else {}))
        self._unsettled.clear()
        if error is not None and self.attempt is not None and not self.recorded:
            action, target = self.attempt
            self.record(cluster=self.cluster, manager=self.manager, action=action,
                        target=target, result=outcome, error=note)

    async def guarded(self, action: str, target: str, params: Mapping[str, Any],
                      work: Callable[[], Awaitable[T]], *,
                      progress: Callable[[], Mapping[str, Any]] | None = None) -> T:
        """Run WORK unless read-only; either way one audit line says what happened.
        PROGRESS: what WORK had done, added to the parameters when it is interrupted."""
        record = dict(cluster=self.cluster, manager=self.manager, action=action,
                      target=target, params=params)
        self.check_writable(action, target)
        try:
            result = await work()
        except NoLeader as exc:  # the swarm lost its leader meanwhile: it refused the change
            self.record(**record, result="refused", error=str(exc))
            raise
        except OutcomeUnknown as exc:
            self.record(**record, result="unknown", error=str(exc))
            raise
        except WriteInterrupted as exc:  # a write no re-read could judge
            unknown = OutcomeUnknown(
                f"{action} {target}: outcome unknown: {exc}",
                hint=f"check {target} on cluster {self.cluster} (swarmdeck ls) before trying "
                     "again")
            self.record(**record, result="unknown", error=str(unknown))
            raise unknown from None
        except SwarmdeckError as exc:
            self.record(**record, result="error", error=str(exc))
            raise
        except BaseException as exc:  # cancelled, interrupted: still on record
            if progress is not None:
                record["params"] = {**params, **progress()}
            self.record(**record, result="interrupted", error=type(exc).__name__)
            raise
        if self.defer_outcome:
            self._unsettled.append(record)  # recorded by conclude(), with the outcome
        else:
            self.record(**record, result="ok")
        return result

    async def write_versioned(self, write: Callable[[], Awaitable[Any]], *, what: str,
                              path: str, sent_index: int,
                              landed: Callable[[dict[str, Any]], bool]) -> None:
        """Send a change to a versioned object (service, node, swarm) once. If the connection
        breaks meanwhile, the object is read again to say what happened: applied (returns),
        not applied (NotApplied: its version did not move), or unknown (OutcomeUnknown). A
        write is never sent a second time."""
        try:
            await write()
        except WriteInterrupted as exc:
            try:
                data = await asyncio.wait_for(self.docker.get(path), REREAD_TIMEOUT)
            except (SwarmdeckError, TimeoutError) as again:
                raise OutcomeUnknown(
                    f"{what}: outcome unknown: {exc}; reading it back failed too: {again}",
                    hint=f"check {what} on cluster {self.cluster} before trying again "
                         "(swarmdeck ls services / ls nodes)") from None
            index = (data.get("Version") or {}).get("Index")
            if index == sent_index:
                raise NotApplied(f"{what}: not applied: {exc}; the cluster shows it unchanged",
                                 hint="nothing changed: try again") from None
            if landed(data):
                return  # the manager took it before the link broke
            raise OutcomeUnknown(
                f"{what}: outcome unknown: {exc}; it changed since, but not as asked "
                "(another change?)",
                hint=f"check {what} on cluster {self.cluster} before trying again") from None

    # ---- lookups -------------------------------------------------------------------------
    async def service(self, ref: str) -> dict[str, Any]:
        """A service's inspect data, by name, ID or unique ID prefix."""
        try:
            return await self.docker.get(f"/services/{_path_ref(ref, 'service')}")
        except NotFound:
            names = [s["Spec"]["Name"] for s in await self.docker.get("/services")]
            raise UsageError(f"no service {ref!r} in cluster {self.cluster}"
                             f"{did_you_mean(ref, names, 'services')}") from None

    async def node(self, ref: str) -> dict[str, Any]:
        """A node's inspect data, by hostname, ID or unique ID prefix."""
        try:
            return await self.docker.get(f"/nodes/{_path_ref(ref, 'node')}")
        except NotFound:
            names = [n["Description"]["Hostname"] for n in await self.docker.get("/nodes")]
            raise UsageError(f"no node {ref!r} in cluster {self.cluster}"
                             f"{did_you_mean(ref, names, 'nodes')}") from None

    async def swarm(self) -> dict[str, Any]:
        return await self.docker.get("/swarm")


def record_unreached(audit: AuditLog, cluster: str, action: str, target: str,
                     error: BaseException) -> None:
    """An attempted change whose manager could not be reached: on record all the same (the
    CLI and the console both, before any ClusterOps exists)."""
    audit.check()
    audit.record(cluster=cluster, manager=None, action=action, target=target,
                 result="error", error=str(error))


def _outcome(error: BaseException | None) -> tuple[str, str | None]:
    """The audit result (and note) of an attempt that ended with ERROR."""
    if error is None:
        return "ok", None
    if isinstance(error, NotConfirmed):
        return "cancelled", str(error)
    if isinstance(error, FollowLost):
        return "ok", str(error)  # made; only the following was cut
    if isinstance(error, ReadOnly | Refused | UsageError):
        return "refused", str(error)
    if isinstance(error, OperationFailed):
        return "failed", str(error)
    if isinstance(error, SwarmdeckError):
        return "error", str(error)
    return "interrupted", type(error).__name__


def _path_ref(ref: str, what: str) -> str:
    if not ref or any(c in ref for c in "/?#% \t\n") or ref in (".", ".."):
        raise UsageError(f"{ref!r} is not a {what} name or ID")
    return ref


def did_you_mean(word: str, choices: list[str], kind: str | None = None) -> str:
    """": did you mean 'x'?" for a close choice; with KIND (e.g. "services"), when none is
    close, what there is instead: " (services there: a, b, c)"."""
    match = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if match:
        return f": did you mean {match[0]!r}?"
    if kind is None:
        return ""
    names = sorted(set(choices))
    shown = ", ".join(names[:8]) + (f", … ({len(names)} in all)" if len(names) > 8 else "")
    return f" ({kind} there: {shown or 'none'})"


def read_only_reason(config: Config, cluster: str, flag: bool) -> str | None:
    if flag:
        return "--read-only"
    if config.cluster(cluster).read_only:
        return f"read_only = true for [clusters.{cluster}] in {config.path}"
    return None


async def ops_on(config: Config, cluster: str, inventory: ClusterInventory, *,
                 read_only_flag: bool = False, audit: AuditLog | None = None) -> ClusterOps:
    """The cluster's ops on INVENTORY's session (connecting to its first manager that
    answers). `core.fleet.open_ops` gives the inventory: ops build on the fleet, not the
    reverse."""
    read_only = read_only_reason(config, cluster, read_only_flag)
    for attempt in (1, 2):
        session = await inventory.connect()
        try:
            no_leader = None if read_only else await inventory.leaderless(session)
            break
        except ConnectionLost:  # the session was dropped under us (failover): nothing was
            if attempt == 2:    # changed yet, so once more through the next manager
                raise
    return ClusterOps(cluster, session, audit=audit or AuditLog.default(),
                      read_only=read_only, config=config, no_leader=no_leader)
