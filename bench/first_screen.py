"""How fast does swarmdeck show the truth over a slow link?

On the lab, with 30 extra services / 60 tasks per cluster, through a delaying TCP proxy that
adds 50 ms of round trip in front of each manager's sshd, in one run:

  (a) the docker CLI over ssh://: `service ls`, `node ls`, `service ps` of all services
  (b) the floor: a bare SSH connect plus the three Docker API GETs in parallel
  (c) swarmdeck's inventory load, in-process and as a `swarmdeck ls` process
  (d) swarmdeck loading 2 clusters at once vs one

and as processes (what a user or a script waits for), interleaved, best of the runs:

  (e) `swarmdeck ls services` against the floor process (python, asyncssh, connect, the API
      GETs of a service listing: /services?status=true) and `docker service ls`
  (f) `swarmdeck ls tasks` against `docker service ps` of every service

Targets: (c) in-process within 1.3x of (b) and >= 6x faster than (a); (d) within 1.2x;
(e) <= 1.2x the floor process; (f) >= 3x faster than docker.
Run as root, on the running lab (never rebuilt):  python bench/first_screen.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncssh
import lab_bench
from shared_lab import shared_lab

from swarmdeck.core.config import load_config
from swarmdeck.core.fleet import Fleet
from swarmdeck.core.transport import pubkey
from swarmdeck.lab.lab import Lab
from swarmdeck.lab.topology import DEMO_IMAGE

SERVICES = 30
REPLICAS = 2
DELAY = 0.025  # each way: 50 ms round trip
PROXIES = {"prod": ("prod-m1", 2201), "staging": ("staging-m1", 2202)}


def bench_compose() -> str:
    lines = ['version: "3.8"', "services:"]
    for i in range(SERVICES):
        lines += [
            f"  svc{i:02d}:",
            f"    image: {DEMO_IMAGE}:1.0",
            '    command: ["sleep", "100000"]',
            "    stop_grace_period: 1s",
            "    deploy:",
            f"      replicas: {REPLICAS}",
            "      endpoint_mode: dnsrr",
            "      resources: {limits: {memory: 16M}}",
        ]
    return "\n".join(lines) + "\n"


def remove_bench(lab: Lab) -> None:
    """`stack rm` returns before the networks are gone: wait, so a next run can deploy."""
    for manager, _port in PROXIES.values():
        lab.docker_on(manager, "stack", "rm", "bench")
    for manager, _port in PROXIES.values():
        deadline = time.monotonic() + 120
        while lab.docker_on(manager, "network", "ls", "-q", "--filter",
                            "label=com.docker.stack.namespace=bench").strip():
            if time.monotonic() > deadline:
                raise SystemExit(f"bench stack on {manager} not removed after 120s")
            time.sleep(0.5)


def setup(lab: Lab, work: Path) -> tuple[Path, dict[str, str], list[subprocess.Popen]]:
    compose = work / "bench.yml"
    compose.write_text(bench_compose())
    remove_bench(lab)  # a run that was interrupted may have left it
    for cluster, (manager, _port) in PROXIES.items():
        print(f"deploying {SERVICES} services x {REPLICAS} replicas on {cluster}", flush=True)
        lab.docker_on(manager, "stack", "deploy", "-c", str(compose), "bench")
    for cluster, (manager, _port) in PROXIES.items():
        deadline = time.monotonic() + 240
        while True:
            out = lab.docker_on(manager, "service", "ls", "--filter", "label=com.docker.stack"
                                ".namespace=bench", "--format", "{{.Replicas}}")
            done = [r for r in out.split() if r == f"{REPLICAS}/{REPLICAS}"]
            if len(done) == SERVICES:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"bench stack on {cluster} did not converge: {out.split()}")
            time.sleep(1)
    ssh_config, procs = lab_bench.start(lab, work, dict(PROXIES.values()), DELAY)
    config = work / "config.toml"
    config.write_text(
        f'[ssh]\nconfig = ["{ssh_config}"]\n'
        + "".join(f'[clusters.{c}]\nmanagers = ["{m}-slow"]\n' for c, (m, _) in PROXIES.items())
    )
    # The docker CLI runs plain `ssh`, which reads only the passwd home's ~/.ssh/config:
    # a wrapper first on PATH hands it the bench's config.
    wrapper = work / "bin" / "ssh"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\nexec /usr/bin/ssh -F {ssh_config} "$@"\n')
    wrapper.chmod(0o755)
    env = {**os.environ, "PATH": f"{wrapper.parent}:{os.environ['PATH']}",
           "DOCKER_CONFIG": str(work / "docker-cli")}
    return config, env, procs


def measure(label: str, fn: Callable[[], float | None], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    print(f"  {label:<52} median {median:6.3f}s  (min {min(times):.3f}, max {max(times):.3f})",
          flush=True)
    return median


def docker_cli_total(env: dict[str, str]) -> None:
    """service ls + node ls + service ps (the ids come from the service ls output)."""
    host = ["docker", "-H", "ssh://prod-m1-slow"]
    out = subprocess.run([*host, "service", "ls"], env=env, check=True, capture_output=True,
                         text=True).stdout
    ids = [line.split()[0] for line in out.splitlines()[1:]]
    subprocess.run([*host, "node", "ls"], env=env, check=True, capture_output=True)
    subprocess.run([*host, "service", "ps", *ids], env=env, check=True, capture_output=True)


class _FloorClient(asyncssh.SSHClient):
    def connection_made(self, conn: asyncssh.SSHClientConnection) -> None:
        pubkey.publickey_first(conn)  # the login in one round trip, as swarmdeck's


async def floor(ssh_config: Path) -> None:
    """What any tool must pay: connect (logged in as swarmdeck does, in one round trip),
    then three GETs on parallel socket channels."""
    async with asyncssh.connect("prod-m1-slow", config=[str(ssh_config)],
                                client_factory=_FloorClient) as conn:
        async def get(path: str) -> bytes:
            reader, writer = await conn.open_unix_connection("/var/run/docker.sock")
            writer.write(f"GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
            data = await reader.read()
            writer.close()
            return data
        bodies = await asyncio.gather(get("/services"), get("/nodes"), get("/tasks"))
        assert all(b.startswith(b"HTTP/1.0 200") for b in bodies), bodies[0][:100]


async def swarmdeck_load(config_path: Path, clusters: list[str]) -> None:
    fleet = Fleet(load_config(config_path))
    try:
        results = await fleet.load(clusters)
        for name, result in results.items():
            if isinstance(result, Exception):
                raise SystemExit(f"{name}: {result}")
            assert sum(1 for s in result.services.values() if s.stack == "bench") == SERVICES
    finally:
        await fleet.close()


# The floor logs in as swarmdeck does, in one round trip (core.transport.pubkey), and imports
# asyncssh with the same quick liboqs probe (core.transport): a plain asyncssh login takes
# two round trips more, and a floor slower than swarmdeck would flatter the ratio.
FLOOR_PROCESS = """
import asyncio, sys
from swarmdeck.core.transport import pubkey
import asyncssh

