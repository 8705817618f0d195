"""The doctor's image checks: services whose nodes cannot get their image, and images that
exist only where they were built.

Each node pulls a service's image itself when a task lands on it. The engine (20.10 at least)
reports a failed pull as its task's "No such image", whatever the cause, so the cause is
asked of the registry from the manager (`lookup_failing`, run with the doctor's other facts):
the tag is missing, credentials are needed, the registry cannot be reached, or the manager
gets it and only the failing nodes cannot.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from swarmdeck.core.errors import SwarmdeckError
from swarmdeck.core.findings import Finding
from swarmdeck.core.models import Node, Service, Task
from swarmdeck.core.placement import Placer
from swarmdeck.core.registries import registry_host

if TYPE_CHECKING:
    from swarmdeck.core.inventory import ClusterState

__all__ = ["PULL_ERROR", "REGISTRY_FIX", "ImageLookup", "image_pull", "local_image",
           "lookup_failing", "pull_blocked", "pull_cause", "registry_host"]

PULL_ERROR = re.compile(
    r"no such image|pull access denied|manifest unknown|manifest for .* not found|"
    r"repository does not exist|no basic auth credentials|unauthorized|"
    r"failed to resolve reference|error pulling image|toomanyrequests|"
    r"error response from daemon: get .*/v2/|server gave http response to https client",
    re.IGNORECASE)
REGISTRY_FIX = ("push the image to a registry every node can reach (registry.example.com/"
                "app:1.0) and deploy with --with-registry-auth (docker stack deploy or "
                "docker service update) so the credentials travel with the tasks")
MAX_LOOKUPS = 8
LOOKUP_TIMEOUT = 8.0  # seconds; an unreachable registry can take the engine 30 s to say so

Cause = Literal["missing", "credentials", "unreachable", "nodes"]
# the registry's words, as the engine passes them on, for each cause (first match wins)
_CAUSES: tuple[tuple[Cause, re.Pattern[str]], ...] = (
    ("credentials", re.compile(
        r"unauthorized|authentication required|no basic auth credentials|denied|"
        r"incorrect username or password", re.IGNORECASE)),
    ("missing", re.compile(
        r"manifest unknown|manifest for .* not found|not found: manifest|name unknown|"
        r"repository name not known|repository does not exist|no such manifest",
        re.IGNORECASE)),
    ("unreachable", re.compile(
        r"connection refused|no such host|i/o timeout|timed? ?out|network is unreachable|"
        r"no route to host|server gave http response to https client|x509|certificate|"
        r"tls:|dial tcp|connection reset|\beof\b", re.IGNORECASE)),
)
_UNSAID = re.compile(r"^\s*no such image", re.IGNORECASE)


def pull_cause(text: str) -> Cause | None:
    """Which cause a pull error names; None when it does not say ("No such image: IMAGE")."""
    if not text or _UNSAID.match(text):
        return None
    return next((cause for cause, words in _CAUSES if words.search(text)), None)


@dataclass(frozen=True)
class ImageLookup:
    """What the manager's registry lookup of an image (GET /distribution) answered."""

    found: bool
    error: str = ""

    @property
    def cause(self) -> Cause | None:
        return "nodes" if self.found else pull_cause(self.error)


def reference(service: Service) -> str:
    return f"{service.image}@{service.image_digest}" if service.image_digest else service.image


def failing(tasks: Iterable[Task]) -> list[Task]:
    return [t for t in tasks if PULL_ERROR.search(t.error or "")]


def pull_blocked(service: Service, tasks: Iterable[Task]) -> bool:
    """Is the newest task of SERVICE's current image that ended one that could not get the
    image? (What the console marks in the services table while replicas are missing.)"""
    ended = [t for t in tasks if t.state in ("failed", "rejected")
             and t.image in ("", service.image)]
    newest = max(ended, key=_moment, default=None)
    return newest is not None and bool(PULL_ERROR.search(newest.error or ""))


def _moment(task: Task) -> float:
    moment = task.timestamp or task.updated_at
    return moment.timestamp() if moment else 0.0


async def lookup_failing(docker: Any, state: ClusterState | None, *, since: float
                         ) -> dict[str, ImageLookup]:
    """Ask the manager's engine for each image some task failed to pull after SINCE (unix
    seconds): a few at once, each bounded in time. Never raises: a lookup that cannot be
    made is left out."""
    if state is None:
        return {}
    wanted: list[str] = []
    for service_id, tasks in state.tasks_by_service().items():
        service = state.services.get(service_id)
        if service is None or not service.image:
            continue
        recent = [t for t in tasks if _moment(t) >= since]
        if failing(recent) and reference(service) not in wanted:
            wanted.append(reference(service))
    wanted = wanted[:MAX_LOOKUPS]

    async def one(image: str) -> ImageLookup | None:
        try:
            await asyncio.wait_for(docker.get(f"/distribution/{image}/json"), LOOKUP_TIMEOUT)
        except TimeoutError:
            return ImageLookup(False, f"no answer within {LOOKUP_TIMEOUT:g} s (i/o timeout)")
        except SwarmdeckError as exc:
            if getattr(exc, "status", 0) == 0:
                return None  # the manager, not the registry, did not answer
            return ImageLookup(False, getattr(exc, "raw", "") or exc.message)
        return ImageLookup(True)

    answers = await asyncio.gather(*(one(image) for image in wanted))
    return {i: a for i, a in zip(wanted, answers, strict=True) if a is not None}


