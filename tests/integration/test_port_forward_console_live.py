"""Port-forward against the lab, from the console and the CLI, to a service of its own (one
httpd replica, removed at the end): HTTP through the forward reaches the task's httpd, the
console's `:forwards` counts the connection and its bytes, and quitting the console closes
the port. Then the task is replaced (`docker service update --force`): new connections
through the same forward reach the new task, in the console and in `swarmdeck port-forward`.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from test_console_live import wait_until

from swarmdeck.core.config import load_config
from swarmdeck.core.fleet import Fleet
from swarmdeck.lab.topology import DEMO_IMAGE
from swarmdeck.ui.app import SwarmdeckApp
from swarmdeck.ui.screens.forwards import ForwardsScreen
from swarmdeck.ui.widgets.table import LiveTable

SERVICE = f"pf-live-{os.getpid()}"


@pytest.fixture(scope="module")
def service(lab):
    lab.docker_on("prod-m1", "service", "create", "--detach", "--name", SERVICE,
                  "--replicas", "1", "--endpoint-mode", "dnsrr", "--stop-grace-period", "1s",
                  "--limit-memory", "16M", f"{DEMO_IMAGE}:1.0",
                  "httpd", "-f", "-p", "8080", "-h", "/www")
    try:
        running_task(lab)
        yield SERVICE
    finally:
        lab.docker_on("prod-m1", "service", "rm", SERVICE)


def running_task(lab, *, not_container: str = "", timeout: float = 90) -> tuple[str, str]:
    """(node, container ID) of the service's running task (another than NOT_CONTAINER)."""
    deadline = time.monotonic() + timeout
    while True:
        out = lab.docker_on("prod-m1", "service", "ps", SERVICE, "--filter",
                            "desired-state=running", "--format", "{{.Node}} {{.CurrentState}}")
        for line in out.splitlines():
            node, state = line.split(" ", 1)
            if state.startswith("Running"):
                ids = lab.docker_on(node, "ps", "-q", "--no-trunc", "--filter",
                                    f"label=com.docker.swarm.service.name={SERVICE}",
                                    "--filter", "status=running").split()
                fresh = [i for i in ids if i != not_container]
                if fresh:
                    return node, fresh[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"{SERVICE} has no running task: {out!r}")
        time.sleep(0.5)


def put_marker(lab, node: str, container: str) -> str:
    token = f"pf-{os.getpid()}-{time.monotonic_ns()}"
    lab.docker_on(node, "exec", container, "sh", "-c", f"echo {token} > /www/{token}.txt")
    return token


def fetch(port: int, token: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/{token}.txt", timeout=10) as answer:
        return answer.read().decode().strip()


def fetch_until(port: int, token: str, timeout: float = 30) -> str:
    """The task was just replaced: its httpd may take a moment to listen."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return fetch(port, token)
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def accepts(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(3)
        return probe.connect_ex(("127.0.0.1", port)) == 0


async def command(pilot, text: str) -> None:
    await pilot.press("colon")
    await pilot.press(*text)
    await pilot.press("enter")


async def test_the_console_forwards_counts_follows_a_replaced_task_and_closes_on_quit(
        lab, service):
    node, container = running_task(lab)
    token = put_marker(lab, node, container)
    config = load_config(lab.config_file)
    app = SwarmdeckApp(config, Fleet(config), start_cluster="prod")
    async with app.run_test(size=(160, 40)) as pilot:
        assert await wait_until(pilot, lambda: any(
            s.name == service for s in app.fleet.state("prod").services.values()), 30)
        await command(pilot, f"pf {service} 0:8080")
        assert await wait_until(pilot, lambda: len(app.forwards.active) == 1, 30), \
            [n.message for n in app._notifications]
        forwarder = app.forwards.active[0].forwarder
        port = forwarder.local
        assert forwarder.route.node == node and forwarder.route.container_id == container
        # the HTTP client blocks: off the console's loop, which carries the bytes
        assert await asyncio.to_thread(fetch, port, token) == token

        await command(pilot, "forwards")
        assert await wait_until(pilot, lambda: isinstance(app.screen, ForwardsScreen), 5)
        table = app.screen.query_one("#forwards", LiveTable)
        key = str(port)

        def cell(column: str) -> str:
            return str(table.get_cell(key, column)).strip() if key in table.rows else ""

        assert await wait_until(pilot, lambda: cell("connections") == "0/1", 5), \
            cell("connections")
        assert cell("node") == node and cell("replica") == f"prod/{service}.1"
        assert cell("container") == f"{forwarder.route.address}:8080"
        assert forwarder.bytes_out > 50 and forwarder.bytes_in > len(token)
        assert cell("in") not in ("", "-") and cell("out") not in ("", "-")

        # the task is replaced: new connections through the same port reach the new one
        await asyncio.to_thread(lab.docker_on, "prod-m1", "service", "update", "--force",
                                "--detach", service)
        new_node, new_container = await asyncio.to_thread(running_task, lab,
                                                          not_container=container)
        new_token = await asyncio.to_thread(put_marker, lab, new_node, new_container)
        assert await asyncio.to_thread(fetch_until, port, new_token) == new_token
        assert forwarder.route.container_id == new_container
        assert await wait_until(pilot, lambda: cell("node") == new_node, 5)
        assert any("was replaced: now forwarding to" in n.message for n in app._notifications)
        await pilot.press("q")
    assert not app.is_running
    assert not accepts(port)


def test_the_cli_follows_a_replaced_task(lab, service):
    node, container = running_task(lab)
    token = put_marker(lab, node, container)
    proc = subprocess.Popen(
        [sys.executable, "-m", "swarmdeck", "--config", str(lab.config_file), "port-forward",
         service, "0:8080", "-c", "prod"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        match = re.match(r"forwarding 127\.0\.0\.1:(\d+) -> ", line)
        assert match, (line, proc.stderr.read() if proc.poll() is not None else "")
        port = int(match[1])
        assert fetch(port, token) == token
        lab.docker_on("prod-m1", "service", "update", "--force", "--detach", service)
        new_node, new_container = running_task(lab, not_container=container)
        new_token = put_marker(lab, new_node, new_container)
        assert fetch_until(port, new_token) == new_token
        assert fetch(port, new_token) == new_token  # and the next one, without a detour
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        err = proc.stderr.read()
        assert f"{service}.1 was replaced: now forwarding to {service}.1 " in err, err
        assert re.search(r"stopped forwarding \(\d+ connections, \d+ bytes in, \d+ bytes out\)",
                         err), err
        assert not accepts(port)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