class Client(asyncssh.SSHClient):
    def connection_made(self, conn):
        pubkey.publickey_first(conn)

async def main(host, ssh_config, paths):
    async with asyncssh.connect(host, config=[ssh_config], client_factory=Client) as conn:
        async def get(path):
            reader, writer = await conn.open_unix_connection("/var/run/docker.sock")
            writer.write(f"GET {path} HTTP/1.0\\r\\nHost: docker\\r\\n\\r\\n".encode())
            data = await reader.read()
            writer.close()
            assert data.startswith(b"HTTP/1.0 200"), data[:100]
            return data
        await asyncio.gather(*(get(p) for p in paths))

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
"""


PYCACHE = Path(tempfile.gettempdir()) / f"swarmdeck-bench-pycache-{os.getuid()}"


def python_env(src: Path | None = None) -> dict[str, str]:
    """A Python process's environment as for an installed swarmdeck: its bytecode cached
    (pip compiles it on install; a PYTHONDONTWRITEBYTECODE=1 here would have every run
    compile swarmdeck's own sources again, ~60 ms), in a directory of the bench's own rather
    than in the checkouts. SRC: swarmdeck from that checkout's src/."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    if src is not None:
        env["PYTHONPATH"] = str(src / "src")
    return env


def floor_process(ssh_config: Path, host: str, *paths: str) -> Callable[[], None]:
    """The floor as a process: the interpreter, asyncssh, a connect and the GETs."""
    argv = [sys.executable, "-c", FLOOR_PROCESS, host, str(ssh_config), *paths]
    return lambda: subprocess.run(argv, check=True, capture_output=True, env=python_env())


def swarmdeck_process(config: Path, *args: str, src: Path | None = None
                      ) -> Callable[[], None]:
    """SRC: run swarmdeck from this checkout's src/ (the code before a change)."""
    argv = [sys.executable, "-m", "swarmdeck", "--config", str(config), *args]
    return lambda: subprocess.run(argv, check=True, capture_output=True, env=python_env(src))


def before_cases(before: Path | None, cases: dict[str, Callable[[], None]]
                 ) -> dict[str, Callable[[], None]]:
    """CASES as run from the checkout BEFORE, labelled so (none without it)."""
    if before is None:
        return {}
    return {f"{label} [before: {before}]": fn for label, fn in cases.items()}


def docker_process(env: dict[str, str], host: str, *args: str) -> Callable[[], None]:
    argv = ["docker", "-H", f"ssh://{host}", *args]
    return lambda: subprocess.run(argv, env=env, check=True, capture_output=True)


def service_ids(env: dict[str, str], host: str) -> list[str]:
    out = subprocess.run(["docker", "-H", f"ssh://{host}", "service", "ls", "-q"], env=env,
                         check=True, capture_output=True, text=True).stdout
    return out.split()


def race(cases: dict[str, Callable[[], None]], runs: int) -> dict[str, float]:
    """Each case as a process, RUNS rounds interleaved (a machine that gets busier slows
    every case alike), after one round not counted (bytecode, page cache): the best of
    each, printed with its median."""
    for fn in cases.values():
        fn()
    times: dict[str, list[float]] = {label: [] for label in cases}
    for _ in range(runs):
        for label, fn in cases.items():
            started = time.perf_counter()
            fn()
            times[label].append(time.perf_counter() - started)
    print(f"as processes, {runs} interleaved rounds (best, median):")
    for label, values in times.items():
        print(f"  {label:<58} best {min(values):6.3f}s  median {statistics.median(values):6.3f}s",
              flush=True)
    return {label: min(values) for label, values in times.items()}


def ratio_line(label: str, value: float, target: str, ok: bool) -> str:
    return f"  {label:<40} {value:6.2f}x   target {target:<8} {'ok' if ok else 'MISSED'}"


def run_async(make: Callable[[], Awaitable[None]]) -> Callable[[], None]:
    return lambda: asyncio.run(make())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="leave the bench stacks deployed")
    parser.add_argument("--before", type=Path, metavar="CHECKOUT",
                        help="also time the ls processes run from CHECKOUT/src (e.g. main)")
    args = parser.parse_args()
    lab = shared_lab()
    with tempfile.TemporaryDirectory(prefix="swarmdeck-bench-") as tmp:
        work = Path(tmp)
        config, env, procs = setup(lab, work)
        ssh_config = work / "ssh_config"
        try:
            print(f"\nfirst screen over a {DELAY * 2000:.0f} ms RTT link, {SERVICES} services /"
                  f" {SERVICES * REPLICAS} tasks added per cluster, {args.runs} runs each:")
            a = measure("(a) docker CLI: service ls + node ls + service ps",
                        lambda: docker_cli_total(env), args.runs)
            b = measure("(b) floor: ssh connect + 3 parallel API GETs",
                        run_async(lambda: floor(ssh_config)), args.runs)
            c = measure("(c) swarmdeck inventory load, in-process",
                        run_async(lambda: swarmdeck_load(config, ["prod"])), args.runs)
            cp = measure("(c') `swarmdeck ls services` as a process",
                         lambda: subprocess.run(
                             [sys.executable, "-m", "swarmdeck", "--config", str(config),
                              "ls", "services", "--cluster", "prod"],
                             check=True, capture_output=True), args.runs)
            d = measure("(d) swarmdeck loading prod + staging at once",
                        run_async(lambda: swarmdeck_load(config, ["prod", "staging"])),
                        args.runs)
            host = f"{PROXIES['prod'][0]}-slow"
            ids = service_ids(env, host)
            times = race({
                "(e) floor process: connect + GET /services?status=true":
                    floor_process(ssh_config, host, "/services?status=true"),
                "(e) docker service ls": docker_process(env, host, "service", "ls"),
                "(e) swarmdeck ls services":
                    swarmdeck_process(config, "ls", "services", "--cluster", "prod"),
                f"(f) docker service ps (all {len(ids)} services)":
                    docker_process(env, host, "service", "ps", *ids),
                "(f) swarmdeck ls tasks":
                    swarmdeck_process(config, "ls", "tasks", "--cluster", "prod"),
                **before_cases(args.before, {
                    "(e) swarmdeck ls services": swarmdeck_process(
                        config, "ls", "services", "--cluster", "prod", src=args.before),
                    "(f) swarmdeck ls tasks": swarmdeck_process(
                        config, "ls", "tasks", "--cluster", "prod", src=args.before)}),
            }, args.runs)
            e_floor, e_docker, e_ls, f_docker, f_ls = list(times.values())[:5]
        finally:
            lab_bench.stop(procs)
            if not args.keep:
                remove_bench(lab)
    print("\nratios:")
    print(f"  (c)/(b)  in-process vs floor      {c / b:5.2f}x   target <= 1.30  "
          f"{'ok' if c / b <= 1.3 else 'MISSED'}")
    print(f"  (a)/(c)  docker CLI vs swarmdeck  {a / c:5.1f}x   target >= 6     "
          f"{'ok' if a / c >= 6 else 'MISSED'}")
    print(f"  (a)/(c') docker CLI vs ls process {a / cp:5.1f}x")
    print(f"  (d)/(c)  2 clusters vs 1          {d / c:5.2f}x   target <= 1.20  "
          f"{'ok' if d / c <= 1.2 else 'MISSED'}")
    print(ratio_line("(e) ls services / floor process", e_ls / e_floor, "<= 1.20",
                     e_ls / e_floor <= 1.2))
    print(ratio_line("(e) ls services / docker service ls", e_ls / e_docker, "<= 1.00",
                     e_ls <= e_docker))
    print(ratio_line("(f) docker service ps / ls tasks", f_docker / f_ls, ">= 3",
                     f_docker / f_ls >= 3))


if __name__ == "__main__":
    main()
