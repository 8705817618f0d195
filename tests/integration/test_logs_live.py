"""Logs on the lab: every replica of a service or a stack, and no line lost or repeated when
the SSH link to the manager is cut mid-stream."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import defaultdict

from swarmdeck.core.config import load_config
from swarmdeck.core.errors import LabError
from swarmdeck.core.fleet import Fleet
from swarmdeck.core.log_follow import StreamNote, follow_logs
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


async def test_no_line_lost_or_repeated_when_the_link_is_cut(lab, tmp_path):
    await asyncio.to_thread(
        lab.docker_on, "prod-m1", "service", "create", "--detach", "--name", "numbered",
        "--replicas", "2", "--endpoint-mode", "dnsrr", IMAGE, "sh", "-c", WRITER)
    proxy = DelayProxy(("10.213.0.1", 2298), ("10.213.0.11", 22), delay=0.0)
    await proxy.start()
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(
        "Host m1-via-proxy\n    HostName 10.213.0.1\n    Port 2298\n    HostKeyAlias prod-m1\n"
        f"    User root\n    IdentityFile {lab.identity}\n"
        f"    UserKnownHostsFile {lab.known_hosts}\n")
    path = tmp_path / "config.toml"
    path.write_text(f'[ssh]\nconfig = ["{ssh_config}"]\n[clusters.prod]\n'
                    'managers = ["m1-via-proxy"]\nmetrics = "off"\n')
    path.chmod(0o600)
    fleet = Fleet(load_config(path))
    inventory = fleet.inventory("prod")
    seen: dict[str, list[int]] = defaultdict(list)
    notes: list[str] = []
    cuts = 0
    try:
        state = await inventory.load()
        service = next(s for s in state.services.values() if s.name == "numbered")

        async def connect():
            return (await inventory.connect()).docker

        async def collect() -> None:
            nonlocal cuts
            async for item in follow_logs(connect, [(service.id, "numbered")], tail="all",
                                          max_backoff=2):
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
    for numbers in seen.values():
        assert numbers == list(range(1, LINES + 1))  # complete, in order, no duplicate
