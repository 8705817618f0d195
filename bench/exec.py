"""How long until a command in a task has run: `swarmdeck exec` against ssh + the docker CLI.

On the lab, for the first running replica of shop_web:

  (a) `swarmdeck exec shop_web -- true`: a new process that finds the task (manager
      connection, one parallel fetch), dials the task's node, creates and starts the exec
      through that engine's API and reads its exit status
  (b) `ssh NODE docker exec CONTAINER true`, with the node and container already known
      (the lab's ssh config, key and known_hosts)

Both are timed from the start of the process to its end (`true` prints nothing), and to the
first byte on stdout for `hostname`. Best of N runs (1 to 20).
Run as root on a machine where the lab is up:  python bench/exec.py [--runs N]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import lab_bench

from swarmdeck.lab.lab import Lab

SERVICE = "shop_web"
MAX_RUNS = 20


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


def timed(argv: list[str], *, expect: bytes | None) -> tuple[float, float]:
    """(seconds to the first byte on stdout, seconds to the end) of one run of ARGV."""
    started = time.perf_counter()
    # unbuffered: the first byte read must not pull the rest away from communicate()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, bufsize=0)
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


def best(argv: list[str], runs: int, *, expect: bytes | None, first: bool) -> float:
    return min(timed(argv, expect=expect)[0 if first else 1] for _ in range(runs))


def main() -> None:
    lab, runs = lab_bench.lab_and_runs(__doc__.splitlines()[0], MAX_RUNS)
    node, container = first_replica(lab)
    env_state = os.environ.setdefault("XDG_STATE_HOME", "/tmp/swarmdeck-bench-state")
    swarmdeck = [sys.executable, "-m", "swarmdeck", "--config", str(lab.config_file), "exec",
                 SERVICE, "-c", "prod", "--"]
    ssh = ["ssh", "-F", str(lab.ssh_config), node, "docker", "exec", container]
    print(f"{SERVICE}: node {node}, container {container[:12]}; best of {runs} runs "
          f"(audit log under {env_state})")
    for command, expect, first in ((["true"], None, False),
                                   (["hostname"], container[:12].encode(), True)):
        what = "to the end" if not first else "to the first output"
        ours = best(swarmdeck + command, runs, expect=expect, first=first)
        theirs = best(ssh + command, runs, expect=expect, first=first)
        print(f"{' '.join(command):9s} {what:20s} swarmdeck exec {ours * 1000:7.0f} ms   "
              f"ssh + docker exec {theirs * 1000:7.0f} ms   ratio {ours / theirs:.2f}x")


if __name__ == "__main__":
    main()
