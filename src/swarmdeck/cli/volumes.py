"""`swarmdeck volume ls|rm`: every node's volumes, read from each node's own engine at once
over the per-node SSH connections (core.node_objects). `ls containers` is in cli/ls.py."""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import asdict

from swarmdeck.cli import render
from swarmdeck.cli.render import load_config
from swarmdeck.core import node_objects
from swarmdeck.core.errors import OperationFailed, Refused, UsageError
from swarmdeck.core.fleet import Fleet
from swarmdeck.core.sanitize import clean


def run_volume(args: argparse.Namespace) -> int:
    from swarmdeck.cli.session import pick_cluster

    config = load_config(args.config)
    cluster = pick_cluster(config, args.cluster)
    if args.volume_action == "ls":
        return asyncio.run(_ls(config, cluster, args))
    return asyncio.run(_rm(config, cluster, args))


async def _ls(config, cluster: str, args: argparse.Namespace) -> int:
    fleet = Fleet(config)
    try:
        state = await fleet.inventory(cluster).load()
        rows, problems = await node_objects.volumes(fleet, cluster, state, node=args.node)
    finally:
        await fleet.close()
    if args.json:
        print(render.json_text([asdict(r) for r in rows]))
    else:
        print(render.table(["CLUSTER", "NODE", "NAME", "DRIVER", "USED BY", "MOUNTPOINT"],
                           [[r.cluster, r.node, r.name, r.driver, ", ".join(r.used_by) or "-",
                             r.mountpoint] for r in rows], wide=(4, 5)))
    return problems_said(problems)


async def _rm(config, cluster: str, args: argparse.Namespace) -> int:
    from swarmdeck.cli.prompt import confirm
    from swarmdeck.cli.session import change_session

    target = f"{args.name}@{args.node}"
    fleet = Fleet(config)
    try:
        async with change_session(config, cluster, args, fleet=fleet) as ops:
            ops.check_writable("volume remove", target)  # before any question
            state = await fleet.inventory(cluster).load()
            rows, problems = await node_objects.volumes(fleet, cluster, state, node=args.node)
            if problems:
                raise OperationFailed(f"node {args.node} could not be read: "
                                      f"{problems[0].error}")
            row = next((r for r in rows if r.name == args.name), None)
            if row is None:
                raise UsageError(f"no volume {args.name!r} on node {args.node} of cluster "
                                 f"{cluster}", hint="see `swarmdeck volume ls`")
            if row.containers:
                raise Refused(f"volume {args.name} on {row.node} is in use by "
                              f"{', '.join(row.used_by)} ({row.containers} container(s), "
                              "stopped ones included): nothing removed",
                              hint="remove or move what uses it first")
            confirm(f"Remove volume {args.name} from node {row.node} of {cluster}? Its data is "
                    "deleted.", yes=args.yes, typed=args.name)
            node = next(n for n in state.nodes.values() if n.hostname == row.node)
            engine = await fleet.task_engine(cluster, node.id)

            async def work() -> str:
                await engine.request("DELETE", f"/volumes/{args.name}")
                return f"removed volume {args.name} from node {row.node} of {cluster}"

            print(clean(await ops.guarded("volume remove", target, {"node": row.node},
                                          work)))
    finally:
        await fleet.close()
    return 0


def problems_said(problems) -> int:
    for p in problems:
        print(f"swarmdeck: cluster {p.cluster}: node {p.node}: {clean(p.error)}",
              file=sys.stderr)
    return 1 if problems else 0
