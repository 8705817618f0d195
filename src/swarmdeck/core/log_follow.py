"""Following the logs of one or many services (a whole stack) without losing or repeating a
line when a stream or the SSH link drops.

One stream per service, each resumed after a drop from the oldest last-seen timestamp of its
replicas, with what was already given dropped per replica (exact nanosecond timestamps, and
the texts seen at the boundary instant). Lines of all streams are merged in timestamp order
through a short reorder window. What the reader must know (a stream lost and resumed, a
replica whose node is down) arrives as a StreamNote, never silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from swarmdeck.core.errors import NotFound, SwarmdeckError
from swarmdeck.core.logs import LogLine, service_log_batches, since_value
from swarmdeck.core.memory import Releaser
from swarmdeck.core.transport.docker import DockerEndpoint

Connect = Callable[[], Awaitable[DockerEndpoint]]
REORDER_WINDOW = 0.25  # seconds a followed line may wait for an older one from another stream
# lines the merge holds at most: past this, the oldest go out without waiting for the window
# (the streams are all flowing then) and nothing more is taken from the producers' queue,
# which then fills and holds the producers: memory stays bounded however fast lines come
MAX_HELD = 10_000
QUEUED = 16  # pieces of streams (a list of lines each, up to ~700) waiting for the merge


@dataclass(frozen=True)
class StreamNote:
    text: str  # for the reader; built from untrusted names: render through sanitize
    service_id: str | None = None
    level: str = "warning"  # info | warning | error
    # a note about one replica (its own stream): the task, and how to name it
    task_id: str | None = None
    replica: str | None = None


@dataclass
class _Resume:
    """Per replica: the newest timestamp given, and the texts given at that instant."""

    last: dict[str, int] = field(default_factory=dict)
    at_last: dict[str, set[tuple[str, str]]] = field(default_factory=dict)

    def fresh(self, line: LogLine) -> bool:
        key = line.task_id or ""
        last = self.last.get(key)
        if last is None or line.ns > last:
            self.last[key] = line.ns
            self.at_last[key] = {(line.stream, line.text)}
            return True
        if line.ns == last and (line.stream, line.text) not in self.at_last[key]:
            self.at_last[key].add((line.stream, line.text))
            return True
        return False

    def since(self) -> str | None:
        return since_value(min(self.last.values())) if self.last else None


async def _one_service(connect: Connect, service_id: str, name: str, out: asyncio.Queue, *,
                       follow: bool, tail: int | str, since: str | None,
                       max_backoff: float) -> None:
    resume = _Resume()
    delay = 1.0
    while True:
        resumed = bool(resume.last)
        try:
            docker = await connect()
            async for batch in service_log_batches(
                    docker, service_id, follow=follow,
                    tail="all" if resumed else tail,
                    since=resume.since() if resumed else since):
                fresh = [line for line in batch if line.ns == 0 or resume.fresh(line)]
                if fresh:
                    await out.put(fresh)
                delay = 1.0
            if not follow:
                return
            await out.put(StreamNote(f"{name}: the log stream ended; resuming", service_id,
                                     "info"))
        except NotFound:
            await out.put(StreamNote(f"{name}: the service is gone", service_id, "error"))
            return
        except SwarmdeckError as exc:
            if not follow and not resumed:
                raise
            await out.put(StreamNote(f"{name}: log stream lost ({exc}); resuming in "
                                     f"{delay:.0f}s from the last line seen", service_id))
        await asyncio.sleep(delay * random.uniform(0.8, 1.2))
        delay = min(delay * 2, max_backoff)


async def follow_logs(connect: Connect, services: Sequence[tuple[str, str]], *,
                      follow: bool = True, tail: int | str = 100, since: str | None = None,
                      max_backoff: float = 30.0, window: float = REORDER_WINDOW,
                      ) -> AsyncGenerator[LogLine | StreamNote, None]:
    """SERVICES: (id, name) pairs. CONNECT returns a live DockerEndpoint (reconnecting, and
    moving to another manager, when the last one died)."""
    # lists of lines (what one piece of a stream held) or notes; bounded: backpressure
    queue: asyncio.Queue = asyncio.Queue(maxsize=QUEUED)
    workers = [asyncio.create_task(_one_service(
        connect, sid, name, queue, follow=follow, tail=tail, since=since,
        max_backoff=max_backoff), name=f"logs {name}") for sid, name in services]
    async with contextlib.aclosing(merge(queue, asyncio.gather(*workers), follow=follow,
                                         window=window)) as items:
        async for item in items:
            yield item


async def merge(queue: asyncio.Queue, done: asyncio.Future, *, follow: bool,
                window: float = REORDER_WINDOW) -> AsyncGenerator[LogLine | StreamNote, None]:
    """What the producers put on QUEUE (lists of lines, or notes), lines in timestamp
    order through a reorder window of WINDOW seconds, until DONE (the producers, gathered)
    ends; the producers are cancelled when the reader stops early."""
    # when the reader stops early the producers are cancelled: nobody awaits `done` then
    done.add_done_callback(lambda f: f.cancelled() or f.exception())
    heap: list[tuple[int, int, float, LogLine]] = []
    order = itertools.count()
    releaser = Releaser()
    getter: asyncio.Future | None = None

    def take(item: list[LogLine] | StreamNote) -> StreamNote | None:
        if isinstance(item, StreamNote):
            return item
        releaser.count(len(item))
        arrived, push = time.monotonic(), heapq.heappush
        for line in item:
            push(heap, (line.ns, next(order), arrived, line))
        return None

    try:
        while True:
            if done.done() and len(heap) < MAX_HELD:  # every stream ended (not following,
                while not queue.empty():               # or all services gone)
                    note = take(queue.get_nowait())
                    if note:
                        yield note
                while heap:
                    yield heapq.heappop(heap)[3]
                done.result()  # a stream's error surfaces here
                return
            if len(heap) < MAX_HELD:
                timeout = None
                if follow and heap:
                    timeout = max(0.0, heap[0][2] + window - time.monotonic())
                getter = asyncio.ensure_future(queue.get())
                await asyncio.wait({getter, done}, timeout=timeout,
                                   return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    getter.cancel()  # nothing taken: a cancelled get loses no item
                elif not getter.cancelled():
                    note = take(getter.result())
                    if note:
                        yield note
                    # a flood: take what is there without waiting, up to the bound
                    while not queue.empty() and len(heap) < MAX_HELD:
                        note = take(queue.get_nowait())
                        if note:
                            yield note
            now = time.monotonic()
            while heap and (len(heap) >= MAX_HELD
                            or (follow and heap[0][2] + window <= now)):
                yield heapq.heappop(heap)[3]
    finally:
        if getter is not None:
            getter.cancel()  # the reader left while waiting: no get left pending
        done.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await done


class Tagger:
    """`service.slot` (or `service.node` for global services) and the node's hostname of a
    line, from the inventory; a task it does not know yet is named by its short ID."""

    def __init__(self, state) -> None:
        self.state = state

    def tag(self, line: LogLine) -> tuple[str, str]:
        state = self.state
        task = state.tasks.get(line.task_id or "")
        service = state.services.get(line.service_id or (task.service_id if task else ""))
        name = service.name if service else (line.service_id or "?")[:12]
        node = state.node_name(line.node_id or (task.node_id if task else None))
        if task and task.slot:
            return f"{name}.{task.slot}", node
        if task is None and line.task_id:
            return f"{name}.{line.task_id[:8]}", node
        return name, node


def silent_replicas(state, service_ids: Sequence[str]) -> list[StreamNote]:
    """Replicas that should be running on a node that is not ready: their lines cannot come
    (the engine there does not answer); say so instead of showing a quiet replica."""
    notes = []
    for task in state.tasks.values():
        if task.service_id not in service_ids or task.desired_state != "running":
            continue
        node = state.nodes.get(task.node_id or "")
        if node is not None and node.status != "ready":
            service = state.services.get(task.service_id)
            name = f"{service.name if service else task.service_id[:12]}" + (
                f".{task.slot}" if task.slot else "")
            notes.append(StreamNote(f"{name} on {node.hostname}: node {node.status}, its "
                                    "lines cannot be streamed until it is back",
                                    task.service_id))
    return notes
