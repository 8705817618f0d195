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
    from swarmdeck.core import custom_commands
    from swarmdeck.core.audit import AuditLog
    from swarmdeck.core.fleet import Fleet
    from swarmdeck.core.ops.base import read_only_reason

    async def ask(question: str, _dangerous: bool) -> bool:
        confirm(question, yes=args.yes)  # raises when not confirmed (or no terminal)
        return True

    fleet = Fleet(config)  # one manager connection for the target and the node's link
    try:
        inventory = fleet.inventory(cluster)
        state = await inventory.load()
        where = custom_commands.target(command, state, args.target)
        argv = custom_commands.expand(command, where)
        result = await custom_commands.perform(
            command, where, argv, audit=AuditLog.default(),
            read_only=read_only_reason(config, cluster, args.read_only), ask=ask,
            execute=lambda: custom_commands.run(fleet, command, where, argv,
                                                timeout=args.timeout),
            manager=inventory.session.label if inventory.session else None)
    finally:
        await fleet.close()
    assert not isinstance(result, int)  # run() gives the output too
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
