"""ResourcesScreen on a fake Docker API (the live-lab run is in integration/): its tables,
config data made inert, removals asked by name, refusals, and the create dialogs."""

from __future__ import annotations

import asyncio
import base64
import io
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console
from textual.widgets import Button, Checkbox, Input

from swarmdeck.core.audit import AuditLog
from swarmdeck.core.ops.base import ClusterOps
from swarmdeck.ui.screens.dialogs import ConfirmDialog, PromptDialog
from swarmdeck.ui.screens.operation import OperationScreen
from swarmdeck.ui.screens.resources import ConfigDataScreen, NetworkDialog, ResourcesScreen
from swarmdeck.ui.widgets.table import LiveTable

SIZE = (130, 40)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class FakeDocker:
    """Just enough of the Docker API for networks, secrets and configs; changes stick."""

    def __init__(self) -> None:
        self.objects = {
            "networks": [
                {"Name": "bridge", "Id": "b1", "Scope": "local", "Driver": "bridge"},
                {"Name": "ingress", "Id": "ing1", "Scope": "swarm", "Driver": "overlay",
                 "Ingress": True, "IPAM": {"Config": [{"Subnet": "10.0.0.0/24"}]}},
                {"Name": "shop_default", "Id": "net1", "Scope": "swarm", "Driver": "overlay",
                 "Options": {"encrypted": ""}, "Labels": {"com.docker.stack.namespace": "shop"},
                 "IPAM": {"Config": [{"Subnet": "10.0.1.0/24"}]}},
            ],
            "secrets": [{"ID": "s1", "CreatedAt": "2026-11-20T10:00:00Z",
                         "Spec": {"Name": "db_password"}}],
            "configs": [
                {"ID": "c1", "Spec": {"Name": "app.conf",
                                      "Data": _b64(b"port=80\n\x1b]0;pwned\x07mode=prod\n")}},
                {"ID": "c2", "Spec": {"Name": "old.conf", "Data": _b64(b"x")}},
            ],
            "services": [{"ID": "w1", "Spec": {"Name": "shop_web", "TaskTemplate": {
                "Networks": [{"Target": "net1"}],
                "ContainerSpec": {"Secrets": [{"SecretID": "s1", "SecretName": "db_password"}],
                                  "Configs": [{"ConfigID": "c1", "ConfigName": "app.conf"}]}}}}],
        }
        self.changes: list[tuple[str, str, object]] = []

    async def get(self, path, **_params):
        await asyncio.sleep(0)
        kind, _, ident = path.strip("/").partition("/")
        if ident:
            return next(o for o in self.objects[kind] if o.get("ID") == ident)
        return list(self.objects[kind])

    async def request(self, method, path, *, params=None, body=None, headers=None):
        self.changes.append((method, path, body))
        kind, _, rest = path.strip("/").partition("/")
        if method == "DELETE":
            self.objects[kind] = [o for o in self.objects[kind]
                                  if rest not in (o.get("ID"), o.get("Id"))]
        elif kind == "networks":
            self.objects[kind].append({**body, "Id": f"new-{body['Name']}", "Scope": "swarm"})
        else:
            self.objects[kind].append({"ID": f"new-{body['Name']}", "Spec": body})
        return {"ID": "new"} if method == "POST" else None


@pytest.fixture
def docker(fleet, config):
    fake = FakeDocker()

    async def ops(name, *, read_only_flag=False):
        cfg = config.clusters[name]
        return ClusterOps(name, SimpleNamespace(docker=fake, label=f"{name}-m1 (fake)"),
                          audit=AuditLog.default(),
                          read_only="config" if cfg.read_only or read_only_flag else None)

    fleet.ops = ops
    return fake


