"""`swarmdeck pin|unpin|placement SERVICE`: where a service's tasks may run, and changing it.

Thin over core.ops.placement, with cli.ops' conventions: an invalid expression is refused
before any connection (exit 2), read-only refusals come before any question, the plan (old and
new constraints, the nodes that could run the tasks) is shown before asking, a plan no node
can satisfy is refused (exit 1) unless --force, and the change is followed unless --detach.
"""

from __future__ import annotations

import argparse
import asyncio

from swarmdeck.cli import render
from swarmdeck.cli.front import act
from swarmdeck.cli.session import change_session, pick_cluster
from swarmdeck.core import actions
from swarmdeck.core.config import Config
from swarmdeck.core.ops import placement as ops_placement
from swarmdeck.core.ops.base import ClusterOps
from swarmdeck.core.placement import Placement, label_constraint, parse_constraint
from swarmdeck.core.sanitize import clean


def run_placement(config: Config, args: argparse.Namespace) -> int:
    # bad input fails here, before any connection
    if getattr(args, "constraint", None):
        parse_constraint(args.constraint)
    if args.command == "pin" and args.label:
        label_constraint(args.label)
    cluster = pick_cluster(config, args.cluster)

    async def run() -> int:
        async with change_session(config, cluster, args) as ops:
            if args.command == "placement":
                return await _show(ops, args)
            return await _change(ops, args)

    return asyncio.run(run())


async def _show(ops: ClusterOps, args: argparse.Namespace) -> int:
    found = await ops_placement.survey(ops, args.service)
    placed = found.place(found.constraints)
    if args.json:
        print(render.json_text(_as_json(ops.cluster, found, placed)))
        return 0
    s = found.service
    count = "" if s.replicas is None else \
        f", {s.replicas} replica{'' if s.replicas == 1 else 's'}"
    print(clean(f"service {s.name} on {ops.cluster} ({s.mode}{count})"))
    print(clean(f"constraints: {ops_placement.listed(found.constraints)}"))
    print(nodes_table(placed))
    print(clean(placed.verdict()))
    if placed.shortfall:
        print(clean(placed.shortfall))
    return 0


def nodes_table(placed: Placement) -> str:
    return render.table(
        ["HOSTNAME", "ROLE", "AVAILABILITY", "STATUS", "LABELS", "CAN RUN", "WHY NOT"],
        [[f.node.hostname, f.node.role, f.node.availability, f.node.status,
          ",".join(f"{k}={v}" for k, v in sorted(f.node.labels.items())) or "-",
          "yes" if f.can_run else "no", f.why_not() or "-"] for f in placed.fits],
        wide=(4, 6))


def _as_json(cluster: str, found: ops_placement.Survey, placed: Placement) -> dict:
    return {"cluster": cluster, "service": found.name, "constraints": found.constraints,
            "placeable": placed.placeable, "verdict": placed.verdict(),
            "shortfall": placed.shortfall or None,
            "nodes": [{"hostname": f.node.hostname, "id": f.node.id,
                       "can_run": f.can_run, "why_not": f.why_not() or None}
                      for f in placed.fits]}


async def _change(ops: ClusterOps, args: argparse.Namespace) -> int:
    """Pin or unpin through the one policy (core.actions): read-only refused first, the
    plan read from the cluster and shown, asked (or --yes), made and followed."""
    where = {"node": args.node, "label": args.label, "constraint": args.constraint}
    if args.command == "pin":
        def decide(found: ops_placement.Survey, cluster: str) -> ops_placement.Change:
            return ops_placement.plan_pin(found, cluster, **where)
    else:
        def decide(found: ops_placement.Survey, cluster: str) -> ops_placement.Change:
            return ops_placement.plan_unpin(found, cluster, everything=args.everything,
                                            **where)
    return await act(ops, actions.placement(args.service, args.command, decide,
                                             force=getattr(args, "force", False)), args)
