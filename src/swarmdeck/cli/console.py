"""`swarmdeck` with no command: the console."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from typing import TYPE_CHECKING

from swarmdeck.cli.ls import no_clusters_error
from swarmdeck.cli.render import load_config
from swarmdeck.core.errors import UsageError
from swarmdeck.core.fleet import Fleet

if TYPE_CHECKING:
    from swarmdeck.ui.app import SwarmdeckApp


def run_console(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if not config.clusters:
        raise no_clusters_error(config)
    if args.start_cluster:
        config.cluster(args.start_cluster)  # unknown: a did-you-mean, exit 2
    if not sys.stdout.isatty():
        raise UsageError("the console needs a terminal; for scripts use `swarmdeck ls ...`")
    fleet = Fleet(config)
    for name in fleet.names:
        fleet.inventory(name)  # a bad docker context fails here, before the screen opens
    return asyncio.run(_console(fleet, args))


async def _console(fleet: Fleet, args: argparse.Namespace) -> int:
    app = await start_app(fleet, args.start_cluster, read_only=args.read_only)
    await app.run_async()
    return app.return_code or 0  # a crash: 70, its one line already printed


async def start_app(fleet: Fleet, start_cluster: str | None, *, read_only: bool = False
                    ) -> SwarmdeckApp:
    """The console's app, its first cluster dialled and loading while Textual is imported
    (in a thread): the handshake's round trips and the half second of imports overlap."""
    fleet.inventory(start_cluster or fleet.names[0]).load_early()
    app_module = await asyncio.to_thread(importlib.import_module, "swarmdeck.ui.app")
    return app_module.SwarmdeckApp(fleet.config, fleet, start_cluster=start_cluster,
                                   read_only=read_only)