def plain(renderable) -> str:
    console = Console(width=200, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.file.getvalue()


def error(dialog) -> str:
    return plain(dialog.query_one("#error").content)


def names(app, selector: str) -> list[str]:
    table = app.screen.query_one(selector, LiveTable)
    return [table.get_cell(key, "name").plain for key in table.rows]


async def until(pilot, predicate, timeout: float = 5.0) -> bool:
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return True
        await pilot.pause(0.05)
    return predicate()


async def opened(app, pilot, cluster: str = "prod") -> ResourcesScreen:
    screen = ResourcesScreen(cluster)
    await app.push_screen(screen)
    assert await until(pilot, lambda: screen.resources is not None)
    return screen


def select(app, selector: str, name: str) -> None:
    table = app.screen.query_one(selector, LiveTable)
    table.focus()
    table.move_cursor(row=names(app, selector).index(name))


async def test_tables_show_each_kind_with_the_services_using_it(make_app, docker):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(app, pilot)
        assert names(app, "#networks") == ["ingress (ingress)", "shop_default"]  # no bridge
        assert names(app, "#secrets") == ["db_password"]
        assert names(app, "#configs") == ["app.conf", "old.conf"]
        nets = app.screen.query_one("#networks", LiveTable)
        assert nets.get_cell("net1", "encrypted").plain == "yes"
        assert nets.get_cell("net1", "services").plain == "shop_web"
        assert nets.get_cell("net1", "stack").plain == "shop"
        configs = app.screen.query_one("#configs", LiveTable)
        assert configs.get_cell("c1", "size").plain == "28 B"
        assert configs.get_cell("c2", "services").plain == "-"
        assert nets.border_title == "Networks (2)"
        assert "Resources · prod" in plain(screen.query_one("#resources-title").content)
        assert app.screen.focused is nets
        await pilot.press("escape")
        assert not isinstance(app.screen, ResourcesScreen)


async def test_enter_on_a_config_shows_its_data_inert(make_app, docker):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        select(app, "#configs", "app.conf")
        await pilot.press("enter")
        assert await until(pilot, lambda: isinstance(app.screen, ConfigDataScreen))
        shown = plain(app.screen.query_one("#data").content)
        assert "port=80" in shown and "<ESC>]0;pwned<BEL>mode=prod" in shown
        assert "\x1b" not in shown
        await pilot.press("escape")
        assert isinstance(app.screen, ResourcesScreen)
        select(app, "#secrets", "db_password")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ResourcesScreen)  # a secret's data: never


async def test_removal_in_use_is_refused_without_a_question(make_app, docker):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        select(app, "#secrets", "db_password")
        await pilot.press("x")
        await pilot.pause(0.2)
        assert isinstance(app.screen, ResourcesScreen)
        assert any("in use by 1 service(s) in prod: shop_web" in str(n.message)
                   for n in app._notifications)
        assert docker.changes == []


async def test_removal_asks_for_the_name_then_removes_and_refreshes(make_app, docker):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        select(app, "#configs", "old.conf")
        await pilot.press("x")
        assert await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        app.screen.query_one("#typed", Input).value = "old.con"
        await pilot.pause()
        assert app.screen.query_one("#yes", Button).disabled
        app.screen.query_one("#typed", Input).value = "old.conf"
        await pilot.pause()
        await pilot.press("enter")
        assert await until(pilot, lambda: isinstance(app.screen, OperationScreen)
                           and app.screen.outcome is not None)
        assert app.screen.outcome == "removed config old.conf from prod"
        await pilot.press("escape")
        assert await until(pilot, lambda: names(app, "#configs") == ["app.conf"])
    assert docker.changes == [("DELETE", "/configs/c2", None)]
    (entry,) = AuditLog.default().read()
    assert (entry["action"], entry["target"], entry["result"]) == (
        "config remove", "old.conf", "ok")


async def test_read_only_cluster_refuses_before_any_question(make_app, docker):
    app = make_app(start_cluster="staging")  # read_only = true in the test config
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(app, pilot, "staging")
        assert "read-only" in plain(screen.query_one("#resources-title").content)
        for table, key in (("#networks", "n"), ("#configs", "x")):
            app.screen.query_one(table, LiveTable).focus()
            await pilot.press(key)
            await pilot.pause(0.2)
            assert isinstance(app.screen, ResourcesScreen)
    assert docker.changes == []
    assert [(e["action"], e["result"]) for e in AuditLog.default().read()] == [
        ("network create", "refused"), ("config remove", "refused")]


async def test_new_network_dialog_checks_then_creates(make_app, docker):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        await pilot.press("n")
        assert await until(pilot, lambda: isinstance(app.screen, NetworkDialog))
        dialog = app.screen
        dialog.query_one("#name", Input).value = "shop_default"
        await pilot.click("#yes")
        assert await until(pilot, lambda: "already exists" in error(dialog))
        dialog.query_one("#name", Input).value = "rt-backend"
        dialog.query_one("#subnet", Input).value = "10.9.0.1/24"
        dialog.query_one("#subnet", Input).focus()
        await pilot.press("enter")  # Enter in a field submits too
        assert await until(pilot, lambda: "did you mean 10.9.0.0/24?" in error(dialog))
        dialog.query_one("#subnet", Input).value = "10.9.0.0/24"
        dialog.query_one("#attachable", Checkbox).value = True
        await pilot.pause(0.3)  # a button ignores clicks while it shows the last one
        await pilot.click("#yes")
        assert await until(pilot, lambda: isinstance(app.screen, OperationScreen)
                           and app.screen.outcome is not None)
        assert app.screen.outcome == ("created overlay network rt-backend on prod "
                                      "(attachable, subnet 10.9.0.0/24)")
        await pilot.press("escape")
        assert await until(pilot, lambda: "rt-backend" in names(app, "#networks"))
    ((method, path, body),) = docker.changes
    assert (method, path, body["Attachable"], body["Options"]) == (
        "POST", "/networks/create", True, {})


