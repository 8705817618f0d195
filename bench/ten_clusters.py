"""Ten clusters in one config: does the console stay as quick and as quiet as with one?

On the lab, ten one-node swarms are added beside the lab's own (`lab solo add`), each with
SERVICES one-replica services, each behind a delaying TCP proxy that adds 50 ms of round trip
in front of its sshd. In one run:

  (a) the console's first full screen of the cluster shown (its services and its node in the
      tables), with the ten clusters in the config vs that cluster alone (target <= 1.2x)
  (b) SSH connections the console holds to each cluster once settled, and the Docker API
      requests it makes to each during an idle spell: a cluster not on screen may cost one
      connection and no polling (no data request; a liveness ping after 30 s of silence)
  (c) the console's CPU, idle with the ten clusters, as a share of one core (target < 1.5 %)
  (d) `swarmdeck ls clusters` (the health of all ten) vs one cluster's, as processes
      (target <= 1.3x)

Everything it adds is removed at the end (the solo clusters and their services).
Run as root on a machine with the lab:  python bench/ten_clusters.py [--runs N] [--idle S]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import lab_bench
from shared_lab import shared_lab

from swarmdeck.core.config import load_config
from swarmdeck.core.fleet import Fleet
from swarmdeck.core.transport.docker import DockerEndpoint
from swarmdeck.lab.lab import Lab
from swarmdeck.lab.topology import DEMO_IMAGE
from swarmdeck.ui.app import SwarmdeckApp
from swarmdeck.ui.widgets.table import LiveTable

CLUSTERS = [f"ten{i}" for i in range(10)]
SERVICES = 3  # one replica each: 30 containers in all
DELAY = 0.025  # each way: 50 ms round trip
FIRST_PORT = 2301
SIZE = (160, 50)
SETTLE = 15.0
MAX_RUNS = 10


def setup(lab: Lab, work: Path) -> tuple[Path, Path, list[subprocess.Popen]]:
    missing = [c for c in CLUSTERS if c not in lab.solo()]
    if missing:
        lab.add_solo(missing)
    nodes = {n.cluster: n for n in lab.solo_nodes() if n.cluster in CLUSTERS}
    for cluster in CLUSTERS:
        host = f"unix://{lab.dir}/nodes/{nodes[cluster].name}/run/docker.sock"
        have = set(lab.docker(host, "service", "ls", "--format", "{{.Name}}").split())
        for j in range(SERVICES):
            if f"s{j}" not in have:
                lab.docker(host, "service", "create", "--detach", "--name", f"s{j}",
                           "--replicas", "1", "--stop-grace-period", "1s",
                           f"{DEMO_IMAGE}:1.0", "sleep", "100000")
    for cluster in CLUSTERS:
        host = f"unix://{lab.dir}/nodes/{nodes[cluster].name}/run/docker.sock"
        deadline = time.monotonic() + 120
        while lab.docker(host, "service", "ls", "--format", "{{.Replicas}}").split() != \
                ["1/1"] * SERVICES:
            if time.monotonic() > deadline:
                raise SystemExit(f"{cluster}: services did not converge in 120 s")
            time.sleep(0.5)
    ssh_config, procs = lab_bench.start(
        lab, work, {nodes[c].name: FIRST_PORT + i for i, c in enumerate(CLUSTERS)}, DELAY)

    def config(clusters: list[str], name: str) -> Path:
        path = work / name
        path.write_text(f'[ssh]\nconfig = ["{ssh_config}"]\n' + "".join(
            f'[clusters.{c}]\nmanagers = ["{c}-m1-slow"]\n' for c in clusters))
        path.chmod(0o600)
        return path

    return config(CLUSTERS, "ten.toml"), config(CLUSTERS[:1], "one.toml"), procs


def remove(lab: Lab) -> None:
    present = [c for c in CLUSTERS if c in lab.solo()]
    if present:
        lab.remove_solo(present)


def client_connections() -> collections.Counter[int]:
    """Established TCP connections of this machine whose remote end is a bench proxy port
    (the console's SSH connections, counted by the kernel, not by the console)."""
    counts: collections.Counter[int] = collections.Counter()
    ports = range(FIRST_PORT, FIRST_PORT + len(CLUSTERS))
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote_port, state = int(fields[2].split(":")[1], 16), fields[3]
        if state == "01" and remote_port in ports:
            counts[remote_port - FIRST_PORT] += 1
    return counts


class RequestCounter:
    """Counts the Docker API requests and streams the console makes, per cluster (the
    endpoint's label names the manager, e.g. ten3-slow)."""

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self.paths: collections.Counter[str] = collections.Counter()  # off-screen ones
        self._request, self._stream = DockerEndpoint.request, DockerEndpoint.stream
        counts, paths = self.counts, self.paths
        request, stream = self._request, self._stream

        def count(endpoint, path: str) -> None:
            cluster = _cluster_of(endpoint.label)
            if path != "/_ping":  # a liveness ping is counted apart (paths), not as data
                counts[cluster] += 1
            if cluster != CLUSTERS[0]:
                paths[path.split("?")[0]] += 1

        async def counted_request(endpoint, method, path, **kw):
            count(endpoint, path)
            return await request(endpoint, method, path, **kw)

        def counted_stream(endpoint, path, *a, **kw):
            count(endpoint, path)
            return stream(endpoint, path, *a, **kw)

        DockerEndpoint.request = counted_request  # type: ignore[method-assign]
        DockerEndpoint.stream = counted_stream  # type: ignore[method-assign]

    def close(self) -> None:
        DockerEndpoint.request = self._request  # type: ignore[method-assign]
        DockerEndpoint.stream = self._stream  # type: ignore[method-assign]


def _cluster_of(label: str) -> str:
    return next((c for c in CLUSTERS if c in label), label)


async def first_screen(config_path: Path) -> float:
    """Seconds from the app's start until the shown cluster's services and node are in its
    tables."""
    config = load_config(config_path)
    started = time.perf_counter()
    app = SwarmdeckApp(config, Fleet(config), start_cluster=CLUSTERS[0])
    async with app.run_test(size=SIZE) as pilot:
        deadline = time.monotonic() + 30
        while not (app.screen.query("#services")
                   and app.screen.query_one("#services", LiveTable).row_count == SERVICES
                   and app.screen.query_one("#nodes", LiveTable).row_count == 1):
            if time.monotonic() > deadline:
                raise SystemExit("the first screen did not fill in 30 s")
            await pilot.pause(0.005)
        return time.perf_counter() - started


async def idle(config_path: Path, seconds: float) -> tuple[float, dict, dict]:
    """Settle, then idle SECONDS: CPU share of this process, connections per cluster, API
    requests per cluster during the idle spell."""
    config = load_config(config_path)
    app = SwarmdeckApp(config, Fleet(config), start_cluster=CLUSTERS[0])
    counter = RequestCounter()
    try:
        async with app.run_test(size=SIZE) as pilot:
            while not (app.screen.query("#services") and
                       app.screen.query_one("#services", LiveTable).row_count == SERVICES):
                await pilot.pause(0.05)
            await pilot.pause(SETTLE)
            before = dict(counter.counts)
            counter.paths.clear()
            cpu0, wall0 = time.process_time(), time.perf_counter()
            await asyncio.sleep(seconds)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            conns = client_connections()
            requests = {c: counter.counts[c] - before.get(c, 0) for c in CLUSTERS}
            paths = dict(counter.paths)
    finally:
        counter.close()
    return 100 * cpu / wall, {c: conns[i] for i, c in enumerate(CLUSTERS)}, requests, paths


def best(label: str, fn: Callable[[], float], runs: int) -> float:
    times = [fn() for _ in range(runs)]
    print(f"  {label:<58} best {min(times):6.3f}s  median {statistics.median(times):6.3f}s",
          flush=True)
    return min(times)


def timed_process(args: list[str]) -> float:
    """ARGS as a process, its bytecode cached as an installed package's is
    (lab_bench.child_env): compiling swarmdeck's sources on every start is not what a user
    pays, and it would pad both figures of a ratio alike."""
    started = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, env=lab_bench.child_env())
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help=f"1 to {MAX_RUNS}")
    parser.add_argument("--idle", type=float, default=30, help="idle seconds (5 to 300)")
    parser.add_argument("--keep", action="store_true", help="leave the ten clusters up")
    args = parser.parse_args()
    runs, idle_seconds = max(1, min(args.runs, MAX_RUNS)), max(5.0, min(args.idle, 300.0))
    lab = shared_lab()
    with tempfile.TemporaryDirectory(prefix="swarmdeck-bench-") as tmp:
        procs: list[subprocess.Popen] = []
        try:
            ten, one, procs = setup(lab, Path(tmp))
            print(f"\n{len(CLUSTERS)} one-node clusters, {SERVICES} services each, "
                  f"{DELAY * 2000:.0f} ms RTT, best of {runs}:")
            a1 = best("(a) console first screen, the cluster alone",
                      lambda: asyncio.run(first_screen(one)), runs)
            a10 = best("(a) console first screen, ten clusters in the config",
                       lambda: asyncio.run(first_screen(ten)), runs)
            cli = [sys.executable, "-m", "swarmdeck", "--config"]
            d1 = best("(d) `ls clusters`, one cluster",
                      lambda: timed_process([*cli, str(one), "ls", "clusters"]), runs)
            d10 = best("(d) `ls clusters`, ten clusters",
                       lambda: timed_process([*cli, str(ten), "ls", "clusters"]), runs)
            share, conns, requests, paths = asyncio.run(idle(ten, idle_seconds))
        finally:
            for p in procs:
                p.terminate()
                p.wait()
            if not args.keep:
                remove(lab)
    off = [c for c in CLUSTERS if c != CLUSTERS[0]]
    print(f"\n(b) once settled, idle {idle_seconds:.0f} s; {CLUSTERS[0]} is on screen:")
    for c in CLUSTERS:
        print(f"  {c:<6} ssh connections {conns[c]}   API data requests {requests[c]:4d}"
              f"{'   (on screen)' if c == CLUSTERS[0] else ''}")
    if paths:
        print("  what the clusters off screen were asked: " + ", ".join(
            f"{p} x{n}" for p, n in sorted(paths.items(), key=lambda kv: -kv[1])))
    worst_conns = max(conns[c] for c in off)
    worst_requests = max(requests[c] for c in off)
    pings = paths.get("/_ping", 0) / len(off)
    print("\nratios and targets:")
    print(f"  (a) first screen, ten vs alone     {a10 / a1:5.2f}x   target <= 1.20  "
          f"{'ok' if a10 / a1 <= 1.2 else 'MISSED'}")
    print(f"  (b) clusters off screen: at most {worst_conns} connection(s) each   target <= 1  "
          f"{'ok' if worst_conns <= 1 else 'MISSED'}")
    print(f"  (b) clusters off screen: at most {worst_requests} API data requests each in "
          f"{idle_seconds:.0f} s idle   target 0 (no polling)  "
          f"{'ok' if worst_requests == 0 else 'MISSED'}")
    print(f"  (b) clusters off screen: {pings:.1f} liveness pings each in {idle_seconds:.0f} s "
          f"idle   target <= 1 per 30 s  {'ok' if pings <= idle_seconds / 30 + 0.5 else 'MISSED'}")
    print(f"  (c) idle CPU with ten clusters      {share:5.2f} %   target < 1.5 %  "
          f"{'ok' if share < 1.5 else 'MISSED'}")
    print(f"  (d) `ls clusters`, ten vs one       {d10 / d1:5.2f}x   target <= 1.30  "
          f"{'ok' if d10 / d1 <= 1.3 else 'MISSED'}")


if __name__ == "__main__":
    main()
