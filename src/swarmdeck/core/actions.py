"""Change actions as data, and the one engine that runs them for the CLI and the console.

An action is what an operator asked for (scale web to 3, drain prod-w1), already given its
inputs: its audit name and target, and `plan`, which reads the cluster as it is now and
says what would happen (a Plan: the question, the details shown before it, a name to type,
the core call, the outcomes that count as done), or that nothing would change (Nothing).

run_action is the policy, written once: refuse when read-only or leaderless (on record),
plan, ask (a front: the CLI's terminal or the console's dialog), act, follow to the outcome.
Both fronts show the same question text, because there is only one.

The fronts differ only in how they ask, show progress and report (cli/actions.py,
ui/actions.py); the inputs (the count typed, the host to join) are gathered by the front
before the action is made.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from swarmdeck.core.errors import NotConfirmed, UsageError
from swarmdeck.core.models import Node
from swarmdeck.core.ops import progress as prog
from swarmdeck.core.ops.base import ClusterOps
from swarmdeck.core.ops.services import Started
from swarmdeck.core.transport.ssh import SSHSettings

Say = Callable[[str], None]
Change = Callable[[ClusterOps, Say], Awaitable[Started | str]]


@dataclass
class Plan:
    """What an action would do, as both fronts show it before asking."""

    title: str  # what is being done, e.g. "scale web to 3" (the progress view's title)
    question: str  # the one text asked (the first sentence names the change)
    change: Change  # the core call; a Started is followed until its services settle
    details: list[str] = field(default_factory=list)  # the plan, shown before the question
    heading: str | None = None  # the details' title where a terminal shows them
    typed: str | None = None  # the operator types this to confirm (destructive changes)
    danger: bool = False
    good: tuple[str, ...] = (prog.CONVERGED,)  # the outcomes that count as done

    @property
    def asked(self) -> str:
        """The question's first sentence (what a refusal without a terminal repeats)."""
        return self.question.split("?", 1)[0]


@dataclass
class Nothing:
    """The action would change nothing: said, not asked, not recorded as a change."""

    text: str
    details: list[str] = field(default_factory=list)
    heading: str | None = None


@dataclass
class Action:
    name: str  # the audit action ("scale", "node drain")
    target: str  # the audit target (a service, a node, the cluster)
    plan: Callable[[ClusterOps], Awaitable[Plan | Nothing]]


class Front(Protocol):
    """How one front (the CLI, the console) meets the operator."""

    def tell(self, nothing: Nothing) -> None: ...
    async def ask(self, plan: Plan) -> bool: ...
    async def carry_out(self, ops: ClusterOps, plan: Plan) -> Any: ...


async def run_action(ops: ClusterOps, action: Action, front: Front, *,
                     asked: bool = False) -> Any:
    """Refuse (read-only, no leader: on record), plan, ask, act and follow. ASKED: the
    operator has just confirmed by giving the input itself (the console's scale prompt).
    Raises NotConfirmed when the answer is no; returns what the front's carry_out gives
    (None when nothing would change). The caller concludes the attempt (ops.conclude)."""
    ops.check_writable(action.name, action.target or ops.cluster)
    planned = await action.plan(ops)
    if isinstance(planned, Nothing):
        front.tell(planned)
        return None
    if not asked and not await front.ask(planned):
        raise NotConfirmed("not confirmed: nothing was changed")
    return await front.carry_out(ops, planned)


# ---- services ----------------------------------------------------------------------------
def scale(wanted: dict[str, int], *, force: bool = False) -> Action:
    from swarmdeck.core.ops import services

    counts = ", ".join(f"{name} to {count}" for name, count in wanted.items())

    async def plan(ops: ClusterOps) -> Plan:
        await services.check_scales(ops, wanted, force=force)  # refused before asking
        return Plan(f"scale {counts}", f"Scale {counts} on {ops.cluster}?",
                    lambda o, _say: services.scale(o, wanted, force=force))

    return Action("scale", ", ".join(wanted), plan)


def update_image(service: str, image: str, *, docker_login: bool = False) -> Action:
    from swarmdeck.core.ops import services

    services.check_image(image)

    async def plan(ops: ClusterOps) -> Plan | Nothing:
        current = await ops.service(service)
        now = current["Spec"]["TaskTemplate"]["ContainerSpec"].get("Image", "")
        if now == image:
            return Nothing(f"{service} already runs {image}: nothing to change")
        return Plan(f"update {service}",
                    f"Update {service} on {ops.cluster} from {now} to {image}?",
                    lambda o, _say: services.update_image(o, service, image,
                                                          docker_login=docker_login))

    return Action("update image", service, plan)


