"""Chaos on the lab's 3-manager prod cluster: bounded (it ends by itself, in under 3 minutes)
and seeded (the seed is printed; SWARMDECK_CHAOS_SEED replays a run).

While the core keeps an inventory (ClusterInventory.run in a task) and runs a sequence of
operations through core ops (scale chaos-web, update its image between demo:1.0 and :1.1,
drain/activate prod-w2), managers' and workers' dockerd and sshd are killed and restarted
and links cut, at random, one fault at a time (never two managers at once: quorum holds),
each restored before the next. At the end: the inventory equals what `docker` on a manager
reports, every operation completed or failed with a clear error (none hung), the audit log
has one matching entry per change attempted, and the cluster ended as the last changes
reported done said. The faults injected and survived are printed."""

from __future__ import annotations

import asyncio
import os
import random
import time
from dataclasses import dataclass, field

import pytest

from swarmdeck.core.audit import AuditLog
from swarmdeck.core.config import load_config
from swarmdeck.core.errors import SwarmdeckError
from swarmdeck.core.fleet import Fleet, open_ops
from swarmdeck.core.ops import nodes, services
from swarmdeck.lab import faults
from swarmdeck.lab.topology import DEMO_IMAGE

SEED = int(os.environ.get("SWARMDECK_CHAOS_SEED") or random.randrange(1 << 31))
SERVICE = "chaos-web"
WORKER = "prod-w2"
IMAGES = (f"{DEMO_IMAGE}:1.0", f"{DEMO_IMAGE}:1.1")
MANAGERS = ("prod-m1", "prod-m2", "prod-m3")
WORKERS = ("prod-w1", "prod-w2")
FAULTS = 6
MAX_OPS = 24
MIN_OPS = 6
OP_TIMEOUT = 40.0  # no operation may hang: past this it is reported as timed out
FAULT_BUDGET = 75.0  # no new fault after this many seconds
CONVERGE_TIMEOUT = 45.0
pytestmark = pytest.mark.usefixtures("lab_leaders_back")


@dataclass
class Op:
    kind: str  # scale | update | availability
    value: object
    outcome: str = ""  # ok | failed
    message: str = ""
    seconds: float = 0.0

    @property
    def action(self) -> str:
        return {"scale": "scale", "update": "update image"}.get(self.kind) \
            or f"node {self.value}"

    @property
    def target(self) -> str:
        return WORKER if self.kind == "availability" else SERVICE

    def __str__(self) -> str:
        return f"{self.action} {self.target} {self.value}"


@dataclass
class Survived:
    fault: faults.Fault
    held: float
    recovered: float  # seconds from the restore until the swarm was healthy again
    notes: list[str] = field(default_factory=list)


def plan(rng: random.Random) -> tuple[list[tuple[str, str, float]], list[Op]]:
    """The faults (node, kind, seconds held) and the operations, all from the seed. Every
    kind of fault appears, on managers and on workers."""
    kinds = [*faults.KINDS, *(rng.choice(faults.KINDS) for _ in range(FAULTS - 3))]
    rng.shuffle(kinds)
    targets = [rng.choice(MANAGERS) if i % 2 == 0 else rng.choice(WORKERS)
               for i in range(FAULTS)]
    rng.shuffle(targets)
    fault_plan = [(t, k, rng.uniform(3.0, 6.0)) for t, k in zip(targets, kinds, strict=True)]
    ops: list[Op] = []
    image, drained = 0, False
    for _ in range(MAX_OPS):
        kind = rng.choice(("scale", "scale", "update", "availability"))
        if kind == "scale":
            ops.append(Op("scale", rng.randint(1, 4)))
        elif kind == "update":
            image = 1 - image
            ops.append(Op("update", IMAGES[image]))
        else:
            drained = not drained
            ops.append(Op("availability", "drain" if drained else "active"))
    return fault_plan, ops


def docker(lab, *args: str) -> str:
    return faults._on_a_manager(lab, "prod", *args)


@pytest.fixture
def chaos_web(lab):
    docker(lab, "service", "create", "--detach", "--name", SERVICE, "--replicas", "2",
           "--stop-grace-period", "1s", "--update-failure-action", "continue",
           "--update-monitor", "1s", IMAGES[0], "sleep", "100000")
    try:
        yield
    finally:
        try:
            docker(lab, "service", "rm", SERVICE)
        finally:
            # prod-w2 active again, every daemon and link back (the leader: lab_leaders_back)
            restored = faults.heal(lab, leaders=False)
            if restored:
                print(f"healed after the test: {', '.join(restored)}")


