"""Port-forwards from the console (`>` on a service or a task, `:pf`): the same forward as
`swarmdeck port-forward` (core.port_forward), listening in the console's own event loop, with
the same guard (read-only refuses, one audit line per forward, written when it ends). The
app keeps the active ones (app.forwards, listed by `:forwards`) and closes them all when it
quits."""

from __future__ import annotations

import asyncio
import contextlib
from typing import cast

from textual.widget import Widget

from swarmdeck.core.audit import AuditLog
from swarmdeck.core.errors import SwarmdeckError
from swarmdeck.core.exec_session import task_access
from swarmdeck.core.models import Service
from swarmdeck.core.port_forward import (
    ActiveForward,
    Forwarder,
    route_to,
    task_router,
)
from swarmdeck.core.port_spec import PortSpec, parse_ports
from swarmdeck.core.sanitize import clean
from swarmdeck.ui.deck import Deck
from swarmdeck.ui.screens.dialogs import PromptDialog
from swarmdeck.ui.shell import pick_replica

TITLE = "port-forward"


def ports_error(value: str) -> str | None:
    try:
        parse_ports(value)
    except SwarmdeckError as exc:
        return str(exc)
    return None


async def ask_and_forward(widget: Widget, cluster: str, service: Service,
                          ports: str | None = None, *, ref: str | None = None,
                          node: str | None = None) -> None:
    """The `>` key: which replica (when more than one runs and REF does not say), which
    ports (unless PORTS), then the forward."""
    app = cast(Deck, widget.app)
    if ref is None:
        picked = await pick_replica(widget, cluster, service, "Port-forward")
        if picked is None:
            return
        ref, node = picked
    if app.is_read_only(cluster):  # refused (and audited) before asking for ports
        await run_forward(app, cluster, ref, None, node=node)
        return
    if ports is None:
        ports = await app.push_screen_wait(PromptDialog(
            f"Forward a port of {ref} on {cluster}: [LOCAL:]REMOTE (LOCAL 0: any free port)",
            placeholder="8080, or 18080:80", validate=ports_error))
        if ports is None:
            return
    start_forward(app, cluster, ref, parse_ports(ports), node=node)


def start_forward(app: Deck, cluster: str, ref: str, ports: PortSpec, *,
                  node: str | None = None) -> None:
    """The forward runs as long as the console (or until stopped) in an app worker: not a
    screen's, which would end with the screen."""
    app.run_worker(run_forward(app, cluster, ref, ports, node=node), group="forwards",
                   name=f"port-forward {ref}", exit_on_error=False)


async def run_forward(app: Deck, cluster: str, ref: str, ports: PortSpec | None, *,
                      node: str | None = None) -> None:
    """PORTS None: only for a read-only cluster, which refuses before they are needed."""
    params: dict = {"remote_port": ports.remote} if ports else {}
    quitting = False
    ended = asyncio.Event()
    app.forwards._ended.add(ended)

    def say(line: str, **kwargs) -> None:
        if app.is_running:
            app.notify(clean(line), title=TITLE, **kwargs)

    try:
        async with task_access(app.fleet, cluster, ref, node=node, action="port-forward",
                               params=params, read_only=app.read_only_reason(cluster),
                               audit=AuditLog.default(), fresh=False) as found:
            assert ports is not None
            target = found.target
            route = await route_to(target, found.engine)
            forwarder = Forwarder(
                route, port=ports.remote,
                on_note=lambda line: say(line, severity="warning", timeout=6),
                reroute=task_router(app.fleet, cluster, ref, node=node, fresh=False))
            local = await forwarder.listen(ports.local)
            params.update(local_port=local, address=route.address)
            forward = ActiveForward(cluster, ref, forwarder)
            app.forwards.active.append(forward)
            say(f"forwarding 127.0.0.1:{local} -> {target.replica} {route.address}:"
                f"{ports.remote} on {target.node.hostname} (:forwards lists them)", timeout=6)
            try:
                await forward.stop.wait()
            except asyncio.CancelledError:  # the console quits: the forward ends as it should
                quitting = True
            finally:
                with contextlib.suppress(ValueError):
                    app.forwards.active.remove(forward)
                await forwarder.close()
            params.update(connections=forwarder.total, bytes_in=forwarder.bytes_in,
                          bytes_out=forwarder.bytes_out)
        if quitting:
            raise asyncio.CancelledError  # once its audit line says it ended well
        say(f"stopped forwarding 127.0.0.1:{local} ({forwarder.summary()})", timeout=4)
    except SwarmdeckError as exc:
        say(str(exc), severity="warning", timeout=8)
    finally:
        ended.set()
        app.forwards._ended.discard(ended)
