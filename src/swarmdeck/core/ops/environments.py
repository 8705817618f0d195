"""Deploying a project environment ([projects.P.environments.E]): the flow the CLI and the
console share. prepare() checks the names and the compose file before any connection;
preview() says what would change; deploy() applies it and returns what to follow."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from swarmdeck.core import registries
from swarmdeck.core.config import Config, EnvironmentConfig
from swarmdeck.core.errors import SwarmdeckError, UsageError
from swarmdeck.core.ops import deploy as stack_deploy
from swarmdeck.core.ops import history, rotate
from swarmdeck.core.ops.base import ClusterOps, did_you_mean
from swarmdeck.core.ops.compose import StackPlan, load_compose, stack_plan
from swarmdeck.core.ops.progress import Baseline
from swarmdeck.core.ops.services import STACK_LABEL, Started
from swarmdeck.core.registries import RegistryAuth


@dataclass(frozen=True)
class Prepared:
    project: str
    environment: str
    config: EnvironmentConfig
    plan: StackPlan
    from_revision: int | None = None  # deploying a stored revision again

    @property
    def cluster(self) -> str:
        return self.config.cluster

    @property
    def stack(self) -> str:
        return self.config.stack


def environment(config: Config, project: str, env: str | None) -> tuple[str, EnvironmentConfig]:
    if project not in config.projects:
        raise UsageError(f"no project {project!r} in {config.path}"
                         f"{did_you_mean(project, list(config.projects))}",
                         hint=f"projects: {', '.join(config.projects) or 'none configured'}")
    envs = config.projects[project].environments
    if env is None:
        if len(envs) == 1:
            env = next(iter(envs))
        else:
            raise UsageError(f"which environment of {project}? pass --env "
                             f"({', '.join(envs) or 'none configured'})")
    if env not in envs:
        raise UsageError(f"project {project} has no environment {env!r}"
                         f"{did_you_mean(env, list(envs))}",
                         hint=f"environments: {', '.join(envs) or 'none'}")
    return env, envs[env]


def prepare(config: Config, project: str, env: str | None,
            environ: Mapping[str, str] | None = None) -> Prepared:
    """Everything that can be checked without the cluster: names, the compose file, the
    specs it makes. Raises ComposeError (exit 2) listing every problem."""
    env, env_config = environment(config, project, env)
    config.cluster(env_config.cluster)
    path = Path(env_config.compose)
    if not path.is_file():
        raise UsageError(f"compose file {path} of {project}/{env} does not exist",
                         hint=f"fix `compose` in [projects.{project}.environments.{env}]")
    plan = stack_plan(load_compose(path, environ), env_config.stack)
    limit = config.cluster(env_config.cluster).max_replicas
    too_many = [f"{spec['Name']} asks for {replicas} replicas"
                for spec in plan.services.values()
                if (replicas := ((spec.get("Mode") or {}).get("Replicated") or {})
                    .get("Replicas", 0)) > limit]
    if too_many:
        raise UsageError(f"deploy of {project}/{env} refused: {'; '.join(too_many)}, more than "
                         f"max_replicas = {limit} of cluster {env_config.cluster}; nothing "
                         "changed", hint=f"fix deploy.replicas in {path}, or raise max_replicas "
                                         f"in [clusters.{env_config.cluster}]")
    return Prepared(project, env, env_config, plan)


def prepare_revision(config: Config, project: str, env: str | None) -> tuple[str,
                                                                           EnvironmentConfig]:
    """For `deploy --revision N`: the names are checked here; the plan comes from the
    cluster (revision_plan), not from the compose file."""
    env, env_config = environment(config, project, env)
    config.cluster(env_config.cluster)
    return env, env_config


async def revision_plan(ops: ClusterOps, project: str, env: str, env_config: EnvironmentConfig,
                        revision: int) -> Prepared:
    _rev, plan = await history.stored_plan(ops, env_config.stack, revision)
    return Prepared(project, env, env_config, plan, from_revision=revision)


async def preview(ops: ClusterOps, prepared: Prepared, *, prune: bool = False,
                  registry_auth: RegistryAuth | None = None) -> stack_deploy.DeployPreview:
    """What deploying PREPARED would change. Its images are looked up with REGISTRY_AUTH (by
    default the cluster's configured registries' credentials), as deploy() will. A secret
    or config rotated since the last deploy stays at its newest version (said in the
    notes)."""
    plan, rotated = await rotate.follow_rotations(ops, prepared.plan)
    if registry_auth is None:
        registry_auth = await registries.resolve_async(ops.config, ops.cluster, _images(plan))
    shown = await stack_deploy.plan_changes(ops, plan, prune=prune,
                                            registry_auth=registry_auth)
    return dataclasses.replace(shown, notes=(*rotated, *shown.notes)) if rotated else shown


async def deploy(ops: ClusterOps, prepared: Prepared, shown: stack_deploy.DeployPreview, *,
                 prune: bool = False, registry_auth: RegistryAuth | None = None,
                 progress: stack_deploy.DeployProgress | None = None) -> Started:
    """Apply what SHOWN previewed; the services to follow until they converge. Without
    REGISTRY_AUTH, the credentials of the cluster's configured registries are sent.
    PROGRESS: what has been applied, kept up to date (read it after an interruption)."""
    plan, _rotated = await rotate.follow_rotations(ops, prepared.plan)
    prepared = dataclasses.replace(prepared, plan=plan)  # as the preview showed it
    if registry_auth is None:
        registry_auth = await registries.resolve_async(ops.config, ops.cluster,
                                                       _images(prepared.plan))
    updating = {s.name for s in shown.services if s.action == "update"}
    # the update status each service had before: an old one is not this deploy's outcome
    flt = json.dumps({"label": [f"{STACK_LABEL}={prepared.stack}"]})
    before = {s["Spec"]["Name"]: (s.get("UpdateStatus") or {}).get("StartedAt")
              for s in await ops.docker.get("/services", filters=flt)}
    result = await stack_deploy.apply(ops, prepared.plan, shown, prune=prune,
                                      with_registry_auth=registry_auth, progress=progress)
    bases = {service_id: Baseline(before.get(name), expect_update=name in updating)
             for name, service_id in result.service_ids.items()}
    lines = result.lines()
    try:  # the deploy is made: a history that cannot be written is said, not fatal
        rev = await history.record(ops, prepared.plan, project=prepared.project,
                                   environment=prepared.environment,
                                   compose=None if prepared.from_revision
                                   else Path(prepared.config.compose))
        lines.append(f"recorded as revision {rev.revision} of {prepared.stack}"
                     + (f" (again revision {prepared.from_revision})"
                        if prepared.from_revision else ""))
    except SwarmdeckError as exc:
        lines.append(f"history: this deploy was not recorded: {exc}")
    return Started(bases, "\n".join(lines))


def registry_credentials(config: Config, prepared: Prepared, *, docker_login: bool = False,
                         environ: Mapping[str, str] | None = None) -> RegistryAuth:
    """The credentials for the stack's images: the cluster's configured registries, and
    with DOCKER_LOGIN (--with-registry-auth) what `docker login` stored for the others."""
    return registries.resolve(config, prepared.cluster, _images(prepared.plan),
                              docker_login=docker_login, environ=environ)


def _images(plan: StackPlan) -> list[str]:
    return sorted({s["TaskTemplate"]["ContainerSpec"]["Image"] for s in plan.services.values()})
