"""The mutating commands: scale, update, restart, rollback, rm, node, token, deploy.

Thin over core.ops: pick the cluster, confirm (a TTY prompt, or --yes: cli/prompt.py), run,
follow the change to its outcome unless --detach. Without a TTY and without --yes nothing is
changed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable

from swarmdeck.cli.front import act
from swarmdeck.cli.prompt import confirm
from swarmdeck.cli.render import load_config
from swarmdeck.cli.session import change_session, follow, pick_cluster
from swarmdeck.core import actions
from swarmdeck.core.config import Config
from swarmdeck.core.errors import UsageError
from swarmdeck.core.ops.base import ClusterOps
from swarmdeck.core.sanitize import clean, clean_lines


# ---- running ---------------------------------------------------------------------------
def run_ops(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.command == "deploy":
        return _deploy(config, args)
    if args.command in ("network", "secret", "config"):
        from swarmdeck.cli.resources import run_resources

        return run_resources(config, args)
    if args.command in ("pin", "unpin", "placement"):
        from swarmdeck.cli.placement import run_placement

        return run_placement(config, args)
    if args.command == "update" and not (args.image or args.pull):
        raise UsageError("update: give --image REF, or --pull to move to the digest the "
                         "registry holds now for the service's tag")
    cluster = pick_cluster(config, args.cluster)
    return asyncio.run(_run(config, cluster, args))


def _deploy(config: Config, args: argparse.Namespace) -> int:
    from swarmdeck.core.ops import environments
    from swarmdeck.core.ops.deploy import DeployProgress

    if args.revision is not None:
        if args.pull:
            raise UsageError("--pull and --revision: a revision runs the image digests it "
                             "ran; give one of them")
        if args.revision < 1:
            raise UsageError(f"--revision {args.revision}: revisions count from 1")
        env, env_config = environments.prepare_revision(config, args.project, args.env)
        cluster, prepared, auth = env_config.cluster, None, None
    else:
        prepared = environments.prepare(config, args.project, args.env)  # no connection yet
        cluster = prepared.cluster
        # credentials first: a failing credential command stops before any connection
        auth = environments.registry_credentials(config, prepared,
                                                 docker_login=args.with_registry_auth)

    async def run() -> int:
        nonlocal prepared, auth
        async with change_session(config, cluster, args) as ops:
            if prepared is None:  # --revision: the plan is the one stored on the cluster
                prepared = await environments.revision_plan(ops, args.project, env,
                                                            env_config, args.revision)
                auth = environments.registry_credentials(
                    config, prepared, docker_login=args.with_registry_auth)
            shown = await environments.preview(ops, prepared, prune=args.prune,
                                               registry_auth=auth)
            print(clean_lines(shown.lines()))
            if args.pull:
                print(clean(_pulled(shown)))
            if shown.problems:
                raise UsageError(f"deploy of {prepared.project}/{prepared.environment} refused:"
                                 f" {len(shown.problems)} problem(s) above; nothing changed")
            if args.dry_run or not shown.changed:
                return 0
            _refuse_early(ops, "deploy", prepared.stack)
            again = f" (revision {args.revision} again)" if args.revision else ""
            confirm(f"Deploy {prepared.project}/{prepared.environment}{again} as stack "
                    f"{prepared.stack} on {ops.cluster}?", yes=args.yes)
            progress = DeployProgress(prepared.stack)
            try:
                started = await environments.deploy(ops, prepared, shown, prune=args.prune,
                                                    registry_auth=auth, progress=progress)
            except (asyncio.CancelledError, KeyboardInterrupt):  # Ctrl-C: say where it stopped
                for line in progress.lines():
                    print(clean(line), file=sys.stderr)
                raise
            return await follow(ops, started, args)

    return asyncio.run(run())


def _pulled(shown) -> str:
    """`deploy --pull`: what the registry lookups moved."""
    moved = [s.name for s in shown.services if any(f.field == "image digest" for f in s.fields)]
    if not moved:
        return "pull: every image resolved in its registry: the running digests are current"
    return (f"pull: every image resolved in its registry: {len(moved)} service(s) move to a new "
            f"digest ({', '.join(moved)})")


async def _run(config: Config, cluster: str, args: argparse.Namespace) -> int:
    async with change_session(config, cluster, args) as ops:
        return await COMMANDS[args.command](ops, args)


def _config(ops: ClusterOps) -> Config:
    """The config the command's ops were opened with (open_ops always passes it)."""
    assert ops.config is not None, "ClusterOps from open_ops carry their config"
    return ops.config


def _refuse_early(ops: ClusterOps, action: str, target: str) -> None:
    """Read-only refusals come before any question."""
    ops.check_writable(action, target)


async def _scale(ops: ClusterOps, args) -> int:
    from swarmdeck.core.ops import services

    return await act(ops, actions.scale(services.parse_scale(args.targets), force=args.force),
                     args)


async def _update(ops: ClusterOps, args) -> int:
    login = args.with_registry_auth
    if args.pull:
        return await act(ops, actions.pull_update(args.service, args.image,
                                                  docker_login=login), args)
    return await act(ops, actions.update_image(args.service, args.image, docker_login=login),
                     args)


async def _restart(ops: ClusterOps, args) -> int:
    return await act(ops, actions.restart(args.service), args)


async def _rollback(ops: ClusterOps, args) -> int:
    return await act(ops, actions.rollback(args.service), args)


async def _rm(ops: ClusterOps, args) -> int:
    if args.kind == "service":
        return await act(ops, actions.remove_service(args.name), args)
    return await act(ops, actions.remove_stack(args.name), args)


async def _node(ops: ClusterOps, args) -> int:
    from swarmdeck.core.fleet import ssh_settings

    action = args.node_action
    if action == "add":
        return await act(ops, actions.node_add(
            args.destination, args.role, settings=ssh_settings(_config(ops), ops.cluster),
            advertise_addr=args.advertise_addr, timeout=args.timeout), args)
    if action == "rm":
        return await act(ops, actions.node_remove(
            args.node, settings=ssh_settings(_config(ops), ops.cluster),
            timeout=args.timeout), args)
    if action == "label":
        from swarmdeck.core.ops import node_labels

        edits = node_labels.label_edits(args.labels, args.rm)
        if edits.empty:
            raise UsageError("no label to add or remove",
                             hint="KEY=VALUE sets one, --rm KEY removes one")
        return await act(ops, actions.node_labels(args.node, edits), args)
    if action in ("promote", "demote"):
        return await act(ops, actions.node_role(
            args.node, "manager" if action == "promote" else "worker"), args)
    return await act(ops, actions.node_availability(
        args.node, "active" if action == "activate" else action), args)


async def _token(ops: ClusterOps, args) -> int:
    from swarmdeck.core.ops import tokens

    if args.token_action == "show":
        print(clean(await tokens.show(ops, args.role, reveal=args.reveal)))
        return 0
    return await act(ops, actions.token_rotate(args.role, reveal=args.reveal), args)


COMMANDS: dict[str, Callable[[ClusterOps, argparse.Namespace], Awaitable[int]]] = {
    "scale": _scale, "update": _update, "restart": _restart, "rollback": _rollback,
    "rm": _rm, "node": _node, "token": _token,
}
