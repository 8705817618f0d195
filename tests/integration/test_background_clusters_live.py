"""A cluster the console does not show costs one SSH connection and no polling; shown, it
samples its nodes and reads its tasks at once. Counted by the kernel (this process's TCP
connections to each node's sshd) and at the Docker API (the requests made to each cluster)."""

from __future__ import annotations

import collections
import os
import time
from pathlib import Path

from test_console_live import wait_until

from swarmdeck.core.config import load_config
from swarmdeck.core.fleet import Fleet
from swarmdeck.core.transport.docker import DockerEndpoint
from swarmdeck.ui.app import SwarmdeckApp
from swarmdeck.ui.widgets.table import LiveTable


def own_ssh_connections(address: str) -> int:
    """Established TCP connections of this process to ADDRESS:22 (other processes on the
    machine, such as another console, are not counted)."""
    inodes = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    want = "".join(f"{int(part):02X}" for part in reversed(address.split("."))) + ":0016"
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[2] == want and fields[3] == "01" and fields[9] in inodes:
            count += 1
    return count


async def test_a_cluster_off_screen_holds_one_connection_and_is_not_polled(lab, monkeypatch):
    nodes = {n.name: n.address for n in lab.spec().nodes()}
    staging_m1, staging_w1 = nodes["staging-m1"], nodes["staging-w1"]
    requests: collections.Counter[tuple[str, str]] = collections.Counter()
    staging_reads: list[float] = []  # when staging's tasks were read
    real_request = DockerEndpoint.request

    async def counted(endpoint, method, path, **kw):
        cluster = "staging" if "staging" in endpoint.label else "other"
        requests[(cluster, path)] += 1
        if (cluster, path) == ("staging", "/tasks"):
            staging_reads.append(time.monotonic())
        return await real_request(endpoint, method, path, **kw)

    monkeypatch.setattr(DockerEndpoint, "request", counted)
    config = load_config(lab.config_file)
    app = SwarmdeckApp(config, Fleet(config), start_cluster="prod")
    async with app.run_test(size=(160, 50)) as pilot:
        fleet = app.fleet
        assert await wait_until(pilot, lambda: fleet.state("prod").loaded
                                and fleet.state("staging").loaded, 30)
        # staging is off screen: its manager's one connection, none to its worker
        assert fleet.shown == {"prod"}
        assert await wait_until(pilot, lambda: own_ssh_connections(staging_m1) == 1
                                and own_ssh_connections(staging_w1) == 0, 10), (
            own_ssh_connections(staging_m1), own_ssh_connections(staging_w1))
        # ... and no polling: once its tasks are still (the last read found no change),
        # they are not read again while nothing happens there; in the foreground, unwatched,
        # they would be read every task_refresh (5 s). An event there (an earlier test's
        # container ending) rightly asks for a read, and a read that finds changes is
        # followed until they settle: such a spell is not judged, the next one is
        inventory = fleet.inventory("staging")
        asks: list[float] = []
        ask = inventory.tasks_due
        monkeypatch.setattr(inventory, "tasks_due", lambda: (asks.append(time.monotonic()),
                                                             ask())[1])
        spell = config.inventory.task_refresh + 1
        deadline = time.monotonic() + 90
        while True:
            assert time.monotonic() < deadline, "staging never kept still for one spell"
            if inventory.tasks_moving or (asks and time.monotonic() - asks[-1] < 1):
                await pilot.pause(0.5)
                continue
            before, asked = len(staging_reads), len(asks)
            await pilot.pause(spell)
            if len(asks) == asked:  # nothing happened there: nothing was read
                assert len(staging_reads) == before
                break

        await pilot.press("c")  # staging on screen: its worker is sampled, tasks read
        assert app.screen.cluster == "staging" and fleet.shown == {"staging"}
        assert await wait_until(pilot, lambda: own_ssh_connections(staging_w1) == 1, 15)
        assert await wait_until(pilot, lambda: len(staging_reads) > before, 5)
        services = app.screen.query_one("#services", LiveTable)
        assert await wait_until(pilot, lambda: services.row_count > 0, 10)
        # the samples reach the screen: the staging worker's CPU is measured again
        assert await wait_until(
            pilot, lambda: fleet.metrics("staging").metrics.sampled_at.get(
                next(n.id for n in fleet.state("staging").nodes.values()
                     if n.hostname == "staging-w1"), 0) > time.monotonic() - 10, 15)

        await pilot.press("c")  # back to prod: the worker's connection closes again
        assert fleet.shown == {"prod"}
        assert await wait_until(pilot, lambda: own_ssh_connections(staging_w1) == 0, 15), str((
            "still open to staging-w1:", own_ssh_connections(staging_w1),
            "samplers:", list(fleet.metrics("staging")._tasks),
            "channels:", [(type(ch).__name__, getattr(ch, "_send_state", None),
                           getattr(ch, "_recv_state", None), type(ch._session).__name__)
                          for conn, _ in fleet.node_links("staging")._conns.values()
                          for ch in conn._channels.values()],
            "log target:", app.screen._log_target,
            "workers:", [(w.group, w.name, w.state.name) for w in app.workers]))
        assert own_ssh_connections(staging_m1) == 1


async def test_a_console_started_on_another_cluster_samples_it_at_once(lab):
    """`swarmdeck --cluster staging`: the first cluster is loaded early (cli.console.start_app,
    while Textual imports), before its metrics are wired; its nodes are sampled all the same
    (they were not, on any console start, until a node changed: CPU and memory stayed "-")."""
    import asyncio

    from swarmdeck.cli.console import start_app

    config = load_config(lab.config_file)
    fleet = Fleet(config)
    app = await start_app(fleet, "staging")
    # as on a real start, where importing Textual takes longer than the load: the load is
    # done before the console wires the cluster's metrics
    for _ in range(300):
        if fleet.state("staging").loaded:
            break
        await asyncio.sleep(0.1)
    assert fleet.state("staging").loaded
    async with app.run_test(size=(160, 50)) as pilot:
        nodes = [n.id for n in fleet.state("staging").nodes.values()]
        sampled = fleet.metrics("staging").metrics.sampled_at
        assert await wait_until(pilot, lambda: all(n in sampled for n in nodes), 20), (
            nodes, dict(sampled), dict(fleet.metrics("staging").metrics.problems))
