"""What every command that talks to one cluster shares: picking the cluster, the change
session (one audit line per attempted change, whatever its end), following a change to its
outcome. Used by cli/ops.py and the modules it routes to (placement, resources, volumes...)
without importing the dispatcher."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import AsyncIterator, Sequence

from swarmdeck.core.audit import AuditLog
from swarmdeck.core.config import Config
from swarmdeck.core.errors import SwarmdeckError, UsageError
from swarmdeck.core.fleet import Fleet, open_ops
from swarmdeck.core.ops import progress as prog
from swarmdeck.core.ops.base import ClusterOps, record_unreached
from swarmdeck.core.sanitize import clean, clean_lines


def pick_cluster(config: Config, name: str | None) -> str:
    if name:
        config.cluster(name)
        return name
    if len(config.clusters) == 1:
        return next(iter(config.clusters))
    if not config.clusters:
        raise UsageError(f"no clusters configured in {config.path}")
    raise UsageError("which cluster? pass --cluster NAME (configured: "
                     f"{', '.join(config.clusters)})")


@contextlib.asynccontextmanager
async def change_session(config: Config, cluster: str, args: argparse.Namespace, *,
                         fleet: Fleet | None = None) -> AsyncIterator[ClusterOps]:
    """The cluster's ops for one command, and exactly one audit line per attempted change
    with its true result: made and followed to its outcome, refused, not confirmed, failed,
    or its manager out of reach (a change that could not even be tried is recorded too).
    FLEET: the command's own, when it also reads the nodes (one manager connection)."""
    try:
        ops = await open_ops(config, cluster, read_only_flag=args.read_only, fleet=fleet)
    except SwarmdeckError as exc:
        attempt = attempt_of(args)
        if attempt is not None:
            record_unreached(AuditLog.default(), cluster, *attempt, exc)
        raise
    ops.defer_outcome = True
    try:
        yield ops
    except BaseException as exc:
        try:
            ops.conclude(exc)
        except SwarmdeckError as again:  # the audit log failed since the check: say it too
            print(f"swarmdeck: {clean(str(again))}", file=sys.stderr)
        raise
    else:
        ops.conclude(None)
    finally:
        await ops.session.close()


def attempt_of(args: argparse.Namespace) -> tuple[str, str] | None:
    """The change a command line asks for, as (action, target) for the audit log (None: it
    asks for no change)."""
    command = args.command
    if command == "scale":
        return "scale", ", ".join(t.partition("=")[0] for t in args.targets)
    if command == "update":
        return "update image", args.service
    if command in ("restart", "rollback"):
        return command, args.service
    if command == "rm":
        return f"remove {args.kind}", args.name
    if command == "node":
        return (f"node {args.node_action}",
                getattr(args, "node", "") or getattr(args, "destination", ""))
    if command == "token":
        return (f"token rotate {args.role}", "") if args.token_action == "rotate" else None
    if command in ("network", "secret", "config") and args.resource_action in ("create", "rm"):
        verb = "create" if args.resource_action == "create" else "remove"
        return f"{verb} {command}", args.name
    if command in ("pin", "unpin"):
        return command, args.service
    if command == "deploy":
        return "deploy", f"{args.project}/{args.env or ''}".rstrip("/")
    return None


async def follow(ops: ClusterOps, started, args: argparse.Namespace, *,
                 good: Sequence[str] | None = None) -> int:
    """Print the change's summary, then its services' progress until each has an outcome
    (unless --detach); GOOD: the outcomes that count as done (see prog.outcome_error)."""
    print(clean_lines(started.summary))  # ours, one line per step
    if args.detach or not started.services:
        return 0
    shown: dict[str, str] = {}
    last: list[prog.ServiceProgress] = []
    async for last in prog.watch(ops.docker, started.services, timeout=args.timeout):
        for p in last:
            line = clean(p.line())
            if shown.get(p.service_id) != line:
                shown[p.service_id] = line
                print(f"  {line}", flush=True)
    error = prog.outcome_error(last, good)
    if error:
        raise error
    return 0
