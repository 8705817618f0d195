"""What `exec` and `port-forward` share between the CLI and the console: the task asked for and
its node's engine, refused on a read-only cluster, one audit line per attempt (who, cluster,
node, container, what was run; never what is typed in a shell); and a process's session on
this process's own terminal or pipes.

At a terminal: a real PTY in the container, the local terminal in raw mode (restored however
the session ends) and its size followed. Without one: stdout and stderr kept apart, piped
input passed on. The session's bytes pass through untouched, as ssh passes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Awaitable
from typing import IO, Any

from swarmdeck.core import local_tty
from swarmdeck.core.audit import AuditLog
from swarmdeck.core.errors import (
    ReadOnly,
    SwarmdeckError,
    UsageError,
)
from swarmdeck.core.fleet import Fleet
from swarmdeck.core.node_links import NodeAccess
from swarmdeck.core.task_exec import TaskExec, pick_task, pump
from swarmdeck.core.task_hint import TaskHints
from swarmdeck.core.task_locate import Ahead, HintCheck, Located, engine_of, locate


@contextlib.asynccontextmanager
async def task_access(fleet: NodeAccess, cluster: str, ref: str, *, node: str | None,
                      action: str, params: dict, read_only: str | None, audit: AuditLog,
                      fresh: bool = True, hints: TaskHints | None = None,
                      early: HintCheck | None = None, ahead: Ahead | None = None
                      ) -> AsyncIterator[Located]:
    """The task REF names (on NODE) and its node's engine, for ACTION (exec, port-forward),
    refused when READ_ONLY (why the cluster is). One audit line with how it ended and PARAMS
    as they are then (the caller adds to them). FRESH: read the cluster first (the CLI, with
    a core Fleet), or use HINTS, the task's last placement, once the node's engine confirms
    it (core.task_locate; EARLY: its check, started before the config was read; AHEAD:
    work sent beside it); otherwise the fleet's live state is used (the console's
    FleetSource)."""
    entry: dict[str, Any] = {"cluster": cluster, "manager": None, "action": action, "target": ref}
    try:
        audit.check()  # fail closed: nothing goes unrecorded
        if read_only:
            audit.record(**entry, params=params, result="refused", error="read-only")
            raise ReadOnly(f"{action} refused: cluster {cluster} is read-only ({read_only})")
    except BaseException:
        if early is not None:  # dialled before the config said no: closed unused
            await early.discard()
        raise
    try:
        if fresh:
            assert isinstance(fleet, Fleet), "FRESH reads the cluster through a core Fleet"
            found = await locate(fleet, cluster, ref, node=node, hints=hints, early=early,
                                 ahead=ahead)
            target = found.target
        else:
            state = fleet.state(cluster)
            entry["manager"] = state.manager
            target = pick_task(state, ref, node=node)
            found = None
        if found is not None:
            entry["manager"] = found.manager
            if found.manager is None:  # no manager was asked: its node's engine confirmed it
                params["found_by"] = "placement hint"
        entry["target"] = target.replica
        params.update(node=target.node.hostname, container=target.container_id[:12])
        if found is None:
            found = Located(target, await engine_of(fleet, cluster, target), None)
        yield found
    except BaseException as exc:
        _record_end(audit, entry, params, exc)
        raise
    audit.record(**entry, params=params, result="ok")


def _record_end(audit: AuditLog, entry: dict, params: dict, exc: BaseException) -> None:
    if isinstance(exc, UsageError):
        result = "refused"
    elif isinstance(exc, SwarmdeckError):
        result = "error"
    else:
        result = "interrupted"
    error = str(exc) if isinstance(exc, SwarmdeckError) else type(exc).__name__
    with contextlib.suppress(SwarmdeckError):  # the log failed since the check: the
        audit.record(**entry, params=params, result=result, error=error)  # error says it


def session_mode(stdin: IO, stdout: IO) -> tuple[bool, bool]:
    """(a TTY, input given to the process) for a session on these streams: a TTY when both
    are terminals; without one, input only when some is piped in (a terminal's input is
    not passed to a process without a TTY, as docker exec without -i)."""
    interactive = stdin.isatty() and stdout.isatty()
    return interactive, interactive or not (stdin.isatty() or _closed(stdin))


async def run_session(task_exec: TaskExec, command: list[str], user: str | None, *,
                      stdin: IO, stdout: IO, stderr: IO, label: str,
                      terminate_on_sigterm: bool = True,
                      created: Awaitable[str] | None = None) -> int:
    """Run COMMAND in the container on these streams; returns its exit status. A TTY when
    STDIN and STDOUT are terminals. TERMINATE_ON_SIGTERM: SIGTERM ends the session (and
    raises CancelledError) rather than the process (the CLI; the console has its own).
    CREATED: the exec's ID, when it was created ahead (with these streams' session_mode)."""
    interactive, stdin_open = session_mode(stdin, stdout)
    exec_id = await created if created is not None else \
        await task_exec.create(command, tty=interactive, stdin=stdin_open, user=user)
    out_fd, err_fd, in_fd = stdout.fileno(), stderr.fileno(), stdin.fileno()
    source = local_tty.chunks(in_fd) if stdin_open else None
    if not interactive:
        stream = await task_exec.start(exec_id, tty=False)
        await pump(stream, tty=False, out=lambda b: _write(out_fd, b),
                   err=lambda b: _write(err_fd, b), stdin=source, label=label)
        return await task_exec.exit_status(exec_id)

    loop = asyncio.get_running_loop()
    resizes: set[asyncio.Task] = set()

    def resized() -> None:
        rows, cols = local_tty.size(in_fd)
        job = loop.create_task(_resize_quietly(task_exec, exec_id, rows, cols))
        resizes.add(job)
        job.add_done_callback(resizes.discard)

    stream = await task_exec.start(exec_id, tty=True)
    try:
        with local_tty.raw_mode(in_fd):
            loop.add_signal_handler(signal.SIGWINCH, resized)
            main = asyncio.current_task()
            if terminate_on_sigterm and main is not None:
                loop.add_signal_handler(signal.SIGTERM, main.cancel)
            try:
                resized()  # the terminal's size at start
                await pump(stream, tty=True, out=lambda b: _write(out_fd, b),
                           err=lambda b: _write(err_fd, b), stdin=source, label=label)
            finally:
                loop.remove_signal_handler(signal.SIGWINCH)
                if terminate_on_sigterm:
                    loop.remove_signal_handler(signal.SIGTERM)
                for job in list(resizes):
                    job.cancel()
        return await task_exec.exit_status(exec_id)
    except BaseException:
        _write(err_fd, b"\r\n")  # the shell's prompt may hold the line: the error gets its own
        raise


async def _resize_quietly(task_exec: TaskExec, exec_id: str, rows: int, cols: int) -> None:
    # a resize that fails (the process just ended, the link dropped) changes nothing the
    # session's own end will not say
    with contextlib.suppress(SwarmdeckError):
        await task_exec.resize(exec_id, rows, cols)


def _closed(stream: IO) -> bool:
    """No input to give the process: STREAM is closed or /dev/null."""
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError):
        return True
    null = os.stat(os.devnull)
    return (st.st_dev, st.st_ino) == (null.st_dev, null.st_ino)


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            continue
        view = view[written:]
