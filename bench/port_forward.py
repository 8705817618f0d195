"""How fast is `swarmdeck port-forward` against `ssh -L` over a slow link?

On the lab, a bench service of its own (one httpd replica pinned to prod-m1, serving a
SIZE MB file made in its container at start; removed at the end), through a delaying TCP
proxy adding 50 ms of round trip in front of prod-m1's sshd (bench/lab_bench.py). Both
forward 127.0.0.1:PORT to the same container address, through the same node:

  (a) first byte: from the process's start (`swarmdeck port-forward SERVICE PORT:8080`, or
      `ssh -N -L PORT:ADDRESS:8080 prod-m1-slow`) to the first byte of an HTTP answer through
      the fresh forward (the local port polled until it accepts). swarmdeck cold: no
      placement hint (the manager is asked first); hinted: the one the previous run left
      (core.task_hint). With --against PYTHON, another install's (say main's) in the same
      rounds, interleaved
  (a'') what one does without swarmdeck and without knowing where the task runs: the task's
      node and container asked of the manager over ssh, the container's address asked of
      that node, then ssh -L (the fair pair for swarmdeck cold, which asks the manager too)
  (a') the same on a new connection through a forward already up (what each further
      connection costs)
  (b) throughput: one GET of the SIZE MB file through a forward already up

Targets: (a) swarmdeck within 1.2x of ssh -L; (b) at least 0.8x. Best of N runs each.
Run as root on a machine where the lab is up:  python bench/port_forward.py [--runs N]
"""

from __future__ import annotations

import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import lab_bench

from swarmdeck.lab.lab import Lab
from swarmdeck.lab.topology import DEMO_IMAGE

SERVICE = "pf-bench"
NODE = "prod-m1"
PROXY_PORT = 2203
DELAY = 0.025  # each way: 50 ms round trip
SIZE_MB = 32
MAX_RUNS = 10
ENV: dict[str, str] = {}  # the timed processes' (lab_bench.child_env), set by main()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def deploy(lab: Lab) -> str:
    """The bench service, running; returns its container's address as its node reaches it
    (where a direct-tcpip channel from the node goes)."""
    remove(lab)
    service_id = lab.docker_on(
        NODE, "service", "create", "--detach", "--name", SERVICE, "--replicas", "1",
        "--constraint", f"node.hostname=={NODE}", "--endpoint-mode", "dnsrr",
        "--stop-grace-period", "1s", "--limit-memory", "32M", f"{DEMO_IMAGE}:1.0",
        "sh", "-c", f"dd if=/dev/zero of=/www/big bs=1M count={SIZE_MB} "
        "2>/dev/null && exec httpd -f -p 8080 -h /www").strip()
    deadline = time.monotonic() + 90
    while True:
        ids = lab.docker_on(NODE, "ps", "-q", "--no-trunc", "--filter",
                            f"label=com.docker.swarm.service.id={service_id}").split()
        if ids:
            size = lab.docker_on(NODE, "exec", ids[0], "sh", "-c",
                                 "wc -c < /www/big 2>/dev/null || echo 0").strip()
            if size == str(SIZE_MB << 20):
                break
        if time.monotonic() > deadline:
            raise SystemExit(f"{SERVICE} did not start on {NODE}")
        time.sleep(0.5)
    networks = lab.docker_on(NODE, "inspect", "--format",
                             "{{json .NetworkSettings.Networks}}", ids[0])
    gwbridge = lab.docker_on(NODE, "network", "inspect", "docker_gwbridge",
                             "--format", "{{json .Containers}}")
    return address_of(networks, gwbridge, ids[0])


def address_of(networks: str, gwbridge: str, container: str) -> str:
    """CONTAINER's address as its node reaches it, from its networks and the node's
    docker_gwbridge containers (JSON), as core.port_forward.container_address finds it: a
    task on no overlay network is on the node's default bridge, one on an overlay is on its
    docker_gwbridge."""
    found = json.loads(networks)
    if "bridge" in found:
        return found["bridge"]["IPAddress"]
    return json.loads(gwbridge)[container]["IPv4Address"].split("/")[0]


def remove(lab: Lab) -> None:
    if lab.docker_on(NODE, "service", "ls", "-q", "--filter", f"name={SERVICE}").strip():
        lab.docker_on(NODE, "service", "rm", SERVICE)


def get(port: int, path: str, *, first_only: bool, timeout: float = 30) -> int:
    """GET PATH through 127.0.0.1:PORT (polled until it accepts); the bytes read."""
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket()
        try:
            sock.connect(("127.0.0.1", port))
            break
        except ConnectionRefusedError:
            sock.close()
            if time.monotonic() > deadline:
                raise SystemExit(f"nothing listens on 127.0.0.1:{port}") from None
            time.sleep(0.002)
    with sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: bench\r\n\r\n".encode())
        total = 0
        while data := sock.recv(1 << 20):
            if total == 0 and not data.startswith(b"HTTP/1."):
                raise SystemExit(f"not an HTTP answer: {data[:80]!r}")
            total += len(data)
            if first_only:
                break
        return total


def start_forward(argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=ENV)


