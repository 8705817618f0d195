"""The one change policy (core.actions.run_action) over a fake Docker API on recorded lab
data: refused before any plan when read-only, a no-op said and never asked, the plan read
from the cluster before the question, a "no" on record as cancelled with nothing changed,
and both fronts given the same question text (the CLI's terminal and the console's dialog
take plan.question; there is no other). The lab tests drive the same paths on real
clusters."""

from __future__ import annotations

import argparse
from types import SimpleNamespace

import pytest
from fake_cluster import FakeDocker

from swarmdeck.cli.front import TerminalFront
from swarmdeck.core import actions
from swarmdeck.core.audit import AuditLog
from swarmdeck.core.errors import NotConfirmed, ReadOnly, UsageError
from swarmdeck.core.ops.base import ClusterOps
from swarmdeck.core.ops.node_labels import label_edits


class Front:
    """Records what the operator would meet; answers ANSWER."""

    def __init__(self, answer: bool = True) -> None:
        self.answer = answer
        self.told: list[actions.Nothing] = []
        self.asked: list[actions.Plan] = []
        self.done: list[actions.Plan] = []

    def tell(self, nothing: actions.Nothing) -> None:
        self.told.append(nothing)

    async def ask(self, plan: actions.Plan) -> bool:
        self.asked.append(plan)
        return self.answer

    async def carry_out(self, ops: ClusterOps, plan: actions.Plan) -> str:
        self.done.append(plan)
        return "carried out"


@pytest.fixture
def docker() -> FakeDocker:
    return FakeDocker("prod")


def make_ops(docker: FakeDocker, tmp_path, read_only: str | None = None) -> ClusterOps:
    return ClusterOps("prod", SimpleNamespace(docker=docker, label="prod-m1 (fake)"),
                      audit=AuditLog(tmp_path / "audit.jsonl"), read_only=read_only)


def audit(ops: ClusterOps) -> list[tuple[str, str, str]]:
    return [(e["action"], e["target"], e["result"]) for e in ops.audit.read()]


async def test_read_only_is_refused_before_any_plan_or_question(docker, tmp_path):
    ops = make_ops(docker, tmp_path, read_only="--read-only")
    front = Front()
    with pytest.raises(ReadOnly, match="restart refused: cluster prod is read-only"):
        await actions.run_action(ops, actions.restart("shop_web"), front)
    assert front.asked == [] and front.done == [] and docker.posts == []
    assert audit(ops) == [("restart", "shop_web", "refused")]


async def test_a_no_op_is_said_not_asked_and_not_recorded(docker, tmp_path):
    ops = make_ops(docker, tmp_path)
    front = Front()
    assert await actions.run_action(ops, actions.node_role("prod-w1", "worker"), front) is None
    assert [n.text for n in front.told] == ["prod-w1 is already a worker: nothing to change"]
    assert front.asked == [] and docker.posts == []
    ops.conclude(None)
    assert audit(ops) == []


async def test_no_is_on_record_as_cancelled_and_nothing_changes(docker, tmp_path):
    ops = make_ops(docker, tmp_path)
    front = Front(answer=False)
    with pytest.raises(NotConfirmed) as raised:
        await actions.run_action(ops, actions.remove_service("shop_web"), front)
    ops.conclude(raised.value)
    [plan] = front.asked
    assert (plan.typed, plan.danger) == ("shop_web", True)
    assert front.done == [] and docker.posts == []
    assert audit(ops) == [("remove service", "shop_web", "cancelled")]


async def test_the_plan_is_read_from_the_cluster_before_asking(docker, tmp_path):
    """The cluster's own state, not what a screen showed: a constraint set there since."""
    docker.service("shop_worker")["Spec"]["TaskTemplate"]["Placement"]["Constraints"] = [
        "node.labels.storage==ssd"]
    ops = make_ops(docker, tmp_path)
    front = Front()
    await actions.run_action(ops, actions.node_labels("prod-w1", label_edits(remove=["storage"])),
                             front)
    [plan] = front.asked
    assert plan.danger and plan.question.endswith("Change the labels of prod-w1 on prod?")
    assert plan.question.startswith("shop_worker would have no node to run on")
    assert "  remove  storage (was ssd)" in [f"  {line}" for line in plan.details]
    assert front.done == [plan]


