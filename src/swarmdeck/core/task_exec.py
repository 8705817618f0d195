"""A shell or a command in a task's container, through the Docker API of the task's own node
(`POST /containers/{id}/exec`, then `/exec/{id}/start` taking the channel over): nothing is
installed or spawned on the node but the process asked for.

Which task: SERVICE.SLOT names a replica; otherwise the first running task by slot (by node
for a global service), among the tasks on --node when it is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import asyncssh

from swarmdeck.core.errors import ConnectionLost, DockerAPIError, ExecFailed, UsageError
from swarmdeck.core.inventory import ClusterState
from swarmdeck.core.models import Node, Service, Task
from swarmdeck.core.ops.base import did_you_mean
from swarmdeck.core.transport.docker import DockerEndpoint
from swarmdeck.core.transport.hijack import STDERR, FrameDemuxer, Hijacked
from swarmdeck.core.transport.http import ProtocolError

NOT_FOUND = "executable file not found"
EXIT_WAIT = (0.05, 0.1, 0.2, 0.4, 0.8)  # seconds between reads of an exit status not yet set
READ_BLOCK = 64 * 1024
_LOST = (asyncssh.Error, OSError, ProtocolError, asyncio.IncompleteReadError, EOFError)


@dataclass(frozen=True)
class ExecTarget:
    service: Service
    task: Task
    node: Node

    @property
    def replica(self) -> str:
        """service.slot, or service@node for a global service's task."""
        if self.task.slot is not None and self.service.mode.startswith("replicated"):
            return f"{self.service.name}.{self.task.slot}"
        return f"{self.service.name}@{self.node.hostname}"

    @property
    def container_id(self) -> str:
        return self.task.container_id or ""


def _running(task: Task) -> bool:
    return task.state == "running" and task.desired_state == "running" and \
        bool(task.container_id)


def find_service(state: ClusterState, ref: str) -> tuple[Service, int | None]:
    """The service REF names (by name, ID or unique ID prefix), and the slot after a final
    `.N` when the whole of REF is not a service name itself."""
    by_name = {s.name: s for s in state.services.values()}
    if ref in by_name:
        return by_name[ref], None
    name, dot, slot = ref.rpartition(".")
    if dot and slot.isdigit() and name in by_name:
        return by_name[name], int(slot)
    matches = [s for s in state.services.values() if s.id.startswith(ref)] \
        if len(ref) >= 4 else []
    if len(matches) == 1:
        return matches[0], None
    base = name if dot and slot.isdigit() else ref
    raise UsageError(f"no service {base!r} in cluster {state.name}"
                     f"{did_you_mean(base, list(by_name), 'services')}")


def find_node(state: ClusterState, ref: str) -> Node:
    for node in state.nodes.values():
        if ref in (node.hostname, node.id):
            return node
    matches = [n for n in state.nodes.values() if n.id.startswith(ref)] if len(ref) >= 4 \
        else []
    if len(matches) == 1:
        return matches[0]
    raise UsageError(f"no node {ref!r} in cluster {state.name}"
                     f"{did_you_mean(ref, [n.hostname for n in state.nodes.values()], 'nodes')}")


def pick_task(state: ClusterState, ref: str, *, node: str | None = None) -> ExecTarget:
    """The task to run in: raises UsageError for what the command line got wrong (exit 2)
    and ExecFailed for a task that is there but cannot be used (exit 1)."""
    service, slot = find_service(state, ref)
    tasks = state.tasks_of(service.id)
    where = find_node(state, node) if node is not None else None
    global_mode = service.mode.startswith("global")
    if slot is not None and global_mode:
        raise UsageError(f"{service.name} is a global service: it has no slots; pick its task "
                         "with --node NODE")
    if slot is not None:
        tasks = [t for t in tasks if t.slot == slot]
        if not tasks:
            raise UsageError(f"{service.name} has no slot {slot} in cluster {state.name}"
                             f"{_slots(state, service)}")
    if where is not None:
        on_node = [t for t in tasks if t.node_id == where.id]
        if not any(_running(t) for t in on_node):
            hosts = sorted({state.node_name(t.node_id) for t in tasks if _running(t)})
            elsewhere = f" (it runs on {', '.join(hosts)})" if hosts else ""
            raise ExecFailed(f"no running task of {_named(service, slot)} on {where.hostname}"
                             f"{elsewhere}")
        tasks = on_node
    running = [t for t in tasks if _running(t)]
    if not running:
        raise ExecFailed(f"{_named(service, slot)} is not running in cluster {state.name}"
                         f"{_latest(state, tasks)}")
    running.sort(key=lambda t: (t.slot or 0, state.node_name(t.node_id), t.id))
    task = running[0]
    target_node = state.nodes.get(task.node_id or "")
    if target_node is None:
        raise ExecFailed(f"{_named(service, slot)}: its task {task.id[:12]} is on node "
                         f"{(task.node_id or '?')[:12]}, which the cluster does not list")
    return ExecTarget(service, task, target_node)


def _named(service: Service, slot: int | None) -> str:
    return service.name if slot is None else f"{service.name}.{slot}"


