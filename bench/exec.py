"""How long until a command in a task has run: `swarmdeck exec` against ssh + the docker CLI.

On the lab, for the first running replica of shop_web, every prod node behind a delaying
proxy adding 50 ms of round trip (bench/lab_bench.py; its address too, since exec dials a
task's node at the address the swarm reports):

  (a) `swarmdeck exec shop_web -- CMD`, a new process each time:
      cold    no placement hint: the manager is asked, then the task's node dialled
      hinted  the hint the previous call left (core.task_hint): the node is dialled at once
              and the container checked on its engine, beside the manager
  (b) `ssh NODE-slow docker exec CONTAINER CMD`, the node and container already known
  (b') what one does without swarmdeck and without knowing where the task runs: a running
      task's node and container asked of the manager over ssh, then (b) on that node (the
      fair pair for swarmdeck cold, which asks the manager too)
  (c) with --against PYTHON: another install's `swarmdeck exec` (say main's), cold and
      hinted alike, in the same rounds (a before/after pair)

Timed from the start of the process to its end for `true`, and to the first byte on stdout
for `hostname`. The runs of each round are interleaved (one of each in turn); best and
median of N rounds. Target: swarmdeck no slower than ssh + docker exec (cold: than b').
Run as root on a machine where the lab is up:  python bench/exec.py [--runs N] [--against PY]
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import lab_bench

from swarmdeck.lab.lab import Lab

SERVICE = "shop_web"
MAX_RUNS = 20
DELAY = 0.025  # each way: 50 ms round trip
FIRST_PORT = 2221  # the proxies' ports, one per prod node


def first_replica(lab: Lab) -> tuple[str, str]:
    """(node, full container ID) of shop_web's first running replica by slot."""
    out = lab.docker_on("prod-m1", "service", "ps", SERVICE, "--filter",
                        "desired-state=running", "--format",
                        "{{.Name}} {{.Node}} {{.CurrentState}}")
    replicas = sorted((int(name.rsplit(".", 1)[1]), node)
                      for name, node, state in (line.split(" ", 2) for line in out.splitlines())
                      if state.startswith("Running"))
    if not replicas:
        raise SystemExit(f"no running {SERVICE} task in the lab")
    node = replicas[0][1]
    container = lab.docker_on(node, "ps", "--no-trunc", "-q", "--filter",
                              f"label=com.docker.swarm.service.name={SERVICE}").split()[0]
    return node, container


def timed(argv: list[str], env: dict[str, str], *, expect: bytes | None) -> tuple[float, float]:
    """(seconds to the first byte on stdout, seconds to the end) of one run of ARGV."""
    started = time.perf_counter()
    # unbuffered: the first byte read must not pull the rest away from communicate()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, bufsize=0, env=env)
    assert proc.stdout is not None
    first = proc.stdout.read(1)
    first_at = time.perf_counter() - started
    rest, err = proc.communicate(timeout=60)
    ended = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {err.decode()[:300]}")
    if expect is not None and not (first + rest).startswith(expect):
        raise SystemExit(f"{' '.join(argv)} printed {(first + rest)[:80]!r}, not {expect!r}")
    return (first_at if first else ended), ended


def looked_up(ssh_config: Path, command: list[str], env: dict[str, str], *,
              expect: bytes | None) -> tuple[float, float]:
    """(b'): the task's node and container asked of the manager, then docker exec there."""
    started = time.perf_counter()
    node, container = lab_bench.where_it_runs(ssh_config, "prod-m1-slow", SERVICE, env)
    first, ended = timed(["ssh", "-F", str(ssh_config), f"{node}-slow", "docker", "exec",
                          container, *command], env, expect=None)
    took = time.perf_counter() - started
    return took - ended + first, took


def main() -> None:
    lab, runs, against = lab_bench.lab_and_runs(__doc__.splitlines()[0], MAX_RUNS)
    node, container = first_replica(lab)
    prod = [n.name for n in lab.all_nodes() if n.name.startswith("prod-")]
    with tempfile.TemporaryDirectory(prefix="swarmdeck-bench-") as tmp:
        work = Path(tmp)
        ssh_config, procs = lab_bench.start(
            lab, work, {name: FIRST_PORT + i for i, name in enumerate(prod)}, DELAY,
            by_address=True)
        config = work / "config.toml"
        config.write_text(f'[ssh]\nconfig = ["{ssh_config}"]\n'
                          f'[clusters.prod]\nmanagers = ["prod-m1-slow"]\nmetrics = "off"\n')
        config.chmod(0o600)
        cache = work / "cache"
        env = lab_bench.child_env(XDG_CACHE_HOME=str(cache))
        pythons = {"swarmdeck": sys.executable} | ({"against": against} if against else {})
        try:
            print(f"{SERVICE}: node {node}, container {container[:12]}; {DELAY * 2000:.0f} ms "
                  f"RTT to every node; {runs} rounds (best / median)")
            for command, expect, first in ((["true"], None, False),
                                           (["hostname"], container[:12].encode(), True)):
                rows: dict[str, list[float]] = {}
                ssh = ["ssh", "-F", str(ssh_config), f"{node}-slow", "docker", "exec",
                       container, *command]
                for _ in range(runs):
                    rows.setdefault("ssh + docker exec", []).append(
                        timed(ssh, env, expect=expect)[0 if first else 1])
                    rows.setdefault("ssh: ask, then exec", []).append(
                        looked_up(ssh_config, command, env, expect=expect)[0 if first else 1])
                    for name, python in pythons.items():
                        argv = [python, "-m", "swarmdeck", "--config", str(config), "exec",
                                SERVICE, "-c", "prod", "--", *command]
                        shutil.rmtree(cache, ignore_errors=True)
                        rows.setdefault(f"{name} cold", []).append(
                            timed(argv, env, expect=expect)[0 if first else 1])
                        rows.setdefault(f"{name} hinted", []).append(
                            timed(argv, env, expect=expect)[0 if first else 1])
                base = min(rows["ssh + docker exec"])
                what = "to the first output" if first else "to the end"
                print(f"{' '.join(command)} ({what}):")
                asked = min(rows["ssh: ask, then exec"])
                for name, times in rows.items():
                    ratio = min(times) / base
                    verdict = "" if name.startswith("ssh") else \
                        f"   target <= 1.00  {'ok' if ratio <= 1.0 else 'MISSED'}"
                    if name.endswith("cold"):
                        verdict += f"   vs ask-then-exec {min(times) / asked:.2f}x " \
                            f"{'ok' if min(times) <= asked else 'MISSED'}"
                    print(f"  {name:20s} {min(times) * 1000:6.0f} ms / "
                          f"{statistics.median(times) * 1000:6.0f} ms   ratio {ratio:.2f}x"
                          f"{verdict}")
        finally:
            lab_bench.stop(procs)


if __name__ == "__main__":
    main()