async def test_new_secret_from_a_file(make_app, docker, tmp_path):
    (tmp_path / "pw").write_bytes(b"s3cr3t-value")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        app.screen.query_one("#secrets", LiveTable).focus()
        await pilot.press("n")
        assert await until(pilot, lambda: isinstance(app.screen, PromptDialog))
        app.screen.query_one(Input).value = "db_password"
        await pilot.press("enter")
        assert "already exists" in plain(app.screen.query_one("#error").content)
        app.screen.query_one(Input).value = "rt-pw"
        await pilot.press("enter")
        assert await until(pilot, lambda: isinstance(app.screen, PromptDialog)
                           and "File" in plain(app.screen.query_one(".question").content))
        app.screen.query_one(Input).value = str(tmp_path / "missing")
        await pilot.press("enter")
        assert "no such file" in plain(app.screen.query_one("#error").content)
        app.screen.query_one(Input).value = str(tmp_path / "pw")
        await pilot.press("enter")
        assert await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert "(12 bytes)" in app.screen.question
        await pilot.click("#yes")
        assert await until(pilot, lambda: isinstance(app.screen, OperationScreen)
                           and app.screen.outcome is not None)
        assert app.screen.outcome == "created secret rt-pw on prod (12 bytes)"
        assert "s3cr3t" not in "\n".join(app.screen.lines)
    ((_m, path, body),) = docker.changes
    assert path == "/secrets/create" and base64.b64decode(body["Data"]) == b"s3cr3t-value"
    log = AuditLog.default().path.read_text()
    assert "s3cr3t" not in log and '"bytes": 12' in log


# ---- rotation from the console -------------------------------------------------------------

async def rotated(app, pilot) -> str:
    assert await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
    question = plain(app.screen.query_one(".question").content)
    await pilot.press("y")
    assert await until(pilot, lambda: isinstance(app.screen, OperationScreen)
                       and app.screen.outcome is not None)
    return question


async def test_r_rotates_a_config_from_a_file(make_app, docker, tmp_path):
    (tmp_path / "new.conf").write_bytes(b"mode=new\n")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        select(app, "#configs", "old.conf")
        await pilot.press("R")
        assert await until(pilot, lambda: isinstance(app.screen, PromptDialog))
        app.screen.query_one(Input).value = str(tmp_path / "new.conf")
        await pilot.press("enter")
        question = await rotated(app, pilot)
        assert "Rotate config old.conf -> old.conf-v2 (9 bytes)" in question
        assert app.screen.outcome == ("rotated config old.conf -> old.conf-v2 on prod "
                                      "(no service); old.conf removed")
    (create, delete) = docker.changes
    assert create[:2] == ("POST", "/configs/create") and create[2]["Name"] == "old.conf-v2"
    assert base64.b64decode(create[2]["Data"]) == b"mode=new\n"
    assert create[2]["Labels"] == {"swarmdeck.rotate.family": "old.conf",
                                   "swarmdeck.rotate.version": "2"}
    assert delete == ("DELETE", "/configs/c2", None)
    (entry,) = AuditLog.default().read()
    assert (entry["action"], entry["target"], entry["result"]) == (
        "config rotate", "old.conf", "ok")


async def test_e_edits_a_config_in_the_editor_and_rotates_what_was_saved(
        make_app, docker, tmp_path, monkeypatch):
    editor = tmp_path / "editor"
    editor.write_text("#!/bin/sh\nprintf 'edited\\n' >> \"$1\"\n")
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    monkeypatch.delenv("VISUAL", raising=False)
    seen: list[str] = []
    real_mkstemp = tempfile.mkstemp

    def mkstemp(**kwargs):  # the editor's file goes where this test can see it
        fd, name = real_mkstemp(**{**kwargs, "dir": str(tmp_path)})
        seen.append(name)
        return fd, name

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        select(app, "#configs", "old.conf")
        await pilot.press("e")
        await rotated(app, pilot)
    create = docker.changes[0]
    assert base64.b64decode(create[2]["Data"]) == b"xedited\n"  # the old data, then the edit
    assert len(seen) == 1 and not Path(seen[0]).exists()  # removed once read back


async def test_an_edit_that_changes_nothing_rotates_nothing(make_app, docker, monkeypatch):
    monkeypatch.setenv("EDITOR", "true")
    monkeypatch.delenv("VISUAL", raising=False)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        select(app, "#configs", "old.conf")
        await pilot.press("e")
        assert await until(pilot, lambda: any("unchanged: nothing to rotate" in str(n.message)
                                              for n in app._notifications))
        assert isinstance(app.screen, ResourcesScreen)
    assert docker.changes == []