# ---- findings ----------------------------------------------------------------------------

def image_pull(cluster: str, service: Service, pulls: list[Task], nodes: list[str],
               newest: str, lookups: Mapping[str, ImageLookup] | None) -> Finding:
    """Nodes reject SERVICE's tasks (PULLS, on NODES) because they cannot get its image:
    the likely cause first, then how the tasks fail (NEWEST: the newest task error as the
    doctor words it), and what to do."""

    image, name = service.image, service.name
    host = registry_host(image)
    where = host or "Docker Hub"
    lookup = (lookups or {}).get(reference(service))
    said = next((c for c in map(pull_cause, (t.error for t in pulls)) if c), None)
    cause = said or (lookup.cause if lookup else None)
    asked = f" (asked from the manager, it answers: {lookup.error})" \
        if lookup and lookup.error and not said else ""
    first = nodes[0] if nodes else "a failing node"
    send = (f'declare the registry in the config, [clusters.{cluster}.registries."'
            f'{host or "docker.io"}"] with credentials = "docker" (after `docker login'
            f'{" " + host if host else ""}`) or command = [...], then update the service with '
            f"swarmdeck, which sends them (or docker service update --with-registry-auth "
            f"{name})")
    if host is None and cause in (None, "missing", "unreachable"):
        why = (f"{image} names no registry, so the nodes look for it on Docker Hub: an image "
               f"built or loaded on one node exists only there{asked}")
        fix = (f"push it to a registry every node can reach and use its full name: docker tag "
               f"{image} REGISTRY/{image} && docker push REGISTRY/{image}, then swarmdeck "
               f"update -c {cluster} {name} --image REGISTRY/{image}")
    elif cause == "missing":
        repo = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
        why = f"{where} has no {image}: the tag or the repository does not exist{asked}"
        fix = (f"push it (docker push {image}) or point the service at a tag that exists "
               f"(swarmdeck update -c {cluster} {name} --image {repo}:TAG)")
    elif cause == "credentials":
        why = (f"{where} wants credentials the service was not given (some registries answer "
               f"so for a repository that does not exist, too){asked}")
        fix = send
    elif cause == "unreachable":
        why = f"{where} cannot be reached, from the manager either{asked}"
        fix = (f"check that {where} is up and that every node reaches it (address, DNS, "
               "firewall); a registry served over plain HTTP must be listed in each node's "
               "insecure-registries (/etc/docker/daemon.json)")
    elif cause == "nodes":
        why = (f"The manager can get it from {where}, so only those nodes cannot: they do not "
               f"reach {where}, or lack the credentials it wants")
        fix = (f"`docker pull {image}` on {first} shows the registry's answer: fix that node's "
               f"access to {where} (network, DNS, insecure-registries), or send credentials: "
               f"{send}")
    else:
        why = (f"{where} may not have that tag, may want credentials the service was not "
               f"given, or may not be reachable from those nodes")
        fix = (f"`docker pull {image}` on {first} shows which; then push the tag, fix that "
               f"node's access to {where}, or send credentials: {send}")
    why += (". Each node pulls the image itself when a task lands "
           f"on it and rejects the task when it cannot; {newest}")
    return Finding("error", "service.image_pull", f"service {name}",
                   f"{name}: nodes cannot get image {image} ({', '.join(nodes) or 'no node'})",
                   why, fix)


def local_image(service: Service, running_on: list[str], nodes: Iterable[Node]
                ) -> Finding | None:
    """An image that names no registry and was never resolved in one: each node uses its own
    copy, or has none. RUNNING_ON: the nodes its tasks run on now."""

    if not service.image or service.image_digest or registry_host(service.image) \
            or not running_on:
        return None
    subject = f"service {service.name}"
    if len(running_on) >= 2:
        return Finding(
            "warning", "service.local_image", subject,
            f"{service.name}: image {service.image} names no registry and is not pinned to "
            f"a digest, and runs on {len(running_on)} nodes",
            "it was not resolved in a registry when deployed, so each node uses whatever "
            f"image of that name it has (or fails to pull it): {', '.join(running_on)} may "
            f"run different code", REGISTRY_FIX)
    _, candidates = Placer(nodes, None).fitting(service.constraints)
    others = [n.hostname for n in candidates if n.hostname not in running_on]
    if not others:
        return None  # it can run on one node only: that node's copy is the image
    return Finding(
        "warning", "service.local_image", subject,
        f"{service.name}: image {service.image} names no registry and is not pinned to a "
        f"digest: it may exist only on {running_on[0]}",
        f"when its task moves (a node drained or down, an update), a node without that image "
        f"({', '.join(others[:3])}{', ...' if len(others) > 3 else ''}) looks for it on "
        f"Docker Hub and rejects the task with 'No such image'", REGISTRY_FIX)
