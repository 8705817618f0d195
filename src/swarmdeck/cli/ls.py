"""`swarmdeck ls clusters|nodes|services|stacks|tasks`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import asdict
from typing import Any

from swarmdeck.cli import render
from swarmdeck.cli.main import said
from swarmdeck.cli.render import load_config
from swarmdeck.core import views
from swarmdeck.core.config import Config, docker_contexts
from swarmdeck.core.errors import ConfigError, SwarmdeckError, UsageError
from swarmdeck.core.fleet import Fleet
from swarmdeck.core.inventory import ClusterState
from swarmdeck.core.sanitize import clean


def chosen_clusters(args: argparse.Namespace) -> tuple[Config, list[str]]:
    """The config (its warnings printed) and the clusters `--cluster` names (default: all),
    each checked before any connection."""
    config = load_config(args.config)
    if not config.clusters:
        raise no_clusters_error(config)
    names = args.cluster or list(config.clusters)
    for name in names:
        config.cluster(name)  # unknown names fail here, with a did-you-mean
    return config, names


def run_ls(args: argparse.Namespace) -> int:
    if args.what == "containers":  # from every node's own engine, not the swarm's tables
        return run_containers(args)
    if args.node:
        raise UsageError("--node goes with `ls containers` only")
    config, names = chosen_clusters(args)
    results = asyncio.run(_load(config, names))
    states = {n: r for n, r in results.items() if isinstance(r, ClusterState)}
    failed = {n: r for n, r in results.items() if isinstance(r, SwarmdeckError)}
    rows = ROWS[args.what](states, args, config, failed)
    if not rows and not failed:
        _check_stack(args, states)
    if args.json:
        print(render.json_text(rows))
    else:
        print(TABLES[args.what](rows))
    for name, error in failed.items():
        print(f"swarmdeck: {cluster_error(name, error)}", file=sys.stderr)
        said(error)  # a changed host key it quotes is not said again at the end
    return 1 if failed else 0


def run_containers(args: argparse.Namespace) -> int:
    from swarmdeck.cli.volumes import problems_said
    from swarmdeck.core import node_objects

    config, names = chosen_clusters(args)

    async def read():
        fleet = Fleet(config)
        try:
            rows, problems = [], []
            for name in names:
                state = await fleet.inventory(name).load()
                found, missed = await node_objects.containers(
                    fleet, name, state, all_=args.all, node=args.node)
                rows += found
                problems += missed
            return rows, problems
        finally:
            await fleet.close()

    rows, problems = asyncio.run(read())
    if args.json:
        print(render.json_text([asdict(r) for r in rows]))
    else:
        print(render.table(
            ["CLUSTER", "NODE", "CONTAINER", "NAME", "TASK", "STATE", "STATUS", "IMAGE"],
            [[r.cluster, r.node, r.id, r.name, r.task or "-", r.state, r.status, r.image]
             for r in rows], wide=(7,)))
    return problems_said(problems)


def cluster_error(name: str, error: SwarmdeckError) -> str:
    """ERROR on one line, naming the cluster once (some errors name it themselves)."""
    text = clean(str(error))
    prefix = f"cluster {name}: "
    return text if text.startswith(prefix) else prefix + text


def _check_stack(args: argparse.Namespace, states: dict[str, ClusterState]) -> None:
    """`--stack` naming no stack of the chosen clusters is a typo, not an empty listing."""
    if not args.stack or args.what not in ("services", "stacks", "tasks"):
        return
    stacks = sorted({s.name for st in states.values() for s in st.stacks()})
    if args.stack in stacks:
        return
    from swarmdeck.core.ops.base import did_you_mean

    where = ("cluster " if len(states) == 1 else "clusters ") + ", ".join(states)
    raise UsageError(f"no stack {args.stack!r} in {where}"
                     f"{did_you_mean(args.stack, stacks, 'stacks')}")


async def _load(config: Config, names: list[str]) -> dict[str, ClusterState | SwarmdeckError]:
    fleet = Fleet(config)
    try:
        return await fleet.load(names)
    finally:
        await fleet.close()


def no_clusters_error(config: Config) -> ConfigError:
    where = f"{config.path}" + ("" if config.exists else " (it does not exist yet)")
    contexts = [c for c in docker_contexts() if c.ssh_destination is not None]
    if contexts:
        offers = "; ".join(
            f'[clusters.{c.name}] context = "{c.name}"  # {c.host}' for c in contexts
        )
        return ConfigError(f"no clusters configured in {where}. Docker contexts over SSH "
                           f"found, add one to the config: {offers}")
    return ConfigError(f"no clusters configured in {where}",
                       hint="add a [clusters.NAME] section with managers = [\"user@host\"], "
                            "or let `swarmdeck init` find the swarm managers this machine "
                            "reaches, or `swarmdeck cluster add NAME --manager user@host` add "
                            "one; config.example.toml documents every key")


# ---- rows: core.views computes them; JSON is their fields, tables format them ----------

def _cluster_rows(states: dict[str, ClusterState], args: argparse.Namespace, config: Config,
                  failed: dict[str, SwarmdeckError]) -> list[dict[str, Any]]:
    rows = []
    for name in args.cluster or list(config.clusters):
        health = views.cluster_health(name, states.get(name), failed.get(name))
        row = asdict(health)
        del row["age"], row["connected"]
        rows.append(row)
    return rows


def _fields(row: object) -> dict[str, Any]:
    """A view row's fields. Not dataclasses.asdict: it deep-copies every value (a third of
    `ls services`' own time on a big swarm), and these rows are flat, read once, dropped."""
    return dict(vars(row))


