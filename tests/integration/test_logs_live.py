"""Logs on the lab: every replica of a service or a stack, and no line lost or repeated when
the SSH link to the manager is cut mid-stream."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import defaultdict

import pytest

from swarmdeck.core.config import load_config
from swarmdeck.core.errors import LabError
from swarmdeck.core.fleet import Fleet
from swarmdeck.core.log_follow import StreamNote
from swarmdeck.lab.proxy import DelayProxy

IMAGE = "10.213.0.1:5000/swarmdeck/demo:1.0"
LINES = 3000
WRITER = (f"i=0; while [ $i -lt {LINES} ]; do i=$((i+1)); echo \"n $i\"; "
          "[ $((i % 20)) -eq 0 ] && sleep 0.1; done; sleep 3600")


def test_cli_logs_of_a_stack_tag_every_replica(lab, swarmdeck):
    out = swarmdeck("logs", "-c", "prod", "shop", "--tail", "5")
    assert out.returncode == 0, out.stderr
    tags = {line.split(" | ")[0] for line in out.stdout.splitlines()}
    running = lab.docker_on("prod-m1", "service", "ps", "shop_worker", "--filter",
                            "desired-state=running", "--format", "{{.Name}}@{{.Node}}")
    assert set(running.split()) <= tags  # every running replica, tagged service.slot@node
    grep = swarmdeck("logs", "-c", "prod", "shop_worker", "--tail", "20", "--grep", "job 1?0$")
    assert grep.returncode == 0
    assert all(re.search(r"job 1?0$", line) for line in grep.stdout.splitlines())
    bad = swarmdeck("logs", "-c", "prod", "shop_worker", "--grep", "(")
    assert bad.returncode == 2 and "not a valid regular expression" in bad.stderr


def test_escape_sequences_in_logs_are_inert(lab, swarmdeck):
    lab.docker_on("prod-m1", "service", "create", "--detach", "--name", "noisy",
                  "--endpoint-mode", "dnsrr", "--restart-condition", "none", IMAGE, "sh", "-c",
                  r"printf 'title \033]0;owned\007 clip \033]52;c;aGk=\007 csi \033[2J "
                  r"c1 \302\233 cr \rend\n'; sleep 3600")
    try:
        deadline = time.monotonic() + 30
        out = ""
        while time.monotonic() < deadline and "end" not in out:
            out = swarmdeck("logs", "-c", "prod", "noisy").stdout
            time.sleep(0.5)
        assert "<ESC>]0;owned<BEL>" in out and "<ESC>]52;c;aGk=<BEL>" in out
        assert "<ESC>[2J" in out and "<9B>" in out and "<CR>end" in out
        assert "\x1b" not in out and "\x9b" not in out and "\r" not in out
        raw = swarmdeck("logs", "-c", "prod", "noisy", "--raw").stdout
        assert "\x1b]0;owned\x07" in raw  # only when asked
    finally:
        with contextlib.suppress(LabError):
            lab.docker_on("prod-m1", "service", "rm", "noisy")


@pytest.mark.parametrize("where", ["nodes", "manager"])
async def test_no_line_lost_or_repeated_when_the_link_is_cut(where, lab, tmp_path):
    """NODES: each replica read from its own node, every node reached through the manager's
    connection (metrics = "manager"), so the one cut drops them all; MANAGER: the
    manager's service stream."""
    await create_writer(lab, "numbered", "--replicas", "2")
    proxy = DelayProxy(("10.213.0.1", 2298), ("10.213.0.11", 22), delay=0.0)
    await proxy.start()
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(
        "Host m1-via-proxy\n    HostName 10.213.0.1\n    Port 2298\n    HostKeyAlias prod-m1\n"
        "Host *\n"
        f"    User root\n    IdentityFile {lab.identity}\n"
        f"    UserKnownHostsFile {lab.known_hosts}\n")
    path = tmp_path / "config.toml"
    path.write_text(f'[ssh]\nconfig = ["{ssh_config}"]\n[clusters.prod]\n'
                    f'managers = ["m1-via-proxy"]\nmetrics = "manager"\nlogs = "{where}"\n')
    path.chmod(0o600)
    fleet = Fleet(load_config(path))
    inventory = fleet.inventory("prod")
    seen: dict[str, list[int]] = defaultdict(list)
    notes: list[str] = []
    cuts = 0
    try:
        state = await inventory.load()
        await wait_tasks_running(inventory, "numbered", 2)
        service = next(s for s in state.services.values() if s.name == "numbered")

        async def collect() -> None:
            nonlocal cuts
            async for item in fleet.follow_logs("prod", [(service.id, "numbered")],
                                                tail="all", max_backoff=2):
                if isinstance(item, StreamNote):
                    notes.append(item.text)
                    continue
                seen[item.task_id].append(int(item.text.split()[1]))
                total = sum(len(v) for v in seen.values())
                if cuts < 2 and total > (cuts + 1) * LINES * 2 // 3:
                    cuts += proxy.cut() and 1  # mid-stream, twice
                if len(seen) == 2 and all(v and v[-1] == LINES for v in seen.values()):
                    return

        await asyncio.wait_for(collect(), 120)
    finally:
        await fleet.close()
        await proxy.close()
        with contextlib.suppress(LabError):
            await asyncio.to_thread(lab.docker_on, "prod-m1", "service", "rm", "numbered")
    assert cuts == 2 and any("resuming" in n for n in notes), notes
    # a replica's own stream says which replica on which node; the service stream cannot
    per_replica = [n for n in notes if re.match(r"numbered\.\d on prod-\w+: ", n)]
    assert bool(per_replica) == (where == "nodes"), notes
    for numbers in seen.values():
        assert numbers == list(range(1, LINES + 1))  # complete, in order, no duplicate


