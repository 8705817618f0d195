"""`swarmdeck init` and `swarmdeck cluster add|rm`: the config file edited as the user wrote it
(core/config_edit.py), after asking the destinations whether they answer as swarm managers
(core/discovery.py)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from swarmdeck.cli.prompt import ask, confirm
from swarmdeck.core.config import Config, config_path
from swarmdeck.core.config_edit import (
    ClusterEntry,
    add_cluster,
    new_config,
    refuse_existing,
    remove_cluster,
)
from swarmdeck.core.discovery import (
    FoundSwarm,
    Probe,
    answering_manager,
    candidates,
    probe_all,
    swarm_text,
    swarms,
)
from swarmdeck.core.errors import UsageError
from swarmdeck.core.sanitize import clean, clean_lines


def run_init(args: argparse.Namespace) -> int:
    from swarmdeck.core.fleet import ssh_settings

    path = config_path(args.config)
    refuse_existing(path)  # before any host is asked
    config = Config()
    if args.ssh_config:
        config.ssh.config = list(args.ssh_config)
    found = candidates(config.ssh.config)
    if not found:
        raise UsageError("found no docker context over ssh:// and no Host in the ssh config "
                         "to ask", hint="add a cluster with `swarmdeck cluster add NAME "
                                        "--manager user@host`")
    print(f"asking {len(found)} candidate{'s' if len(found) > 1 else ''} whether they answer "
          f"as a swarm manager (up to {args.timeout:g}s)...", file=sys.stderr, flush=True)
    probes = asyncio.run(probe_all(found, ssh_settings(config, None), timeout=args.timeout))
    for line in _probe_lines(probes):
        print(f"  {clean(line)}", file=sys.stderr)
    found_swarms = swarms(probes)
    if not found_swarms:
        raise UsageError("none of them answered as a swarm manager: nothing written",
                         hint="add a cluster with `swarmdeck cluster add NAME --manager "
                              "user@host` once one answers")
    print("swarms found:")
    for i, swarm in enumerate(found_swarms, 1):
        print(f"  {i}. {clean(swarm.name)}: {clean(swarm_text(swarm.info))}; "
              f"{clean(swarm.entry.describe())}")
    kept = found_swarms if args.yes else _choose(found_swarms)
    edit = new_config(path, {s.name: s.entry for s in kept}, ssh_config=args.ssh_config or ())
    edit.write()
    print(f"wrote {edit.path} (mode 0600) with cluster{'s' if len(kept) > 1 else ''} "
          f"{', '.join(s.name for s in kept)}; try `swarmdeck ls clusters`")
    return 0


def _choose(found: list[FoundSwarm]) -> list[FoundSwarm]:
    if not sys.stdin.isatty():
        raise UsageError("which swarms to keep? no terminal to ask on",
                         hint="pass --yes to keep every one found")
    try:
        answer = ask(f"Keep which? (numbers, e.g. 1 3; Enter: all {len(found)}) ").strip()
    except EOFError:
        answer = "none"
    if not answer:
        return found
    try:
        chosen = [found[int(word) - 1] for word in answer.replace(",", " ").split()
                  if int(word) >= 1]
    except (ValueError, IndexError):
        raise UsageError(f"not a choice: {answer!r}: nothing written",
                         hint=f"numbers from 1 to {len(found)}") from None
    if not chosen:
        raise UsageError("none kept: nothing written")
    return chosen


def _probe_lines(probes: list[Probe]) -> list[str]:
    lines = []
    for p in probes:
        said = swarm_text(p.info) if p.info is not None else str(p.error)
        lines.append(f"{p.candidate.source}: {said}")
    return lines


def run_cluster(args: argparse.Namespace) -> int:
    path = config_path(args.config)
    if args.cluster_action == "add":
        return _add(args, path)
    edit = remove_cluster(path, args.name)
    print(f"cluster {clean(args.name)} in {edit.path}:")
    print(clean_lines(_indented(edit.removed)))
    confirm(f"Remove cluster {args.name} from the config?", yes=args.yes)
    edit.write()
    print(f"removed cluster {clean(args.name)} from {edit.path} (the swarm itself is "
          "untouched)")
    return 0


def _add(args: argparse.Namespace, path) -> int:
    entry = ClusterEntry(managers=tuple(args.manager or ()), context=args.context,
                         read_only=args.mark_read_only)
    edit = add_cluster(path, args.name, entry, replace=args.force)  # refusals come first
    if not args.no_check:
        found = asyncio.run(answering_manager(edit, args.timeout))
        print(f"cluster {clean(args.name)}: {clean(found)}", flush=True)
    edit.write()
    print(f"added cluster {clean(args.name)} ({clean(entry.describe())}) to {edit.path}")
    return 0


def _indented(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.rstrip("\n").splitlines())
