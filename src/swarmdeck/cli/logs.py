"""`swarmdeck logs SERVICE|STACK`: every replica's lines, merged in time order, each prefixed
with `service.slot@node`, made inert unless --raw; stream losses are said on stderr and
resumed without losing or repeating a line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import sys
import time

from swarmdeck.cli.render import load_config
from swarmdeck.core import times
from swarmdeck.core.errors import SwarmdeckError, UsageError
from swarmdeck.core.fleet import Fleet
from swarmdeck.core.log_follow import StreamNote, Tagger, silent_replicas
from swarmdeck.core.logs import LogLine
from swarmdeck.core.ops.base import did_you_mean
from swarmdeck.core.sanitize import clean


def run_logs(args: argparse.Namespace) -> int:
    from swarmdeck.cli.session import pick_cluster

    if args.tail != "all" and not args.tail.isdigit():
        raise UsageError(f"--tail {args.tail!r}: give a number of lines or all")
    try:
        pattern = re.compile(args.grep) if args.grep else None
    except re.error as exc:
        raise UsageError(f"--grep {args.grep!r} is not a valid regular expression: "
                         f"{exc}") from None
    times.check(args.since, None, time.time())  # before any connection
    config = load_config(args.config)
    cluster = pick_cluster(config, args.cluster)
    try:
        return asyncio.run(_run(config, cluster, args, pattern))
    except BrokenPipeError:  # `| head` closed the pipe: that is a normal end
        return 0


async def _run(config, cluster: str, args, pattern) -> int:
    fleet = Fleet(config)
    inventory = fleet.inventory(cluster)
    live = None
    try:
        state = await inventory.load()
        start, _ = times.window(args.since, None, inventory.server_time or time.time())
        since = None if start is None else f"{start:.3f}"
        services = _resolve(state, args.target, cluster)
        for note in silent_replicas(state, [sid for sid, _ in services]):
            _note(note)
        # following: the inventory stays live (reconnecting as the console's does), so new
        # replicas (a restart, a scale) are seen
        live = asyncio.create_task(inventory.run()) if args.follow else None
        tagger = Tagger(state)
        out = sys.stdout
        async with contextlib.aclosing(fleet.follow_logs(
                cluster, services, follow=args.follow, tail=args.tail, since=since)) as items:
            async for item in items:
                if isinstance(item, StreamNote):
                    _note(item)
                    continue
                if pattern and not pattern.search(item.text):
                    continue
                out.write(format_line(item, *tagger.tag(item), timestamps=args.timestamps,
                                      raw=args.raw))
                if args.follow:
                    out.flush()
        return 0
    finally:
        if live is not None:
            live.cancel()
        await fleet.close()


def format_line(line: LogLine, replica: str, node: str, *, timestamps: bool = False,
                raw: bool = False) -> str:
    """`[TIME ]service.slot@node | text` and a newline; the text inert unless RAW."""
    stamp = f"{line.timestamp.isoformat()} " if timestamps and line.timestamp else ""
    text = line.text if raw else clean(line.text)
    return f"{stamp}{clean(replica)}@{clean(node)} | {text}\n"


def _note(note: StreamNote) -> None:
    print(f"swarmdeck: {clean(note.text)}", file=sys.stderr, flush=True)


def _resolve(state, target: str, cluster: str) -> list[tuple[str, str]]:
    by_name = {s.name: s for s in state.services.values()}
    if target in by_name:
        return [(by_name[target].id, target)]
    matches = [s for s in state.services.values() if s.id.startswith(target)] \
        if len(target) >= 4 else []
    if len(matches) == 1:
        return [(matches[0].id, matches[0].name)]
    stack = sorted((s.name, s.id) for s in state.services.values() if s.stack == target)
    if stack:
        return [(sid, name) for name, sid in stack]
    stacks = sorted({s.stack for s in state.services.values() if s.stack})
    raise UsageError(f"no service or stack {target!r} in cluster {cluster}"
                     f"{did_you_mean(target, [*by_name, *stacks], 'services and stacks')}")


__all__ = ["run_logs", "SwarmdeckError"]