async def create_writer(lab, name: str, *options: str) -> None:
    """Service NAME on prod whose replicas each write LINES numbered lines (WRITER)."""
    await asyncio.to_thread(
        lab.docker_on, "prod-m1", "service", "create", "--detach", "--name", name, *options,
        "--endpoint-mode", "dnsrr", IMAGE, "sh", "-c", WRITER)


async def wait_tasks_running(inventory, name: str, count: int, timeout: float = 60) -> None:
    """Until the inventory knows COUNT running tasks (with containers) of service NAME."""
    deadline = time.monotonic() + timeout
    while True:
        state = inventory.state
        sid = next((s.id for s in state.services.values() if s.name == name), None)
        running = [t for t in state.tasks.values() if t.service_id == sid
                   and t.state == "running" and t.container_id]
        if len(running) >= count:
            return
        assert time.monotonic() < deadline, f"{name}: {len(running)} of {count} running"
        await asyncio.sleep(0.5)
        await inventory.refresh_tasks()


async def test_a_node_that_cannot_be_reached_is_read_through_the_manager(lab, monkeypatch):
    """Every replica of a global service is read from its node, but prod-w1's sshd is dead:
    its replica's lines come through the manager's service stream, and the reader is told.
    When its sshd is back (mid-stream), the replica is read from prod-w1 again. Every
    replica's lines arrive all, once, in order."""
    from swarmdeck.lab import faults

    # the node is looked at again within seconds (not 5-10 s), while its replica still writes
    monkeypatch.setattr("swarmdeck.core.node_links.RETRY", 1.0)
    monkeypatch.setattr("swarmdeck.core.replica_logs.NODE_RETRY", 1.0)
    await create_writer(lab, "everywhere", "--mode", "global")
    fleet = Fleet(load_config(lab.config_file))
    inventory = fleet.inventory("prod")
    seen: dict[str, list[int]] = defaultdict(list)
    notes: list[str] = []
    restored_at: int | None = None
    moved_at: int | None = None  # prod-w1's lines seen when it was read there again
    try:
        await inventory.load()
        await wait_tasks_running(inventory, "everywhere", 5)
        state = inventory.state
        service = next(s for s in state.services.values() if s.name == "everywhere")
        nodes = {t.id: state.node_name(t.node_id) for t in state.tasks.values()
                 if t.service_id == service.id and t.state == "running"}
        with faults.injected(lab, "prod-w1", "sshd") as fault:
            async def collect() -> None:
                nonlocal restored_at, moved_at
                async for item in fleet.follow_logs("prod", [(service.id, "everywhere")],
                                                    tail="all", max_backoff=2):
                    if isinstance(item, StreamNote):
                        notes.append(item.text)
                        if "answers again" in item.text:
                            moved_at = sum(len(seen[t]) for t, n in nodes.items()
                                           if n == "prod-w1")
                        continue
                    mine = seen[item.task_id]
                    mine.append(int(item.text.split()[1]))
                    if restored_at is None and nodes[item.task_id] == "prod-w1" \
                            and len(mine) >= LINES // 10:
                        await asyncio.to_thread(faults.restore, lab, fault)
                        restored_at = len(mine)
                    if len(seen) == 5 and all(v[-1] == LINES for v in seen.values()) \
                            and moved_at is not None:
                        return

            await asyncio.wait_for(collect(), 120)
    finally:
        await fleet.close()
        with contextlib.suppress(LabError):
            await asyncio.to_thread(lab.docker_on, "prod-m1", "service", "rm", "everywhere")
    assert set(seen) == set(nodes)
    for numbers in seen.values():
        assert numbers == list(range(1, LINES + 1))
    through_manager = [n for n in notes if "through the manager" in n]
    assert through_manager and all("on prod-w1" in n for n in through_manager), notes
    back = [n for n in notes if "answers again; reading it from the node" in n]
    assert back and all("on prod-w1" in n for n in back), notes
    assert restored_at is not None
    assert moved_at is not None and moved_at < LINES, (moved_at, notes)  # mid-stream


async def test_a_new_replica_is_followed_from_its_first_line(lab):
    """Following a service while it is scaled up: the new replica's lines arrive from its
    first one, with the inventory running as the console runs it."""
    await create_writer(lab, "growing", "--replicas", "1")
    fleet = Fleet(load_config(lab.config_file))
    inventory = fleet.inventory("prod")
    seen: dict[str, list[int]] = defaultdict(list)
    live = None
    try:
        await inventory.load()
        await wait_tasks_running(inventory, "growing", 1)
        live = asyncio.create_task(inventory.run())
        service = next(s for s in inventory.state.services.values() if s.name == "growing")

        async def collect() -> None:
            scaled = False
            async for item in fleet.follow_logs("prod", [(service.id, "growing")],
                                                tail="all", max_backoff=2):
                if isinstance(item, StreamNote):
                    continue
                seen[item.task_id].append(int(item.text.split()[1]))
                if not scaled:
                    scaled = True
                    await asyncio.to_thread(lab.docker_on, "prod-m1", "service", "scale",
                                            "--detach", "growing=2")
                if len(seen) == 2 and all(v[-1] == LINES for v in seen.values()):
                    return

        await asyncio.wait_for(collect(), 120)
    finally:
        if live is not None:
            live.cancel()
        await fleet.close()
        with contextlib.suppress(LabError):
            await asyncio.to_thread(lab.docker_on, "prod-m1", "service", "rm", "growing")
    for numbers in seen.values():
        assert numbers == list(range(1, LINES + 1))
