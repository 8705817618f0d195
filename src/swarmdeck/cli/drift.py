"""`swarmdeck drift [PROJECT] [--env E] [--json]`: for each project environment, whether its
running stack differs from its compose file, service by service and field by field."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from swarmdeck.cli import render
from swarmdeck.cli.render import load_config
from swarmdeck.core.errors import SwarmdeckError
from swarmdeck.core.sanitize import clean


def run_drift(args: argparse.Namespace) -> int:
    from swarmdeck.core.ops import environments

    config = load_config(args.config)
    if args.project:
        env, _ = environments.environment(config, args.project, args.env)
        wanted = [(args.project, env)]
    else:
        wanted = [(p, e) for p, project in config.projects.items()
                  for e in project.environments if args.env in (None, e)]
    # every compose file is read and checked before any connection
    prepared = [environments.prepare(config, p, e) for p, e in wanted]
    rows, failed = asyncio.run(_check(config, prepared))
    if args.json:
        print(json.dumps([r.row() for r in rows], indent=2))
    else:
        _print(rows)
    for name, error in failed:
        print(f"swarmdeck: {name}: {clean(str(error))}", file=sys.stderr)
    return 1 if failed else 0


async def _check(config, prepared):
    from swarmdeck.core.fleet import open_ops
    from swarmdeck.core.ops import drift

    rows: list[drift.Drift] = []
    failed: list[tuple[str, SwarmdeckError]] = []
    by_cluster: dict[str, list] = {}
    for p in prepared:
        by_cluster.setdefault(p.cluster, []).append(p)

    async def one_cluster(cluster: str, items: list) -> None:
        try:
            ops = await open_ops(config, cluster, read_only_flag=True)
        except SwarmdeckError as exc:
            failed.extend((f"{p.project}/{p.environment}", exc) for p in items)
            return
        try:
            for p in items:
                try:
                    rows.append(await drift.check(ops, p))
                except SwarmdeckError as exc:
                    failed.append((f"{p.project}/{p.environment}", exc))
        finally:
            await ops.session.close()

    await asyncio.gather(*(one_cluster(c, items) for c, items in by_cluster.items()))
    order = {(p.project, p.environment): i for i, p in enumerate(prepared)}
    rows.sort(key=lambda r: order[(r.project, r.environment)])
    return rows, failed


def _print(rows) -> None:
    table = []
    for r in rows:
        if not r.drifted:
            table.append([r.project, r.environment, r.cluster, r.stack, "in sync", "", "", ""])
        for c in r.changes:
            table.append([r.project, r.environment, r.cluster, r.stack, "DRIFTED",
                          c["service"], c["field"],
                          f"{_value(c['running'])} (file: {_value(c['declared'])})"])
    print(render.table(["PROJECT", "ENV", "CLUSTER", "STACK", "STATE", "SERVICE", "FIELD",
                        "RUNNING"], table, wide=(7,)))


def _value(value) -> str:
    return "-" if value is None else (value or '""')
