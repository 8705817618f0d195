"""`swarmdeck` with no command: the console."""

from __future__ import annotations

import argparse
import sys

from swarmdeck.cli.ls import no_clusters_error
from swarmdeck.cli.render import load_config
from swarmdeck.core.errors import UsageError
from swarmdeck.core.fleet import Fleet


def run_console(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if not config.clusters:
        raise no_clusters_error(config)
    if args.start_cluster:
        config.cluster(args.start_cluster)  # unknown: a did-you-mean, exit 2
    if not sys.stdout.isatty():
        raise UsageError("the console needs a terminal; for scripts use `swarmdeck ls ...`")
    from swarmdeck.ui.app import SwarmdeckApp

    fleet = Fleet(config)
    for name in fleet.names:
        fleet.inventory(name)  # a bad docker context fails here, before the screen opens
    app = SwarmdeckApp(config, fleet, start_cluster=args.start_cluster,
                       read_only=args.read_only)
    app.run()
    return app.return_code or 0  # a crash: 70, its one line already printed
