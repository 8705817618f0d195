"""`swarmdeck port-forward SERVICE[.SLOT] [LOCAL:]REMOTE`: 127.0.0.1:LOCAL carried to REMOTE
of a task's container, through the SSH connection of the node that runs it, until Ctrl+C or
SIGTERM. The task is picked as `exec` picks it; read-only refuses it; one audit line."""

from __future__ import annotations

import argparse
import signal
import sys
from typing import TYPE_CHECKING

from swarmdeck.cli import early as early_start
from swarmdeck.core.sanitize import clean

if TYPE_CHECKING:
    from swarmdeck.core.config import Config
    from swarmdeck.core.task_hint import TaskHints
    from swarmdeck.core.task_locate import HintCheck


def run_port_forward(args: argparse.Namespace) -> int:
    from swarmdeck.core.port_spec import parse_ports

    ports = parse_ports(args.ports)  # bad input before any connection (the dial goes first)
    return early_start.run(args, lambda config, cluster, hints, early: _run(
        config, cluster, args, ports, hints, early))


async def _run(config: Config, cluster: str, args: argparse.Namespace, ports,
               hints: TaskHints, early: HintCheck | None) -> int:
    from swarmdeck.core.fleet import Fleet
    from swarmdeck.core.ops.base import read_only_reason

    fleet = Fleet(config)
    try:
        return await _forward(fleet, cluster, args, ports,
                              read_only_reason(config, cluster, args.read_only), hints, early)
    finally:
        await fleet.close()


async def _forward(fleet, cluster: str, args: argparse.Namespace, ports,
                   read_only: str | None, hints: TaskHints,
                   early: HintCheck | None) -> int:
    import asyncio

    from swarmdeck.core.audit import AuditLog
    from swarmdeck.core.exec_session import task_access
    from swarmdeck.core.port_forward import Forwarder, gwbridge, route_to, task_router

    params: dict = {"remote_port": ports.remote}
    async with task_access(fleet, cluster, args.target, node=args.node,
                           action="port-forward", params=params, audit=AuditLog.default(),
                           read_only=read_only, hints=hints, early=early,
                           ahead=gwbridge) as found:  # read beside a hint's check
        target, engine = found.target, found.engine
        route = await route_to(target, engine, found.container, found.ahead)
        address = route.address
        forwarder = Forwarder(route, port=ports.remote,
                              on_note=lambda line: print(f"swarmdeck: {clean(line)}",
                                                         file=sys.stderr, flush=True),
                              reroute=task_router(fleet, cluster, args.target, node=args.node,
                                                  fresh=True))
        local = await forwarder.listen(ports.local)
        params.update(local_port=local, address=address)
        print(f"forwarding 127.0.0.1:{local} -> {clean(target.replica)} "
              f"{clean(address)}:{ports.remote} on {clean(target.node.hostname)} (Ctrl+C stops)",
              flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            lost = asyncio.ensure_future(engine.conn.wait_closed())
            done = asyncio.ensure_future(stop.wait())
            await asyncio.wait({lost, done}, return_when=asyncio.FIRST_COMPLETED)
            for fut in (lost, done):
                fut.cancel()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            await forwarder.close()
        if not stop.is_set():
            from swarmdeck.core.errors import ConnectionLost

            raise ConnectionLost(f"lost connection to {engine.label}: nothing is forwarded "
                                 "any more")
        print(f"swarmdeck: stopped forwarding ({forwarder.summary()})", file=sys.stderr)
    return 0