def end(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


ADDRESS = ("docker inspect --format '{{{{json .NetworkSettings.Networks}}}}' {container}; "
           "docker network inspect docker_gwbridge --format '{{{{json .Containers}}}}'")


def looked_up(ssh_config: Path, port: int) -> list[str]:
    """(a''): where the task runs asked of the manager, its address of its node, then the
    ssh -L command for it."""
    node, container = lab_bench.where_it_runs(ssh_config, f"{NODE}-slow", SERVICE, ENV)
    networks, gwbridge = subprocess.run(
        ["ssh", "-F", str(ssh_config), f"{node}-slow", ADDRESS.format(container=container)],
        env=ENV, capture_output=True, text=True, check=True, timeout=60).stdout.splitlines()
    return ["ssh", "-F", str(ssh_config), "-N", "-o", "ExitOnForwardFailure=yes", "-L",
            f"127.0.0.1:{port}:{address_of(networks, gwbridge, container)}:8080",
            f"{node}-slow"]


def first_byte(make_argv) -> float:
    port = free_port()
    started = time.perf_counter()
    proc = start_forward(make_argv(port))
    try:
        get(port, "/index.html", first_only=True)
        return time.perf_counter() - started
    finally:
        end(proc)


def through_one(make_argv, runs: int) -> tuple[float, float]:
    """Through one forward kept up: the best time to the first byte of an answer on a new
    connection, and the MB/s of the best GET of the big file."""
    port = free_port()
    proc = start_forward(make_argv(port))
    try:
        get(port, "/index.html", first_only=True)  # up
        firsts = []
        for _ in range(runs):
            started = time.perf_counter()
            get(port, "/index.html", first_only=True)
            firsts.append(time.perf_counter() - started)
        best = 0.0
        for _ in range(runs):
            started = time.perf_counter()
            size = get(port, "/big", first_only=False)
            elapsed = time.perf_counter() - started
            if size < SIZE_MB << 20:
                raise SystemExit(f"short answer: {size} bytes")
            best = max(best, size / elapsed / 1e6)
        return min(firsts), best
    finally:
        end(proc)


def main() -> None:
    lab, runs, against = lab_bench.lab_and_runs(__doc__.splitlines()[0], MAX_RUNS)
    with tempfile.TemporaryDirectory(prefix="swarmdeck-bench-") as tmp:
        work = Path(tmp)
        cache = work / "cache"
        ENV.update(lab_bench.child_env(XDG_CACHE_HOME=str(cache)))
        address = deploy(lab)
        ssh_config, procs = lab_bench.start(lab, work, {NODE: PROXY_PORT}, DELAY)
        config = work / "config.toml"
        config.write_text(f'[ssh]\nconfig = ["{ssh_config}"]\n'
                          f'[clusters.prod]\nmanagers = ["{NODE}-slow"]\nmetrics = "off"\n')
        config.chmod(0o600)

        def swarmdeck(python: str):
            def argv(port: int) -> list[str]:
                return [python, "-m", "swarmdeck", "--config", str(config),
                        "port-forward", SERVICE, f"{port}:8080", "-c", "prod"]
            return argv

        def ssh(port: int) -> list[str]:
            return ["ssh", "-F", str(ssh_config), "-N", "-o", "ExitOnForwardFailure=yes",
                    "-L", f"127.0.0.1:{port}:{address}:8080", f"{NODE}-slow"]

        pythons = {"swarmdeck": sys.executable} | ({"against": against} if against else {})
        firsts: dict[str, list[float]] = {}
        try:
            print(f"{SERVICE} on {NODE} at {address}:8080, {DELAY * 2000:.0f} ms RTT link; "
                  f"{runs} rounds (best / median)")
            for _ in range(runs):
                firsts.setdefault("ssh -L", []).append(first_byte(ssh))
                firsts.setdefault("ask, then ssh -L", []).append(
                    first_byte(lambda port: looked_up(ssh_config, port)))
                for name, python in pythons.items():
                    shutil.rmtree(cache, ignore_errors=True)
                    firsts.setdefault(f"{name} cold", []).append(first_byte(swarmdeck(python)))
                    firsts.setdefault(f"{name} hinted", []).append(
                        first_byte(swarmdeck(python)))
            ours_next, ours_rate = through_one(swarmdeck(sys.executable), runs)
            theirs_next, theirs_rate = through_one(ssh, runs)
        finally:
            lab_bench.stop(procs)
            remove(lab)
    base, asked = min(firsts["ssh -L"]), min(firsts["ask, then ssh -L"])
    print("  first byte (process start -> HTTP answer):")
    for name, times in firsts.items():
        ratio = min(times) / base
        verdict = "" if "ssh -L" in name else \
            f"   target <= 1.20  {'ok' if ratio <= 1.2 else 'MISSED'}"
        if name.endswith("cold"):
            verdict += f"   vs ask-then-ssh -L {min(times) / asked:.2f}x"
        print(f"    {name:18s} {min(times) * 1000:6.0f} ms / {statistics.median(times) * 1000:6.0f}"
              f" ms   ratio {ratio:.2f}x{verdict}")
    rate_ratio = ours_rate / theirs_rate
    print(f"  first byte, new connection, forward up   swarmdeck {ours_next * 1000:6.0f} ms"
          f"   ssh -L {theirs_next * 1000:6.0f} ms   ratio {ours_next / theirs_next:.2f}x")
    print(f"  throughput ({SIZE_MB} MB GET)                  swarmdeck {ours_rate:6.1f} MB/s"
          f" ssh -L {theirs_rate:6.1f} MB/s ratio {rate_ratio:.2f}x   target >= 0.80"
          f"  {'ok' if rate_ratio >= 0.8 else 'MISSED'}")


if __name__ == "__main__":
    main()
