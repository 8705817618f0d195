"""`swarmdeck exec SERVICE[.SLOT] [-- CMD ...]`: a shell, or a command, in a task's container,
through the Docker API of the node that runs it (over that node's SSH connection).

At a terminal: a real PTY in the container, the local terminal in raw mode (restored however
the session ends) and its size followed. Without one: the command's stdout and stderr kept
apart, its exit status passed through. The session's own bytes pass through untouched, as
ssh passes them; swarmdeck's messages are made inert. Each attempt is one audit line (who,
cluster, node, container, command; never what is typed in the shell), and a read-only
cluster refuses it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from swarmdeck.cli.render import load_config
from swarmdeck.core.audit import AuditLog
from swarmdeck.core.config import Config
from swarmdeck.core.errors import ExecFailed, ReadOnly, SwarmdeckError, UsageError
from swarmdeck.core.sanitize import clean

if TYPE_CHECKING:
    from swarmdeck.core.task_exec import ExecTarget
    from swarmdeck.core.transport.docker import DockerEndpoint


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "exec", usage="swarmdeck exec [-h] [--cluster NAME] [--node NODE] [--user USER] "
                      "SERVICE[.SLOT] [-- CMD ...]",
        help="a shell or a command in a task's container",
        description="Run a shell (no command: bash if the image has it, else sh, or [exec] "
                    "shell of the config) or the command after -- in a container of "
                    "SERVICE, through the Docker API of the node that runs it. SERVICE.SLOT "
                    "picks a replica; otherwise the first running one, on --node if given "
                    "(a global service's task is picked by --node). At a terminal the "
                    "process gets a TTY; otherwise its stdout and stderr stay apart. The "
                    "exit status is the process's.")
    p.add_argument("target", metavar="SERVICE[.SLOT]")
    p.add_argument("--cluster", "-c", metavar="NAME",
                   help="the cluster (default: the only one configured)")
    p.add_argument("--node", metavar="NODE", help="the task on this node (hostname or ID)")
    p.add_argument("--user", "-u", metavar="USER", help="run as this user (name or uid[:gid])")
    p.set_defaults(argv=[])  # what follows --: see split_command


def split_command(argv: list[str]) -> tuple[list[str], list[str] | None]:
    """An exec command line cut at its first `--`: swarmdeck's arguments, and the command
    to run, kept exactly as given (None: no `--` after `exec`)."""
    if "--" not in argv:
        return argv, None
    cut = argv.index("--")
    if "exec" not in argv[:cut]:
        return argv, None
    return argv[:cut], argv[cut + 1:]


def run_exec(args: argparse.Namespace) -> int:
    from swarmdeck.cli.ops import pick_cluster

    config = load_config(args.config)
    cluster = pick_cluster(config, args.cluster)
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    try:
        return asyncio.run(_run(config, cluster, args, interactive=interactive))
    except asyncio.CancelledError:  # SIGTERM during a session (the terminal is restored)
        print("swarmdeck: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM


async def _run(config: Config, cluster: str, args: argparse.Namespace, *,
               interactive: bool) -> int:
    from swarmdeck.core.task_exec import TaskExec

    params: dict = {"command": list(args.argv) or "(shell)"}
    if args.user:
        params["user"] = args.user
    async with task_access(config, cluster, args, "exec", params) as (target, engine):
        task_exec = TaskExec(engine, target.container_id)
        command = list(args.argv)
        if not command:
            command = await task_exec.shell(config.exec.shell, target.service.image)
            params["command"] = command
        status = await _session(task_exec, command, args.user, interactive=interactive,
                                label=engine.label)
        params["exit_status"] = status
        return status


@contextlib.asynccontextmanager
async def task_access(config: Config, cluster: str, args: argparse.Namespace, action: str,
                      params: dict) -> AsyncIterator[tuple[ExecTarget, DockerEndpoint]]:
    """The task args.target names (on args.node) and its node's engine, for ACTION (exec,
    port-forward) on a cluster that is not read-only; one audit line with how it ended and
    PARAMS as they are then (the caller adds to them)."""
    from swarmdeck.core.fleet import Fleet
    from swarmdeck.core.ops.base import read_only_reason
    from swarmdeck.core.task_exec import pick_task

    audit = AuditLog.default()
    entry = {"cluster": cluster, "manager": None, "action": action, "target": args.target}
    audit.check()  # fail closed: nothing goes unrecorded
    reason = read_only_reason(config, cluster, args.read_only)
    if reason:
        audit.record(**entry, params=params, result="refused", error="read-only")
        raise ReadOnly(f"{action} refused: cluster {cluster} is read-only ({reason})")
    fleet = Fleet(config)
    try:
        try:
            inventory = fleet.inventory(cluster)
            state = await inventory.load()
            entry["manager"] = state.manager
            target = pick_task(state, args.target, node=args.node)
            entry["target"] = target.replica
            params.update(node=target.node.hostname, container=target.container_id[:12])
            try:
                engine = await fleet.node_links(cluster).engine(target.node.id,
                                                                inventory.session)
            except SwarmdeckError as exc:
                raise ExecFailed(f"{target.replica} runs on {target.node.hostname}, which "
                                 f"cannot be reached: {exc}") from None
            yield target, engine
        except BaseException as exc:
            _record_end(audit, entry, params, exc)
            raise
        audit.record(**entry, params=params, result="ok")
    finally:
        await fleet.close()


def _record_end(audit: AuditLog, entry: dict, params: dict, exc: BaseException) -> None:
    if isinstance(exc, UsageError):
        result = "refused"
    elif isinstance(exc, SwarmdeckError):
        result = "error"
    else:
        result = "interrupted"
    error = str(exc) if isinstance(exc, SwarmdeckError) else type(exc).__name__
    try:
        audit.record(**entry, params=params, result=result, error=error)
    except SwarmdeckError as again:  # the audit log failed since the check: say it too
        print(f"swarmdeck: {clean(str(again))}", file=sys.stderr)


async def _session(task_exec, command: list[str], user: str | None, *, interactive: bool,
                   label: str) -> int:
    from swarmdeck.cli import local_tty
    from swarmdeck.core.task_exec import pump

    # without a terminal, input is given to the process only when some is piped in (a
    # terminal's input is not passed to a process without a TTY, as docker exec without -i)
    stdin_open = interactive or not (sys.stdin.isatty() or _stdin_closed())
    exec_id = await task_exec.create(command, tty=interactive, stdin=stdin_open, user=user)
    out_fd, err_fd = sys.stdout.fileno(), sys.stderr.fileno()
    stdin = local_tty.chunks(sys.stdin.fileno()) if stdin_open else None
    if not interactive:
        stream = await task_exec.start(exec_id, tty=False)
        await pump(stream, tty=False, out=lambda b: _write(out_fd, b),
                   err=lambda b: _write(err_fd, b), stdin=stdin, label=label)
        return await task_exec.exit_status(exec_id)

    loop = asyncio.get_running_loop()
    fd = sys.stdin.fileno()
    resizes: set[asyncio.Task] = set()

    def resized() -> None:
        rows, cols = local_tty.size(fd)
        job = loop.create_task(_resize_quietly(task_exec, exec_id, rows, cols))
        resizes.add(job)
        job.add_done_callback(resizes.discard)

    stream = await task_exec.start(exec_id, tty=True)
    try:
        with local_tty.raw_mode(fd):
            loop.add_signal_handler(signal.SIGWINCH, resized)
            # SIGTERM ends the session through the same path as any end: the terminal
            # restored
            main = asyncio.current_task()
            if main is not None:
                loop.add_signal_handler(signal.SIGTERM, main.cancel)
            try:
                resized()  # the terminal's size at start
                await pump(stream, tty=True, out=lambda b: _write(out_fd, b),
                           err=lambda b: _write(err_fd, b), stdin=stdin, label=label)
            finally:
                loop.remove_signal_handler(signal.SIGWINCH)
                loop.remove_signal_handler(signal.SIGTERM)
                for job in list(resizes):
                    job.cancel()
        return await task_exec.exit_status(exec_id)
    except BaseException:
        _write(err_fd, b"\r\n")  # the shell's prompt may hold the line: the error gets its own
        raise


async def _resize_quietly(task_exec, exec_id: str, rows: int, cols: int) -> None:
    # a resize that fails (the process just ended, the link dropped) changes nothing the
    # session's own end will not say
    with contextlib.suppress(SwarmdeckError):
        await task_exec.resize(exec_id, rows, cols)


def _stdin_closed() -> bool:
    """No input to give the process: stdin is closed or /dev/null."""
    try:
        st = os.fstat(sys.stdin.fileno())
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
