"""A shell in a task from the console: the console steps aside (Textual's suspend: the
terminal as it was before the console started), the shell gets the terminal as
`swarmdeck exec` gives it, and the console comes back when the shell ends. The same guard
as the CLI: read-only refuses, one audit line per attempt.

A service with more than one running replica asks which first (pick_replica, which the
port-forward key uses too): slot, node and state of each."""

from __future__ import annotations

import sys
from typing import cast

from textual.widget import Widget

from swarmdeck.core.audit import AuditLog
from swarmdeck.core.errors import ExecFailed, SwarmdeckError
from swarmdeck.core.exec_session import run_session, task_access
from swarmdeck.core.inventory import ClusterState
from swarmdeck.core.models import Service, Task
from swarmdeck.core.sanitize import clean
from swarmdeck.core.task_exec import TaskExec
from swarmdeck.ui.deck import Deck
from swarmdeck.ui.screens.dialogs import PickDialog

TITLE = "shell"


async def pick_replica(widget: Widget, cluster: str, service: Service, what: str
                       ) -> tuple[str, str | None] | None:
    """(REF, NODE) of the task to use for WHAT ("a shell"): asked in a picker when SERVICE
    has more than one running replica, else the service itself (core.task_exec.pick_task
    then says what is wrong with it, and the guard refuses a read-only cluster before any
    question). None: cancelled."""
    app = cast(Deck, widget.app)
    state = app.fleet.state(cluster)
    running = sorted((t for t in state.tasks_of(service.id) if t.is_running),
                     key=lambda t: (t.slot or 0, state.node_name(t.node_id)))
    if len(running) < 2 or app.is_read_only(cluster):
        return service.name, None
    slotted = service.mode.startswith("replicated")
    choices = [(str(i), f"{f'slot {t.slot}' if slotted else 'task'}  on "
                        f"{state.node_name(t.node_id)}  {t.state}  {(t.container_id or '')[:12]}")
               for i, t in enumerate(running)]
    picked = await app.push_screen_wait(PickDialog(
        f"{what} in which replica of {service.name} on {cluster}?", choices))
    return None if picked is None else task_ref(state, service, running[int(picked)])


def task_ref(state: ClusterState, service: Service, task: Task) -> tuple[str, str | None]:
    """(REF, NODE) naming TASK as pick_task takes it: SERVICE.SLOT, or SERVICE on NODE for a
    global service's task."""
    if task.slot is not None and service.mode.startswith("replicated"):
        return f"{service.name}.{task.slot}", None
    return service.name, state.node_name(task.node_id)


async def open_shell(widget: Widget, cluster: str, ref: str, *, node: str | None = None) -> None:
    """A shell in REF's task (SERVICE or SERVICE.SLOT, on NODE) on CLUSTER; what went wrong
    is said in a notification."""
    app = cast(Deck, widget.app)
    params: dict = {"command": "(shell)"}
    try:
        async with task_access(app.fleet, cluster, ref, node=node, action="exec",
                               params=params, read_only=app.read_only_reason(cluster),
                               audit=AuditLog.default(), fresh=False) as found:
            target, engine = found.target, found.engine
            stdin, terminal = sys.__stdin__, sys.__stderr__
            if app.is_headless or stdin is None or terminal is None:  # no terminal to hand over
                raise ExecFailed("a shell needs the console to run in a terminal")
            task_exec = TaskExec(engine, target.container_id)
            command = await task_exec.shell(app.config.exec.shell, target.service.image)
            params["command"] = command
            # the console draws on stderr and reads stdin: the shell gets that terminal
            with app.suspend():
                terminal.write(f"swarmdeck: shell in {clean(target.replica)} on "
                               f"{clean(target.node.hostname)}; exit it to return\n")
                terminal.flush()
                status = await run_session(task_exec, command, None, stdin=stdin,
                                           stdout=terminal, stderr=terminal,
                                           label=engine.label, terminate_on_sigterm=False)
            params["exit_status"] = status
    except SwarmdeckError as exc:
        app.notify(clean(str(exc)), title=TITLE, severity="warning", timeout=8)
        return
    app.notify(f"shell in {clean(target.replica)} ended (exit status {status})", title=TITLE,
               timeout=4)
