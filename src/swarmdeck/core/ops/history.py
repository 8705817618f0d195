"""Deploy history kept on the cluster itself, so every operator on every jump host sees the
same: each deploy of a project environment is a revision, stored as a swarm config
`sdh.STACK.N` labelled for swarmdeck (the last KEEP of each stack are kept).

A revision holds what was sent (the stack's specs, as `docker stack deploy` would send
them), the images the services run once deployed (digests pinned), who deployed it, when,
and the git commit of the compose file's work tree. Secrets' data is never stored: only
their names; deploying a revision again uses the secrets that exist by those names.
"""

from __future__ import annotations

import asyncio
import base64
import getpass
import json
import socket
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from swarmdeck.core.errors import UsageError
from swarmdeck.core.ops.base import ClusterOps
from swarmdeck.core.ops.compose import StackPlan
from swarmdeck.core.ops.deploy_diff import MASKED_NAMES
from swarmdeck.core.ops.services import STACK_LABEL

KEEP = 10  # revisions kept per stack; older ones are removed as new ones come
PREFIX = "sdh"  # config names: sdh.STACK.N
L_STACK = "swarmdeck.history.stack"
L_REVISION = "swarmdeck.history.revision"
L_PROJECT = "swarmdeck.history.project"
L_ENVIRONMENT = "swarmdeck.history.environment"
L_TIME = "swarmdeck.history.time"
L_USER = "swarmdeck.history.user"
L_COMMIT = "swarmdeck.history.commit"
FORMAT = 1


@dataclass
class Revision:
    revision: int
    time: str  # RFC 3339, UTC
    user: str
    commit: str | None
    project: str
    environment: str
    stack: str
    images: dict[str, str] = field(default_factory=dict)  # compose service -> image@digest
    config_id: str = ""

    def row(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("config_id")
        return out


def short_image(image: str) -> str:
    """`reg:5000/team/web:1.2@sha256:abcdef...` -> `web:1.2@abcdef012345`: a table's cell."""
    name, _, digest = image.partition("@")
    return f"{name.rsplit('/', 1)[-1]}@{digest.split(':', 1)[-1][:12]}" if digest else \
        name.rsplit("/", 1)[-1]


def images_text(images: dict[str, str]) -> str:
    """`app=web:1.2@abcdef012345, db=...`: a revision's images in one cell."""
    return ", ".join(f"{k}={short_image(v)}" for k, v in sorted(images.items())) or "-"


def config_name(stack: str, revision: int) -> str:
    return f"{PREFIX}.{stack}.{revision}"


def who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def git_commit(path: Path) -> str | None:
    """The commit of the work tree holding PATH (`+dirty` when PATH differs from it), or
    None outside git."""
    folder = path.resolve().parent
    try:
        head = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=5)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--",
                                str(path.resolve())], capture_output=True, text=True,
                               timeout=5).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return head.stdout.strip()[:12] + ("+dirty" if dirty else "")


def plan_record(plan: StackPlan) -> dict[str, Any]:
    """The plan as stored: every spec, secrets by name only (their data never leaves)."""
    return {"stack": plan.stack, "services": plan.services, "networks": plan.networks,
            "configs": plan.configs, "secrets": sorted(plan.secrets),
            "external_networks": plan.external_networks,
            "external_configs": plan.external_configs,
            "external_secrets": plan.external_secrets}


def plan_from(record: dict[str, Any], images: dict[str, str]) -> StackPlan:
    """The stored plan, ready to deploy again: images pinned to what that revision ran;
    its secrets are taken as they exist now (by name)."""
    services = json.loads(json.dumps(record["services"]))
    for name, spec in services.items():
        if images.get(name):
            spec["TaskTemplate"]["ContainerSpec"]["Image"] = images[name]
    return StackPlan(record["stack"], services, record["networks"], record["configs"], {},
                     list(record["external_networks"]), list(record["external_configs"]),
                     sorted({*record["external_secrets"], *record["secrets"]}))


async def revisions(ops: ClusterOps, stack: str) -> list[Revision]:
    """The stack's revisions kept on the cluster, oldest first."""
    found = await ops.docker.get("/configs", filters=json.dumps(
        {"label": [f"{L_STACK}={stack}"]}))
    out = []
    for c in found or []:
        labels = (c.get("Spec") or {}).get("Labels") or {}
        if not str(labels.get(L_REVISION, "")).isdigit():
            continue
        out.append(Revision(int(labels[L_REVISION]), labels.get(L_TIME, ""),
                            labels.get(L_USER, ""), labels.get(L_COMMIT) or None,
                            labels.get(L_PROJECT, ""), labels.get(L_ENVIRONMENT, ""), stack,
                            config_id=c.get("ID", "")))
    return sorted(out, key=lambda r: r.revision)


