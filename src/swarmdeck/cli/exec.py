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
    try:
        return asyncio.run(_run(config, cluster, args))
    except asyncio.CancelledError:  # SIGTERM during a session (the terminal is restored)
        print("swarmdeck: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM


async def _run(config: Config, cluster: str, args: argparse.Namespace) -> int:
    from swarmdeck.core.exec_session import run_session, task_access
    from swarmdeck.core.fleet import Fleet
    from swarmdeck.core.ops.base import read_only_reason
    from swarmdeck.core.task_exec import TaskExec

    params: dict = {"command": list(args.argv) or "(shell)"}
    if args.user:
        params["user"] = args.user
    fleet = Fleet(config)
    try:
        async with task_access(fleet, cluster, args.target, node=args.node, action="exec",
                               params=params, audit=AuditLog.default(),
                               read_only=read_only_reason(config, cluster, args.read_only)
                               ) as (target, engine):
            task_exec = TaskExec(engine, target.container_id)
            command = list(args.argv)
            if not command:
                command = await task_exec.shell(config.exec.shell, target.service.image)
                params["command"] = command
            status = await run_session(task_exec, command, args.user, stdin=sys.stdin,
                                       stdout=sys.stdout, stderr=sys.stderr,
                                       label=engine.label)
            params["exit_status"] = status
            return status
    finally:
        await fleet.close()
