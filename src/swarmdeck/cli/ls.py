"""`swarmdeck ls clusters|nodes|services|stacks|tasks`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from swarmdeck.cli import render
from swarmdeck.core.config import Config, docker_contexts, load
from swarmdeck.core.errors import ConfigError, SwarmdeckError
from swarmdeck.core.fleet import Fleet
from swarmdeck.core.inventory import ClusterState
from swarmdeck.core.sanitize import clean


def run_ls(args: argparse.Namespace) -> int:
    config = load(args.config)
    for warning in config.warnings:
        print(f"swarmdeck: warning: {warning}", file=sys.stderr)
    if not config.clusters:
        raise _no_clusters(config)
    names = args.cluster or list(config.clusters)
    for name in names:
        config.cluster(name)  # unknown names fail here, with a did-you-mean
    results = asyncio.run(_load(config, names))
    states = {n: r for n, r in results.items() if isinstance(r, ClusterState)}
    failed = {n: r for n, r in results.items() if isinstance(r, SwarmdeckError)}
    rows = ROWS[args.what](states, args, config, failed)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        print(TABLES[args.what](rows))
    for name, error in failed.items():
        print(f"swarmdeck: cluster {name}: {clean(str(error))}", file=sys.stderr)
    return 1 if failed else 0


async def _load(config: Config, names: list[str]) -> dict[str, ClusterState | SwarmdeckError]:
    fleet = Fleet(config)
    try:
        return await fleet.load(names)
    finally:
        await fleet.close()


def _no_clusters(config: Config) -> ConfigError:
    where = f"{config.path}" + ("" if config.exists else " (it does not exist yet)")
    contexts = [c for c in docker_contexts() if c.ssh_destination is not None]
    if contexts:
        offers = "; ".join(
            f'[clusters.{c.name}] context = "{c.name}"  # {c.host}' for c in contexts
        )
        return ConfigError(f"no clusters configured in {where}. Docker contexts over SSH "
                           f"found, add one to the config: {offers}")
    return ConfigError(f"no clusters configured in {where}",
                       hint="add a [clusters.NAME] section with managers = [\"user@host\"]; "
                            "config.example.toml documents every key")


# ---- rows: plain dicts, the JSON output; tables are built from the same rows ----------

def _cluster_rows(states: dict[str, ClusterState], args: argparse.Namespace, config: Config,
                  failed: dict[str, SwarmdeckError]) -> list[dict[str, Any]]:
    rows = []
    for name in args.cluster or list(config.clusters):
        st = states.get(name)
        if st is None:
            rows.append({"cluster": name, "status": "error", "error": str(failed.get(name)),
                         "manager": None, "leader": None, "nodes_ready": None,
                         "nodes_total": None, "services_converged": None,
                         "services_total": None, "stacks": None})
            continue
        leader = st.leader()
        converged = sum(1 for s in st.services.values()
                        if (r := st.replicas(s))[0] >= r[1] or s.mode.endswith("job"))
        rows.append({
            "cluster": name, "status": "ok", "error": None, "manager": st.manager,
            "leader": leader.hostname if leader else None,
            "nodes_ready": sum(1 for n in st.nodes.values() if n.status == "ready"),
            "nodes_total": len(st.nodes),
            "services_converged": converged, "services_total": len(st.services),
            "stacks": len(st.stacks()),
        })
    return rows


def _node_rows(states: dict[str, ClusterState], args: argparse.Namespace, *_: Any
               ) -> list[dict[str, Any]]:
    rows = []
    for name, st in states.items():
        running: dict[str, int] = {}
        for t in st.tasks.values():
            if t.is_running and t.node_id:
                running[t.node_id] = running.get(t.node_id, 0) + 1
        for n in sorted(st.nodes.values(), key=lambda n: (n.role != "manager", n.hostname)):
            rows.append({
                "cluster": name, "id": n.id, "hostname": n.hostname, "role": n.role,
                "availability": n.availability, "status": n.status, "leader": n.leader,
                "manager_status": n.manager_status or None, "address": n.address,
                "engine_version": n.engine_version, "labels": n.labels,
                "tasks_running": running.get(n.id, 0), "nano_cpus": n.nano_cpus,
                "memory_bytes": n.memory_bytes, "created_at": n.created_at,
            })
    return rows


def _service_rows(states: dict[str, ClusterState], args: argparse.Namespace, *_: Any
                  ) -> list[dict[str, Any]]:
    rows = []
    for name, st in states.items():
        for s in sorted(st.services.values(), key=lambda s: s.name):
            if args.stack and s.stack != args.stack:
                continue
            running, desired = st.replicas(s)
            rows.append({
                "cluster": name, "id": s.id, "name": s.name, "stack": s.stack,
                "mode": s.mode, "image": s.image, "replicas_running": running,
                "replicas_desired": desired,
                "completed": st.completed(s) if s.mode.endswith("job") else None,
                "ports": [str(p) for p in s.ports],
                "update_state": s.update_state, "created_at": s.created_at,
                "updated_at": s.updated_at,
            })
    return rows


def _stack_rows(states: dict[str, ClusterState], args: argparse.Namespace, config: Config,
                *_: Any) -> list[dict[str, Any]]:
    managed = {(env.cluster, env.stack): f"{project}/{env_name}"
               for project, env_name, env in config.environments()}
    rows = []
    for name, st in states.items():
        for stack in st.stacks():
            if args.stack and stack.name != args.stack:
                continue
            rows.append({"cluster": name, "name": stack.name, "services": len(stack.services),
                         "networks": len(stack.networks),
                         "project": managed.get((name, stack.name))})
    return rows


def _task_rows(states: dict[str, ClusterState], args: argparse.Namespace, *_: Any
               ) -> list[dict[str, Any]]:
    rows = []
    for name, st in states.items():
        for t in sorted(st.tasks.values(), key=lambda t: (
                st.services[t.service_id].name if t.service_id in st.services else "",
                t.slot or 0, t.node_id or "", -(t.updated_at.timestamp() if t.updated_at
                                                 else 0))):
            service = st.services.get(t.service_id)
            if args.stack and (service is None or service.stack != args.stack):
                continue
            if not args.all and not args.json and not t.is_current:
                continue
            rows.append({
                "cluster": name, "id": t.id, "service": service.name if service else None,
                "slot": t.slot, "node": st.node_name(t.node_id) or None,
                "state": t.state, "desired_state": t.desired_state, "error": t.error or None,
                "image": t.image, "since": t.timestamp,
            })
    return rows


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
          render.size(r["memory_bytes"])] for r in rows],
        right=(8, 9, 10),
    )


def _services_table(rows: list[dict[str, Any]]) -> str:
    return render.table(
        ["CLUSTER", "NAME", "STACK", "MODE", "REPLICAS", "IMAGE", "PORTS", "UPDATE", "AGE"],
        [[r["cluster"], r["name"], r["stack"] or "-", r["mode"],
          f"{r['replicas_running']}/{r['replicas_desired']}"
          + (f" ({r['completed']} done)" if r["completed"] is not None else ""), r["image"],
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
    )


TABLES = {"clusters": _clusters_table, "nodes": _nodes_table, "services": _services_table,
          "stacks": _stacks_table, "tasks": _tasks_table}


def _frac(a: int | None, b: int | None) -> str:
    return "-" if a is None or b is None else f"{a}/{b}"


def _dash(v: object) -> str:
    return "-" if v is None else str(v)
