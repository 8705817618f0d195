"""`swarmdeck` command line: argument parsing and dispatch, nothing else.

Imports stay lazy so that `swarmdeck ls` pays only for what it uses (no Textual).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from swarmdeck import __version__

LS_WHAT = ("clusters", "nodes", "services", "stacks", "tasks")
OPS_COMMANDS = ("scale", "update", "restart", "rollback", "rm", "node", "token", "audit",
                "deploy", "network", "secret", "config", "pin", "unpin", "placement")


# modules that add their own subcommands (each has add_parsers(sub)), and the command ->
# (module, function) that runs the ones not in OPS_COMMANDS; imported only when used
PARSER_MODULES = ("swarmdeck.cli.logs", "swarmdeck.cli.trust", "swarmdeck.cli.events",
                  "swarmdeck.cli.ops", "swarmdeck.cli.resources", "swarmdeck.cli.placement",
                  "swarmdeck.cli.stats", "swarmdeck.cli.exec",
                  "swarmdeck.cli.port_forward")
RUNNERS = {
    "ls": ("swarmdeck.cli.ls", "run_ls"),
    "logs": ("swarmdeck.cli.logs", "run_logs"),
    "events": ("swarmdeck.cli.events", "run_events"),
    "trust": ("swarmdeck.cli.trust", "run_trust"),
    "doctor": ("swarmdeck.cli.doctor", "run_doctor"),
    "lab": ("swarmdeck.cli.lab", "run_lab"),
    "stats": ("swarmdeck.cli.stats", "run_stats"),
    "exec": ("swarmdeck.cli.exec", "run_exec"),
    "port-forward": ("swarmdeck.cli.port_forward", "run_port_forward"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="swarmdeck",
        description="A keyboard-driven operations console for Docker Swarm, over SSH.",
    )
    parser.add_argument("--version", action="version", version=f"swarmdeck {__version__}")
    parser.add_argument("--config", metavar="PATH",
                        help="config file (default: $SWARMDECK_CONFIG or "
                             "$XDG_CONFIG_HOME/swarmdeck/config.toml)")
    parser.add_argument("--cluster", dest="start_cluster", metavar="NAME",
                        help="console: start on this cluster")
    parser.add_argument("--read-only", action="store_true",
                        help="refuse every change (deploy, scale, node and token actions)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND",
                                description="without a command, the console starts")

    ls = sub.add_parser("ls", help="list clusters, nodes, services, stacks or tasks",
                        description="List what the configured clusters hold. Clusters are "
                                    "fetched concurrently; one failing cluster does not stop "
                                    "the others (exit code 1).")
    ls.add_argument("what", choices=LS_WHAT, nargs="?", default="services",
                    help="what to list (default: services)")
    ls.add_argument("--cluster", "-c", metavar="NAME", action="append",
                    help="only this cluster (repeatable; default: all configured)")
    ls.add_argument("--stack", "-s", metavar="STACK", help="only services/tasks of this stack")
    ls.add_argument("--all", "-a", action="store_true",
                    help="tasks: include the history (shut down, failed), like docker service ps")
    ls.add_argument("--json", action="store_true", help="print a JSON list of objects")

    doctor = sub.add_parser("doctor", help="check clusters for faults and fragile setups",
                            description="Check each cluster for what is broken or fragile "
                                        "(managers, nodes, services, placement, images, "
                                        "networks, certificates): what, why, and what to do. "
                                        "Exit code 1 when a cluster has an error; warnings "
                                        "alone exit 0.")
    doctor.add_argument("--cluster", "-c", metavar="NAME", action="append",
                        help="only this cluster (repeatable; default: all configured)")
    doctor.add_argument("--json", action="store_true",
                        help="print a JSON list with one object per cluster")

    lab = sub.add_parser("lab", help="the demo and test lab: real swarms on this machine",
                         description="Run real Docker Swarm clusters on this machine, one set "
                                     "of namespaces (dockerd + sshd) per node. Needs root.")
    lab.add_argument("action", choices=("up", "down", "status", "env"),
                     help="up: build (idempotent); down: remove everything; status: show "
                          "nodes; env: print the config path to use")
    lab.add_argument("--dir", metavar="DIR",
                     help="lab directory (default: $SWARMDECK_LAB_DIR or /var/lib/swarmdeck-lab)")
    lab.add_argument("--cluster", metavar="NAME:MANAGERS:WORKERS", action="append",
                     help="a swarm to create (repeatable; default prod:3:2 and staging:1:1)")
    lab.add_argument("--spares", type=int, metavar="N",
                     help="hosts in no swarm, for adding nodes (default 2)")
    for module in PARSER_MODULES:
        importlib.import_module(module).add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from swarmdeck.core.errors import SwarmdeckError

    try:
        from swarmdeck.cli.exec import split_command

        argv, command = split_command(list(sys.argv[1:] if argv is None else argv))
        args = build_parser().parse_args(argv)  # a module failing to import is a crash too
        if command is not None:
            args.argv = command
        if args.command in OPS_COMMANDS:
            from swarmdeck.cli.ops import run_ops

            return run_ops(args)
        if args.command in RUNNERS:
            module, function = RUNNERS[args.command]
            return getattr(importlib.import_module(module), function)(args)
        from swarmdeck.cli.console import run_console

        return run_console(args)
    except SwarmdeckError as exc:
        from swarmdeck.core.sanitize import clean

        print(f"swarmdeck: {clean(str(exc))}", file=sys.stderr)  # errors quote the cluster
        return exc.exit_code
    except KeyboardInterrupt:
        print("swarmdeck: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: its traceback could quote secrets, so it goes to a file
        from swarmdeck.core import crash

        print(crash.report(exc), file=sys.stderr)
        return crash.EXIT_CODE
