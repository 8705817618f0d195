"""What does `swarmdeck ls services` cost once the cluster has answered?

No lab and no network: the Docker API answers recorded from the lab (tests/fixtures/lab_prod)
are cloned into a bigger swarm (SERVICES services of REPLICAS tasks each, the nodes as
recorded), then each stage of the command's path is timed, best of N in this process:

  parse   the API's JSON into models (Node/Service/Task/Network/SwarmInfo.from_api), as
          core.inventory does after its fetch
  rows    core.views.service_rows and the dicts cli.ls makes of them
  table   the text table cli.ls prints (every cell through sanitize.cell)
  json    the --json text instead of the table
  command cli.ls.run_ls with the fetch replaced by the parse above: everything but the SSH
          round trips (no manager dialled), printed to /dev/null

then where the time goes in `command` (cProfile, own time, heaviest first).

Run:  python bench/ls_services.py [--services 300] [--replicas 3] [-n 5]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import cProfile
import json
import os
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

from swarmdeck.cli import listing, render
from swarmdeck.cli import ls as cli_ls
from swarmdeck.cli.main import main
from swarmdeck.core import dial_ahead
from swarmdeck.core.inventory import ClusterState
from swarmdeck.core.models import Network, Node, Service, SwarmInfo, Task

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "lab_prod"
MAX_RUNS = 50


def api_answers(services: int, replicas: int) -> dict[str, list | dict]:
    """The lab's recorded answers, with SERVICES services cloned round-robin from the
    recorded ones (new IDs and names, REPLICAS tasks each, spread over the nodes)."""
    def load(part: str):
        return json.loads((FIXTURES / f"{part}.json").read_text())

    nodes, recorded, tasks = load("nodes"), load("services"), load("tasks")
    task_of = {t["ServiceID"]: t for t in tasks}
    out_services, out_tasks = [], []
    for i in range(services):
        base = recorded[i % len(recorded)]
        service = copy.deepcopy(base)
        service["ID"] = f"svc{i:021d}"
        service["Spec"]["Name"] = f"{base['Spec']['Name']}-{i}"
        if "Replicated" in service["Spec"].get("Mode", {}):
            service["Spec"]["Mode"]["Replicated"]["Replicas"] = replicas
        template = task_of.get(base["ID"], tasks[0])
        for slot in range(1, replicas + 1):
            task = copy.deepcopy(template)
            task["ID"] = f"tsk{i:016d}{slot:06d}"
            task["ServiceID"], task["Slot"] = service["ID"], slot
            task["NodeID"] = nodes[(i + slot) % len(nodes)]["ID"]
            out_tasks.append(task)
        out_services.append(service)
    return {"info": load("info"), "nodes": nodes, "services": out_services,
            "tasks": out_tasks, "networks": load("networks")}


def parse(answers: dict) -> ClusterState:
    """What core.inventory's load does with the answers."""
    state = ClusterState("prod")
    state.info = SwarmInfo.from_api(answers["info"])
    state.nodes = {n.id: n for n in map(Node.from_api, answers["nodes"])}
    state.services = {s.id: s for s in map(Service.from_api, answers["services"])}
    state.tasks = {t.id: t for t in map(Task.from_api, answers["tasks"])}
    state.networks = {n.id: n for n in map(Network.from_api, answers["networks"])}
    state.manager, state.connected, state.loaded_at = "prod-m1", True, time.time()
    return state


def best(runs: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def run_command(answers: dict, config: Path) -> int:
    async def load(_config, names):
        return {name: parse(answers) for name in names}

    # no manager is dialled ahead either (core.dial_ahead): the config's host is not real
    with mock.patch.object(cli_ls, "_load", load), \
            mock.patch.object(dial_ahead, "first_dials", lambda *_: []), \
            open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        return main(["--config", str(config), "ls", "services"])


def main_bench() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=300)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("-n", type=int, default=5, metavar="RUNS",
                        help=f"runs per stage, best kept (default 5, at most {MAX_RUNS})")
    args = parser.parse_args()
    runs = max(1, min(args.n, MAX_RUNS))
    answers = api_answers(args.services, args.replicas)
    config = Path(os.environ.get("TMPDIR", "/tmp")) / f"swarmdeck-bench-{os.getpid()}.toml"
    config.write_text('[clusters.prod]\nmanagers = ["prod-m1"]\n')
    config.chmod(0o600)
    try:
        state = parse(answers)
        ns = argparse.Namespace(stack=None)
        rows = listing._service_rows({"prod": state}, ns)
        assert run_command(answers, config) == 0
        stages = {
            "parse": lambda: parse(answers),
            "rows": lambda: listing._service_rows({"prod": state}, ns),
            "table": lambda: listing._services_table(rows),
            "json": lambda: render.json_text(rows),
            "command": lambda: run_command(answers, config),
        }
        print(f"{len(answers['services'])} services, {len(answers['tasks'])} tasks, "
              f"{len(answers['nodes'])} nodes; best of {runs}")
        for name, work in stages.items():
            seconds = best(runs, work)
            print(f"  {name:8} {seconds * 1000:8.1f} ms  "
                  f"{seconds / len(answers['services']) * 1e6:7.1f} us/service")
        profile = cProfile.Profile()
        profile.runcall(run_command, answers, config)
        print("where `command` spends its time (own time):")
        stats = pstats.Stats(profile, stream=sys.stdout)
        stats.sort_stats("tottime").print_stats(12)
    finally:
        config.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main_bench())
