"""Drift against the lab: a replica count and an environment value changed with the docker
CLI behind a deployed stack show up in `swarmdeck drift` (service, field, running and
declared values); a fresh deploy brings the stack back in sync."""

from __future__ import annotations

import json

NODE = "staging-m1"


def drift(swarmdeck) -> dict:
    done = swarmdeck("drift", "shop", "--env", "staging", "--json", timeout=120)
    assert done.returncode == 0, done.stderr
    [row] = json.loads(done.stdout)
    return row


def test_a_change_made_by_hand_is_drift_until_the_next_deploy(lab, swarmdeck):
    assert drift(swarmdeck)["drifted"] is False  # the lab deploys it from the file
    try:
        lab.docker_on(NODE, "service", "update", "--detach", "--replicas", "4",
                      "--env-add", "QUEUE=by-hand", "shop_worker", timeout=120)
        row = drift(swarmdeck)
        assert row["drifted"] is True
        assert {"service": "shop_worker", "field": "replicas", "running": "4",
                "declared": "3"} in row["changes"]
        assert {"service": "shop_worker", "field": "env QUEUE", "running": "by-hand",
                "declared": "orders"} in row["changes"]
        assert {c["service"] for c in row["changes"]} == {"shop_worker"}
        table = swarmdeck("drift", "shop", "--env", "staging")
        assert "DRIFTED" in table.stdout and "replicas" in table.stdout
    finally:
        done = swarmdeck("deploy", "shop", "--env", "staging", "--yes", timeout=240)
        assert done.returncode == 0, done.stderr
    assert drift(swarmdeck)["drifted"] is False