def _node_rows(states: dict[str, ClusterState], *_: Any) -> list[dict[str, Any]]:
    return [_fields(r) for name, st in states.items() for r in views.node_rows(name, st)]


def _service_rows(states: dict[str, ClusterState], args: argparse.Namespace, *_: Any
                  ) -> list[dict[str, Any]]:
    return [_fields(r) for name, st in states.items()
            for r in views.service_rows(name, st, stack=args.stack)]


def _stack_rows(states: dict[str, ClusterState], args: argparse.Namespace, config: Config,
                *_: Any) -> list[dict[str, Any]]:
    managed = views.managed_stacks(config)
    return [_fields(r) for name, st in states.items()
            for r in views.stack_rows(name, st, managed, stack=args.stack)]


def _task_rows(states: dict[str, ClusterState], args: argparse.Namespace, *_: Any
               ) -> list[dict[str, Any]]:
    history = args.all or args.json
    return [_fields(r) for name, st in states.items()
            for r in views.task_rows(name, st, stack=args.stack, history=history)]


ROWS = {"clusters": _cluster_rows, "nodes": _node_rows, "services": _service_rows,
        "stacks": _stack_rows, "tasks": _task_rows}


# ---- tables ------------------------------------------------------------------------------

def _clusters_table(rows: list[dict[str, Any]]) -> str:
    return render.table(
        ["CLUSTER", "STATUS", "MANAGER", "LEADER", "NODES", "SERVICES", "STACKS"],
        [[r["cluster"], r["status"], r["manager"] or "-", r["leader"] or "-",
          _frac(r["nodes_ready"], r["nodes_total"]),
          _frac(r["services_converged"], r["services_total"]), _dash(r["stacks"])]
         for r in rows],
        right=(4, 5, 6),
    )


def _nodes_table(rows: list[dict[str, Any]]) -> str:
    return render.table(
        ["CLUSTER", "HOSTNAME", "ROLE", "AVAILABILITY", "STATUS", "MANAGER", "ENGINE",
         "ADDRESS", "TASKS", "CPUS", "MEMORY"],
        [[r["cluster"], r["hostname"], r["role"], r["availability"], r["status"],
          r["manager_status"] or "", r["engine_version"], r["address"], r["tasks_running"],
          f"{r['nano_cpus'] / 1e9:g}" if r["nano_cpus"] else "-",
          views.human_size(r["memory_bytes"])] for r in rows],
        right=(8, 9, 10),
    )


def _services_table(rows: list[dict[str, Any]]) -> str:
    return render.table(
        ["CLUSTER", "NAME", "STACK", "MODE", "REPLICAS", "IMAGE", "PORTS", "UPDATE", "AGE"],
        [[r["cluster"], r["name"], r["stack"] or "-", r["mode"],
          views.ServiceRow(**r).replicas_text, r["image"],
          ",".join(r["ports"]) or "-", r["update_state"] or "-", render.age(r["created_at"])]
         for r in rows],
        right=(4,),
    )


def _stacks_table(rows: list[dict[str, Any]]) -> str:
    return render.table(
        ["CLUSTER", "STACK", "SERVICES", "NETWORKS", "PROJECT"],
        [[r["cluster"], r["name"], r["services"], r["networks"], r["project"] or "unmanaged"]
         for r in rows],
        right=(2, 3),
    )


def _tasks_table(rows: list[dict[str, Any]]) -> str:
    return render.table(
        ["CLUSTER", "ID", "NAME", "NODE", "DESIRED", "STATE", "SINCE", "ERROR"],
        [[r["cluster"], r["id"][:12],
          f"{r['service']}.{r['slot']}" if r["slot"] is not None else r["service"] or "-",
          r["node"] or "-", r["desired_state"], r["state"], render.ago(r["since"]),
          r["error"] or ""] for r in rows],
        wide=(7,),
    )


TABLES = {"clusters": _clusters_table, "nodes": _nodes_table, "services": _services_table,
          "stacks": _stacks_table, "tasks": _tasks_table}


def _frac(a: int | None, b: int | None) -> str:
    return "-" if a is None or b is None else f"{a}/{b}"


def _dash(v: object) -> str:
    return "-" if v is None else str(v)
