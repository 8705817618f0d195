"""Does the console stay quick with a big fleet and a busy cluster?

(1) A synthetic inventory of 1000 services / 3000 tasks / 50 nodes, fed to the console
    (headless, 160x50): time to first screen, then keystroke-to-render p50/p95 while 50 task
    changes a second flow in (target p95 < 50 ms).
(2) The console on the live lab, idle: CPU of the app process as a share of one core
    (target < 1 %), inventory events, task reconcile and metrics included.

Run as root for (2) (on the running lab, which it never rebuilds):  python bench/ui_scale.py
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from pathlib import Path
from tempfile import TemporaryDirectory

from shared_lab import shared_lab
from textual import events
from textual.app import App
from textual.widgets import DataTable

from swarmdeck.core.config import load_config
from swarmdeck.core.fleet import Fleet
from swarmdeck.core.inventory import Change, ClusterState
from swarmdeck.core.metrics import ClusterMetrics
from swarmdeck.core.models import Node, Service, Task
from swarmdeck.lab.lab import Lab
from swarmdeck.ui.app import SwarmdeckApp
from swarmdeck.ui.widgets.table import LiveTable

SERVICES, TASKS_PER_SERVICE, NODES = 1000, 3, 50  # SERVICES: the default of --services
MAX_SERVICES = 20000
FIRST_SCREEN_TARGET = {1000: 1.5, 5000: 2.5}  # seconds, by size
UPDATES_PER_SECOND = 50
SIZE = (160, 50)


def synthetic_state(services: int, seed: int = 7) -> ClusterState:
    rng = random.Random(seed)
    state = ClusterState("big")
    for i in range(NODES):
        node = Node(id=f"node{i:03d}", hostname=f"node-{i:03d}",
                    role="manager" if i < 3 else "worker", availability="active",
                    status="ready", leader=i == 0, reachability="reachable" if i < 3 else None,
                    address=f"10.0.{i // 250}.{i % 250}", engine_version="27.0.0")
        state.nodes[node.id] = node
    for i in range(services):
        stack = f"stack{i // 10:03d}"
        service = Service(id=f"svc{i:04d}", name=f"{stack}_svc{i:04d}", stack=stack,
                          mode="replicated", replicas=TASKS_PER_SERVICE,
                          image=f"registry.example/app{i % 37}:1.{i % 9}")
        state.services[service.id] = service
        for slot in range(1, TASKS_PER_SERVICE + 1):
            task = Task(id=f"task{i:04d}{slot}", service_id=service.id,
                        node_id=f"node{rng.randrange(NODES):03d}", slot=slot,
                        state="running", desired_state="running")
            state.tasks[task.id] = task
    state.manager, state.connected, state.loaded_at = "big-m1", True, time.time()
    return state


class SyntheticFleet:
    def __init__(self, services: int) -> None:
        self.states = {"big": synthetic_state(services)}
        self.listeners = []
        self.stopped = asyncio.Event()
        self.collected = {"big": type("C", (), {"metrics": ClusterMetrics()})()}

    @property
    def names(self) -> list[str]:
        return list(self.states)

    def state(self, name: str) -> ClusterState:
        return self.states[name]

    def subscribe(self, listener):
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    async def run(self, name: str) -> None:
        await self.stopped.wait()

    def show(self, names) -> None:
        pass  # one cluster, always shown

    async def logs(self, name: str, service_id: str, *, tail=100, follow=True):
        await self.stopped.wait()
        if False:  # an async generator that yields nothing
            yield

    def metrics(self, name: str):
        return self.collected[name]

    async def close(self) -> None:
        self.stopped.set()

    async def churn(self, rate: float) -> int:
        """Flip task states at RATE changes a second (catching up when the loop was busy),
        as task reconciles would report them."""
        rng = random.Random(11)
        tasks = list(self.states["big"].tasks)
        changes = 0
        started = time.perf_counter()
        while not self.stopped.is_set():
            due = int((time.perf_counter() - started) * rate)
            while changes < due:
                state = self.states["big"]
                task_id = rng.choice(tasks)
                task = state.tasks[task_id]
                new_state = "starting" if task.state == "running" else "running"
                state.tasks[task_id] = task.model_copy(update={"state": new_state})
                for listener in list(self.listeners):
                    listener(Change("big", "tasks", frozenset({task_id})))
                changes += 1
            await asyncio.sleep(0.01)
        return changes


def rss() -> str:
    fields = dict(line.split(":", 1)
                  for line in Path("/proc/self/status").read_text().splitlines())
    return (f"VmRSS {int(fields['VmRSS'].split()[0]) // 1024} MB, "
            f"peak VmHWM {int(fields['VmHWM'].split()[0]) // 1024} MB")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


class FrameClock:
    """Times keystroke-to-render inside the app: from posting a key event until the key has
    been handled (the cursor moved, after whatever work was holding the event loop) and the
    screen's dirty regions have been composed into a frame for the terminal. The pilot's own
    waits (it sleeps until the process looks idle) are not part of it. In a real terminal
    the frame timer adds at most one frame interval (1/60 s) on top."""

    async def press(self, app, table, key: str) -> float:
        before = table.cursor_row
        started = time.perf_counter()
        app.post_message(events.Key(key, key))
        while table.cursor_row == before:
            await asyncio.sleep(0.0005)
        app.screen._compositor_refresh()  # compose the frame the key caused
        return (time.perf_counter() - started) * 1000


async def keystrokes(app, pilot, presses: int) -> list[float]:
    clock = FrameClock()
    table = app.screen.query_one("#services")
    table.focus()
    await pilot.pause(0.2)
    latencies = []
    for i in range(presses):
        key = "down" if (i // 20) % 2 == 0 else "up"
        latencies.append(await clock.press(app, table, key))
        await asyncio.sleep(0.03)
    return latencies


class FloorApp(App):
    """The floor: Textual's own DataTable with as many rows, nothing else, no updates."""

    def __init__(self, rows: int) -> None:
        super().__init__()
        self.rows = rows

    def compose(self):
        yield DataTable(cursor_type="row", id="services")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(*(f"COLUMN {i}" for i in range(10)))
        for i in range(self.rows):
            table.add_row(*(f"value {i}-{j}" for j in range(10)))


