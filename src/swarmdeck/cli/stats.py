"""`swarmdeck stats`: `docker stats` for the whole swarm (every service and node)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from dataclasses import asdict
from typing import Any

from swarmdeck.cli import render
from swarmdeck.cli.ls import chosen_clusters
from swarmdeck.core.views import human_size


def run_stats(args: argparse.Namespace) -> int:
    config, names = chosen_clusters(args)
    try:
        return asyncio.run(_stats(config, names, args))
    except KeyboardInterrupt:
        return 0  # the way out of a refreshing view, as with docker stats


async def _stats(config, names: list[str], args: argparse.Namespace) -> int:
    from swarmdeck.core.fleet import Fleet
    from swarmdeck.core.stats import check_wanted, follow_stats, stat_rows

    fleet = Fleet(config)
    failed: dict[str, Any] = {}
    clear = sys.stdout.isatty() and not args.once and not args.json
    try:
        async with contextlib.aclosing(follow_stats(fleet, names, once=args.once)) as rounds:
            first = True
            async for states, errors in rounds:
                failed = errors
                if first:
                    check_wanted(states, args.names)
                rows = [asdict(r) for name, st in states.items()
                        for r in stat_rows(name, st, fleet.metrics(name).metrics, args.names)]
                if args.json:
                    print(render.json_text(rows, indent=None if not args.once else 2),
                          flush=True)
                else:
                    if clear:
                        print("\x1b[H\x1b[2J", end="")
                    elif not first:
                        print()
                    print(table(rows), flush=True)
                if first:
                    for name, error in errors.items():
                        print(f"swarmdeck: cluster {name}: {render.cell(str(error))}",
                              file=sys.stderr)
                first = False
    finally:
        await fleet.close()
    return 1 if failed else 0


def cpu_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}%"


def table(rows: list[dict[str, Any]]) -> str:
    return render.table(
        ["CLUSTER", "KIND", "NAME", "CPU %", "MEM", "TASKS", "NOTE"],
        [[r["cluster"], r["kind"], r["name"], cpu_text(r["cpu_percent"]),
          "-" if r["memory_bytes"] is None else human_size(r["memory_bytes"]),
          "" if r["tasks"] is None else r["tasks"], r["note"]] for r in rows],
        right=(3, 4, 5))
