"""How `exec` and `port-forward` start: the task's last placement (core.task_hint) is dialled
and its container asked for on its node while, in a thread beside the event loop, the config
is read and the rest of what the command needs is imported. The SSH handshake is round trips
of waiting; the imports (pydantic, the config, the models: ~0.1-0.2 s) are work: they
overlap instead of adding up. The hint's TCP handshake goes out before anything else is
imported (asyncio included). Without a hint, the manager of the cluster (named, or the only
one in the file) is dialled the same way, from the raw config (core.dial_ahead, as `ls`).

The early dials only read (an SSH login, a GET of one container). Nothing is started in a
container before the config has been read, the cluster found read-write and the audit log
writable (core.exec_session.task_access), and the hint is used only when the config agrees
with the settings it was made with (TaskHint.fits).
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from swarmdeck.cli.main import beside_the_loop, import_modules

if TYPE_CHECKING:
    import socket

    from swarmdeck.core.config import Config
    from swarmdeck.core.task_hint import TaskHint, TaskHints

# BODY(config, cluster, hints, early): early is the hint's HintCheck, or None
Body = Callable[..., Awaitable[int]]
# imported as a command's own module is (cli.main.import_modules: without the cyclic
# collector walking them); the transport package first, for its quick liboqs probe
TRANSPORT = ("swarmdeck.core.transport", "swarmdeck.core.task_locate",
             "swarmdeck.core.dial_ahead")
COMMAND = ("swarmdeck.cli.render", "swarmdeck.cli.session", "swarmdeck.core.exec_session",
           "swarmdeck.core.port_forward", "swarmdeck.core.task_exec", "swarmdeck.core.ops.base")


def run(args: argparse.Namespace, body: Body) -> int:
    """BODY(config, cluster, hints, early) on an event loop, the hint of ARGS's target
    (ARGS.target on ARGS.cluster, ARGS.node) checked on its node meanwhile. The hint's TCP
    handshake starts first of all, before even asyncio is imported (~40 ms of work)."""
    from swarmdeck.core.config_paths import config_path
    from swarmdeck.core.task_hint import TaskHints

    hints = TaskHints.default(config_path(args.config), args.cluster or "", args.target,
                              args.node)
    hint = hints.recall()
    sock = hint.early_socket() if hint is not None else None
    import asyncio

    return asyncio.run(_start(args, body, hints, hint, sock))


async def _start(args: argparse.Namespace, body: Body, hints: TaskHints,
                 hint: TaskHint | None, sock: socket.socket | None) -> int:
    # the SSH transport (asyncssh) imported here, before the thread's imports start: the
    # dial goes out first, and their work fills its round trips
    import_modules(*TRANSPORT)
    from swarmdeck.core.transport.ssh import drop_dialled

    early = None
    if hint is not None:
        from swarmdeck.core.task_locate import HintCheck

        early = HintCheck(hint, sock)
    else:  # no hint: the manager will be asked; its handshake starts now (as `ls` does)
        from swarmdeck.core import dial_ahead

        dial_ahead.start_for(args.config, args.cluster)
    try:
        try:
            config, cluster = await beside_the_loop(_configured, args)
        except BaseException:
            if early is not None:
                await early.discard()
            raise
        return await body(config, cluster, hints, early)
    finally:
        await drop_dialled()  # one the config did not ask for after all


def _configured(args: argparse.Namespace) -> tuple[Config, str]:
    """The config and the cluster chosen; what the command will use, imported now."""
    import_modules(*TRANSPORT, *COMMAND)
    from swarmdeck.cli.render import load_config
    from swarmdeck.cli.session import pick_cluster

    config = load_config(args.config)
    return config, pick_cluster(config, args.cluster)
