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

from swarmdeck.cli.prompt import confirm
from swarmdeck.cli.render import load_config
from swarmdeck.cli.session import change_session, follow, pick_cluster
from swarmdeck.core.config import Config
from swarmdeck.core.errors import OperationFailed, UsageError
from swarmdeck.core.models import Node
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


def _refuse_early(ops: ClusterOps, action: str, target: str) -> None:
    """Read-only refusals come before any question."""
    ops.check_writable(action, target)


async def _scale(ops: ClusterOps, args) -> int:
    from swarmdeck.core.ops import services

    wanted = services.parse_scale(args.targets)
    _refuse_early(ops, "scale", ", ".join(wanted))
    await services.check_scales(ops, wanted, force=args.force)  # refused before asking
    confirm(f"Scale {', '.join(f'{k} to {v}' for k, v in wanted.items())} on {ops.cluster}?",
            yes=args.yes)
    return await follow(ops, await services.scale(ops, wanted, force=args.force), args)


async def _update(ops: ClusterOps, args) -> int:
    from swarmdeck.core.ops import services

    if args.pull:
        return await _pull_update(ops, args)
    services.check_image(args.image)
    _refuse_early(ops, "update image", args.service)
    current = await ops.service(args.service)
    image = current["Spec"]["TaskTemplate"]["ContainerSpec"].get("Image", "")
    confirm(f"Update {args.service} on {ops.cluster} from {image} to {args.image}?",
            yes=args.yes)
    started = await services.update_image(ops, args.service, args.image,
                                          docker_login=args.with_registry_auth)
    return await follow(ops, started, args)


async def _pull_update(ops: ClusterOps, args) -> int:
    from swarmdeck.core.ops import services

    _refuse_early(ops, "update image", args.service)
    current = await ops.service(args.service)
    image = current["Spec"]["TaskTemplate"]["ContainerSpec"].get("Image", "")
    ref = args.image or image.split("@", 1)[0]
    confirm(f"Update {args.service} on {ops.cluster} to the digest the registry holds now "
            f"for {ref} (running {image})?", yes=args.yes)
    started = await services.pull_update(ops, args.service, args.image,
                                         docker_login=args.with_registry_auth)
    return await follow(ops, started, args)


async def _restart(ops: ClusterOps, args) -> int:
    from swarmdeck.core.ops import services

    _refuse_early(ops, "restart", args.service)
    await ops.service(args.service)
    confirm(f"Restart every task of {args.service} on {ops.cluster}?", yes=args.yes)
    return await follow(ops, await services.restart(ops, args.service), args)


async def _rollback(ops: ClusterOps, args) -> int:
    from swarmdeck.core.ops import rollback, services

    _refuse_early(ops, "rollback", args.service)
    plan = await rollback.survey(ops, args.service)  # refused here without a previous spec
    for line in plan.lines():
        print(clean(line))
    confirm(f"Roll {args.service} back to its previous spec on {ops.cluster}?", yes=args.yes)
    started = await services.rollback(ops, args.service)
    try:
        return await follow(ops, started, args)
    except OperationFailed as exc:
        if "rolled back" in str(exc):  # a rollback that ends rolled back did what was asked
            return 0
        raise


async def _rm(ops: ClusterOps, args) -> int:
    from swarmdeck.core.ops import services

    action = f"remove {args.kind}"
    _refuse_early(ops, action, args.name)
    if args.kind == "service":
        await ops.service(args.name)
        confirm(f"Remove service {args.name} from {ops.cluster}?", yes=args.yes,
                typed=args.name)
        print(clean(await services.remove_service(ops, args.name)))
    else:
        objects = await services.stack_objects(ops, args.name)
        names = [s["Spec"]["Name"] for s in objects["services"]]
        if not any(objects.values()):
            return await services.remove_stack(ops, args.name)  # raises: no such stack
        confirm(f"Remove stack {args.name} ({', '.join(names) or 'no services'}) from "
                f"{ops.cluster}?", yes=args.yes, typed=args.name)
        print(clean(await services.remove_stack(ops, args.name)))
    return 0


