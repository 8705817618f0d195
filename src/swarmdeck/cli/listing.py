"""The rows and tables of `swarmdeck ls`: core.views computes the rows, --json prints their
fields, the tables format them."""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict
from typing import Any

from swarmdeck.cli import render
from swarmdeck.core import views
from swarmdeck.core.config import Config
from swarmdeck.core.errors import SwarmdeckError
from swarmdeck.core.inventory import ClusterState


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
    now = time.time()
    return render.table(
        ["CLUSTER", "NAME", "STACK", "MODE", "REPLICAS", "IMAGE", "PORTS", "UPDATE", "AGE"],
        [[r["cluster"], r["name"], r["stack"] or "-", r["mode"],
          views.replicas_text(r["replicas_running"], r["replicas_desired"], r["completed"]),
          r["image"], ",".join(r["ports"]) or "-", r["update_state"] or "-",
          render.age(r["created_at"], now)]
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
