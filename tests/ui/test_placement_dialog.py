"""The placement dialog (`P` on a service) on recorded lab data and a fake Docker API: what
it shows, its live preview, invalid input, the warning when no node can run the tasks, the
change it makes, and a read-only cluster. The live-lab run is in integration/."""

from __future__ import annotations

import asyncio
import copy
import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console
from textual.widgets import Button, Checkbox, Input, Select
from ui_waits import wait_until as until

from swarmdeck.core.audit import AuditLog
from swarmdeck.core.errors import DockerAPIError
from swarmdeck.core.ops.base import ClusterOps
from swarmdeck.ui.screens.dialogs import ConfirmDialog
from swarmdeck.ui.screens.operation import OperationScreen
from swarmdeck.ui.screens.placement import PlacementDialog
from swarmdeck.ui.widgets.table import LiveTable

FIXTURES = Path(__file__).parent.parent / "fixtures"
SIZE = (130, 50)
HOSTILE = "\x1b]0;pwned\x07"


class FakeDocker:
    """A cluster's recorded services and nodes; an update must carry the current version and
    completes at once, with every replica running."""

    def __init__(self, cluster: str) -> None:
        folder = FIXTURES / f"lab_{cluster}"
        self.services = json.loads((folder / "services.json").read_text())
        self.nodes = json.loads((folder / "nodes.json").read_text())
        for n in self.nodes:  # a label as hostile as a cluster can send
            if n["Description"]["Hostname"].endswith("-w1"):
                n["Spec"]["Labels"] = {**(n["Spec"].get("Labels") or {}), "note": HOSTILE}
        self.posts: list[tuple[str, dict]] = []

    def find(self, ref: str) -> dict:
        return next(s for s in self.services if ref in (s["ID"], s["Spec"]["Name"]))

    async def get(self, path, **params):
        await asyncio.sleep(0)
        if path == "/nodes":
            return copy.deepcopy(self.nodes)
        if path == "/tasks":
            wanted = json.loads(params["filters"])["service"]
            return [{"ID": f"{s['ID']}-{i}", "ServiceID": s["ID"], "DesiredState": "running",
                     "Status": {"State": "running"}} for s in self.services
                    if s["ID"] in wanted
                    for i in range(s["Spec"]["Mode"].get("Replicated", {}).get("Replicas", 1))]
        return copy.deepcopy(self.find(path.rpartition("/")[2]))

    async def request(self, method, path, *, params=None, body=None, headers=None):
        service = self.find(path.split("/")[2])
        if params["version"] != service["Version"]["Index"]:
            raise DockerAPIError(500, "update out of sequence")
        self.posts.append((service["Spec"]["Name"], body))
        service["Spec"] = body
        service["Version"]["Index"] += 1
        service["UpdateStatus"] = {"State": "completed", "StartedAt": f"v{len(self.posts)}"}


@pytest.fixture
def docker(fleet, config):
    fakes = {name: FakeDocker(name) for name in ("prod", "staging")}

    async def ops(name, *, read_only_flag=False):
        cfg = config.clusters[name]
        return ClusterOps(name, SimpleNamespace(docker=fakes[name], label=f"{name}-m1 (fake)"),
                          audit=AuditLog.default(),
                          read_only="config" if cfg.read_only or read_only_flag else None)

    fleet.ops = ops
    return fakes


