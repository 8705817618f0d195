"""What every key that changes a cluster shares: the guard (read-only, connection), the
view that follows a change to its outcome, and the cluster-wide changes (join tokens, deploy).
The services' and nodes' keys are in widgets/services_table.py and widgets/nodes_table.py.

Every action goes through the core (core.ops) exactly as the CLI does: the read-only guard
and the audit line come from there. The order is always: refuse if read-only, ask, act,
follow.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from textual.widget import Widget

from swarmdeck.core import actions
from swarmdeck.core.audit import AuditLog
from swarmdeck.core.errors import NotConfirmed, OperationFailed, SwarmdeckError
from swarmdeck.core.ops import progress as prog
from swarmdeck.core.ops.base import ClusterOps, record_unreached
from swarmdeck.core.ops.services import Started
from swarmdeck.core.sanitize import clean
from swarmdeck.ui.deck import Deck, screen_cluster
from swarmdeck.ui.screens.dialogs import ConfirmDialog, PromptDialog
from swarmdeck.ui.screens.operation import OperationScreen
from swarmdeck.ui.widgets.table import LiveTable

Say = Callable[[str], None]
Change = Callable[[ClusterOps, Say], Awaitable[Started | str]]


async def guard(widget: Widget, cluster: str, action: str, target: str) -> ClusterOps | None:
    """The cluster's ops, or None after telling why not (read-only: refused and audited;
    not connected: the error)."""
    app = cast(Deck, widget.app)
    reason = app.read_only_reason(cluster)
    audit = AuditLog.default()
    try:
        if reason:  # refused before any connection: works while the cluster is unreachable
            audit.record(cluster=cluster, manager=None, action=action, target=target,
                         result="refused", error="read-only")
            app.notify(f"{action} refused: cluster {cluster} is read-only ({reason})",
                       title=action, severity="warning", timeout=6)
            return None
        try:
            ops = await app.fleet.ops(cluster, read_only_flag=app.read_only)
        except SwarmdeckError as exc:  # its manager cannot be reached: on record all the same
            record_unreached(audit, cluster, action, target, exc)
            raise
        ops.check_writable(action, target)
    except SwarmdeckError as exc:
        app.notify(clean(str(exc)), title=action, severity="warning", timeout=6)
        return None
    return ops


async def run_change(widget: Widget, ops: ClusterOps, title: str, change: Change, *,
                     good: tuple[str, ...] = (prog.CONVERGED,)) -> bool:
    """Show OperationScreen, make the change, follow it until every service has an outcome."""
    app = widget.app
    view = OperationScreen(title)
    await app.push_screen(view)
    ops.defer_outcome = True  # one audit line, once the outcome is known
    ended: BaseException | None = None
    try:
        result = await change(ops, view.say)
        if isinstance(result, Started):
            view.say(result.summary)
            shown: dict[str, str] = {}
            last: list[prog.ServiceProgress] = []
            if result.services:
                async for last in prog.watch(ops.docker, result.services):
                    for p in last:
                        if shown.get(p.service_id) != p.line():
                            shown[p.service_id] = p.line()
                            view.say("  " + p.line())
            bad = [p for p in last if p.outcome not in good]
            if bad:
                raise OperationFailed("; ".join(p.line() for p in bad))
            outcome = f"{title}: done"
        else:
            outcome = str(result)
    except SwarmdeckError as exc:
        ended = exc
        view.finish(f"failed: {exc}", ok=False)
        app.notify(clean(f"{title} failed: {exc}"), severity="error", timeout=8)
        return False
    except BaseException as exc:  # cancelled (the console quits): still on record
        ended = exc
        raise
    finally:
        try:
            ops.conclude(ended)
        except SwarmdeckError as again:
            app.notify(clean(str(again)), severity="error", timeout=8)
    view.finish(outcome, ok=True)
    app.notify(clean(outcome), timeout=4)
    return True


class ConsoleFront:
    """How a change action (core.actions) meets the operator in the console: a notice when
    nothing would change, the dialog with the plan and the question, the operation view
    that follows the change to its outcome."""

    def __init__(self, widget: Widget) -> None:
        self.widget = widget

    def tell(self, nothing: actions.Nothing) -> None:
        # nothing is wrong: the cluster is already as asked
        self.widget.app.notify(clean(nothing.text), severity="information", timeout=4)

    async def ask(self, plan: actions.Plan) -> bool:
        app: Any = self.widget.app
        return bool(await app.push_screen_wait(ConfirmDialog(
            plan.question, details=plan.details, typed=plan.typed, danger=plan.danger)))

    async def carry_out(self, ops: ClusterOps, plan: actions.Plan) -> bool:
        return await run_change(self.widget, ops, plan.title, plan.change, good=plan.good)


async def perform(widget: Widget, cluster: str, action: actions.Action, *,
                  ops: ClusterOps | None = None, asked: bool = False) -> bool:
    """Run ACTION through the one policy (core.actions.run_action): refused when read-only
    (before any connection), planned, asked, made and followed. OPS: the guard already
    passed (the operator was asked for inputs after it). True once the change was made
    and reached a good outcome."""
    if ops is None:
        ops = await guard(widget, cluster, action.name, action.target or cluster)
        if ops is None:
            return False
    try:
        return bool(await actions.run_action(ops, action, ConsoleFront(widget), asked=asked))
    except SwarmdeckError as exc:  # refused by the plan, or not confirmed: nothing changed
        try:
            ops.conclude(exc)
        except SwarmdeckError as again:
            widget.app.notify(clean(str(again)), severity="error", timeout=8)
        if not isinstance(exc, NotConfirmed):
            widget.app.notify(clean(str(exc)), title=action.name, severity="warning",
                              timeout=6)
        return False


def split_key(widget: LiveTable) -> tuple[str, str] | None:
    key = widget.selected_key
    if key is None:
        return None
    screen = widget.screen
    if "/" in key:
        cluster, _, object_id = key.rpartition("/")
        return cluster, object_id
    return screen_cluster(screen), key



async def rotate_token(widget: Widget, cluster: str) -> None:
    """The `t` key: refused at once when read-only, then the role, then the question."""
    app = widget.app
    ops = await guard(widget, cluster, "token rotate", cluster)
    if ops is None:
        return
    role = await app.push_screen_wait(PromptDialog(
        f"Rotate which join token of {cluster}? (worker or manager)", "worker",
        validate=lambda v: None if v in ("worker", "manager") else "worker or manager"))
    if role is not None:
        await perform(widget, cluster, actions.token_rotate(role), ops=ops)


async def deploy_environment(widget: Widget, project: str, environment: str,
                             revision: int | None = None) -> bool:
    """The `d` key on a project environment: check the compose file, preview, ask, apply,
    follow until the services converge. REVISION: deploy that revision of the history kept
    on the cluster again instead (the history view's `d`), through the same preview and
    question. True once a change was made and converged."""
    from swarmdeck.core.ops import environments

    app = cast(Deck, widget.app)
    name = f"{project}/{environment}"
    again = f" (revision {revision} again)" if revision else ""
    prepared: environments.Prepared | None = None
    try:
        if revision is None:
            prepared = environments.prepare(app.config, project, environment)
            cluster, stack = prepared.cluster, prepared.stack
        else:  # the plan is the one stored on the cluster, read once connected
            environment, env_config = environments.prepare_revision(app.config, project,
                                                                     environment)
            cluster, stack = env_config.cluster, env_config.stack
    except SwarmdeckError as exc:
        problems = getattr(exc, "problems", None) or [str(exc)]
        await app.push_screen(_failed_view(f"deploy {name}", problems))
        return False
    ops = await guard(widget, cluster, "deploy", stack)
    if ops is None:
        return False
    try:
        if prepared is None:
            prepared = await environments.revision_plan(ops, project, environment, env_config,
                                                        revision or 0)
        shown = await environments.preview(ops, prepared)
    except SwarmdeckError as exc:
        app.notify(clean(f"deploy preview failed: {exc}"), severity="error", timeout=8)
        return False
    if shown.problems:
        await app.push_screen(_failed_view(f"deploy {name}", shown.lines()))
        return False
    if not shown.changed:
        app.notify(f"{name}: revision {revision} is what runs now, nothing to change"
                   if revision else f"{name}: stack {stack} is up to date, nothing to change",
                   timeout=4)
        return False
    if not await app.push_screen_wait(ConfirmDialog(
            f"Deploy {name}{again} as stack {stack} on {cluster}?", details=shown.lines())):
        return False
    return await run_change(widget, ops, f"deploy {name}{again}",
                            lambda o, _s: environments.deploy(o, prepared, shown))


def _failed_view(title: str, lines: list[str]) -> OperationScreen:
    view = OperationScreen(title)
    for line in lines:
        view.say(line)
    view.finish("refused: nothing was changed", ok=False)
    return view