def _slots(state: ClusterState, service: Service) -> str:
    slots = sorted({t.slot for t in state.tasks_of(service.id) if t.slot is not None})
    return f" (slots: {', '.join(map(str, slots))})" if slots else " (it has no tasks)"


def _latest(state: ClusterState, tasks: list[Task]) -> str:
    """The newest task's state, and why, for a service with nothing running."""
    if not tasks:
        return ": it has no tasks"
    newest = max(tasks, key=lambda t: (t.updated_at is not None, t.updated_at or 0))
    why = newest.error or newest.message
    node = state.node_name(newest.node_id) if newest.node_id else "no node"
    return f": its latest task is {newest.state} on {node}" + (f" ({why})" if why else "")


class TaskExec:
    """Processes in one container, through the Docker API of the engine that runs it."""

    def __init__(self, engine: DockerEndpoint, container_id: str) -> None:
        self.engine = engine
        self.container_id = container_id

    async def has(self, program: str) -> bool:
        """Can PROGRAM be started in the container (is it on its PATH)? A detached exec of
        `PROGRAM -c 'exit 0'`: the engine refuses to start one it does not find."""
        exec_id = await self.create([program, "-c", "exit 0"], tty=False, stdin=False,
                                    attach=False)
        try:
            await self.engine.request("POST", f"/exec/{exec_id}/start",
                                      body={"Detach": True, "Tty": False})
        except DockerAPIError as exc:
            if NOT_FOUND in str(exc) or "no such file" in str(exc).lower():
                return False
            raise
        return True

    async def shell(self, configured: str | None, image: str,
                    known: list[str] | None = None) -> list[str]:
        """The shell to start: CONFIGURED ([exec] shell), else KNOWN (the one found in this
        same container before), else bash, else sh."""
        if configured:
            return shlex.split(configured)
        if known:
            return list(known)
        for program in ("bash", "sh"):
            if await self.has(program):
                return [program]
        raise ExecFailed(f"no shell in {image}: give a command after --")

    async def create(self, command: list[str], *, tty: bool, stdin: bool,
                     user: str | None = None, attach: bool = True) -> str:
        body: dict = {"AttachStdin": stdin, "AttachStdout": attach, "AttachStderr": attach,
                      "Tty": tty, "Cmd": command}
        if user:
            body["User"] = user
        created = await self.engine.request(
            "POST", f"/containers/{self.container_id}/exec", body=body)
        return created["Id"]

    async def start(self, exec_id: str, *, tty: bool) -> Hijacked:
        return await self.engine.hijack(f"/exec/{exec_id}/start",
                                        {"Detach": False, "Tty": tty})

    async def resize(self, exec_id: str, rows: int, cols: int) -> None:
        await self.engine.request("POST", f"/exec/{exec_id}/resize",
                                  params={"h": rows, "w": cols})

    async def exit_status(self, exec_id: str) -> int:
        """The process's exit status, once the engine has it (its stream may end a moment
        before the engine records the exit)."""
        for delay in (*EXIT_WAIT, None):
            data = await self.engine.get(f"/exec/{exec_id}/json")
            if not data.get("Running") and data.get("ExitCode") is not None:
                return int(data["ExitCode"])
            if delay is None:
                break
            await asyncio.sleep(delay)
        raise ExecFailed(f"{self.engine.label}: the process ended its stream but the engine "
                         "reports no exit status")


async def pump(stream: Hijacked, *, tty: bool, out: Callable[[bytes], None],
               err: Callable[[bytes], None], stdin: AsyncIterator[bytes] | None,
               label: str) -> None:
    """Carry bytes both ways until the process's output ends: STDIN to the process (its
    end closes the process's stdin), its output to OUT (and, without a TTY, its stderr to
    ERR). A link lost on the way raises ConnectionLost naming LABEL."""
    feeder = asyncio.create_task(_feed(stream, stdin)) if stdin is not None else None
    demux = None if tty else FrameDemuxer()
    try:
        data = stream.first
        while True:
            if data:
                if demux is None:
                    out(data)
                else:
                    for which, piece in demux.feed(data):
                        (err if which == STDERR else out)(piece)
            if feeder is not None and feeder.done() and not feeder.cancelled() \
                    and feeder.exception() is not None:
                raise _lost(label, feeder.exception())  # the input could not be given
            try:
                data = await stream.reader.read(READ_BLOCK)
            except _LOST as exc:
                raise _lost(label, exc) from None
            if not data:
                break
        if demux is not None and demux.pending:
            raise ConnectionLost(f"lost connection to {label}: the output stopped inside a "
                                 "frame")
    finally:
        if feeder is not None:
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError, *_LOST):
                await feeder
        stream.close()


def _lost(label: str, exc: BaseException | None) -> BaseException:
    if exc is not None and not isinstance(exc, _LOST):
        return exc  # not the link's doing: a bug, reported as one
    text = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
    return ConnectionLost(f"lost connection to {label}: {text}")


async def _feed(stream: Hijacked, stdin: AsyncIterator[bytes]) -> None:
    async for chunk in stdin:
        stream.writer.write(chunk)
        drain = getattr(stream.writer, "drain", None)
        if drain is not None:
            await drain()
    with contextlib.suppress(*_LOST):
        stream.writer.write_eof()  # the process sees the end of its input
