"""What the benches that run on the lab share: the lab that is up and the number of runs
asked for (lab_and_runs), and a slow link: a delaying TCP proxy (swarmdeck.lab.proxy, DELAY
seconds each way) in front of lab managers' sshd, each named MANAGER-slow in an ssh config of
its own that uses the lab's key and known_hosts (host keys checked as the lab's)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

from swarmdeck.cli.lab import lab_dir
from swarmdeck.lab.lab import Lab
from swarmdeck.lab.topology import BRIDGE_IP


class Setup(NamedTuple):
    lab: Lab
    runs: int
    against: str | None  # another install's python, measured side by side (--against)


def lab_and_runs(description: str, max_runs: int) -> Setup:
    """The lab already up (a bench never brings it up), --runs kept to 1..MAX_RUNS, and
    --against PYTHON: the python of another swarmdeck install (say main's venv) whose
    figures are taken in the same run, interleaved with this one's (before/after pairs)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--runs", type=int, default=5, help=f"runs per figure (1..{max_runs})")
    parser.add_argument("--against", metavar="PYTHON",
                        help="also time `PYTHON -m swarmdeck` (another checkout's venv)")
    args = parser.parse_args()
    lab = Lab(lab_dir(None))
    if lab.spec() is None:
        raise SystemExit("no lab here: run `swarmdeck lab up` first")
    return Setup(lab, max(1, min(args.runs, max_runs)), args.against)


def child_env(**extra: str) -> dict[str, str]:
    """The environment of the processes timed: bytecode cached (in a directory of the
    bench's own) as an installed package has it, whatever PYTHONDONTWRITEBYTECODE says
    here; compiling swarmdeck's modules on every start is not what a user pays."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = "/tmp/swarmdeck-bench-pycache"
    env.setdefault("XDG_STATE_HOME", "/tmp/swarmdeck-bench-state")  # the audit log
    return env | extra


def start(lab: Lab, work: Path, ports: dict[str, int], delay: float, *,
          by_address: bool = False) -> tuple[Path, list[subprocess.Popen]]:
    """A proxy on BRIDGE_IP:PORT for each MANAGER of PORTS; returns the ssh config (the
    lab's own included after the slow hosts) and the proxies' processes (stop() them).
    BY_ADDRESS: the node's own address goes through its proxy too (a node dialled at the
    address the swarm reports, as exec and logs dial a task's node)."""
    procs = []
    blocks = [f"Include {lab.ssh_config}"]
    for manager, port in ports.items():
        address = next(n.address for n in lab.all_nodes() if n.name == manager)
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "swarmdeck.lab.proxy", f"{BRIDGE_IP}:{port}",
             f"{address}:22", "--delay", str(delay)], stdout=subprocess.DEVNULL))
        names = f"{manager}-slow {address}" if by_address else f"{manager}-slow"
        blocks.insert(0, f"Host {names}\n    HostName {BRIDGE_IP}\n    Port {port}\n"
                         f"    HostKeyAlias {manager}\n    User root\n"
                         f"    IdentityFile {lab.identity}\n    IdentitiesOnly yes\n"
                         f"    UserKnownHostsFile {lab.known_hosts}\n")
    ssh_config = work / "ssh_config"
    ssh_config.write_text("\n".join(blocks))
    time.sleep(0.5)  # the proxies listening
    return ssh_config, procs


# a running task of SERVICE: its node's hostname and its container's ID, as an operator without
# swarmdeck asks a manager for them over ssh (one remote shell, so one ssh call)
_WHERE = ("set -- $(docker service ps -q --filter desired-state=running {service}); "
          "set -- $(docker inspect --format "
          "'{{{{.NodeID}}}} {{{{.Status.ContainerStatus.ContainerID}}}}' $1); "
          "echo $(docker node inspect --format '{{{{.Description.Hostname}}}}' $1) $2")


def where_it_runs(ssh_config: Path, manager: str, service: str,
                  env: dict[str, str]) -> tuple[str, str]:
    """(node hostname, container ID) of a running task of SERVICE, asked of MANAGER over
    ssh: what a bench's "ask, then ssh" pair pays before it can reach the task."""
    out = subprocess.run(["ssh", "-F", str(ssh_config), manager, _WHERE.format(service=service)],
                         capture_output=True, text=True, env=env, timeout=60,
                         check=True).stdout
    node, container = out.split()
    return node, container


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.terminate()
        proc.wait()
