"""Node labels against the lab: removing one label (`--rm KEY` on the command line, `-KEY`
as the console's prompt takes it) removes that label only, checked with `docker node inspect`
on prod-m1; the console shows the plan and asks before writing."""

from __future__ import annotations

import asyncio
import contextlib
import json

from cli_checks import ok
from test_console_live import wait_until
from test_console_ops_live import finished, select
from textual.widgets import Input

from swarmdeck.core.audit import AuditLog
from swarmdeck.core.config import load_config
from swarmdeck.core.errors import LabError
from swarmdeck.core.fleet import Fleet, open_ops
from swarmdeck.core.ops import node_labels
from swarmdeck.ui.app import SwarmdeckApp
from swarmdeck.ui.screens.dialogs import ConfirmDialog, PromptDialog

HOST = "prod-w2"
KEYS = ("sdtest_keep", "sdtest_gone", "sdtest_core")


def labels_of(lab, host: str = HOST) -> dict[str, str]:
    out = lab.docker_on("prod-m1", "node", "inspect", host, "--format", "{{json .Spec.Labels}}")
    return json.loads(out) or {}


def set_test_labels(lab) -> None:
    lab.docker_on("prod-m1", "node", "update", "--label-add", "sdtest_keep=1",
                  "--label-add", "sdtest_gone=2", "--label-add", "sdtest_core=3", HOST)


def forget_test_labels(lab) -> None:
    for key in KEYS:
        with contextlib.suppress(LabError):  # already gone
            lab.docker_on("prod-m1", "node", "update", "--label-rm", key, HOST)


async def test_removing_one_label_keeps_the_others(lab, swarmdeck, tmp_path):
    forget_test_labels(lab)
    before = labels_of(lab)  # the lab's own (zone=b)
    try:
        set_test_labels(lab)
        out = ok(await asyncio.to_thread(swarmdeck, "node", "label", "-c", "prod", HOST,
                                         "--rm", "sdtest_gone", "--yes"))
        assert "  remove  sdtest_gone (was 2)" in out, out
        assert labels_of(lab) == {**before, "sdtest_keep": "1", "sdtest_core": "3"}

        # `-KEY`, as typed in the console's prompt, through the same core
        config = load_config(lab.config_file)
        ops = await open_ops(config, "prod", audit=AuditLog(tmp_path / "audit.jsonl"))
        try:
            plan = await node_labels.survey(ops, HOST,
                                            node_labels.parse_label_edits("-sdtest_core"))
            assert plan.removed == {"sdtest_core": "3"} and not plan.added \
                and not plan.changed
            await node_labels.apply(ops, plan)
        finally:
            await ops.session.close()
        assert labels_of(lab) == {**before, "sdtest_keep": "1"}
    finally:
        forget_test_labels(lab)
    assert labels_of(lab) == before


async def test_console_labels_prompt_removes_one_after_showing_the_plan(lab):
    forget_test_labels(lab)
    before = labels_of(lab)
    config = load_config(lab.config_file)
    app = SwarmdeckApp(config, Fleet(config), start_cluster="prod")
    try:
        set_test_labels(lab)
        async with app.run_test(size=(140, 40)) as pilot:
            # the inventory follows node events: wait until it has the new labels
            assert await wait_until(pilot, lambda: select(app, "#nodes", HOST) and any(
                n.labels.get("sdtest_gone") == "2"
                for n in app.fleet.state("prod").nodes.values()), 20)
            await pilot.press("l")
            assert await wait_until(pilot, lambda: isinstance(app.screen, PromptDialog), 10)
            app.screen.query_one(Input).value = "-sdtest_gone"
            await pilot.press("enter")
            assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), 10)
            assert app.screen.details[0] == "remove  sdtest_gone (was 2)"
            assert labels_of(lab)["sdtest_gone"] == "2"  # not before the answer
            await pilot.press("enter")
            assert "prod-w2: labels" in await finished(pilot, app)
        assert labels_of(lab) == {**before, "sdtest_keep": "1", "sdtest_core": "3"}
    finally:
        forget_test_labels(lab)
