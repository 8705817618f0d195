"""`swarmdeck run NAME [TARGET]`: a custom command of the config ([[commands]]) on a service,
task, node or cluster (core.custom_commands); its output made inert unless --raw, its exit
status passed through."""

from __future__ import annotations

import argparse
import asyncio
import sys

from swarmdeck.cli.render import load_config
from swarmdeck.core.sanitize import clean_lines


def run_custom(args: argparse.Namespace) -> int:
    from swarmdeck.cli.session import pick_cluster
    from swarmdeck.core import custom_commands

    config = load_config(args.config)
    command = custom_commands.find(config, args.name)
    cluster = pick_cluster(config, args.cluster)
    return asyncio.run(_run(config, cluster, command, args))


async def _run(config, cluster: str, command, args: argparse.Namespace) -> int:
    from swarmdeck.cli.prompt import confirm
    from swarmdeck.cli.session import change_session
    from swarmdeck.core import custom_commands
    from swarmdeck.core.errors import SwarmdeckError
    from swarmdeck.core.fleet import Fleet

    action = f"command {command.name}"
    fleet = Fleet(config)  # one manager connection for the ops and the node's link
    try:
        async with change_session(config, cluster, args, fleet=fleet) as ops:
            if command.dangerous:
                ops.check_writable(action, args.target or cluster)  # before any question
            state = await fleet.inventory(cluster).load()
            where = custom_commands.target(command, state, args.target)
            argv = custom_commands.expand(command, where)
            if command.confirm or command.dangerous:
                confirm(custom_commands.question(command, where, argv), yes=args.yes)

            async def work():
                return await custom_commands.run(fleet, command, where, argv,
                                                 timeout=args.timeout)

            params = {"argv": argv, "where": command.where,
                      **({"node": where.values["node"]} if "node" in where.values else {})}
            if command.dangerous:
                result = await ops.guarded(action, where.label, params, work)
            else:  # not a change: still on record, read-only or not, run or failed
                record = dict(cluster=cluster, manager=ops.manager, action=action,
                              target=where.label, params=params)
                try:
                    result = await work()
                except SwarmdeckError as exc:
                    ops.record(**record, result="error", error=str(exc))
                    raise
                ops.record(**record, result="ok")
    finally:
        await fleet.close()
    for data, stream in ((result.stdout, sys.stdout), (result.stderr, sys.stderr)):
        if not data:
            continue
        if args.raw:
            stream.flush()
            stream.buffer.write(data)
            stream.buffer.flush()
        else:
            text = clean_lines(data.decode("utf-8", errors="replace").rstrip("\n"))
            print(text, file=stream)
    return result.status