async def _node(ops: ClusterOps, args) -> int:
    from swarmdeck.core.fleet import ssh_settings
    from swarmdeck.core.ops import nodes

    action = args.node_action
    target = getattr(args, "node", None) or getattr(args, "destination", "")
    _refuse_early(ops, f"node {action}", target)
    if action == "add":
        from swarmdeck.core.ops import join

        confirm(f"Join {target} to {ops.cluster} as a {args.role}?", yes=args.yes)
        node = await join.add_node(ops, target, args.role,
                                   settings=ssh_settings(ops.config, ops.cluster),
                                   advertise_addr=args.advertise_addr, timeout=args.timeout,
                                   progress=lambda m: print(f"  {clean(m)}", flush=True))
        host = (node.get("Description") or {}).get("Hostname", target)
        print(f"joined {clean(host)} to {ops.cluster} as a {args.role}: ready")
        return 0
    node = await ops.node(args.node)
    host = node["Description"]["Hostname"]
    if action == "rm":
        confirm(f"Remove node {host} from {ops.cluster} (drain, wait, demote, leave)?",
                yes=args.yes, typed=host)
        print(clean(await nodes.remove_node(
            ops, args.node, settings=ssh_settings(ops.config, ops.cluster),
            user=ops.session.resolved.user, timeout=args.timeout,
            say=lambda m: print(f"  {clean(m)}", flush=True))))
        return 0
    if action == "label":
        return await _label(ops, args, host)
    role = {"promote": "manager", "demote": "worker"}.get(action)
    availability = None if role else "active" if action == "activate" else action
    unchanged = nodes.already(Node.from_api(node), role=role, availability=availability)
    if unchanged:  # before any question: nothing to ask about
        print(clean(unchanged))
        return 0
    if action == "drain":
        return await _drain(ops, args, host)
    confirm(f"{action.capitalize()} node {host} on {ops.cluster}?", yes=args.yes)
    if role:
        text = await nodes.set_role(ops, args.node, role)
    else:
        text = await nodes.set_availability(ops, args.node, availability or action)
    print(clean(text))
    return 0


async def _drain(ops: ClusterOps, args, host: str) -> int:
    """The plan first (tasks that stop there, where they go, services left short), then
    the question; then the tasks are followed until they have moved and settled."""
    from swarmdeck.core.ops import drain

    plan = await drain.survey(ops, args.node)
    print(f"drain {clean(host)} on {ops.cluster}:")
    for line in plan.lines():
        print(f"  {clean(line)}")
    short = ", ".join(s.service.name for s in plan.short)
    confirm((f"{short} would end up below the desired count. " if short else "")
            + f"Drain node {host} on {ops.cluster}?", yes=args.yes)
    return await follow(ops, await drain.drain(ops, plan), args)


async def _label(ops: ClusterOps, args, host: str) -> int:
    """The plan first (added, changed, removed, services whose placement uses the keys),
    then the question; the labels not named stay."""
    from swarmdeck.core.ops import node_labels

    edits = node_labels.label_edits(args.labels, args.rm)
    if edits.empty:
        raise UsageError("no label to add or remove",
                         hint="KEY=VALUE sets one, --rm KEY removes one")
    plan = await node_labels.survey(ops, args.node, edits)
    for line in node_labels.plan_text(plan, ops.cluster):
        print(clean(line))
    if not plan.changes:
        return 0
    warning = node_labels.affected_summary(plan.affected)
    confirm((f"{warning}. " if warning else "") + f"Change the labels of {host}?",
            yes=args.yes)
    print(clean(await node_labels.apply(ops, plan)))
    return 0


async def _token(ops: ClusterOps, args) -> int:
    from swarmdeck.core.ops import tokens

    if args.token_action == "show":
        print(clean(await tokens.show(ops, args.role, reveal=args.reveal)))
        return 0
    _refuse_early(ops, f"token rotate {args.role}", ops.cluster)
    confirm(f"Rotate the {args.role} join token of {ops.cluster}? Hosts not yet joined will "
            "need the new one.", yes=args.yes)
    token = await tokens.rotate(ops, args.role, reveal=args.reveal)
    print(f"rotated the {args.role} join token of {ops.cluster}: {clean(token)}")
    return 0


COMMANDS: dict[str, Callable[[ClusterOps, argparse.Namespace], Awaitable[int]]] = {
    "scale": _scale, "update": _update, "restart": _restart, "rollback": _rollback,
    "rm": _rm, "node": _node, "token": _token,
}
