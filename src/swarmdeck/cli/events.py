"""`swarmdeck events`: a cluster's events as swarm reports them (services, nodes, networks,
secrets, configs, the manager's containers), recent ones or followed, made inert."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime

from swarmdeck.cli import render
from swarmdeck.cli.commands import EVENTS_SINCE
from swarmdeck.cli.render import load_config
from swarmdeck.core import times
from swarmdeck.core.errors import ConnectionLost, UsageError
from swarmdeck.core.events import EVENT_TYPES, ClusterEvent, parse_types, read
from swarmdeck.core.fleet import Fleet
from swarmdeck.core.sanitize import cell

HEADERS = ("TIME", "AGE", "TYPE", "ACTION", "NAME", "DETAILS")


def run_events(args: argparse.Namespace) -> int:
    from swarmdeck.cli.session import pick_cluster

    try:
        types = parse_types(args.types) if args.types else list(EVENT_TYPES)
    except ValueError as exc:
        raise UsageError(f"--type: {exc}") from None
    if args.follow and args.until:
        raise UsageError("--until cannot go with --follow: a followed stream has no end")
    times.check(args.since, args.until, time.time())  # before any connection
    config = load_config(args.config)
    cluster = pick_cluster(config, args.cluster)
    try:
        return asyncio.run(_run(config, cluster, args, types))
    except BrokenPipeError:  # `| head` closed the pipe: that is a normal end
        return 0


async def _run(config, cluster: str, args: argparse.Namespace, types: list[str]) -> int:
    fleet = Fleet(config)
    inventory = fleet.inventory(cluster)
    try:
        await inventory.load()  # checks that it is a manager, and reads its clock
        now = inventory.server_time or time.time()
        since, until = times.window(args.since, args.until, now,
                                    default_since="0s" if args.follow else EVENTS_SINCE)
        until = None if args.follow else until or now
        if inventory.session is None:  # load() connects, or raises
            raise ConnectionLost(f"cluster {cluster} is not connected")
        docker = inventory.session.docker
        if args.follow:
            async for event in read(docker, types, since=since):
                print(render.json_text(as_json(event), indent=None) if args.json
                      else line(event), flush=True)
            raise ConnectionLost(f"the event stream of cluster {cluster} ended")
        found = [e async for e in read(docker, types, since=since, until=until)]
    finally:
        await fleet.close()
    if args.json:
        print(render.json_text([as_json(e) for e in found]))
    elif found:
        now = time.time()
        print(render.table(HEADERS, [row(e, now) for e in found], wide=(5,)))
    else:
        print(f"no events since {_stamp(since)}" if since is not None else "no events",
              file=sys.stderr)
    return 0


def _stamp(moment: float) -> str:
    return datetime.fromtimestamp(moment).astimezone().isoformat(timespec="seconds")


def row(event: ClusterEvent, now: float) -> list[str]:
    import humanize

    age = f"{humanize.naturaldelta(max(0.0, now - event.time))} ago"
    return [_stamp(event.time), age, event.type, event.action, event.name or "-",
            event.summary or "-"]


def line(event: ClusterEvent) -> str:
    """One followed event: time, type, action, name, details; every part inert."""
    stamp = datetime.fromtimestamp(event.time).astimezone().isoformat(timespec="milliseconds")
    return (f"{stamp}  {cell(event.type):<9}  {cell(event.action):<10}  "
            f"{cell(event.name or '-')}  {cell(event.summary)}").rstrip()


def as_json(event: ClusterEvent) -> dict:
    return {"time": datetime.fromtimestamp(event.time, UTC).isoformat(),
            "time_nano": event.time_ns, "type": event.type, "action": event.action,
            "id": event.actor_id, "name": event.name, "scope": event.scope,
            "changes": {k: {"old": o, "new": n} for k, (o, n) in event.changes.items()},
            "details": event.details}

