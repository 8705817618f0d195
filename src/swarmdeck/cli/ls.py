"""`swarmdeck ls clusters|nodes|services|stacks|tasks` (and `ls containers`).

The first manager of each cluster is dialled before anything else is imported
(core.dial_ahead): while the SSH handshake waits on the network, a thread imports pydantic,
the models and the tables and validates the config. Only then is the cluster loaded, over
that connection when the config asks for it. So this module imports little at its top: the
SSH transport, what the dial needs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING

from swarmdeck.cli.main import beside_the_loop, import_modules, said
from swarmdeck.core import dial_ahead  # asyncssh: imported with the module (see cli.main)
from swarmdeck.core.errors import ConfigError, SwarmdeckError, UsageError
from swarmdeck.core.sanitize import clean
from swarmdeck.core.transport.ssh import drop_dialled

if TYPE_CHECKING:
    from swarmdeck.core.config import Config
    from swarmdeck.core.inventory import ClusterState

# what a listing uses besides the connection: imported while the managers are dialled
LISTING = ("swarmdeck.cli.listing", "swarmdeck.core.fleet")


def chosen_clusters(args: argparse.Namespace) -> tuple[Config, list[str]]:
    """The config (its warnings printed) and the clusters `--cluster` names (default: all),
    each checked before any connection."""
    from swarmdeck.cli.render import load_config

    config = load_config(args.config)
    if not config.clusters:
        raise no_clusters_error(config)
    names = args.cluster or list(config.clusters)
    for name in names:
        config.cluster(name)  # unknown names fail here, with a did-you-mean
    return config, names


def run_ls(args: argparse.Namespace) -> int:
    if args.what == "containers":  # from every node's own engine, not the swarm's tables
        return run_containers(args)
    if args.node:
        raise UsageError("--node goes with `ls containers` only")
    config, results = asyncio.run(_read(args))
    from swarmdeck.cli import listing, render  # imported by then (LISTING)
    from swarmdeck.core.inventory import ClusterState

    states = {n: r for n, r in results.items() if isinstance(r, ClusterState)}
    failed = {n: r for n, r in results.items() if isinstance(r, SwarmdeckError)}
    rows = listing.ROWS[args.what](states, args, config, failed)
    if not rows and not failed:
        _check_stack(args, states)
    if args.json:
        print(render.json_text(rows))
    else:
        print(listing.TABLES[args.what](rows))
    for name, error in failed.items():
        print(f"swarmdeck: {cluster_error(name, error)}", file=sys.stderr)
        said(error)  # a changed host key it quotes is not said again at the end
    return 1 if failed else 0


async def _read(args: argparse.Namespace
                ) -> tuple[Config, dict[str, ClusterState | SwarmdeckError]]:
    """The config and each chosen cluster's state (or error); the managers dialled first."""
    dial_ahead.start(args.config, args.cluster)
    try:
        config, names = await beside_the_loop(_prepare, args)
        return config, await _load(config, names)
    finally:
        await drop_dialled()


def _prepare(args: argparse.Namespace) -> tuple[Config, list[str]]:
    """In a thread, while the managers are dialled: the imports, then the config."""
    import_modules(*LISTING)
    return chosen_clusters(args)


def run_containers(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from swarmdeck.cli import render
    from swarmdeck.cli.volumes import problems_said
    from swarmdeck.core import node_objects
    from swarmdeck.core.fleet import Fleet

    config, names = chosen_clusters(args)

    async def read():
        fleet = Fleet(config)
        try:
            rows, problems = [], []
            for name in names:
                state = await fleet.inventory(name).load()
                found, missed = await node_objects.containers(
                    fleet, name, state, all_=args.all, node=args.node)
                rows += found
                problems += missed
            return rows, problems
        finally:
            await fleet.close()

    rows, problems = asyncio.run(read())
    if args.json:
        print(render.json_text([asdict(r) for r in rows]))
    else:
        print(render.table(
            ["CLUSTER", "NODE", "CONTAINER", "NAME", "TASK", "STATE", "STATUS", "IMAGE"],
            [[r.cluster, r.node, r.id, r.name, r.task or "-", r.state, r.status, r.image]
             for r in rows], wide=(7,)))
    return problems_said(problems)


def cluster_error(name: str, error: SwarmdeckError) -> str:
    """ERROR on one line, naming the cluster once (some errors name it themselves)."""
    text = clean(str(error))
    prefix = f"cluster {name}: "
    return text if text.startswith(prefix) else prefix + text


def _check_stack(args: argparse.Namespace, states: dict[str, ClusterState]) -> None:
    """`--stack` naming no stack of the chosen clusters is a typo, not an empty listing."""
    if not args.stack or args.what not in ("services", "stacks", "tasks"):
        return
    stacks = sorted({s.name for st in states.values() for s in st.stacks()})
    if args.stack in stacks:
        return
    from swarmdeck.core.ops.base import did_you_mean

    where = ("cluster " if len(states) == 1 else "clusters ") + ", ".join(states)
    raise UsageError(f"no stack {args.stack!r} in {where}"
                     f"{did_you_mean(args.stack, stacks, 'stacks')}")


async def _load(config: Config, names: list[str]) -> dict[str, ClusterState | SwarmdeckError]:
    from swarmdeck.core.fleet import Fleet

    fleet = Fleet(config)
    try:
        return await fleet.load(names)
    finally:
        await fleet.close()


def no_clusters_error(config: Config) -> ConfigError:
    from swarmdeck.core.config import docker_contexts

    where = f"{config.path}" + ("" if config.exists else " (it does not exist yet)")
    contexts = [c for c in docker_contexts() if c.ssh_destination is not None]
    if contexts:
        offers = "; ".join(
            f'[clusters.{c.name}] context = "{c.name}"  # {c.host}' for c in contexts
        )
        return ConfigError(f"no clusters configured in {where}. Docker contexts over SSH "
                           f"found, add one to the config: {offers}")
    return ConfigError(f"no clusters configured in {where}",
                       hint="add a [clusters.NAME] section with managers = [\"user@host\"], "
                            "or let `swarmdeck init` find the swarm managers this machine "
                            "reaches, or `swarmdeck cluster add NAME --manager user@host` add "
                            "one; config.example.toml documents every key")
