"""A fake Docker API over a recorded lab cluster, for Pilot tests of the console's changes:
node updates (availability, role, labels), service updates and rollbacks. Writes must carry
the object's current version. A drain moves the node's replicated tasks to another node that
satisfies the service's constraints (the first by hostname), as swarm would, at once."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from types import SimpleNamespace

from swarmdeck.core.audit import AuditLog
from swarmdeck.core.errors import DockerAPIError, NotFound
from swarmdeck.core.models import Node
from swarmdeck.core.ops.base import ClusterOps
from swarmdeck.core.placement import place

FIXTURES = Path(__file__).parent / "fixtures"
# the digest of the image the recorded lab services run
DIGEST = "sha256:63c050b12b8f6fae04fe34b29064ec71d76208858c5d7dc7d29badb20e933b93"


class FakeDocker:
    def __init__(self, cluster: str) -> None:
        folder = FIXTURES / f"lab_{cluster}"

        def load(part: str):
            return json.loads((folder / f"{part}.json").read_text())

        self.nodes: list[dict] = load("nodes")
        self.services: list[dict] = load("services")
        self.tasks: list[dict] = load("tasks")
        self.info: dict = load("info")
        self.networks: list[dict] = load("networks")
        self.posts: list[tuple[str, str, dict, dict]] = []  # (kind, name, params, body)
        self.configs: list[dict] = []  # none recorded: tests add them (the deploy history)

    # ---- lookups -------------------------------------------------------------------------
    def node(self, ref: str) -> dict:
        for n in self.nodes:
            if ref in (n["ID"], n["Description"]["Hostname"]):
                return n
        raise NotFound(404, f"no such node: {ref}")

    def service(self, ref: str) -> dict:
        for s in self.services:
            if ref in (s["ID"], s["Spec"]["Name"]):
                return s
        raise NotFound(404, f"no such service: {ref}")

    async def get(self, path: str, **params):
        await asyncio.sleep(0)
        parts = path.strip("/").split("/")
        if path == "/nodes":
            return copy.deepcopy(self.nodes)
        if path == "/services":
            return copy.deepcopy(self._services(params.get("filters")))
        if path == "/secrets":
            return []
        if path == "/networks":
            return copy.deepcopy(self.networks)
        if path == "/info":
            return copy.deepcopy(self.info)
        if path == "/configs":
            return copy.deepcopy(self._configs(params.get("filters")))
        if parts[0] == "configs":
            return copy.deepcopy(next(c for c in self.configs if c["ID"] == parts[1]))
        if path == "/tasks":
            return copy.deepcopy(self._tasks(params.get("filters")))
        if parts[0] == "nodes":
            return copy.deepcopy(self.node(parts[1]))
        if parts[0] == "services":
            return copy.deepcopy(self.service(parts[1]))
        raise NotFound(404, path)

    def _configs(self, filters) -> list[dict]:
        return _filtered(self.configs, filters)

    def _services(self, filters) -> list[dict]:
        return _filtered(self.services, filters)

    def _tasks(self, filters) -> list[dict]:
        if isinstance(filters, str):
            filters = json.loads(filters)
        filters = filters or {}
        out = self.tasks
        if "service" in filters:
            out = [t for t in out if t["ServiceID"] in filters["service"]]
        if "node" in filters:
            out = [t for t in out if t.get("NodeID") in filters["node"]]
        if "desired-state" in filters:
            out = [t for t in out if t["DesiredState"] in filters["desired-state"]]
        return out

    # ---- writes --------------------------------------------------------------------------
    async def request(self, method: str, path: str, *, params=None, body=None, headers=None):
        await asyncio.sleep(0)
        if path.startswith("/distribution/"):  # the registry knows the image the lab runs
            return {"Descriptor": {"digest": DIGEST}, "Platforms": [
                {"architecture": "amd64", "os": "linux"}]}
        if path == "/configs/create":
            made = {"ID": f"cfg{len(self.configs) + 1}", "Spec": copy.deepcopy(body),
                    "Version": {"Index": 1}}
            self.configs.append(made)
            self.posts.append(("configs", body["Name"], {}, copy.deepcopy(body)))
            return {"ID": made["ID"]}
        if method == "DELETE" and path.startswith("/configs/"):
            self.configs = [c for c in self.configs if c["ID"] != path.rsplit("/", 1)[1]]
            return None
        kind, ref, verb = path.strip("/").split("/")
        target = self.node(ref) if kind == "nodes" else self.service(ref)
        if (params or {}).get("version") != target["Version"]["Index"]:
            raise DockerAPIError(500, "update out of sequence")
        name = target["Description"]["Hostname"] if kind == "nodes" else target["Spec"]["Name"]
        self.posts.append((kind, name, dict(params or {}), copy.deepcopy(body)))
        target["Version"]["Index"] += 1
        if kind == "services":
            if (params or {}).get("rollback") == "previous":
                target["Spec"], target["PreviousSpec"] = target["PreviousSpec"], target["Spec"]
                target["UpdateStatus"] = {"State": "rollback_completed",
                                          "StartedAt": f"v{len(self.posts)}"}
            else:
                target["PreviousSpec"], target["Spec"] = target["Spec"], body
                target["UpdateStatus"] = {"State": "completed",
                                          "StartedAt": f"v{len(self.posts)}"}
            return None
        target["Spec"] = body
        if body.get("Availability") == "drain":
            self._drain(target["ID"])
        return None

    def _drain(self, node_id: str) -> None:
        nodes = [Node.from_api(n) for n in self.nodes]
        for task in [t for t in self.tasks
                     if t.get("NodeID") == node_id and t["DesiredState"] == "running"]:
            task["DesiredState"] = "shutdown"
            task["Status"] = {**task["Status"], "State": "shutdown"}
            service = self.service(task["ServiceID"])
            if "Replicated" not in service["Spec"].get("Mode", {}):
                continue  # a global service's task just stops
            constraints = (service["Spec"]["TaskTemplate"].get("Placement") or {}) \
                .get("Constraints") or []
            fitting = place(constraints, nodes).nodes
            moved = copy.deepcopy(task)
            moved["ID"] = task["ID"] + "-moved"
            moved["DesiredState"] = "running"
            if fitting:
                moved["NodeID"] = fitting[0].id
                moved["Status"] = {**task["Status"], "State": "running"}
            else:
                moved.pop("NodeID", None)
                moved["Status"] = {"State": "pending", "Message": "pending",
                                   "Err": "no suitable node"}
            self.tasks.append(moved)


def _filtered(objects: list[dict], filters) -> list[dict]:
    """By label (KEY=VALUE) and name, as the engine filters them."""
    wanted = json.loads(filters) if isinstance(filters, str) else filters or {}
    labels = [w.partition("=") for w in wanted.get("label", [])]
    names = wanted.get("name")
    return [o for o in objects
            if all((o["Spec"].get("Labels") or {}).get(k) == v for k, _, v in labels)
            and (names is None or o["Spec"]["Name"] in names)]


def install(fleet, config) -> dict[str, FakeDocker]:
    """Give the recorded fleet an ops() over fakes (one per cluster); returns the fakes."""
    fakes = {name: FakeDocker(name) for name in ("prod", "staging")}

    async def ops(name, *, read_only_flag=False):
        cfg = config.clusters[name]
        return ClusterOps(name, SimpleNamespace(docker=fakes[name], label=f"{name}-m1 (fake)"),
                          audit=AuditLog.default(),
                          read_only="config" if cfg.read_only or read_only_flag else None)

    fleet.ops = ops
    return fakes
