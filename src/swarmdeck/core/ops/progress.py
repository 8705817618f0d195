"""Following a change until the cluster has converged, failed, or rolled back.

Tasks have no events, so while a change is in flight the services and their tasks are read
once a second: one request for the services' tasks together, one per service inspected.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from swarmdeck.core.errors import ConnectionLost, FollowLost, NotFound, OperationFailed
from swarmdeck.core.models import Task
from swarmdeck.core.transport.docker import DockerEndpoint

CONVERGED, FAILED, ROLLED_BACK, REMOVED = "converged", "failed", "rolled back", "removed"
# settled with fewer replicas running than wanted, as the change's plan said it would be (a
# drain that leaves no room for some): the rest stay pending
SHORT = "settled below the desired count"
# a change expected to start a rolling update that has not started one after this long
# (e.g. only service labels changed) is judged by its tasks alone
UPDATE_GRACE = 5.0
FOLLOW_RETRIES = (0.5, 1.0, 2.0)  # seconds between reads of a change's progress that broke


@dataclass
class ServiceProgress:
    service_id: str
    name: str
    running: int = 0
    desired: int = 0
    update_state: str | None = None
    update_message: str = ""
    error: str = ""  # the newest failing task's error, while there is one
    outcome: str | None = None  # None while in flight
    left_behind: int = 0  # a drain: its tasks still meant to run on the drained node

    def line(self) -> str:
        text = f"{self.name}: {self.running}/{self.desired} running"
        if self.left_behind:
            text += f", {self.left_behind} still on the drained node"
        if self.update_state:
            text += f", update {self.update_state}"
        if self.outcome:
            text += f" -> {self.outcome}"
        if self.error and self.outcome != CONVERGED:
            text += f" (task error: {self.error})"
        if self.update_message and self.outcome in (FAILED, ROLLED_BACK):
            text += f" ({self.update_message})"
        return text


@dataclass
class Baseline:
    """What a service looked like before the change, so an old update status is not taken
    for the outcome of this one."""

    update_started: str | None = None
    since: float = field(default_factory=time.time)
    # the change starts a rolling update (image, restart, rollback): converged only once
    # that update has ended, not while the old tasks still run
    expect_update: bool = False
    # a drain: settled only once no task of the service is meant to run on this node
    leaving_node: str | None = None
    # the most replicas that can run after the change (a drain leaving too few nodes);
    # None: all of them
    can_run: int | None = None


async def baseline(docker: DockerEndpoint, service_id: str, *,
                   expect_update: bool = False) -> Baseline:
    data = await docker.get(f"/services/{service_id}")
    return Baseline((data.get("UpdateStatus") or {}).get("StartedAt"),
                    expect_update=expect_update)


async def watch(docker: DockerEndpoint, services: dict[str, Baseline], *,
                timeout: float = 300, interval: float = 1.0
                ) -> AsyncIterator[list[ServiceProgress]]:
    """Yield the progress of SERVICES (id -> baseline) each round until every one has an
    outcome; raise OperationFailed after TIMEOUT seconds."""
    deadline = time.monotonic() + timeout
    ids = list(services)
    while True:
        rounds = await _read_round(docker, ids)
        tasks = [Task.from_api(t) for t in rounds[0]]
        progress = [_progress(sid, data, services[sid], tasks)
                    for sid, data in zip(ids, rounds[1:], strict=True)]
        yield progress
        if all(p.outcome for p in progress):
            return
        if time.monotonic() > deadline:
            pending = "; ".join(p.line() for p in progress if not p.outcome)
            raise OperationFailed(f"not converged after {timeout:g}s: {pending}",
                                  hint="the change stays applied; follow it in the console "
                                       "or with `swarmdeck ls tasks`")
        await asyncio.sleep(interval)


async def _read_round(docker: DockerEndpoint, ids: list[str]) -> list[Any]:
    """The services' tasks and each service, read again after a broken read (the change is
    made: losing sight of it for a moment is no reason to call it failed)."""
    for attempt in range(len(FOLLOW_RETRIES) + 1):
        try:
            return await asyncio.gather(
                docker.get("/tasks", filters=json.dumps({"service": ids})),
                *(_inspect(docker, sid) for sid in ids))
        except ConnectionLost as exc:
            if attempt == len(FOLLOW_RETRIES):
                raise FollowLost(
                    f"the change was made, but following it stopped: {exc}",
                    hint="see how it goes in the console or with `swarmdeck ls tasks`"
                ) from None
            await asyncio.sleep(FOLLOW_RETRIES[attempt])
    raise AssertionError("unreachable")


async def _inspect(docker: DockerEndpoint, service_id: str) -> dict[str, Any] | None:
    try:
        return await docker.get(f"/services/{service_id}")
    except NotFound:
        return None


def _progress(service_id: str, data: dict[str, Any] | None, base: Baseline,
              tasks: Sequence[Task]) -> ServiceProgress:
    if data is None:
        return ServiceProgress(service_id, service_id[:12], outcome=REMOVED)
    spec = data.get("Spec") or {}
    mine = [t for t in tasks if t.service_id == service_id]
    active = [t for t in mine if t.desired_state == "running"]
    running = sum(1 for t in active if t.state == "running")
    mode = spec.get("Mode") or {}
    desired = (mode["Replicated"] or {}).get("Replicas", 1) if "Replicated" in mode \
        else len(active)
    status = data.get("UpdateStatus") or {}
    fresh = status.get("StartedAt") and status.get("StartedAt") != base.update_started
    state = status.get("State") if fresh else None
    failing = sorted((t for t in mine if t.error and t.state in ("failed", "rejected")
                      and t.timestamp and t.timestamp.timestamp() >= base.since - 1),
                     key=lambda t: t.timestamp.timestamp() if t.timestamp else 0.0)
    progress = ServiceProgress(service_id, spec.get("Name", service_id[:12]), running,
                               desired, state, status.get("Message", "") if fresh else "",
                               failing[-1].error if failing else "")
    target = desired if base.can_run is None else min(desired, base.can_run)
    if base.leaving_node is not None:
        progress.left_behind = sum(1 for t in active if t.node_id == base.leaving_node)
    settled = target <= running and len(active) == desired and not progress.left_behind
    if state in ("paused", "rollback_paused"):
        progress.outcome = FAILED
    elif state == "rollback_completed" and settled:
        progress.outcome = ROLLED_BACK
    elif settled and (state == "completed" or (state is None and (
            not base.expect_update or time.time() - base.since > UPDATE_GRACE))):
        progress.outcome = CONVERGED if running == desired else SHORT
    return progress


def outcome_error(progress: Sequence[ServiceProgress],
                  good: Sequence[str] | None = None) -> OperationFailed | None:
    """The error to report when a change ended badly (None when all converged). GOOD: the
    outcomes that count as done (a change action's plan says them); without it, only a
    failure or a rollback is bad."""
    bad = [p for p in progress
           if (p.outcome not in good if good is not None else p.outcome in (FAILED, ROLLED_BACK))]
    if not bad:
        return None
    return OperationFailed("; ".join(p.line() for p in bad))
