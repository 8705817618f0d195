"""What a revision stores and how it is deployed again."""

from __future__ import annotations

import json

from swarmdeck.core.ops import history
from swarmdeck.core.ops.compose import StackPlan


def plan() -> StackPlan:
    return StackPlan(
        "shop",
        services={"web": {"Name": "shop_web", "TaskTemplate": {"ContainerSpec": {
            "Image": "reg:5000/web:1.4", "Secrets": [{"SecretName": "shop_db"}]}}}},
        networks={"shop_default": {"Name": "shop_default", "Driver": "overlay"}},
        configs={"shop_conf": {"Name": "shop_conf", "Data": "aGVsbG8="}},
        secrets={"shop_db": {"Name": "shop_db", "Data": "c2VjcmV0LXZhbHVl"}},
        external_secrets=["tls"])


def test_a_revision_never_holds_a_secrets_data():
    stored = json.dumps(history.plan_record(plan()))
    assert "c2VjcmV0LXZhbHVl" not in stored and "secret-value" not in stored
    assert json.loads(stored)["secrets"] == ["shop_db"]
    assert "aGVsbG8=" in stored  # a config's data is no secret: the revision keeps it


def test_deployed_again_a_revision_pins_its_images_and_takes_its_secrets_as_they_are():
    record = json.loads(json.dumps(history.plan_record(plan())))
    again = history.plan_from(record, {"web": "reg:5000/web:1.4@sha256:" + "a" * 64})
    image = again.services["web"]["TaskTemplate"]["ContainerSpec"]["Image"]
    assert image == "reg:5000/web:1.4@sha256:" + "a" * 64
    assert again.secrets == {} and again.external_secrets == ["shop_db", "tls"]
    assert again.configs == plan().configs and again.networks == plan().networks


def test_revision_config_names():
    assert history.config_name("shop", 7) == "sdh.shop.7"


def test_the_running_revision_is_the_newest_whose_specs_and_digests_run():
    import copy

    from swarmdeck.core.inventory import ClusterState
    from swarmdeck.core.models import Service
    from swarmdeck.core.ops.drift import against_running, running_revision

    def kept(number: int, digest: str, replicas: int) -> history.Stored:
        spec = copy.deepcopy(plan().services["web"])
        spec["Mode"] = {"Replicated": {"Replicas": replicas}}
        spec["TaskTemplate"]["ContainerSpec"]["Image"] = f"reg:5000/web:1.4@sha256:{digest * 64}"
        rev = history.Revision(number, "", "", None, "shop", "prod", "shop")
        return history.Stored(rev, StackPlan("shop", {"web": spec}, {}, {}, {}))

    def state(spec: dict) -> ClusterState:
        found = ClusterState("prod", loaded_at=1.0)
        found.services["s1"] = Service(id="s1", name="shop_web", mode="replicated",
                                       replicas=1, image="x", stack="shop", raw_spec=spec)
        return found

    revisions = [kept(1, "a", 1), kept(2, "b", 1), kept(3, "b", 3)]
    running = copy.deepcopy(revisions[1].plan.services["web"])
    # a rotated secret is the same revision still
    running["TaskTemplate"]["ContainerSpec"]["Secrets"][0]["SecretName"] = "shop_db-v2"
    assert running_revision(revisions, state(running)) == 2
    assert running_revision(revisions[:1], state(running)) is None  # another digest runs
    [one] = against_running(revisions[0].plan, state(running))
    assert (one.action, [c.field for c in one.changes]) == ("update", ["image digest"])
    running["Mode"]["Replicated"]["Replicas"] = 2  # scaled by hand: none of them
    assert running_revision(revisions, state(running)) is None


def test_a_revision_shown_masks_secret_like_environment_values():
    spec = plan().services["web"]
    spec["TaskTemplate"]["ContainerSpec"]["Env"] = ["DB_PASSWORD=hunter2", "MODE=fast"]
    rev = history.Revision(4, "2026-12-04T10:00:00Z", "ana@jump1", "3f2a9c1d0b7e", "shop",
                           "prod", "shop")
    shown = history.document(history.Stored(rev, StackPlan("shop", {"web": spec}, {}, {}, {})))
    assert shown["services"]["web"]["TaskTemplate"]["ContainerSpec"]["Env"] == [
        "DB_PASSWORD=****", "MODE=fast"]
    assert "hunter2" not in json.dumps(shown)
    assert (shown["revision"], shown["commit"]) == (4, "3f2a9c1d0b7e")
