"""A swarm of 1000 services over a 50 ms link: `swarmdeck ls` and the console's first screen.

A private one-node cluster (`lab solo add`, removed at the end) gets SERVICES services, all at
0 replicas but RUNNING of them (no containers: the machine's processes are few), behind a
delaying TCP proxy adding 50 ms of round trip in front of its sshd. Then, as processes,
interleaved, best of the runs:

  (g) `swarmdeck ls services` against `docker service ls` (same link, same ssh config) and
      the floor process (python, asyncssh, connect, GET /services?status=true)
  (h) the console's first full screen: from the process's start until the services table
      holds every service (headless, 160x50), and the console's RSS then (VmRSS, VmHWM)

Targets: (g) no slower than docker service ls; (h) <= 1.5 s and RSS <= 150 MB.
--before CHECKOUT also times swarmdeck run from CHECKOUT/src (the code before a change).
Run as root, on the running lab (never rebuilt):  python bench/big_cluster.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from first_screen import (
    before_cases,
    docker_process,
    floor_process,
    python_env,
    race,
    ratio_line,
    swarmdeck_process,
)
from shared_lab import shared_lab

from swarmdeck.lab import node as labnode
from swarmdeck.lab.lab import Lab
from swarmdeck.lab.topology import BRIDGE_IP, DEMO_IMAGE

SOLO = "bench1"
PORT = 2210
DELAY = 0.025  # each way: 50 ms round trip
MAX_SERVICES = 5000
CONSOLE_TARGET, RSS_TARGET = 1.5, 150  # seconds, MB

# The console, headless, until its services table holds WANT rows: prints its RSS then.
CONSOLE_PROBE = """
import asyncio, json, sys
from swarmdeck.core.config import load_config
from swarmdeck.core.fleet import Fleet
try:  # as `swarmdeck` starts the console: the cluster dialled while Textual is imported
    from swarmdeck.cli.console import start_app
except ImportError:  # a checkout from before start_app
    async def start_app(fleet, start_cluster):
        from swarmdeck.ui.app import SwarmdeckApp
        return SwarmdeckApp(fleet.config, fleet)

def status():
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return {k: int(fields[k].split()[0]) // 1024 for k in ("VmRSS", "VmHWM")}

async def main(path, want):
    app = await start_app(Fleet(load_config(path)), None)
    async with app.run_test(size=(160, 50)) as pilot:
        for _ in range(6000):  # 60 s at most
            tables = app.screen.query("#services")
            if tables and tables.first().row_count >= want:
                break
            await pilot.pause(0.01)
        else:
            raise SystemExit("the services table never filled")
        await pilot.pause(0)  # the frame with the rows composed
        print(json.dumps(status()), flush=True)

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def compose(services: int, running: int) -> str:
    lines = ['version: "3.8"', "services:"]
    for i in range(services):
        lines += [f"  s{i:04d}:", f"    image: {DEMO_IMAGE}:1.0",
                  '    command: ["sleep", "100000"]', "    stop_grace_period: 1s",
                  "    deploy:", f"      replicas: {1 if i < running else 0}",
                  "      endpoint_mode: dnsrr", "      resources: {limits: {memory: 16M}}"]
    return "\n".join(lines) + "\n"


def setup(lab: Lab, work: Path, services: int, running: int) -> tuple[Path, Path, dict]:
    if SOLO in lab.solo():  # left by a run that was killed
        lab.remove_solo([SOLO])
    lab.add_solo([SOLO])
    node = next(n for n in lab.solo_nodes() if n.name.startswith(f"{SOLO}-"))
    host = labnode.docker_host(lab.dir, node)
    (work / "bench.yml").write_text(compose(services, running))
    print(f"deploying {services} services ({running} with one replica) on {SOLO}", flush=True)
    lab.docker(host, "stack", "deploy", "-c", str(work / "bench.yml"), "big", timeout=900)
    deadline = time.monotonic() + 300
    while True:
        out = lab.docker(host, "service", "ls", "--format", "{{.Replicas}}")
        if len(out.split()) >= services and out.split().count("1/1") >= running:
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"{SOLO}: services not converged after 300s")
        time.sleep(2)
    ssh_config = work / "ssh_config"
    ssh_config.write_text(
        f"Host {node.name}-slow\n    HostName {BRIDGE_IP}\n    Port {PORT}\n"
        f"    HostKeyAlias {node.name}\n    User root\n    IdentityFile {lab.identity}\n"
        f"    IdentitiesOnly yes\n    UserKnownHostsFile {lab.known_hosts}\n\n"
        f"Include {lab.ssh_config}\n")
    config = work / "config.toml"
    config.write_text(f'[ssh]\nconfig = ["{ssh_config}"]\n'
                      f'[clusters.{SOLO}]\nmanagers = ["{node.name}-slow"]\n')
    config.chmod(0o600)
    wrapper = work / "bin" / "ssh"  # the docker CLI runs plain `ssh`: hand it this config
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\nexec /usr/bin/ssh -F {ssh_config} "$@"\n')
    wrapper.chmod(0o755)
    env = {**os.environ, "PATH": f"{wrapper.parent}:{os.environ['PATH']}",
           "DOCKER_CONFIG": str(work / "docker-cli")}
    proxy = {"address": node.address, "name": f"{node.name}-slow"}
    return config, ssh_config, {"env": env, **proxy}


