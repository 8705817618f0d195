"""Pure parts of the operations: argument parsing, image references, quorum, the audit log."""

from __future__ import annotations

import json
import os
import time

import pytest

from swarmdeck.core.audit import AuditLog, audit_path, mask
from swarmdeck.core.errors import Refused, UsageError
from swarmdeck.core.models import Task
from swarmdeck.core.ops.nodes import check_quorum
from swarmdeck.core.ops.progress import CONVERGED, FAILED, ROLLED_BACK, Baseline, _progress
from swarmdeck.core.ops.services import check_image, parse_scale

TOKEN = "SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-1awxwuwd3z9j1z3puu7rcgdbx"


def test_parse_scale_accepts_several_and_refuses_bad_counts():
    assert parse_scale(["web=3", "worker=0"]) == {"web": 3, "worker": 0}
    for bad, says in (("web", "SERVICE=REPLICAS"), ("web=-1", "non-negative integer"),
                      ("web=two", "non-negative integer"), ("=3", "SERVICE=REPLICAS"),
                      ("web=1.5", "non-negative integer")):
        with pytest.raises(UsageError, match=says):
            parse_scale([bad])
    with pytest.raises(UsageError):
        parse_scale([])


@pytest.mark.parametrize("ref", [
    "busybox", "busybox:1.36", "10.213.0.1:5000/swarmdeck/demo:1.1",
    "registry.example.com/team/app:1.4",
    "nginx@sha256:" + "a" * 64, "localhost:5000/a/b/c:latest",
])
def test_valid_image_references(ref):
    assert check_image(ref) == ref


@pytest.mark.parametrize("ref", ["", "bad image!", "UPPER/case", "app:", "app:tag:more",
                                 "nginx@sha256:short", "a//b"])
def test_invalid_image_references(ref):
    with pytest.raises(UsageError, match="not a valid image reference"):
        check_image(ref)


def node(node_id, *, manager=False, reachable=True, host=None):
    data = {"ID": node_id, "Description": {"Hostname": host or node_id}}
    if manager:
        data["ManagerStatus"] = {"Reachability": "reachable" if reachable else "unreachable"}
    return data


def test_quorum_refuses_the_last_manager_and_a_lost_majority():
    one = [node("m1", manager=True), node("w1")]
    with pytest.raises(Refused, match="last manager"):
        check_quorum(one, "m1", "node demote")
    check_quorum(one, "w1", "node remove")  # workers never matter
    three = [node("m1", manager=True), node("m2", manager=True), node("m3", manager=True)]
    check_quorum(three, "m3", "node demote")  # 2 of 2 reachable: fine
    degraded = [node("m1", manager=True), node("m2", manager=True),
                node("m3", manager=True, reachable=False)]
    # taking m1 out leaves m2 (reachable) and m3 (unreachable): 1 of 2, quorum needs 2
    with pytest.raises(Refused, match="1 of 2 managers reachable .* needs 2"):
        check_quorum(degraded, "m1", "node remove")
    check_quorum(degraded, "m3", "node remove")  # removing the dead one is the fix


def test_audit_masks_tokens_and_appends_json_lines(tmp_path):
    log = AuditLog(tmp_path / "state" / "audit.jsonl")
    log.record(cluster="prod", manager="m1", action="token rotate worker", target="prod",
               params={"token": TOKEN, "note": f"joined with {TOKEN}"}, result="ok")
    log.record(cluster="prod", manager="m1", action="scale", target="web",
               params={"replicas": 3}, result="error", error="boom")
    lines = (tmp_path / "state" / "audit.jsonl").read_text().splitlines()
    assert len(lines) == 2 and TOKEN not in "".join(lines)
    first, second = (json.loads(line) for line in lines)
    assert first["params"]["token"].startswith("SWMTKN-1-…")
    assert first["params"]["note"] == f"joined with SWMTKN-1-…{TOKEN[-4:]}"
    assert {"time", "user", "cluster", "manager", "action", "target", "params",
            "result"} <= first.keys()
    assert second["error"] == "boom" and second["params"] == {"replicas": 3}
    assert os.stat(log.path).st_mode & 0o077 == 0
    assert [e["action"] for e in log.read(1)] == ["scale"]


def test_audit_path_follows_xdg_state_home(tmp_path):
    assert audit_path({"XDG_STATE_HOME": str(tmp_path)}) == tmp_path / "swarmdeck" / \
        "audit.jsonl"


def test_mask_by_parameter_name():
    assert mask({"password": "hunter2", "registry_auth": "abc", "image": "x"}) == \
        {"password": "****", "registry_auth": "****", "image": "x"}


def service(replicas=2, update=None):
    data = {"ID": "s1", "Spec": {"Name": "shop_web", "Mode": {"Replicated": {"Replicas":
                                                                          replicas}}}}
    if update:
        data["UpdateStatus"] = update
    return data


def task(state="running", desired="running", err=""):
    return Task(id=state + desired + err, service_id="s1", state=state, desired_state=desired,
                error=err)


def test_progress_outcomes():
    two = [task(), task()]
    assert _progress("s1", service(), Baseline(), two).outcome == CONVERGED
    # an update was expected: running tasks alone do not mean it is done
    assert _progress("s1", service(), Baseline(expect_update=True), two).outcome is None
    # ... unless none started after the grace period (a change that needs no new tasks)
    late = Baseline(expect_update=True, since=time.time() - 10)
    assert _progress("s1", service(), late, two).outcome == CONVERGED
    old = {"State": "completed", "StartedAt": "t0"}
    assert _progress("s1", service(update=old), Baseline("t0", expect_update=True),
                     two).outcome is None
    new = {"State": "completed", "StartedAt": "t1"}
    assert _progress("s1", service(update=new), Baseline("t0", expect_update=True),
                     two).outcome == CONVERGED
    paused = {"State": "paused", "StartedAt": "t1", "Message": "update paused due to failure"}
    p = _progress("s1", service(update=paused), Baseline("t0"), two)
    assert p.outcome == FAILED and "paused due to failure" in p.line()
    back = {"State": "rollback_completed", "StartedAt": "t1"}
    assert _progress("s1", service(update=back), Baseline("t0"), two).outcome == ROLLED_BACK
    # one of three still starting: in flight
    assert _progress("s1", service(3), Baseline(), [*two, task("starting")]).outcome is None
