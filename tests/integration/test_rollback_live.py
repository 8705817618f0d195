"""A rollback against the lab tells what it changes before asking: after an update of
shop_web's image through `swarmdeck update`, `swarmdeck rollback` prints the image going back
(from the service's previous spec), then rolls back (checked with `docker service inspect`)."""

from __future__ import annotations

from cli_checks import ok, refused
from test_ops_live import IMAGE_1_0, IMAGE_1_1, image_of


def test_rollback_prints_the_previous_spec_against_the_current_one(lab, swarmdeck):
    try:
        ok(swarmdeck("update", "-c", "prod", "shop_web", "--image", IMAGE_1_1, "--yes",
                     timeout=120))
        assert image_of(lab, "shop_web") == IMAGE_1_1
        # without a terminal and without --yes: the changes are printed, nothing is done
        refused(swarmdeck("rollback", "-c", "prod", "shop_web"), 2, "pass --yes")
        assert image_of(lab, "shop_web") == IMAGE_1_1
        out = ok(swarmdeck("rollback", "-c", "prod", "shop_web", "--yes", timeout=120))
        lines = out.splitlines()
        assert lines[0] == "what changes (now -> after the rollback):", out
        assert f"  image: {IMAGE_1_1} -> {IMAGE_1_0}" in lines, out
        assert image_of(lab, "shop_web") == IMAGE_1_0
    finally:
        if image_of(lab, "shop_web") != IMAGE_1_0:
            lab.docker_on("prod-m1", "service", "update", "--image", IMAGE_1_0, "shop_web",
                          timeout=180)


def test_rollback_without_a_previous_spec_is_refused_before_asking(lab, swarmdeck):
    # monitoring_collector is never updated by the tests: no previous spec; no --yes given,
    # so a question would have refused with exit 2 instead
    refused(swarmdeck("rollback", "-c", "prod", "monitoring_collector"), 1,
            "no previous spec")
