"""`swarmdeck lab up|down|status|env`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from swarmdeck.cli import render
from swarmdeck.lab.lab import Lab
from swarmdeck.lab.topology import default_lab_dir, make_spec


def lab_dir(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit).resolve()
    env = os.environ.get("SWARMDECK_LAB_DIR")
    return Path(env).resolve() if env else default_lab_dir()


def run_lab(args: argparse.Namespace) -> int:
    lab = Lab(lab_dir(args.dir), say=_say)
    if args.names and args.action != "solo":
        from swarmdeck.core.errors import UsageError

        raise UsageError(f"`swarmdeck lab {args.action}` takes no names (only `lab solo` does)")
    if args.action == "up":
        lab.up(make_spec(args.cluster, args.spares))
        print(f"lab ready. Try:\n  swarmdeck --config {lab.config_file} ls nodes\n"
              f"  ssh -F {lab.ssh_config} {lab.spec().nodes()[0].name} docker node ls")
        return 0
    if args.action == "down":
        lab.down()
        print("lab down: nothing left behind")
        return 0
    if args.action == "solo":
        return _solo(lab, args.names)
    if args.action == "env":
        print(f"SWARMDECK_CONFIG={lab.config_file}")
        return 0
    states = lab.status()
    if not states:
        print(f"no lab in {lab.dir}")
        leftovers = lab.leftovers()
        if leftovers:
            print("leftovers of a killed lab (`swarmdeck lab down` clears them): "
                  + ", ".join(leftovers))
            return 1
        return 0
    print(render.table(
        ["NODE", "ADDRESS", "CLUSTER", "ROLE", "NETNS", "DOCKERD", "SSHD", "SWARM"],
        [[s.node.name, s.node.address, s.node.cluster or "-", s.node.role,
          _yes(s.netns), _yes(s.dockerd), _yes(s.sshd), s.swarm] for s in states],
    ))
    print(f"\nconfig: {lab.config_file}\nssh:    ssh -F {lab.ssh_config} NODE")
    return 0 if lab.healthy() else 1


def _solo(lab: Lab, words: list[str]) -> int:
    from swarmdeck.core.errors import UsageError

    if not words or words[0] not in ("add", "rm"):
        raise UsageError("usage: swarmdeck lab solo add NAME... | swarmdeck lab solo rm [NAME...]")
    if words[0] == "add":
        if len(words) < 2:
            raise UsageError("swarmdeck lab solo add needs at least one NAME, e.g. solo1")
        lab.add_solo(words[1:])
        print(f"solo clusters up; config: {lab.solo_config_file}")
        return 0
    unknown = [w for w in words[1:] if w not in lab.solo()]
    if unknown:
        raise UsageError(f"no solo cluster {', '.join(unknown)} in this lab (it has: "
                         f"{', '.join(n for n in lab.solo() if n) or 'none'})")
    lab.remove_solo(words[1:] or None)
    print("solo clusters removed")
    return 0


def _say(message: str) -> None:
    # one write per line: the lab reports from several threads at once
    sys.stderr.write(f"lab: {message}\n")
    sys.stderr.flush()


def _yes(flag: bool) -> str:
    return "up" if flag else "DOWN"