def pull_update(service: str, image: str | None, *, docker_login: bool = False) -> Action:
    from swarmdeck.core.ops import services

    async def plan(ops: ClusterOps) -> Plan:
        current = await ops.service(service)
        now = current["Spec"]["TaskTemplate"]["ContainerSpec"].get("Image", "")
        ref = image or now.split("@", 1)[0]
        return Plan(f"update {service}",
                    f"Update {service} on {ops.cluster} to the digest the registry holds "
                    f"now for {ref} (running {now})?",
                    lambda o, _say: services.pull_update(o, service, image,
                                                         docker_login=docker_login))

    return Action("update image", service, plan)


def restart(service: str) -> Action:
    from swarmdeck.core.ops import services

    async def plan(ops: ClusterOps) -> Plan:
        await ops.service(service)
        return Plan(f"restart {service}", f"Restart every task of {service} on {ops.cluster}?",
                    lambda o, _say: services.restart(o, service))

    return Action("restart", service, plan)


def rollback(service: str) -> Action:
    from swarmdeck.core.ops import rollback as rollbacks
    from swarmdeck.core.ops import services

    async def plan(ops: ClusterOps) -> Plan:
        survey = await rollbacks.survey(ops, service)  # refused here without a previous spec
        return Plan(f"rollback {service}",
                    f"Roll {service} on {ops.cluster} back to its previous spec?",
                    lambda o, _say: services.rollback(o, service), details=survey.lines(),
                    good=(prog.ROLLED_BACK, prog.CONVERGED))

    return Action("rollback", service, plan)


def remove_service(service: str) -> Action:
    from swarmdeck.core.ops import services

    async def plan(ops: ClusterOps) -> Plan:
        await ops.service(service)
        return Plan(f"remove {service}",
                    f"Remove service {service} from {ops.cluster}? Its tasks stop.",
                    lambda o, _say: services.remove_service(o, service), typed=service,
                    danger=True)

    return Action("remove service", service, plan)


def remove_stack(stack: str) -> Action:
    from swarmdeck.core.ops import services

    async def plan(ops: ClusterOps) -> Plan:
        objects = await services.stack_objects(ops, stack)
        if not any(objects.values()):  # never removed unasked, even if it appears now
            raise await services.missing_stack(ops, stack)
        names = [s["Spec"]["Name"] for s in objects["services"]]
        return Plan(f"remove stack {stack}",
                    f"Remove stack {stack} ({', '.join(names) or 'no services'}) from "
                    f"{ops.cluster}?", lambda o, _say: services.remove_stack(o, stack),
                    typed=stack, danger=True)

    return Action("remove stack", stack, plan)


def placement(service: str, name: str, decide: Callable[[Any, str], Any], *,
              force: bool = False) -> Action:
    """Pin, unpin or set SERVICE's placement constraints (NAME: the audit's action).
    DECIDE(survey, cluster) gives the core.ops.placement Change from the service and the
    nodes as they are now. A change after which no node could run the tasks is refused
    unless FORCE; forced, it is asked as a danger, the verdict first."""
    from swarmdeck.core.ops import placement as ops_placement

    async def plan(ops: ClusterOps) -> Plan | Nothing:
        found = await ops_placement.survey(ops, service)
        change = decide(found, ops.cluster)
        if not change.changed:
            return Nothing(f"{found.name}: constraints already "
                           f"{ops_placement.listed(change.after)}: nothing to change")
        refusal = change.refusal(force=force)
        if refusal is not None:
            raise refusal
        verb, placeable = change.action.capitalize(), change.placement.placeable
        question = f"{verb} {found.name} on {ops.cluster}?" if placeable else \
            f"{change.placement.verdict()}.\n{verb} {found.name} on {ops.cluster} anyway?"
        return Plan(f"{change.action} {found.name}", question,
                    lambda o, _say: ops_placement.apply(o, change, force=force),
                    details=change.lines(), danger=not placeable)

    return Action(name, service, plan)


# ---- nodes -------------------------------------------------------------------------------
_VERBS = {"drain": "Drain", "active": "Activate", "pause": "Pause"}


async def _node_now(ops: ClusterOps, node: str, **wanted: str
                    ) -> tuple[dict[str, Any], str, str | None]:
    """NODE's inspect data, its hostname, and why WANTED would change nothing (None: it
    would change something), read from the cluster now."""
    from swarmdeck.core.ops import nodes

    data = await ops.node(node)
    return (data, data["Description"]["Hostname"],
            nodes.already(Node.from_api(data), **wanted))