def docker_view(lab) -> dict:
    """What `docker` on a manager reports: services (replicas, image), nodes (status,
    availability, role), tasks of those services (desired state)."""
    names = docker(lab, "service", "ls", "--format", "{{.Name}}").split()
    fmt = ("{{.Spec.Name}}|{{if .Spec.Mode.Replicated}}{{.Spec.Mode.Replicated.Replicas}}"
           "{{end}}|{{.Spec.TaskTemplate.ContainerSpec.Image}}")
    svc = {}
    for line in docker(lab, "service", "inspect", "--format", fmt, *names).splitlines():
        name, replicas, image = line.split("|")
        svc[name] = (int(replicas) if replicas else None, image.split("@")[0])
    node_rows = docker(lab, "node", "ls", "--format",
                       "{{.Hostname}}|{{.Status}}|{{.Availability}}|{{.ManagerStatus}}")
    node_view = {}
    for line in node_rows.splitlines():
        host, status, availability, manager = line.split("|")
        node_view[host] = (status.lower(), availability.lower(),
                           "manager" if manager else "worker")
    tasks = docker(lab, "service", "ps", "--no-trunc", "--format",
                   "{{.ID}}|{{.DesiredState}}", *names)
    task_view = {}
    for line in tasks.splitlines():
        task_id, desired = line.split("|")
        task_view[task_id] = desired.lower()
    return {"services": svc, "nodes": node_view, "tasks": task_view}


def inventory_view(state) -> dict:
    return {
        "services": {s.name: (s.replicas if s.mode == "replicated" else None, s.image)
                     for s in state.services.values()},
        "nodes": {n.hostname: (n.status, n.availability, n.role)
                  for n in state.nodes.values()},
        "tasks": {t.id: t.desired_state for t in state.tasks.values()
                  if t.service_id in state.services},
    }


def differences(a: dict, b: dict) -> list[str]:
    out = []
    for part in a:
        left, right = a[part], b[part]
        for key in sorted(set(left) | set(right)):
            if left.get(key) != right.get(key):
                out.append(f"{part} {key}: inventory {left.get(key)} != docker "
                           f"{right.get(key)}")
    return out


async def test_chaos(lab, chaos_web, tmp_path, monkeypatch):
    print(f"\nchaos seed {SEED} (replay with SWARMDECK_CHAOS_SEED={SEED})")
    fault_plan, ops = plan(random.Random(SEED))
    pauses_f, pauses_o = random.Random(SEED + 1), random.Random(SEED + 2)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    audit = AuditLog.default()
    path = tmp_path / "config.toml"
    path.write_text(f'[ssh]\nconfig = ["{lab.ssh_config}"]\n[clusters.prod]\n'
                    f'managers = {list(MANAGERS)!r}\nmetrics = "off"\n'.replace("'", '"'))
    path.chmod(0o600)
    config = load_config(path)
    fleet = Fleet(config)
    inventory = fleet.inventory("prod")
    runner = asyncio.create_task(fleet.run("prod"))
    started = time.monotonic()
    survived: list[Survived] = []
    faults_done = asyncio.Event()

    async def inject_faults() -> None:
        try:
            for name, kind, hold in fault_plan:
                if time.monotonic() - started > FAULT_BUDGET:
                    break
                fault = await asyncio.to_thread(faults.inject, lab, name, kind)
                try:
                    await asyncio.sleep(hold)
                finally:
                    await asyncio.to_thread(faults.restore, lab, fault)
                t0 = time.monotonic()
                # the next fault waits for a healthy swarm: never two managers down at once
                await asyncio.to_thread(faults.wait_swarm_healthy, lab, "prod", 90,
                                        active=False)  # prod-w2 may be drained on purpose
                survived.append(Survived(fault, hold, time.monotonic() - t0))
                await asyncio.sleep(pauses_f.uniform(0.5, 2.0))
        finally:
            faults_done.set()

    async def run_op(op: Op) -> None:
        t0 = time.monotonic()
        try:
            async with asyncio.timeout(OP_TIMEOUT):
                ops_ = await open_ops(config, "prod", fleet=fleet, audit=audit)
                if op.kind == "scale":
                    done = (await services.scale(ops_, {SERVICE: op.value})).summary
                elif op.kind == "update":
                    done = (await services.update_image(ops_, SERVICE, op.value)).summary
                else:
                    done = await nodes.set_availability(ops_, WORKER, op.value)
            op.outcome, op.message = "ok", done
        except SwarmdeckError as exc:
            op.outcome, op.message = "failed", str(exc)
        except TimeoutError:
            op.outcome, op.message = "failed", f"timed out after {OP_TIMEOUT:g}s"
        op.seconds = time.monotonic() - t0

    async def run_ops() -> None:
        for i, op in enumerate(ops):
            if faults_done.is_set() and i >= MIN_OPS:
                break  # the operations go on as long as faults are injected
            await run_op(op)
            await asyncio.sleep(pauses_o.uniform(2.0, 5.0))

    try:
        await asyncio.gather(inject_faults(), run_ops())
        done_ops = [op for op in ops if op.outcome]
        # ---- convergence: docker settles, the inventory follows ---------------------------
        assert await asyncio.to_thread(_converged, lab, CONVERGE_TIMEOUT)
        deadline = time.monotonic() + CONVERGE_TIMEOUT
        while True:
            theirs = await asyncio.to_thread(docker_view, lab)
            diff = differences(inventory_view(inventory.state), theirs) \
                if inventory.state.connected else ["inventory not connected"]
            if not diff or time.monotonic() > deadline:
                break
            await asyncio.sleep(2)
        elapsed = time.monotonic() - started
        _report(survived, done_ops, elapsed, inventory)
        assert not runner.done(), "the inventory task ended (it must run until closed)"
        assert not diff, "\n".join(diff)
        assert len(survived) >= 3, "too few faults ran within the budget"
        assert elapsed < 180
        # ---- every operation completed or failed with a clear one-line error -------------
        for op in done_ops:
            assert op.outcome in ("ok", "failed") and op.message and "\n" not in op.message
            assert op.seconds <= OP_TIMEOUT + 1, op
        # ---- the audit log: one entry per change attempted, with the matching result ----
        _check_audit(done_ops, audit.read())
        # ---- the cluster ended as the changes reported done said -------------------------
        _check_final(done_ops, theirs, audit.read())
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await fleet.close()


