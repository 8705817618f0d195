"""A shell in a task from the console: the console steps aside (Textual's suspend: the
terminal as it was before the console started), the shell gets the terminal as
`swarmdeck exec` gives it, and the console comes back when the shell ends. The same guard
as the CLI: read-only refuses, one audit line per attempt."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from textual.widget import Widget

from swarmdeck.core.audit import AuditLog
from swarmdeck.core.errors import ExecFailed, SwarmdeckError
from swarmdeck.core.exec_session import run_session, task_access
from swarmdeck.core.sanitize import clean
from swarmdeck.core.task_exec import TaskExec

if TYPE_CHECKING:
    from swarmdeck.ui.app import SwarmdeckApp

TITLE = "shell"


async def open_shell(widget: Widget, cluster: str, ref: str, *, node: str | None = None) -> None:
    """A shell in REF's task (SERVICE or SERVICE.SLOT, on NODE) on CLUSTER; what went wrong
    is said in a notification."""
    app: SwarmdeckApp = widget.app  # type: ignore[assignment]
    params: dict = {"command": "(shell)"}
    try:
        async with task_access(app.fleet, cluster, ref, node=node, action="exec",
                               params=params, read_only=app.read_only_reason(cluster),
                               audit=AuditLog.default(), fresh=False) as (target, engine):
            if app.is_headless:  # no terminal to hand over
                raise ExecFailed("a shell needs the console to run in a terminal")
            task_exec = TaskExec(engine, target.container_id)
            command = await task_exec.shell(app.config.exec.shell, target.service.image)
            params["command"] = command
            # the console draws on stderr and reads stdin: the shell gets that terminal
            with app.suspend():
                sys.__stderr__.write(f"swarmdeck: shell in {clean(target.replica)} on "
                                     f"{clean(target.node.hostname)}; exit it to return\n")
                sys.__stderr__.flush()
                status = await run_session(task_exec, command, None, stdin=sys.__stdin__,
                                           stdout=sys.__stderr__, stderr=sys.__stderr__,
                                           label=engine.label, terminate_on_sigterm=False)
            params["exit_status"] = status
    except SwarmdeckError as exc:
        app.notify(clean(str(exc)), title=TITLE, severity="warning", timeout=8)
        return
    app.notify(f"shell in {clean(target.replica)} ended (exit status {status})", title=TITLE,
               timeout=4)
