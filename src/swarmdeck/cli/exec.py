"""`swarmdeck exec SERVICE[.SLOT] [-- CMD ...]`: a shell, or a command, in a task's container,
through the Docker API of the node that runs it (over that node's SSH connection), on this
process's terminal or pipes (core.exec_session); the exit status is the process's.
"""

from __future__ import annotations

import argparse
import signal
import sys
from typing import TYPE_CHECKING

from swarmdeck.cli import early as early_start

if TYPE_CHECKING:
    from swarmdeck.core.config import Config
    from swarmdeck.core.task_hint import TaskHints
    from swarmdeck.core.task_locate import HintCheck


def run_exec(args: argparse.Namespace) -> int:
    try:
        return early_start.run(args, lambda config, cluster, hints, early: _run(
            config, cluster, args, hints, early))
    except BaseException as exc:
        import asyncio  # here: imported only after the hint's early dial (cli.early.run)

        if not isinstance(exc, asyncio.CancelledError):
            raise
        # SIGTERM during a session (the terminal is restored)
        print("swarmdeck: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM


async def _run(config: Config, cluster: str, args: argparse.Namespace, hints: TaskHints,
               early: HintCheck | None) -> int:
    from dataclasses import replace

    from swarmdeck.core.audit import AuditLog
    from swarmdeck.core.exec_session import run_session, session_mode, task_access
    from swarmdeck.core.fleet import Fleet
    from swarmdeck.core.ops.base import read_only_reason
    from swarmdeck.core.task_exec import TaskExec

    params: dict = {"command": list(args.argv) or "(shell)"}
    if args.user:
        params["user"] = args.user
    ahead = None
    if args.argv:  # the exec is created beside a hint's check (started only once confirmed)
        tty, stdin_open = session_mode(sys.stdin, sys.stdout)

        def ahead(engine, container_id: str):
            return TaskExec(engine, container_id).create(list(args.argv), tty=tty,
                                                         stdin=stdin_open, user=args.user)
    fleet = Fleet(config)
    try:
        async with task_access(fleet, cluster, args.target, node=args.node, action="exec",
                               params=params, audit=AuditLog.default(),
                               read_only=read_only_reason(config, cluster, args.read_only),
                               hints=hints, early=early, ahead=ahead) as found:
            target, engine = found.target, found.engine
            if found.ahead is None:  # the create's and the start's channels open at once
                engine.prewarm(2)
            task_exec = TaskExec(engine, target.container_id)
            command = list(args.argv)
            if not command:
                known = found.hint.shell if found.hint is not None else None
                command = await task_exec.shell(config.exec.shell, target.service.image,
                                                known=known)
                params["command"] = command
                if found.hint is not None and known is None and not config.exec.shell:
                    hints.remember(replace(found.hint, shell=command))
            status = await run_session(task_exec, command, args.user, stdin=sys.stdin,
                                       stdout=sys.stdout, stderr=sys.stderr,
                                       label=engine.label, created=found.ahead)
            params["exit_status"] = status
            return status
    finally:
        await fleet.close()
