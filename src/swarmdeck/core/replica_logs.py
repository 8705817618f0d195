"""Following the logs of services from each replica's own node: the container's log stream,
read from the engine that runs it, over that node's one SSH connection (core.node_links).

Docker's service-log stream on a manager gathers every replica through the swarm's log
broker; under load it loses lines, and each line carries ~150 bytes of task/node/service
labels. Read from the node, a replica's lines are exactly those its container wrote. Each
replica resumes on its own after a drop, from its own last timestamp (what was already given
at that instant is dropped), so no line is lost or repeated. A replica whose node cannot be
reached is read through the manager's service stream instead (filtered to that replica),
and the reader is told so. New replicas (a scale, a restart) are picked up as the inventory
sees them.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncGenerator, AsyncIterator, Sequence

from swarmdeck.core import node_links
from swarmdeck.core.errors import ConnectionLost, NotFound, SwarmdeckError
from swarmdeck.core.log_follow import QUEUED, REORDER_WINDOW, StreamNote, _Resume, merge
from swarmdeck.core.logs import LogLine, log_batches, service_log_batches
from swarmdeck.core.node_links import NodeLinks
from swarmdeck.core.transport.docker import DockerEndpoint

# seconds before a replica read through the manager first looks whether its node's engine
# answers again (at least the links' RETRY; then doubling, up to the follower's max_backoff)
NODE_RETRY = 5.0


async def container_log_batches(docker: DockerEndpoint, container_id: str, *,
                                follow: bool = True, tail: int | str = 100,
                                since: str | None = None) -> AsyncIterator[list[LogLine]]:
    """One container's lines as its engine holds them, a list per piece received."""
    params = {"stdout": True, "stderr": True, "timestamps": True, "follow": follow,
              "tail": str(tail), "since": since}
    async for batch in log_batches(docker, f"/containers/{container_id}/logs", params):
        yield batch


class _Replica:
    """One task's container, followed from its node (or through the manager)."""

    def __init__(self, follower: ReplicaFollower, task) -> None:
        self.f = follower
        self.task_id = task.id
        self.service_id = task.service_id
        self.node_id = task.node_id
        self.container_id = task.container_id
        self.resume = _Resume()
        self.name = follower.replica_name(task)

    async def note(self, text: str, level: str = "warning") -> None:
        await self.f.queue.put(StreamNote(f"{self.name}: {text}", self.service_id, level,
                                          self.task_id, self.name))

    def _tag(self, batch: list[LogLine]) -> list[LogLine]:
        fresh = []
        resume = self.resume
        for line in batch:
            line.task_id, line.node_id, line.service_id = \
                self.task_id, self.node_id, self.service_id
            if line.ns == 0 or resume.fresh(line):
                fresh.append(line)
        return fresh

    async def run(self, tail: int | str, since: str | None) -> None:
        f = self.f
        delay = 1.0
        while True:
            resumed = bool(self.resume.last)
            try:
                session = await f.inventory.connect()
                try:
                    docker = await f.links.engine(self.node_id, session)
                except SwarmdeckError as exc:  # the node, not the manager: read it there
                    then = await self._through_manager(exc, tail, since)
                    if then == "end":
                        return
                    if then == "node":  # its engine answers: read it there now
                        delay = 1.0
                        continue
                    docker = None
                if docker is not None:
                    async for batch in container_log_batches(
                            docker, self.container_id, follow=f.follow,
                            tail="all" if resumed else tail,
                            since=self.resume.since() if resumed else since):
                        fresh = self._tag(batch)
                        if fresh:
                            await f.queue.put(fresh)
                        delay = 1.0
                    if not f.follow or not await self._still_running(docker):
                        return  # the container stopped: its stream ended with it
                    await self.note("the log stream ended; resuming", "info")
            except NotFound:
                return  # the container is gone (removed with its task)
            except SwarmdeckError as exc:
                if not f.follow and not resumed:
                    raise
                if isinstance(exc, ConnectionLost):
                    f.links.forget(self.node_id)
                await self.note(f"log stream lost ({exc}); resuming in {delay:.0f}s from "
                                "the last line seen")
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, f.max_backoff)

    async def _still_running(self, docker: DockerEndpoint) -> bool:
        try:
            info = await docker.get(f"/containers/{self.container_id}/json")
        except NotFound:
            return False
        return bool((info.get("State") or {}).get("Running"))

    async def _through_manager(self, why: SwarmdeckError, tail: int | str,
                               since: str | None) -> str:
        """The node's engine cannot be reached: this replica's lines through the manager's
        service stream (filtered to it) until that stream ends, or (following) until the
        node's engine answers for the container again. Returns what next: "node" (read it
        there), "retry" (the stream ended: try the node, then the manager, again) or "end"."""
        f = self.f
        resumed = bool(self.resume.last)
        # a replica that ended writes nothing more: its lines so far, and done
        task = f.inventory.state.tasks.get(self.task_id)
        follow = f.follow and task is not None and task.desired_state == "running"
        await self.note(f"its node's engine cannot be reached ({why}); reading it through "
                        "the manager's service log stream")
        back = asyncio.Event()
        giving = False  # lines tagged (so counted as given) and not yet on the queue

        async def pump() -> None:
            nonlocal giving
            manager = (await f.inventory.connect()).docker
            async with contextlib.aclosing(service_log_batches(
                    manager, self.service_id, follow=follow,
                    tail="all" if resumed else tail,
                    since=self.resume.since() if resumed else since)) as batches:
                async for batch in batches:
                    giving = True
                    mine = self._tag([line for line in batch
                                      if line.task_id == self.task_id])
                    if mine:
                        await f.queue.put(mine)
                    giving = False
                    if back.is_set():
                        return

        async def watch_node() -> None:
            # (a failed dial is remembered by the links for RETRY seconds: no sooner)
            delay = max(NODE_RETRY, node_links.RETRY)
            while True:
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                try:  # the engine itself must answer (for the container, or that it is
                    # gone: the node's read then ends the replica), not only the node's sshd
                    await self._still_running(
                        await f.links.engine(self.node_id, await f.inventory.connect()))
                except SwarmdeckError:
                    delay = min(delay * 2, max(f.max_backoff, node_links.RETRY))
                    continue
                back.set()
                if not giving:  # (else the pump stops once its lines are on the queue)
                    pumping.cancel()
                return

        pumping = asyncio.create_task(pump())
        watching = asyncio.create_task(watch_node()) if follow else None
        workers = [pumping, watching] if watching else [pumping]
        try:
            done, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_COMPLETED)
            failed = watching.exception() if watching in done else None
            if failed is not None:
                raise failed  # a bug, not the node: said, not swallowed
            await asyncio.wait({pumping})  # (stopping by itself when the node is back)
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        exc = None if pumping.cancelled() else pumping.exception()
        if exc is not None and not isinstance(exc, SwarmdeckError):
            raise exc
        if back.is_set():
            await self.note("its node's engine answers again; reading it from the node",
                            "info")
            return "node"
        if isinstance(exc, NotFound):
            return "end"
        if isinstance(exc, SwarmdeckError):
            if not f.follow:
                raise exc
            await self.note(f"log stream through the manager lost ({exc})")
        return "retry" if follow else "end"


