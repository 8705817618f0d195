"""`swarmdeck network|secret|config ls|create|rm`, `secret|config rotate`, `config inspect`.

Thin over core.ops.resources, with cli.ops' conventions: input is checked before any
connection, read-only refusals before any question, removals ask for the name to be typed,
and without a terminal nothing changes unless --yes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict

from swarmdeck.cli import render
from swarmdeck.cli.prompt import confirm, read_secret
from swarmdeck.cli.session import change_session, pick_cluster
from swarmdeck.core.config import Config
from swarmdeck.core.errors import UsageError
from swarmdeck.core.ops import resources
from swarmdeck.core.ops.base import ClusterOps
from swarmdeck.core.sanitize import clean


def run_resources(config: Config, args: argparse.Namespace) -> int:
    kind, action = args.command, args.resource_action
    data = None
    if action == "rotate":  # the data is read and checked before any connection
        data = resources.check_data(kind, read_data(args.source, args.file, kind=kind))
    if action == "create":  # bad input fails here, before any connection
        resources.check_name(kind, args.name)
        if kind == "network":
            args.subnet = resources.check_subnet(args.subnet) if args.subnet else None
        else:
            data = resources.check_data(kind, read_data(args.source, args.file, kind=kind))
    cluster = pick_cluster(config, args.cluster)

    async def run() -> int:
        async with change_session(config, cluster, args) as ops:
            if action == "ls":
                return await _ls(ops, kind, args.json)
            if action == "inspect":
                return await _inspect(ops, args.name)
            if action == "create":
                return await _create(ops, kind, args, data)
            if action == "rotate":
                assert data is not None
                return await _rotate(ops, kind, args, data)
            return await _rm(ops, kind, args)

    return asyncio.run(run())


def read_data(source: str | None, path: str | None, *, kind: str = "config") -> bytes:
    """The data of a secret or config: a file, or standard input for "-". A secret typed at
    a terminal is asked for without echo, twice, and ends at Enter (no newline kept); from a
    pipe every byte is kept as given, a trailing newline too, as `docker secret create`
    keeps it."""
    if source not in (None, "-"):
        raise UsageError(f"unexpected argument {source!r}",
                         hint="give the data with --file PATH, or - to read standard input")
    if (source is None) == (path is None):
        raise UsageError("where is the data? give --file PATH or - (standard input), "
                         "one of them")
    if path not in (None, "-"):
        return resources.read_file(path)
    if kind == "secret" and sys.stdin.isatty():
        return read_secret("secret data")
    return sys.stdin.buffer.read()


async def _ls(ops: ClusterOps, kind: str, as_json: bool) -> int:
    found = await resources.fetch(ops, (kind,))
    rows = found.of(kind)
    if as_json:
        print(json.dumps([{"cluster": ops.cluster, **asdict(r)} for r in rows], indent=2,
                         default=str))
    else:
        print(TABLES[kind](rows))
    return 0


def _networks_table(rows) -> str:
    return render.table(
        ["NAME", "DRIVER", "SCOPE", "ENCRYPTED", "ATTACHABLE", "INTERNAL", "SUBNETS",
         "SERVICES"],
        [[r.name, r.driver, r.scope, _yes(r.encrypted), _yes(r.attachable),
          _yes(r.internal), ",".join(r.subnets) or "-", _services(r.services)]
         for r in rows], wide=(7,))


def _secrets_table(rows) -> str:
    return render.table(
        ["NAME", "CREATED", "UPDATED", "LABELS", "SERVICES"],
        [[r.name, render.ago(r.created_at), render.ago(r.updated_at), _labels(r.labels),
          _services(r.services)] for r in rows], wide=(3, 4))


def _configs_table(rows) -> str:
    return render.table(
        ["NAME", "SIZE", "CREATED", "UPDATED", "LABELS", "SERVICES"],
        [[r.name, r.size if r.size is not None else "-", render.ago(r.created_at),
          render.ago(r.updated_at), _labels(r.labels), _services(r.services)] for r in rows],
        right=(1,), wide=(4, 5))


TABLES = {"network": _networks_table, "secret": _secrets_table, "config": _configs_table}


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _services(names: list[str]) -> str:
    return ",".join(names) or "-"


def _labels(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "-"


async def _inspect(ops: ClusterOps, ref: str) -> int:
    _row, data = await resources.config_data(ops, ref)
    for line in data.decode("utf-8", errors="replace").splitlines():
        print(clean(line))
    return 0


async def _create(ops: ClusterOps, kind: str, args: argparse.Namespace,
                  data: bytes | None) -> int:
    ops.check_writable(f"{kind} create", args.name)  # before any question
    # a duplicate name or a subnet in use: refused before asking (and again when creating)
    existing = await resources.check_free(ops, kind, args.name)
    if kind == "network":
        if args.subnet:
            resources.check_overlap(args.subnet, existing)
        opts = [o for o in ("encrypted", "attachable") if getattr(args, o)]
        opts.append(f"subnet {args.subnet or 'automatic'}")
        confirm(f"Create overlay network {args.name} ({', '.join(opts)}) on {ops.cluster}?",
                yes=args.yes)
        text = await resources.create_network(ops, args.name, encrypted=args.encrypted,
                                              attachable=args.attachable, subnet=args.subnet)
    else:
        assert data is not None
        confirm(f"Create {kind} {args.name} ({len(data)} bytes) on {ops.cluster}?",
                yes=args.yes)
        text = await resources.create_secret(ops, kind, args.name, data)
    print(clean(text))
    return 0


async def _rotate(ops: ClusterOps, kind: str, args: argparse.Namespace, data: bytes) -> int:
    from swarmdeck.core.ops import rotate

    ops.check_writable(f"{kind} rotate", args.name)  # before any question
    rotation = await rotate.plan(ops, kind, args.name)
    confirm(rotation.question(len(data)) + f" (on {ops.cluster})", yes=args.yes)
    print(clean(await rotate.rotate(ops, rotation, data, timeout=args.timeout,
                                    on_progress=lambda line: print(f"  {clean(line)}",
                                                                   flush=True))))
    return 0


async def _rm(ops: ClusterOps, kind: str, args: argparse.Namespace) -> int:
    ops.check_writable(f"{kind} remove", args.name)
    found = await resources.fetch(ops, (kind,))
    row = resources.find(found.of(kind), kind, args.name, ops.cluster)
    resources.check_removable(row, kind, ops.cluster)  # in use: refused before asking
    confirm(f"Remove {kind} {row.name} from {ops.cluster}?", yes=args.yes, typed=row.name)
    print(clean(await resources.remove(ops, kind, row.id)))
    return 0
