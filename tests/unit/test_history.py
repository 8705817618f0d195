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
