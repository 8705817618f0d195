"""Networks, secrets and configs on the lab's staging swarm, through the real `swarmdeck`
command and the console's ResourcesScreen; every result is checked with the docker CLI.
Names start with rt- so nothing collides with the lab's own objects or other tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from cli_checks import ok, refused
from test_console_live import wait_until
from textual.widgets import Input

from swarmdeck.core.audit import AuditLog
from swarmdeck.core.config import load_config
from swarmdeck.core.errors import LabError
from swarmdeck.core.fleet import Fleet
from swarmdeck.ui.app import SwarmdeckApp
from swarmdeck.ui.screens.dialogs import ConfirmDialog
from swarmdeck.ui.screens.operation import OperationScreen
from swarmdeck.ui.screens.resources import ConfigDataScreen, ResourcesScreen
from swarmdeck.ui.widgets.table import LiveTable

IMAGE = "10.213.0.1:5000/swarmdeck/demo:1.0"
NODE = "staging-m1"
SECRET = b"rt-s3cr3t-Do-Not-Leak-7f1c"


def piped(lab, *args: str, data: bytes = b"") -> subprocess.CompletedProcess[str]:
    """`swarmdeck` with DATA on its standard input (so never a terminal)."""
    proc = subprocess.run(
        [sys.executable, "-m", "swarmdeck", "--config", str(lab.config_file), *args],
        input=data, capture_output=True, timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode,
                                       proc.stdout.decode(errors="replace"),
                                       proc.stderr.decode(errors="replace"))


def names(lab, kind: str) -> set[str]:
    return set(lab.docker_on(NODE, kind, "ls", "--format", "{{.Name}}").split())


def gone(lab, kind: str, name: str, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while name in names(lab, kind):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def audit_text() -> str:
    path = Path(os.environ["XDG_STATE_HOME"]) / "swarmdeck" / "audit.jsonl"
    return path.read_text() if path.exists() else ""


def cleanup(lab, *objects: tuple[str, str]) -> None:
    for kind, name in objects:
        with contextlib.suppress(LabError):
            lab.docker_on(NODE, kind, "rm", name)


def test_network_create_list_remove(lab, swarmdeck):
    try:
        out = ok(swarmdeck("network", "create", "rt-net", "-c", "staging", "--encrypted",
                           "--attachable", "--subnet", "10.77.10.0/24", "--yes"))
        assert out.strip() == ("created overlay network rt-net on staging (encrypted, "
                               "attachable, subnet 10.77.10.0/24)")
        seen = json.loads(lab.docker_on(NODE, "network", "inspect", "rt-net"))[0]
        assert seen["Driver"] == "overlay" and seen["Scope"] == "swarm"
        assert seen["Attachable"] is True and "encrypted" in seen["Options"]
        assert seen["IPAM"]["Config"][0]["Subnet"] == "10.77.10.0/24"

        rows = json.loads(ok(swarmdeck("network", "ls", "-c", "staging", "--json")))
        mine = next(r for r in rows if r["name"] == "rt-net")
        assert (mine["encrypted"], mine["attachable"], mine["subnets"], mine["services"]) == (
            True, True, ["10.77.10.0/24"], [])
        shop = next(r for r in rows if r["name"] == "shop_default")
        assert shop["services"] == ["shop_web", "shop_worker"]
        assert not any(r["name"] in ("bridge", "host", "none") for r in rows)
        table = ok(swarmdeck("network", "ls", "-c", "staging"))
        assert "rt-net" in table and "10.77.10.0/24" in table

        # bad input: a clear message, exit 2, nothing changed
        before = names(lab, "network")
        refused(swarmdeck("network", "create", "rt-net", "-c", "staging", "--yes"), 2,
                "a network named 'rt-net' already exists in cluster staging")
        refused(swarmdeck("network", "create", "rt-net2", "-c", "staging", "--subnet",
                          "10.77.10.7/24", "--yes"), 2,
                "'10.77.10.7/24' has host bits set (did you mean 10.77.10.0/24?)")
        refused(swarmdeck("network", "create", "rt-net2", "-c", "staging", "--subnet",
                          "10.77.10.128/25", "--yes"), 2,
                "overlaps 10.77.10.0/24 of network 'rt-net'")
        refused(swarmdeck("network", "create", "rt net", "-c", "staging", "--yes"), 2,
                "is not a valid network name")
        refused(swarmdeck("network", "rm", "ingress", "-c", "staging", "--yes"), 1,
                "routing-mesh")
        assert names(lab, "network") == before

        # no terminal and no --yes: nothing removed
        refused(piped(lab, "network", "rm", "rt-net", "-c", "staging"), 2,
                "refused without confirmation")
        assert "rt-net" in names(lab, "network")
        out = ok(swarmdeck("network", "rm", "rt-net", "-c", "staging", "--yes"))
        assert out.strip() == "removed network rt-net from staging"
        assert gone(lab, "network", "rt-net")
    finally:
        cleanup(lab, ("network", "rt-net"), ("network", "rt-net2"))
    # the refusals that reached the cluster are on record as refused; the two changes as ok
    entries = [e for e in AuditLog.default().read() if e["result"] != "refused"]
    assert [(e["action"], e["target"], e["result"]) for e in entries] == [
        ("network create", "rt-net", "ok"), ("network remove", "rt-net", "ok")]
    assert entries[0]["params"] == {"driver": "overlay", "encrypted": True,
                                    "attachable": True, "subnet": "10.77.10.0/24"}


def test_secret_and_config_from_stdin_and_file(lab, swarmdeck, tmp_path):
    config_file = tmp_path / "app.conf"
    config_file.write_bytes(b"listen=8080\n\x1b]52;c;evil\x07mode=\x1b[31mred\n")
    secret_file = tmp_path / "pw"
    secret_file.write_bytes(SECRET)
    outputs: list[str] = []

    def run(result):
        outputs.extend([result.stdout, result.stderr])
        return result

    try:
        out = ok(run(piped(lab, "secret", "create", "rt-secret", "-", "-c", "staging", "--yes",
                           data=SECRET)))
        assert out.strip() == f"created secret rt-secret on staging ({len(SECRET)} bytes)"
        out = ok(run(swarmdeck("config", "create", "rt-config", "-c", "staging", "--file",
                               str(config_file), "--yes")))
        assert out.strip() == "created config rt-config on staging (38 bytes)"
        assert {"rt-secret"} <= names(lab, "secret") and {"rt-config"} <= names(lab, "config")

        secrets = json.loads(ok(run(swarmdeck("secret", "ls", "-c", "staging", "--json"))))
        mine = next(r for r in secrets if r["name"] == "rt-secret")
        assert mine["services"] == [] and mine["created_at"] and "data" not in mine
        configs = json.loads(ok(run(swarmdeck("config", "ls", "-c", "staging", "--json"))))
        assert next(r for r in configs if r["name"] == "rt-config")["size"] == 38
        assert "rt-secret" in ok(run(swarmdeck("secret", "ls", "-c", "staging")))

        shown = ok(run(swarmdeck("config", "inspect", "rt-config", "-c", "staging")))
        assert shown.splitlines() == ["listen=8080",
                                      "<ESC>]52;c;evil<BEL>mode=<ESC>[31mred"]
        assert "\x1b" not in shown

        # bad input: a clear message, exit 2, nothing changed
        refused(run(swarmdeck("secret", "create", "rt-secret", "-c", "staging", "--file",
                              str(secret_file), "--yes")), 2,
                "a secret named 'rt-secret' already exists in cluster staging")
        refused(run(swarmdeck("config", "create", "rt-config2", "-c", "staging", "--file",
                              str(tmp_path / "missing.conf"), "--yes")), 2,
                "missing.conf: no such file")
        refused(run(swarmdeck("config", "create", "rt-config2", "-c", "staging", "--yes")), 2,
                "give --file PATH or -")
        refused(run(piped(lab, "secret", "create", "rt-secret2", "-", "-c", "staging",
                          data=SECRET)), 2, "refused without confirmation")
        refused(run(swarmdeck("secret", "rm", "rt-secert", "-c", "staging", "--yes")), 2,
                "no secret 'rt-secert' in cluster staging: did you mean 'rt-secret'?")
        assert "rt-secret2" not in names(lab, "secret")
        assert "rt-config2" not in names(lab, "config")

        ok(run(swarmdeck("secret", "rm", "rt-secret", "-c", "staging", "--yes")))
        ok(run(swarmdeck("config", "rm", "rt-config", "-c", "staging", "--yes")))
        assert "rt-secret" not in names(lab, "secret")
        assert "rt-config" not in names(lab, "config")
    finally:
        cleanup(lab, ("secret", "rt-secret"), ("secret", "rt-secret2"),
                ("config", "rt-config"), ("config", "rt-config2"))
    text = audit_text()
    for leak in (SECRET.decode(), "s3cr3t", "Do-Not-Leak"):
        assert leak not in text
        assert not any(leak in out for out in outputs)
    entries = [json.loads(line) for line in text.splitlines()]
    entries = [e for e in entries if e["result"] != "refused"]  # refusals: on record too
    assert [(e["action"], e["target"], e["params"], e["result"]) for e in entries] == [
        ("secret create", "rt-secret", {"bytes": len(SECRET)}, "ok"),
        ("config create", "rt-config", {"bytes": 38}, "ok"),
        ("secret remove", "rt-secret", {"id": entries[2]["params"]["id"]}, "ok"),
        ("config remove", "rt-config", {"id": entries[3]["params"]["id"]}, "ok"),
    ]


def test_nothing_used_by_a_service_is_removed(lab, swarmdeck, tmp_path):
    data = tmp_path / "data"
    data.write_bytes(b"value=1\n")
    objects = (("network", "rt-used-net"), ("secret", "rt-used-secret"),
               ("config", "rt-used-config"))
    try:
        ok(swarmdeck("network", "create", "rt-used-net", "-c", "staging", "--yes"))
        for kind, name in objects[1:]:
            ok(swarmdeck(kind, "create", name, "-c", "staging", "--file", str(data), "--yes"))
        lab.docker_on(NODE, "service", "create", "--detach", "--name", "rt-user",
                      "--endpoint-mode", "dnsrr", "--stop-grace-period", "1s",
                      "--network", "rt-used-net",
                      "--secret", "rt-used-secret", "--config", "rt-used-config",
                      IMAGE, "sleep", "3600")
        for kind, name in objects:
            rows = json.loads(ok(swarmdeck(kind, "ls", "-c", "staging", "--json")))
            assert next(r for r in rows if r["name"] == name)["services"] == ["rt-user"]
            refused(swarmdeck(kind, "rm", name, "-c", "staging", "--yes"), 1,
                    f"{kind} {name} is in use by 1 service(s) in staging: rt-user; "
                    "nothing was removed")
            assert name in names(lab, kind)

        lab.docker_on(NODE, "service", "rm", "rt-user")
        # at once: the network outlives the service's tasks for a moment, rm waits for them
        for kind, name in objects:
            out = ok(swarmdeck(kind, "rm", name, "-c", "staging", "--yes"))
            assert out.strip() == f"removed {kind} {name} from staging"
            # the manager drops its local view of a network once its containers are gone
            assert gone(lab, kind, name)
    finally:
        with contextlib.suppress(LabError):
            lab.docker_on(NODE, "service", "rm", "rt-user")
        cleanup(lab, *objects)


def test_a_container_on_an_attachable_network_keeps_it(lab, swarmdeck):
    """No service uses it, but a standalone container does: Docker refuses, and so do we,
    with what to do."""
    try:
        ok(swarmdeck("network", "create", "rt-att-net", "-c", "staging", "--attachable",
                     "--yes"))
        lab.docker_on(NODE, "run", "--detach", "--name", "rt-att-c", "--network",
                      "rt-att-net", IMAGE, "sleep", "3600", timeout=120)
        refused(swarmdeck("network", "rm", "rt-att-net", "-c", "staging", "--yes"), 1,
                "network rt-att-net still has containers attached; nothing was removed")
        assert "rt-att-net" in names(lab, "network")
    finally:
        with contextlib.suppress(LabError):
            lab.docker_on(NODE, "rm", "--force", "rt-att-c")
        for _ in range(10):  # the container's attachment goes a moment after it
            cleanup(lab, ("network", "rt-att-net"))
            if gone(lab, "network", "rt-att-net", timeout=2):
                break


def test_read_only_refuses_every_change(lab, swarmdeck, tmp_path):
    data = tmp_path / "data"
    data.write_bytes(b"x")
    ro = tmp_path / "config.toml"
    ro.write_text(lab.config_file.read_text().replace(
        '[clusters.staging]\nmanagers = ["staging-m1"]\n',
        '[clusters.staging]\nmanagers = ["staging-m1"]\nread_only = true\n'))
    ro.chmod(0o600)
    try:
        lab.docker_on(NODE, "config", "create", "rt-ro-config", str(data))
        for args in (("network", "create", "rt-ro-net"),
                     ("secret", "create", "rt-ro-secret", "--file", str(data)),
                     ("config", "rm", "rt-ro-config")):
            refused(swarmdeck("--read-only", *args, "-c", "staging", "--yes"), 1,
                    "refused: cluster staging is read-only (--read-only)")
            refused(swarmdeck(*args, "-c", "staging", "--yes", config=ro), 1,
                    "refused: cluster staging is read-only (read_only = true")
        assert "rt-ro-net" not in names(lab, "network")
        assert "rt-ro-secret" not in names(lab, "secret")
        assert "rt-ro-config" in names(lab, "config")
        ok(swarmdeck("config", "ls", "-c", "staging", config=ro))  # reading is fine
        assert ok(swarmdeck("config", "inspect", "rt-ro-config", "-c", "staging",
                            config=ro)) == "x\n"
    finally:
        cleanup(lab, ("config", "rt-ro-config"), ("network", "rt-ro-net"),
                ("secret", "rt-ro-secret"))
    entries = AuditLog.default().read()
    assert [(e["action"], e["result"], e["error"]) for e in entries] == [
        ("network create", "refused", "read-only")] * 2 + [
        ("secret create", "refused", "read-only")] * 2 + [
        ("config remove", "refused", "read-only")] * 2


def _names(app, selector: str) -> list[str]:
    table = app.screen.query_one(selector, LiveTable)
    return [table.get_cell(key, "name").plain for key in table.rows]


def _select(app, selector: str, name: str) -> bool:
    table = app.screen.query_one(selector, LiveTable)
    rows = _names(app, selector)
    if name not in rows:
        return False
    table.focus()
    table.move_cursor(row=rows.index(name))
    return True


async def test_resources_screen_on_the_lab(lab, tmp_path):
    data = tmp_path / "data"
    data.write_bytes(b"greeting=hello\n")
    secret = tmp_path / "secret"
    secret.write_bytes(SECRET)

    def docker(*args: str) -> str:
        return lab.docker_on(NODE, *args)

    await asyncio.to_thread(docker, "network", "create", "--driver", "overlay", "rt-ui-net")
    await asyncio.to_thread(docker, "secret", "create", "rt-ui-secret", str(secret))
    await asyncio.to_thread(docker, "config", "create", "rt-ui-config", str(data))
    config = load_config(lab.config_file)
    app = SwarmdeckApp(config, Fleet(config), start_cluster="staging")
    try:
        async with app.run_test(size=(140, 44)) as pilot:
            await app.push_screen(ResourcesScreen("staging"))
            screen = app.screen
            assert await wait_until(pilot, lambda: "rt-ui-config" in _names(app, "#configs"),
                                    20)
            assert {"rt-ui-net", "shop_default"} <= set(_names(app, "#networks"))
            assert "rt-ui-secret" in _names(app, "#secrets")
            nets = screen.query_one("#networks", LiveTable)
            shop = next(k for k in nets.rows if nets.get_cell(k, "name").plain ==
                        "shop_default")
            assert nets.get_cell(shop, "services").plain == "shop_web, shop_worker"

            assert _select(app, "#configs", "rt-ui-config")
            await pilot.press("enter")
            assert await wait_until(pilot, lambda: isinstance(app.screen, ConfigDataScreen),
                                    10)
            assert app.screen.text == "greeting=hello"
            await pilot.press("escape")

            assert _select(app, "#secrets", "rt-ui-secret")
            await pilot.press("x")
            assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), 10)
            app.screen.query_one("#typed", Input).value = "rt-ui-secret"
            await pilot.pause()
            await pilot.press("enter")
            assert await wait_until(pilot, lambda: isinstance(app.screen, OperationScreen)
                                    and app.screen.outcome is not None, 30)
            assert app.screen.outcome == "removed secret rt-ui-secret from staging"
            await pilot.press("escape")
            assert await wait_until(pilot, lambda: "rt-ui-secret" not in
                                    _names(app, "#secrets"), 10)
            assert "rt-ui-secret" not in await asyncio.to_thread(names, lab, "secret")
    finally:
        await asyncio.to_thread(cleanup, lab, ("secret", "rt-ui-secret"),
                                ("config", "rt-ui-config"), ("network", "rt-ui-net"))
    entries = AuditLog.default().read()
    assert [(e["action"], e["target"], e["result"]) for e in entries] == [
        ("secret remove", "rt-ui-secret", "ok")]
    assert SECRET.decode() not in audit_text()
