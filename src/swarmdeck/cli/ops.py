"""The mutating commands: scale, update, restart, rollback, rm, node, token, audit, deploy.

Thin over core.ops: pick the cluster, confirm (a TTY prompt, or --yes: cli/prompt.py), run,
follow the change to its outcome unless --detach. Without a TTY and without --yes nothing is
changed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from swarmdeck.cli import render
from swarmdeck.cli.prompt import confirm
from swarmdeck.cli.render import load_config
from swarmdeck.core.audit import AuditLog
from swarmdeck.core.config import Config
from swarmdeck.core.errors import OperationFailed, SwarmdeckError, UsageError
from swarmdeck.core.models import Node
from swarmdeck.core.ops import progress as prog
from swarmdeck.core.ops.base import ClusterOps, open_ops, record_unreached
from swarmdeck.core.sanitize import clean, clean_lines


def add_parsers(sub: argparse._SubParsersAction) -> None:
    def common(p: argparse.ArgumentParser, *, wait: bool = True, confirm: bool = True
               ) -> argparse.ArgumentParser:
        p.add_argument("--cluster", "-c", metavar="NAME",
                       help="the cluster (default: the only one configured)")
        if confirm:
            p.add_argument("--yes", "-y", action="store_true",
                           help="do not ask for confirmation (needed without a terminal)")
        if wait:
            p.add_argument("--detach", "-d", action="store_true",
                           help="return once the change is made, without following it")
            p.add_argument("--timeout", type=float, default=300, metavar="SECONDS",
                           help="give up following after this long (default 300)")
        return p

    p = common(sub.add_parser("scale", help="set the replica count of services",
                              description="Scale replicated services: SERVICE=REPLICAS ... "
                                          "A count above the cluster's max_replicas (1000 "
                                          "unless configured) or above 10x the current one "
                                          "is refused without --force."))
    p.add_argument("targets", nargs="+", metavar="SERVICE=REPLICAS")
    p.add_argument("--force", action="store_true",
                   help="allow a count above max_replicas or 10x the current one")
    p = common(sub.add_parser("update", help="update a service's image"))
    p.add_argument("service")
    p.add_argument("--image", required=True, metavar="REF", help="the new image reference")
    p.add_argument("--with-registry-auth", action="store_true",
                   help="also send `docker login`'s credentials for the image's registry "
                        "(a registry configured for the cluster sends its own anyway)")
    p = common(sub.add_parser("restart", help="replace every task of a service"))
    p.add_argument("service")
    p = common(sub.add_parser("rollback", help="roll a service back to its previous spec"))
    p.add_argument("service")
    p = common(sub.add_parser("rm", help="remove a service or a whole stack"), wait=False)
    p.add_argument("kind", choices=("service", "stack"))
    p.add_argument("name")

    node = sub.add_parser("node", help="drain, activate, pause, promote, demote, label, "
                                       "remove or add nodes")
    nsub = node.add_subparsers(dest="node_action", metavar="ACTION", required=True)
    for action, text in (("drain", "move the node's tasks away, schedule none there"),
                         ("activate", "schedule tasks on the node again"),
                         ("pause", "schedule no new tasks on the node"),
                         ("promote", "make the node a manager"),
                         ("demote", "make the node a worker (quorum is checked)")):
        # a drain is followed until its tasks have moved (unless --detach)
        common(nsub.add_parser(action, help=text), wait=action == "drain").add_argument("node")
    p = common(nsub.add_parser("label", help="add (KEY=VALUE) or remove (--rm KEY) labels"),
               wait=False)
    p.add_argument("node")
    p.add_argument("labels", nargs="*", metavar="KEY=VALUE")
    p.add_argument("--rm", action="append", default=[], metavar="KEY")
    p = common(nsub.add_parser("rm", help="drain, wait, demote, leave and remove a node"),
               wait=False)
    p.add_argument("node")
    p.add_argument("--timeout", type=float, default=180, metavar="SECONDS")
    p = common(nsub.add_parser("add", help="SSH into a fresh host and join it"), wait=False)
    p.add_argument("destination", metavar="DEST", help="[user@]host[:port] or ssh alias")
    p.add_argument("--role", choices=("worker", "manager"), default="worker")
    p.add_argument("--advertise-addr", metavar="ADDR")
    p.add_argument("--timeout", type=float, default=120, metavar="SECONDS")

    token = sub.add_parser("token", help="show or rotate the join tokens")
    tsub = token.add_subparsers(dest="token_action", metavar="ACTION", required=True)
    p = common(tsub.add_parser("show", help="the join token (masked unless --reveal)"),
               wait=False, confirm=False)
    p.add_argument("role", choices=("worker", "manager"))
    p.add_argument("--reveal", action="store_true", help="print the whole token")
    p = common(tsub.add_parser("rotate", help="replace the token; nodes in the swarm stay"),
               wait=False)
    p.add_argument("role", choices=("worker", "manager"))
    p.add_argument("--reveal", action="store_true", help="print the whole new token")

    p = sub.add_parser("deploy", help="deploy a project environment as a stack",
                       description="Deploy [projects.P.environments.E] of the config: its "
                                   "compose file, as its stack, on its cluster, with docker "
                                   "stack deploy semantics. Shows what changes, asks, applies, "
                                   "then follows the services until they converge.")
    p.add_argument("project")
    p.add_argument("--env", "-e", metavar="ENV",
                   help="the environment (default: the project's only one)")
    p.add_argument("--dry-run", action="store_true", help="show what would change, only")
    p.add_argument("--prune", action="store_true",
                   help="remove the stack's services the compose file no longer has")
    p.add_argument("--with-registry-auth", action="store_true",
                   help="also send `docker login`'s credentials for the images' registries "
                        "(registries configured for the cluster send their own anyway)")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.add_argument("--detach", "-d", action="store_true",
                   help="return once applied, without following the services")
    p.add_argument("--timeout", type=float, default=300, metavar="SECONDS")

    p = sub.add_parser("audit", help="show the audit log of changes made from this account")
    p.add_argument("-n", type=int, default=50, metavar="N", help="the last N entries")
    p.add_argument("--json", action="store_true", help="print the JSON lines as stored")


# ---- running ---------------------------------------------------------------------------
def run_ops(args: argparse.Namespace) -> int:
    if args.command == "audit":
        return _audit(args)
    config = load_config(args.config)
    if args.command == "deploy":
        return _deploy(config, args)
    if args.command in ("network", "secret", "config"):
        from swarmdeck.cli.resources import run_resources

        return run_resources(config, args)
    if args.command in ("pin", "unpin", "placement"):
        from swarmdeck.cli.placement import run_placement

        return run_placement(config, args)
    cluster = pick_cluster(config, args.cluster)
    return asyncio.run(_run(config, cluster, args))


def _deploy(config: Config, args: argparse.Namespace) -> int:
    from swarmdeck.core.ops import environments
    from swarmdeck.core.ops.deploy import DeployProgress

    prepared = environments.prepare(config, args.project, args.env)  # no connection yet
    # credentials first: a failing credential command stops before any connection
    auth = environments.registry_credentials(config, prepared,
                                             docker_login=args.with_registry_auth)

    async def run() -> int:
        async with change_session(config, prepared.cluster, args) as ops:
            shown = await environments.preview(ops, prepared, prune=args.prune,
                                               registry_auth=auth)
            print(clean_lines(shown.lines()))
            if shown.problems:
                raise UsageError(f"deploy of {prepared.project}/{prepared.environment} refused:"
                                 f" {len(shown.problems)} problem(s) above; nothing changed")
            if args.dry_run or not shown.changed:
                return 0
            _refuse_early(ops, "deploy", prepared.stack)
            confirm(f"Deploy {prepared.project}/{prepared.environment} as stack "
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


def pick_cluster(config: Config, name: str | None) -> str:
    if name:
        config.cluster(name)
        return name
    if len(config.clusters) == 1:
        return next(iter(config.clusters))
    if not config.clusters:
        raise UsageError(f"no clusters configured in {config.path}")
    raise UsageError("which cluster? pass --cluster NAME (configured: "
                     f"{', '.join(config.clusters)})")


async def _run(config: Config, cluster: str, args: argparse.Namespace) -> int:
    async with change_session(config, cluster, args) as ops:
        return await COMMANDS[args.command](ops, args)


@contextlib.asynccontextmanager
async def change_session(config: Config, cluster: str, args: argparse.Namespace
                         ) -> AsyncIterator[ClusterOps]:
    """The cluster's ops for one command, and exactly one audit line per attempted change
    with its true result: made and followed to its outcome, refused, not confirmed, failed,
    or its manager out of reach (a change that could not even be tried is recorded too)."""
    try:
        ops = await open_ops(config, cluster, read_only_flag=args.read_only)
    except SwarmdeckError as exc:
        attempt = attempt_of(args)
        if attempt is not None:
            record_unreached(AuditLog.default(), cluster, *attempt, exc)
        raise
    ops.defer_outcome = True
    try:
        yield ops
    except BaseException as exc:
        try:
            ops.conclude(exc)
        except SwarmdeckError as again:  # the audit log failed since the check: say it too
            print(f"swarmdeck: {clean(str(again))}", file=sys.stderr)
        raise
    else:
        ops.conclude(None)
    finally:
        await ops.session.close()


def attempt_of(args: argparse.Namespace) -> tuple[str, str] | None:
    """The change a command line asks for, as (action, target) for the audit log (None: it
    asks for no change)."""
    command = args.command
    if command == "scale":
        return "scale", ", ".join(t.partition("=")[0] for t in args.targets)
    if command == "update":
        return "update image", args.service
    if command in ("restart", "rollback"):
        return command, args.service
    if command == "rm":
        return f"remove {args.kind}", args.name
    if command == "node":
        return (f"node {args.node_action}",
                getattr(args, "node", None) or getattr(args, "destination", ""))
    if command == "token":
        return (f"token rotate {args.role}", "") if args.token_action == "rotate" else None
    if command in ("network", "secret", "config") and args.resource_action in ("create", "rm"):
        verb = "create" if args.resource_action == "create" else "remove"
        return f"{verb} {command}", args.name
    if command in ("pin", "unpin"):
        return command, args.service
    if command == "deploy":
        return "deploy", f"{args.project}/{args.env or ''}".rstrip("/")
    return None


def _refuse_early(ops: ClusterOps, action: str, target: str) -> None:
    """Read-only refusals come before any question."""
    ops.check_writable(action, target)


async def follow(ops: ClusterOps, started, args: argparse.Namespace) -> int:
    print(clean_lines(started.summary))  # ours, one line per step
    if args.detach or not started.services:
        return 0
    shown: dict[str, str] = {}
    last: list[prog.ServiceProgress] = []
    async for last in prog.watch(ops.docker, started.services, timeout=args.timeout):
        for p in last:
            line = clean(p.line())
            if shown.get(p.service_id) != line:
                shown[p.service_id] = line
                print(f"  {line}", flush=True)
    error = prog.outcome_error(last)
    if error:
        raise error
    return 0


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

    services.check_image(args.image)
    _refuse_early(ops, "update image", args.service)
    current = await ops.service(args.service)
    image = current["Spec"]["TaskTemplate"]["ContainerSpec"].get("Image", "")
    confirm(f"Update {args.service} on {ops.cluster} from {image} to {args.image}?",
            yes=args.yes)
    started = await services.update_image(ops, args.service, args.image,
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


def _audit(args: argparse.Namespace) -> int:
    entries = AuditLog.default().read(args.n)
    if args.json:
        for entry in entries:
            print(render.json_text(entry, indent=None))
        return 0
    rows = [[e.get("time", "")[:19].replace("T", " "), e.get("user", ""), e.get("cluster", ""),
             e.get("action", ""), e.get("target", ""), _params(e.get("params")),
             e.get("result", "") + (f": {e['error']}" if e.get("error") else "")]
            for e in entries]
    print(render.table(["TIME (UTC)", "USER", "CLUSTER", "ACTION", "TARGET", "PARAMS",
                        "RESULT"], rows))
    return 0


def _params(params: Any) -> str:
    if not isinstance(params, dict) or not params:
        return ""
    return " ".join(f"{k}={v}" for k, v in params.items())


COMMANDS: dict[str, Callable[[ClusterOps, argparse.Namespace], Awaitable[int]]] = {
    "scale": _scale, "update": _update, "restart": _restart, "rollback": _rollback,
    "rm": _rm, "node": _node, "token": _token,
}