async def test_an_unknown_name_is_refused_with_the_names_there(docker, tmp_path):
    ops = make_ops(docker, tmp_path)
    front = Front()
    with pytest.raises(UsageError, match="no service 'shop_wbe' in cluster prod: did you mean"):
        await actions.run_action(ops, actions.restart("shop_wbe"), front)
    assert front.asked == []


@pytest.mark.parametrize("action, question", [
    (actions.restart("shop_web"), "Restart every task of shop_web on prod?"),
    (actions.scale({"shop_web": 3}), "Scale shop_web to 3 on prod?"),
    (actions.node_availability("prod-w1", "pause"), "Pause node prod-w1 on prod?"),
    (actions.node_role("prod-w1", "manager"), "Promote prod-w1 on prod to manager?"),
    (actions.token_rotate("worker"), "Rotate the worker join token of prod? Nodes in the "
                                     "swarm stay; hosts not yet joined need the new token."),
])
async def test_the_terminal_asks_the_plans_own_question(docker, tmp_path, monkeypatch,
                                                        action, question):
    """What the CLI prints is plan.question itself (the console's dialog shows the same
    attribute: tests/ui)."""
    asked: list[tuple[str, str | None]] = []
    monkeypatch.setattr("swarmdeck.cli.front.confirm",
                        lambda q, *, yes, typed=None: asked.append((q, typed)))
    front = Front()
    ops = make_ops(docker, tmp_path)
    [plan] = [p async for p in _planned(ops, action, front)]
    terminal = TerminalFront(argparse.Namespace(yes=False))
    assert await terminal.ask(plan)
    assert asked == [(question, None)] and plan.question == question


async def _planned(ops, action, front):
    ops.check_writable(action.name, action.target or ops.cluster)
    planned = await action.plan(ops)
    assert isinstance(planned, actions.Plan)
    yield planned


async def test_a_pin_no_node_could_run_is_refused_unless_forced_then_asked_as_a_danger(
        docker, tmp_path):
    from swarmdeck.core.errors import Refused
    from swarmdeck.core.ops import placement as ops_placement

    def decide(found, cluster):
        return ops_placement.plan_pin(found, cluster, label="zone=nowhere")

    ops = make_ops(docker, tmp_path)
    front = Front()
    with pytest.raises(Refused, match="pin shop_web refused: no node satisfies"):
        await actions.run_action(ops, actions.placement("shop_web", "pin", decide), front)
    assert front.asked == [] and docker.posts == []
    forced = Front(answer=False)
    with pytest.raises(NotConfirmed):
        await actions.run_action(ops, actions.placement("shop_web", "pin", decide, force=True),
                                 forced)
    plan = forced.asked[0]
    assert plan.danger and plan.question.startswith("no node satisfies")
    assert plan.question.endswith("Pin shop_web on prod anyway?")
    assert any(line.startswith("after the change:") and "zone==nowhere" in line
               for line in plan.details)
    assert docker.posts == []


async def test_unpinning_what_has_no_constraint_is_said_not_asked(docker, tmp_path):
    from swarmdeck.core.ops import placement as ops_placement

    ops = make_ops(docker, tmp_path)
    front = Front()
    found = await ops_placement.survey(ops, "shop_web")
    assert found.constraints == []  # the recorded shop_web runs anywhere
    action = actions.placement("shop_web", "unpin", lambda now, cluster: ops_placement.plan_unpin(
        now, cluster, everything=True))
    assert await actions.run_action(ops, action, front) is None
    assert [n.text for n in front.told] == \
        [f"shop_web: constraints already {ops_placement.listed([])}: nothing to change"]
    assert front.asked == [] and docker.posts == []