def console_first_screen(config: Path, want: int, src: Path | None = None
                         ) -> tuple[float, dict]:
    env = python_env(src)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CONSOLE_PROBE, str(config), str(want)],
                          env=env, capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"console probe failed: {proc.stderr[-2000:]}")
    return elapsed, json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--running", type=int, default=5,
                        help="services with one replica (the others have 0)")
    parser.add_argument("--before", type=Path, metavar="CHECKOUT",
                        help="also time swarmdeck run from CHECKOUT/src (e.g. main)")
    args = parser.parse_args()
    services = max(1, min(args.services, MAX_SERVICES))
    running = max(0, min(args.running, 10, services))
    lab = shared_lab()
    with tempfile.TemporaryDirectory(prefix="swarmdeck-bench-") as tmp:
        work = Path(tmp)
        proxy = None
        try:
            config, ssh_config, where = setup(lab, work, services, running)
            proxy = subprocess.Popen(
                [sys.executable, "-m", "swarmdeck.lab.proxy", f"{BRIDGE_IP}:{PORT}",
                 f"{where['address']}:22", "--delay", str(DELAY)], stdout=subprocess.DEVNULL)
            time.sleep(0.5)
            host = where["name"]
            print(f"\n{services} services over a {DELAY * 2000:.0f} ms RTT link")
            times = race({
                "(g) floor process: connect + GET /services?status=true":
                    floor_process(ssh_config, host, "/services?status=true"),
                "(g) docker service ls": docker_process(where["env"], host, "service", "ls"),
                "(g) swarmdeck ls services": swarmdeck_process(config, "ls", "services"),
                **before_cases(args.before, {"(g) swarmdeck ls services": swarmdeck_process(
                    config, "ls", "services", src=args.before)}),
            }, args.runs)
            g_floor, g_docker, g_ls = list(times.values())[:3]
            rounds = max(1, min(args.runs, 5))
            for src in [None, args.before] if args.before else [None]:
                console_first_screen(config, services, src)  # not counted: bytecode
                firsts, rss = [], {}
                for _ in range(rounds):
                    elapsed, rss = console_first_screen(config, services, src)
                    firsts.append(elapsed)
                print(f"  (h) console first full screen{f' [before: {src}]' if src else ''}, "
                      f"best of {rounds}: {min(firsts):.3f}s (all: "
                      f"{', '.join(f'{t:.2f}' for t in firsts)}); RSS then {rss['VmRSS']} MB,"
                      f" peak {rss['VmHWM']} MB")
                if src is None:
                    first, ours = min(firsts), rss
        finally:
            if proxy is not None:
                proxy.terminate()
                proxy.wait()
            lab.remove_solo([SOLO])
    print("\nratios and targets:")
    print(ratio_line("(g) ls services / docker service ls", g_ls / g_docker, "<= 1.00",
                     g_ls <= g_docker))
    print(ratio_line("(g) ls services / floor process", g_ls / g_floor, "", True))
    print(f"  (h) console first screen {first:.2f}s  target <= {CONSOLE_TARGET}s  "
          f"{'ok' if first <= CONSOLE_TARGET else 'MISSED'}; RSS {ours['VmHWM']} MB peak  "
          f"target <= {RSS_TARGET} MB  {'ok' if ours['VmHWM'] <= RSS_TARGET else 'MISSED'}")


if __name__ == "__main__":
    main()