@dataclass
class Stored:
    """A revision as kept, read whole: its plan is None when it was written in a format this
    swarmdeck does not read."""

    revision: Revision
    plan: StackPlan | None


async def stored(ops: ClusterOps, stack: str) -> list[Stored]:
    """The stack's revisions with their images and plans (one read per revision, in
    parallel), oldest first."""
    found = await revisions(ops, stack)
    data = await asyncio.gather(*(_data(ops, r) for r in found))
    out = []
    for rev, record in zip(found, data, strict=True):
        rev.images = dict(record.get("images") or {})
        out.append(Stored(rev, _plan_of(record, rev.images)))
    return out


def _plan_of(record: dict[str, Any], images: dict[str, str]) -> StackPlan | None:
    if record.get("format") != FORMAT or "plan" not in record:
        return None
    return plan_from(record["plan"], images)


def document(kept: Stored) -> dict[str, Any]:
    """What the console shows of a revision: when, who, the images, and each service's
    spec as it was deployed, environment values whose names say secret masked."""
    rev = kept.revision
    out: dict[str, Any] = {"revision": rev.revision, "stack": rev.stack,
                           "project": rev.project, "environment": rev.environment,
                           "time": rev.time, "user": rev.user, "commit": rev.commit,
                           "images": rev.images}
    if kept.plan is None:
        out["services"] = "written in a format this swarmdeck does not read"
        return out
    services = json.loads(json.dumps(kept.plan.services))
    for spec in services.values():
        container = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
        container["Env"] = [_masked(e) for e in container.get("Env") or []] or None
        if container["Env"] is None:
            container.pop("Env")
    out["services"] = services
    out["secrets"] = sorted({*kept.plan.secrets, *kept.plan.external_secrets})
    return out


def _masked(entry: str) -> str:
    name, sep, _value = entry.partition("=")
    return f"{name}=****" if sep and MASKED_NAMES.search(name) else entry


async def _data(ops: ClusterOps, rev: Revision) -> dict[str, Any]:
    config = await ops.docker.get(f"/configs/{rev.config_id}")
    return json.loads(base64.b64decode((config.get("Spec") or {}).get("Data") or "e30="))


async def stored_plan(ops: ClusterOps, stack: str, revision: int) -> tuple[Revision, StackPlan]:
    found = await revisions(ops, stack)
    rev = next((r for r in found if r.revision == revision), None)
    if rev is None:
        kept = ", ".join(str(r.revision) for r in found) or "none"
        raise UsageError(f"stack {stack} has no revision {revision} on cluster {ops.cluster}",
                         hint=f"revisions kept: {kept} (swarmdeck history PROJECT)")
    record = await _data(ops, rev)
    rev.images = dict(record.get("images") or {})
    plan = _plan_of(record, rev.images)
    if plan is None:
        raise UsageError(f"revision {revision} of stack {stack} was written in a format this "
                         "swarmdeck does not read")
    return rev, plan


def config_spec(rev: Revision, plan: StackPlan) -> dict[str, Any]:
    """The swarm config that keeps REV (deploying PLAN)."""
    body = {"format": FORMAT, **rev.row(), "plan": plan_record(plan)}
    labels = {L_STACK: plan.stack, L_REVISION: str(rev.revision), L_PROJECT: rev.project,
              L_ENVIRONMENT: rev.environment, L_TIME: rev.time, L_USER: rev.user,
              **({L_COMMIT: rev.commit} if rev.commit else {})}
    return {"Name": config_name(plan.stack, rev.revision), "Labels": labels,
            "Data": base64.b64encode(json.dumps(body, sort_keys=True).encode()).decode()}


async def record(ops: ClusterOps, plan: StackPlan, *, project: str, environment: str,
                 compose: Path | None) -> Revision:
    """Store the deploy just applied as the stack's next revision, and drop the oldest
    beyond KEEP."""
    found = await revisions(ops, plan.stack)
    number = (found[-1].revision if found else 0) + 1
    services = await ops.docker.get("/services", filters=json.dumps(
        {"label": [f"{STACK_LABEL}={plan.stack}"]}))
    running = {(s.get("Spec") or {}).get("Name"): (s.get("Spec") or {}).get(
        "TaskTemplate", {}).get("ContainerSpec", {}).get("Image", "") for s in services or []}
    images = {name: running.get(spec["Name"], "") for name, spec in plan.services.items()}
    rev = Revision(number, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), who(),
                   git_commit(compose) if compose else None, project, environment,
                   plan.stack, images)
    made = await ops.docker.request("POST", "/configs/create", body=config_spec(rev, plan))
    rev.config_id = made["ID"]
    for old in found[:max(len(found) + 1 - KEEP, 0)]:
        await ops.docker.request("DELETE", f"/configs/{old.config_id}")
    return rev
