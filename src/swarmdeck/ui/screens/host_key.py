"""`T` on a cluster whose manager's SSH host key was refused.

An unknown key is shown (host, port, key type, SHA256 fingerprint, the known_hosts file it
would go to) and trusted only once `yes` is typed; the core then writes the line and records
it in the audit log, and the cluster reconnects at once. A CHANGED key is never offered for
trust: the possible-attack warning shows the old and new fingerprints and what to do.
"""

from __future__ import annotations

import asyncio
from typing import cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Static

from swarmdeck.core.errors import SwarmdeckError
from swarmdeck.core.sanitize import clean
from swarmdeck.core.transport.host_keys import OfferedKey, host_key_problem, trust
from swarmdeck.ui.deck import Deck
from swarmdeck.ui.screens.dialogs import ConfirmDialog

TITLE = "host key"


class HostKeyWarning(ModalScreen[None]):
    """A changed host key: the warning and what to do, with nothing to confirm."""

    DEFAULT_CSS = """
    HostKeyWarning { align: center middle; background: $background 60%; }
    HostKeyWarning .warning { color: $error; text-style: bold; }
    """
    BINDINGS = [Binding("escape", "close", "Close", id="dialog.close")]

    def __init__(self, key: OfferedKey) -> None:
        super().__init__()
        self.key = key

    def compose(self) -> ComposeResult:
        key = self.key
        with Vertical(classes="dialog danger wide"):
            yield Static(Text(clean(
                f"POSSIBLE ATTACK: the host key of {key.name} has CHANGED. Someone may be "
                "intercepting the connection (or the host was reinstalled). The connection "
                "is refused and the new key cannot be trusted from here.")),
                classes="question warning")
            yield Static(Text("\n".join(clean(line) for line in key.describe())),
                         classes="details")
            yield Static(Text(clean(
                "What to do: verify the new fingerprint with the host's owner out of band. "
                f"Only if it is right, remove the old line with `{key.remove_command}`; the "
                "key can then be trusted as a new one.")))
            with Horizontal(classes="buttons"):
                yield Button("Close", id="close", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#close").focus()

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)


def trust_question(key: OfferedKey) -> str:
    return (f"Trust the host key of {key.name}? It is not in known_hosts. Compare its "
            "fingerprint with the one the host's owner gives you (out of band) first.")


async def review_host_key(widget: Widget, cluster: str) -> None:
    """Show the cluster's refused host key: trust an unknown one after confirmation, or
    warn about a changed one."""
    app = cast(Deck, widget.app)
    problem = host_key_problem(app.fleet.state(cluster).error)
    if problem is None or problem.key is None:
        app.notify(f"cluster {cluster}: no refused host key to review", title=TITLE,
                   severity="warning")
        return
    key = problem.key
    if key.changed:
        await app.push_screen_wait(HostKeyWarning(key))
        return
    confirmed = await app.push_screen_wait(ConfirmDialog(
        trust_question(key), typed="yes", details=key.describe()))
    if not confirmed:
        return
    try:
        done = await asyncio.to_thread(trust, key, cluster=cluster,
                                       manager=f"{key.host}:{key.port}")
    except SwarmdeckError as exc:
        app.notify(clean(str(exc)), title=TITLE, severity="error", timeout=10)
        return
    app.notify(clean(f"{done}; reconnecting to {cluster}"), title=TITLE, timeout=6)
    app.fleet.reconnect(cluster)


def host_key_hint(screen, error: BaseException | None) -> str | None:
    """What the header says next to a refused host key: the key that reviews it."""
    problem = host_key_problem(error)
    if problem is None:
        return None
    keys = [screen.app.get_key_display(active.binding)
            for active in screen.active_bindings.values()
            if active.binding.action == "trust_host"]
    what = "host key CHANGED, see why" if problem.changed else "review the host key"
    return f"{keys[0]}: {what}" if keys else what