def _converged(lab, timeout: float) -> bool:
    """chaos-web runs all its replicas, no update in flight, the swarm healthy."""
    faults.wait_swarm_healthy(lab, "prod", timeout, active=False)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = docker(lab, "service", "ls", "--filter", f"name={SERVICE}", "--format",
                     "{{.Replicas}}").split()
        state = docker(lab, "service", "inspect", "--format",
                       "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}", SERVICE).strip()
        if row and row[0].split("/")[0] == row[0].split("/")[1] and state != "updating":
            return True
        time.sleep(1)
    return False


def _report(survived: list[Survived], ops: list[Op], elapsed: float, inventory) -> None:
    print(f"faults injected and survived ({len(survived)}):")
    for s in survived:
        print(f"  {s.fault} for {s.held:.1f}s; swarm healthy {s.recovered:.1f}s after restore")
    print(f"operations ({len(ops)}):")
    for op in ops:
        print(f"  {op} -> {op.outcome} in {op.seconds:.1f}s: {op.message}")
    print(f"ended on {inventory.state.manager} after {elapsed:.0f}s")


def _matching(op: Op, entry: dict) -> bool:
    params = entry.get("params") or {}
    value = {"scale": params.get("replicas"), "update": params.get("image")}.get(op.kind,
                                                                               op.value)
    # (a refusal before the change is recorded without its parameters)
    return entry["action"] == op.action and entry["target"] == op.target \
        and value in (None, op.value)


def _check_audit(ops: list[Op], entries: list[dict]) -> None:
    """Ops ran one after another, so entries come in op order. A completed change has one
    "ok" entry (none when there was nothing to change); a failed one has one entry that is
    not "ok" when the change was attempted, none when it failed before (e.g. the lookup)."""
    pending = list(entries)
    for op in ops:
        mine = pending[0] if pending and _matching(op, pending[0]) else None
        if op.outcome == "ok":
            if "nothing to change" in op.message:
                assert mine is None or mine["result"] != "ok", (op, mine)
                continue
            assert mine is not None and mine["result"] == "ok", (str(op), mine)
        elif mine is not None:
            assert mine["result"] in ("error", "interrupted", "refused"), (str(op), mine)
        if mine is not None:
            pending.pop(0)
    assert not pending, f"audit entries no operation accounts for: {pending}"


def _check_final(ops: list[Op], theirs: dict, entries: list[dict]) -> None:
    """For each kind of change, the last one that completed decides the end state; a later
    failure whose write may have landed (an "error" or "interrupted" entry) leaves it open,
    one that failed before writing or was refused changed nothing."""
    maybe_landed = set()
    pending = list(entries)
    for op in ops:
        if pending and _matching(op, pending[0]):
            if pending[0]["result"] in ("error", "interrupted"):
                maybe_landed.add(id(op))
            pending.pop(0)
    expected: dict[str, object] = {"scale": 2, "update": IMAGES[0], "availability": "active"}
    for kind in expected:
        for op in reversed([o for o in ops if o.kind == kind]):
            if op.outcome == "ok":
                expected[kind] = op.value
                break
            if id(op) in maybe_landed:  # either way is a fair end state
                expected[kind] = None
                break
    replicas, image = theirs["services"][SERVICE]
    if expected["scale"] is not None:
        assert replicas == expected["scale"], (replicas, expected)
    if expected["update"] is not None:
        assert image == expected["update"], (image, expected)
    if expected["availability"] is not None:
        assert theirs["nodes"][WORKER][1] == expected["availability"], expected