class ReplicaFollower:
    def __init__(self, inventory, links: NodeLinks, services: Sequence[tuple[str, str]], *,
                 follow: bool, max_backoff: float) -> None:
        self.inventory = inventory
        self.links = links
        self.services = dict(services)
        self.follow = follow
        self.max_backoff = max_backoff
        # lists of lines (what one piece of a stream held) or notes; bounded: backpressure
        self.queue: asyncio.Queue = asyncio.Queue(maxsize=QUEUED)
        self.replicas: dict[str, asyncio.Task] = {}

    def replica_name(self, task) -> str:
        name = self.services.get(task.service_id, task.service_id[:12])
        node = self.inventory.state.node_name(task.node_id)
        return f"{name}.{task.slot or task.id[:8]} on {node}"

    async def note(self, text: str, service_id: str | None, level: str = "warning") -> None:
        await self.queue.put(StreamNote(text, service_id, level))

    def _wanted(self) -> list:
        """Tasks of the services that have a container on a node: running ones, and (for
        their last lines) those that ended but whose container may still be there."""
        return [t for t in self.inventory.state.tasks.values()
                if t.service_id in self.services and t.container_id and t.node_id
                and t.id not in self.replicas]

    def _start(self, task, tail: int | str, since: str | None) -> None:
        replica = _Replica(self, task)
        self.replicas[task.id] = asyncio.create_task(replica.run(tail, since),
                                                     name=f"logs {replica.name}")

    async def run(self, tail: int | str, since: str | None) -> None:
        """Until every replica's stream ended (not following) or the services are gone."""
        for task in self._wanted():
            self._start(task, tail, since)
        if not self.follow:
            await asyncio.gather(*self.replicas.values())
            return
        changed = asyncio.Event()

        def on_change(change) -> None:
            if change.kind in ("tasks", "services", "loaded"):
                changed.set()

        stop = self.inventory.subscribe(on_change)
        try:
            while True:
                for task in self._wanted():  # a new replica: all it wrote
                    self._start(task, "all", None)
                for worker in list(self.replicas.values()):
                    if worker.done():
                        worker.result()  # a replica's error surfaces here
                state = self.inventory.state
                if state.connected and not any(s in state.services for s in self.services):
                    for sid, name in self.services.items():
                        await self.note(f"{name}: the service is gone", sid, "error")
                    return
                changed.clear()
                await changed.wait()
        finally:
            stop()

    async def close(self) -> None:
        for worker in self.replicas.values():
            worker.cancel()
        await asyncio.gather(*self.replicas.values(), return_exceptions=True)


async def follow_replicas(inventory, links: NodeLinks, services: Sequence[tuple[str, str]],
                          *, follow: bool = True, tail: int | str = 100,
                          since: str | None = None, max_backoff: float = 30.0,
                          window: float = REORDER_WINDOW
                          ) -> AsyncGenerator[LogLine | StreamNote, None]:
    """SERVICES: (id, name) pairs, their tasks known to INVENTORY (kept live by whoever runs
    it when following). Lines of every replica merged in timestamp order, and notes."""
    follower = ReplicaFollower(inventory, links, services, follow=follow,
                               max_backoff=max_backoff)

    async def supervise() -> None:
        try:
            await follower.run(tail, since)
        finally:
            await follower.close()

    done = asyncio.ensure_future(supervise())
    async with contextlib.aclosing(merge(follower.queue, done, follow=follow,
                                         window=window)) as items:
        async for item in items:
            yield item
