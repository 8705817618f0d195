"""`update --pull`: a new image pushed under the same tag moves the service to the new
digest (checked on its spec); with nothing new, nothing changes (its version index stays)."""

from __future__ import annotations

import contextlib

from swarmdeck.core.errors import LabError

BASE = "10.213.0.1:5000/swarmdeck/demo:1.0"
TAG = "10.213.0.1:5000/swarmdeck/pulltest:live"
NODE = "staging-m1"


def docker(lab, *args: str) -> str:
    return lab.docker_on(NODE, *args, timeout=120).strip()


def pushed_digest(lab) -> str:
    out = docker(lab, "push", TAG)
    return next(w for w in out.split() if w.startswith("sha256:"))


def spec_image(lab) -> str:
    return docker(lab, "service", "inspect", "rt_pull", "--format",
                  "{{.Spec.TaskTemplate.ContainerSpec.Image}}")


def version(lab) -> str:
    return docker(lab, "service", "inspect", "rt_pull", "--format", "{{.Version.Index}}")


def test_update_pull_moves_to_a_new_digest_under_the_same_tag(lab, swarmdeck):
    docker(lab, "pull", BASE)
    docker(lab, "tag", BASE, TAG)
    first = pushed_digest(lab)
    try:
        docker(lab, "service", "create", "--name", "rt_pull", "--detach", "--replicas", "1",
               TAG, "sleep", "3600")
        assert spec_image(lab) == f"{TAG}@{first}"
        index = version(lab)
        done = swarmdeck("update", "rt_pull", "--pull", "--yes", "-c", "staging")
        assert done.returncode == 0, done.stderr
        assert f"is still {first[7:19]} in the registry: nothing to change" in done.stdout
        assert version(lab) == index  # not touched

        # a new image under the same tag
        docker(lab, "run", "--name", "rt_pull_build", TAG, "touch", "/rebuilt")
        docker(lab, "commit", "rt_pull_build", TAG)
        second = pushed_digest(lab)
        assert second != first
        done = swarmdeck("update", "rt_pull", "--pull", "--yes", "-c", "staging",
                         timeout=180)
        assert done.returncode == 0, done.stderr
        assert f"{first[7:19]} -> {second[7:19]}" in done.stdout
        assert "converged" in done.stdout
        assert spec_image(lab) == f"{TAG}@{second}"
    finally:
        for args in (("service", "rm", "rt_pull"), ("rm", "-f", "rt_pull_build")):
            with contextlib.suppress(LabError):
                docker(lab, *args)


def test_update_without_image_or_pull_is_refused_before_connecting(lab, swarmdeck):
    done = swarmdeck("update", "shop_web", "-c", "staging")
    assert done.returncode == 2 and "give --image REF, or --pull" in done.stderr
    done = swarmdeck("update", "shop_web", "-c", "staging", "--pull", "--image",
                     f"{BASE}@sha256:{'0' * 64}", "--yes")
    assert done.returncode == 2 and "pinned to a digest" in done.stderr
