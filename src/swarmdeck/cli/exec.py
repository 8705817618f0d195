"""`swarmdeck exec SERVICE[.SLOT] [-- CMD ...]`: a shell, or a command, in a task's container,
through the Docker API of the node that runs it (over that node's SSH connection), on this
process's terminal or pipes (core.exec_session); the exit status is the process's.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from swarmdeck.cli.render import load_config
from swarmdeck.core.audit import AuditLog
from swarmdeck.core.config import Config


def run_exec(args: argparse.Namespace) -> int:
    from swarmdeck.cli.session import pick_cluster

    config = load_config(args.config)
    cluster = pick_cluster(config, args.cluster)
    try:
        return asyncio.run(_run(config, cluster, args))
    except asyncio.CancelledError:  # SIGTERM during a session (the terminal is restored)
        print("swarmdeck: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM


async def _run(config: Config, cluster: str, args: argparse.Namespace) -> int:
    from dataclasses import replace

    from swarmdeck.core.exec_session import run_session, task_access
    from swarmdeck.core.fleet import Fleet
    from swarmdeck.core.ops.base import read_only_reason
    from swarmdeck.core.task_exec import TaskExec
    from swarmdeck.core.task_hint import TaskHints

    params: dict = {"command": list(args.argv) or "(shell)"}
    if args.user:
        params["user"] = args.user
    fleet = Fleet(config)
    hints = TaskHints.default(config.path, cluster, args.target, args.node)
    try:
        async with task_access(fleet, cluster, args.target, node=args.node, action="exec",
                               params=params, audit=AuditLog.default(),
                               read_only=read_only_reason(config, cluster, args.read_only),
                               hints=hints) as found:
            target, engine = found.target, found.engine
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
                                       label=engine.label)
            params["exit_status"] = status
            return status
    finally:
        await fleet.close()