def node_availability(node: str, availability: str) -> Action:
    """Drain (with its plan: the tasks that move, the services left short), activate or
    pause NODE (a hostname or ID)."""
    from swarmdeck.core.ops import drain, nodes

    if availability not in _VERBS:
        raise UsageError(f"availability {availability!r}: drain, active or pause")
    verb = _VERBS[availability]

    async def plan(ops: ClusterOps) -> Plan | Nothing:
        data, host, unchanged = await _node_now(ops, node, availability=availability)
        if unchanged:
            return Nothing(unchanged)
        if availability != "drain":
            return Plan(f"{availability if availability != 'active' else 'activate'} {host}",
                        f"{verb} node {host} on {ops.cluster}?",
                        lambda o, _say: nodes.set_availability(o, data["ID"], availability))
        survey = await drain.survey(ops, data["ID"])
        short = ", ".join(s.service.name for s in survey.short)
        question = f"Drain node {host} on {ops.cluster}? Its tasks stop there."
        return Plan(f"drain {host}",
                    f"{short} would end up below the desired count.\n{question}" if short
                    else question,
                    lambda o, _say: drain.drain(o, survey), details=survey.lines(),
                    heading=f"drain {host} on {ops.cluster}:", danger=bool(short),
                    good=(prog.CONVERGED, prog.SHORT))

    return Action(f"node {availability}", node, plan)


def node_role(node: str, role: str) -> Action:
    from swarmdeck.core.ops import nodes

    verb = "promote" if role == "manager" else "demote"

    async def plan(ops: ClusterOps) -> Plan | Nothing:
        data, host, unchanged = await _node_now(ops, node, role=role)
        if unchanged:
            return Nothing(unchanged)
        return Plan(f"{verb} {host}", f"{verb.capitalize()} {host} on {ops.cluster} to {role}?",
                    lambda o, _say: nodes.set_role(o, data["ID"], role))

    return Action(f"node {verb}", node, plan)


def node_labels(node: str, edits: Any) -> Action:
    """EDITS: a core.ops.node_labels.LabelEdits (the keys set and removed; the others
    stay)."""
    from swarmdeck.core.ops import node_labels as labels

    async def plan(ops: ClusterOps) -> Plan | Nothing:
        survey = await labels.survey(ops, node, edits)
        host = survey.node.hostname
        details, heading = survey.lines(), f"labels of {host} on {ops.cluster}:"
        if not survey.changes:
            already = [line for line in details if line.startswith("already")]
            return Nothing(f"labels of {host}: nothing changed"
                           + (f" ({already[0]})" if already else ""), details, heading)
        warning = labels.affected_summary(survey.affected)
        question = f"Change the labels of {host} on {ops.cluster}?"
        return Plan(f"labels of {host}", f"{warning}.\n{question}" if warning else question,
                    lambda o, _say: labels.apply(o, survey), details=details,
                    heading=heading, danger=bool(warning))

    return Action("node label", node, plan)


def node_remove(node: str, *, settings: SSHSettings, timeout: float | None = None) -> Action:
    from swarmdeck.core.ops import nodes

    async def plan(ops: ClusterOps) -> Plan:
        data = await ops.node(node)
        host = data["Description"]["Hostname"]
        return Plan(f"remove {host}",
                    f"Remove node {host} from {ops.cluster}? It is drained, its tasks move, "
                    "a manager is demoted, then it leaves the swarm.",
                    lambda o, say: nodes.remove_node(
                        o, data["ID"], settings=settings, user=o.session.resolved.user,
                        say=say, **({} if timeout is None else {"timeout": timeout})),
                    typed=host, danger=True)

    return Action("node remove", node, plan)


def node_add(destination: str, role: str, *, settings: SSHSettings,
             advertise_addr: str | None = None, timeout: float = 120) -> Action:
    from swarmdeck.core.ops import join

    async def plan(ops: ClusterOps) -> Plan:
        async def change(o: ClusterOps, say: Say) -> str:
            node = await join.add_node(o, destination, role, settings=settings,
                                       advertise_addr=advertise_addr, timeout=timeout,
                                       progress=say)
            host = (node.get("Description") or {}).get("Hostname", destination)
            return f"joined {host} to {o.cluster} as a {role}: ready"

        return Plan(f"add {destination} to {ops.cluster}",
                    f"SSH into {destination} and join it to {ops.cluster} as a {role}?", change)

    return Action("node add", destination, plan)


# ---- the swarm ---------------------------------------------------------------------------
def token_rotate(role: str, *, reveal: bool = False) -> Action:
    from swarmdeck.core.ops import tokens

    async def plan(ops: ClusterOps) -> Plan:
        async def change(o: ClusterOps, _say: Say) -> str:
            token = await tokens.rotate(o, role, reveal=reveal)
            return f"rotated the {role} join token of {o.cluster}: now {token}"

        return Plan(f"rotate the {role} token of {ops.cluster}",
                    f"Rotate the {role} join token of {ops.cluster}? Nodes in the swarm stay; "
                    "hosts not yet joined need the new token.", change)

    return Action(f"token rotate {role}", "", plan)  # the target: the cluster