def plain(renderable) -> str:
    console = Console(width=300, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.file.getvalue()


def shown(app, selector: str) -> str:
    return plain(app.screen.query_one(selector).content)



async def open_dialog(app, pilot, service: str) -> PlacementDialog:
    table = app.screen.query_one("#services", LiveTable)
    assert await until(pilot, lambda: len(table.rows) > 0)
    row = [str(table.get_cell(k, "name")).strip() for k in table.rows].index(service)
    table.focus()
    table.move_cursor(row=row)
    await pilot.press("P")
    assert await until(pilot, lambda: isinstance(app.screen, PlacementDialog))
    await pilot.pause()
    return app.screen


def pick_node(dialog: PlacementDialog, hostname: str) -> None:
    node = next(n for n in dialog.survey.nodes if n.hostname == hostname)
    dialog.query_one("#node", Select).value = node.id


async def test_dialog_shows_where_tasks_run_and_previews_a_change(make_app, docker):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        dialog = await open_dialog(app, pilot, "monitoring_collector")
        now = shown(app, "#now")
        assert "now: constraints node.role == manager" in now
        assert "tasks can run on: prod-m1, prod-m2, prod-m3" in now
        assert dialog.query_one("#keep-0", Checkbox).value is True
        # what the cluster sent is shown inert: the hostile label, in the label prompt
        labels = "".join(plain(label.content) for label in dialog.query("Label"))
        assert "note=<ESC>]0;pwned<BEL>" in labels and "\x1b" not in labels

        pick_node(dialog, "prod-w2")  # a worker, while the service wants managers
        await pilot.pause()
        preview = shown(app, "#preview")
        assert "constraints node.role == manager, node.hostname==prod-w2" in preview
        assert "no node meets them all; tasks will stay pending" in preview

        dialog.query_one("#keep-0", Checkbox).value = False  # untick the role constraint
        await pilot.pause()
        preview = shown(app, "#preview")
        assert "after the change: constraints node.hostname==prod-w2" in preview
        assert "tasks can run on: prod-w2" in preview

        dialog.query_one("#label", Input).value = "zone=b"
        await pilot.pause()
        assert "node.hostname==prod-w2, node.labels.zone==b" in shown(app, "#preview")
        await pilot.press("escape")
        assert not isinstance(app.screen, PlacementDialog)
    assert docker["prod"].posts == [] and AuditLog.default().read() == []


async def test_invalid_expression_is_shown_and_changes_nothing(make_app, docker):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        dialog = await open_dialog(app, pilot, "shop_worker")
        assert "tasks can run on: prod-m1, prod-m2, prod-m3, prod-w1, prod-w2" \
            in shown(app, "#now")
        box = dialog.query_one("#expression", Input)
        box.value = "node.labels.zone=b"
        await pilot.pause()
        assert "invalid constraint expression 'node.labels.zone=b': no == or != operator" \
            in shown(app, "#error")
        assert shown(app, "#preview").strip() == ""
        box.focus()
        await pilot.press("enter")  # submitting does not close the dialog
        await pilot.pause()
        assert app.screen is dialog
        await pilot.click("#yes")
        assert app.screen is dialog
        box.value = ""
        assert await until(pilot, lambda: "no change yet" in shown(app, "#preview"))
        await pilot.pause(0.3)  # a button ignores clicks while it still shows the last one
        await pilot.click("#yes")  # nothing changed: says so, stays
        assert await until(pilot, lambda: "nothing to change" in shown(app, "#error"))
        assert app.screen is dialog
    assert docker["prod"].posts == []


async def test_pin_to_a_node_confirm_and_follow(make_app, docker):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        dialog = await open_dialog(app, pilot, "monitoring_collector")
        dialog.query_one("#keep-0", Checkbox).value = False
        pick_node(dialog, "prod-w2")
        await pilot.pause()
        await pilot.click("#yes")
        assert await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        confirm = app.screen
        assert confirm.question == "Set constraints monitoring_collector on prod?"
        assert not confirm.danger
        assert confirm.details == ["constraints now:  node.role == manager",
                                   "after the change: node.hostname==prod-w2",
                                   "tasks can run on: prod-w2"]
        await pilot.click("#yes")
        assert await until(pilot, lambda: isinstance(app.screen, OperationScreen)
                           and app.screen.outcome is not None)
        assert app.screen.outcome == "set constraints monitoring_collector: done"
    [(name, body)] = docker["prod"].posts
    assert name == "monitoring_collector"
    assert body["TaskTemplate"]["Placement"]["Constraints"] == ["node.hostname==prod-w2"]
    [entry] = AuditLog.default().read()
    assert (entry["action"], entry["target"], entry["result"], entry["params"]) == (
        "set constraints", "monitoring_collector", "ok",
        {"constraints": ["node.hostname==prod-w2"], "from": ["node.role == manager"]})


async def test_no_node_satisfies_is_a_warning_in_the_confirmation(make_app, docker):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        dialog = await open_dialog(app, pilot, "shop_worker")
        dialog.query_one("#label", Input).value = "zone=c"
        await pilot.pause()
        assert "no node satisfies node.labels.zone==c; tasks will stay pending" \
            in shown(app, "#preview")
        await pilot.click("#yes")
        assert await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert app.screen.danger
        assert app.screen.question == (
            "no node satisfies node.labels.zone==c; tasks will stay pending.\n"
            "Pin shop_worker on prod anyway?")
        await pilot.click("#no")  # cancelled: nothing written, the "no" on record
        await pilot.pause(0.2)
        assert docker["prod"].posts == []
        assert [(e["action"], e["target"], e["result"]) for e in AuditLog.default().read()] \
            == [("pin", "shop_worker", "cancelled")]

        dialog = await open_dialog(app, pilot, "shop_worker")
        dialog.query_one("#label", Input).value = "zone=c"
        await pilot.pause()
        await pilot.click("#yes")
        assert await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.click("#yes")  # confirmed with the warning in view: forced
        assert await until(pilot, lambda: isinstance(app.screen, OperationScreen)
                           and app.screen.outcome is not None)
        assert app.screen.outcome == "pin shop_worker: done"
        assert any("tasks will stay pending" in line for line in app.screen.lines)
    [(_, body)] = docker["prod"].posts
    assert body["TaskTemplate"]["Placement"]["Constraints"] == ["node.labels.zone==c"]


async def test_read_only_cluster_shows_but_cannot_apply(make_app, docker):
    app = make_app(start_cluster="staging")
    async with app.run_test(size=SIZE) as pilot:
        dialog = await open_dialog(app, pilot, "shop_web")
        assert "tasks can run on: staging-m1, staging-w1" in shown(app, "#now")
        assert dialog.query_one("#yes", Button).disabled
        assert "read-only" in "".join(plain(s.content) for s in dialog.query("Static"))
        dialog.query_one("#expression", Input).value = "node.role==worker"
        await pilot.pause()
        dialog.query_one("#expression", Input).focus()
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is dialog
    assert docker["staging"].posts == []