async def floor_run(presses: int, rows: int) -> list[float]:
    app = FloorApp(rows)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.5)
        return await keystrokes(app, pilot, presses)


async def synthetic_run(config_path: Path, presses: int, services: int) -> None:
    floor = await floor_run(presses, services)
    fleet = SyntheticFleet(services)
    config = load_config(config_path)
    started = time.perf_counter()
    app = SwarmdeckApp(config, fleet)
    async with app.run_test(size=SIZE) as pilot:
        while not app.screen.query("#services") or \
                app.screen.query_one("#services", LiveTable).row_count < services:
            await pilot.pause(0.01)
        first = time.perf_counter() - started
        churn = asyncio.create_task(fleet.churn(UPDATES_PER_SECOND))
        await asyncio.sleep(1.0)
        latencies = await keystrokes(app, pilot, presses)
        fleet.stopped.set()
        changes = await churn
    p95, floor95 = percentile(latencies, 95), percentile(floor, 95)
    target = FIRST_SCREEN_TARGET.get(services)
    print(f"  time to first screen ({services} services, {services * TASKS_PER_SERVICE} "
          f"tasks, {NODES} nodes): {first * 1000:7.0f} ms"
          + (f"  (target <= {target:g} s: {'ok' if first <= target else 'MISSED'})"
             if target else ""))
    print(f"  RSS of this process after the first screen and the keys: {rss()}")
    print(f"  floor: Textual's DataTable alone, {services} rows, no updates: "
          f"p50 {statistics.median(floor):5.1f} ms, p95 {floor95:5.1f} ms")
    print(f"  keystroke-to-render while {UPDATES_PER_SECOND} task changes/s flow "
          f"({presses} keys, {changes} changes): p50 {statistics.median(latencies):5.1f} ms, "
          f"p95 {p95:5.1f} ms, max {max(latencies):5.1f} ms, p95 {p95 / floor95:.1f}x the "
          f"floor  (target p95 < 50 ms: {'ok' if p95 < 50 else 'MISSED'})")


SETTLE_SECONDS = 20


async def idle_run(lab: Lab, seconds: float) -> None:
    config = load_config(lab.config_file)
    app = SwarmdeckApp(config, Fleet(config))
    async with app.run_test(size=SIZE) as pilot:
        while not app.screen.query("#services") or \
                not app.screen.query_one("#services", LiveTable).row_count:
            await pilot.pause(0.1)
        # connections and samplers settle, and the sparklines fill their width (they
        # widen one cell a sample at first): what follows is the steady state
        await pilot.pause(SETTLE_SECONDS)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    share = 100 * cpu / wall
    print(f"  idle on the live lab ({len(config.clusters)} clusters, metrics every "
          f"{config.metrics.interval:g}s) over {wall:.0f}s: {share:.2f} % of a core  "
          f"(target < 1 %: {'ok' if share < 1 else 'MISSED'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presses", type=int, default=200)
    parser.add_argument("--idle-seconds", type=float, default=30)
    parser.add_argument("--skip-lab", action="store_true", help="only the synthetic part")
    parser.add_argument("--services", type=int, default=SERVICES,
                        help=f"synthetic services ({TASKS_PER_SERVICE} tasks each; default "
                             f"{SERVICES}, at most {MAX_SERVICES})")
    args = parser.parse_args()
    print("console at scale:")
    with TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.toml"
        config.write_text('[clusters.big]\nmanagers = ["big-m1"]\n')
        config.chmod(0o600)
        asyncio.run(synthetic_run(config, args.presses,
                                  max(1, min(args.services, MAX_SERVICES))))
    if not args.skip_lab:
        lab = shared_lab()
        asyncio.run(idle_run(lab, args.idle_seconds))


if __name__ == "__main__":
    main()
