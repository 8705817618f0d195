"""A cluster's overlay networks, secrets and configs, with the services using each.

Self-contained: it reads through the app's `fleet.ops(cluster)` on mount, on `r`, and after
each change it makes (no polling: these change rarely, and never by themselves). Changes go
the way of every console change: ui.operations.guard (read-only refusal, audited), a
question, then ui.operations.run_change. Secret data is never shown; config data is, made
inert first.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static

from swarmdeck.core.errors import SwarmdeckError
from swarmdeck.core.models import STACK_LABEL
from swarmdeck.core.ops import resources
from swarmdeck.core.ops.resources import NetworkRow, Resources, SecretRow
from swarmdeck.core.sanitize import clean
from swarmdeck.ui.deck import DeckScreen
from swarmdeck.ui.operations import guard, run_change
from swarmdeck.ui.screens.dialogs import ConfirmDialog, PromptDialog
from swarmdeck.ui.widgets.cells import age_text
from swarmdeck.ui.widgets.footer import KeysFooter
from swarmdeck.ui.widgets.table import LiveTable

NETWORK_COLUMNS = [("name", "NAME"), ("encrypted", "ENCRYPTED"), ("attachable", "ATTACHABLE"),
                   ("internal", "INTERNAL"), ("subnets", "SUBNETS"), ("stack", "STACK"),
                   ("services", "SERVICES")]
SECRET_COLUMNS = [("name", "NAME"), ("created", "CREATED>"), ("updated", "UPDATED>"),
                  ("stack", "STACK"), ("labels", "LABELS"), ("services", "SERVICES")]
CONFIG_COLUMNS = [("name", "NAME"), ("size", "SIZE>"), ("created", "CREATED>"),
                  ("updated", "UPDATED>"), ("stack", "STACK"), ("services", "SERVICES")]


def _flag(on_: bool) -> Text:
    return Text("yes", style="bold") if on_ else Text("no", style="dim")


def _services(names: list[str]) -> Text:
    return Text(clean(", ".join(names)), style="") if names else Text("-", style="dim")


def network_cells(row: NetworkRow) -> list:
    return [row.name + (" (ingress)" if row.ingress else ""), _flag(row.encrypted),
            _flag(row.attachable), _flag(row.internal), ", ".join(row.subnets) or "-",
            row.stack or "-", _services(row.services)]


def secret_cells(row: SecretRow) -> list:
    labels = ", ".join(f"{k}={v}" for k, v in sorted(row.labels.items())
                       if k != STACK_LABEL)
    return [row.name, age_text(row.created_at), age_text(row.updated_at), row.stack or "-",
            labels or "-", _services(row.services)]


def config_cells(row: SecretRow) -> list:
    size = Text(f"{row.size} B" if row.size is not None else "-", justify="right")
    return [row.name, size, age_text(row.created_at), age_text(row.updated_at),
            row.stack or "-", _services(row.services)]


class ResourceTable(LiveTable):
    """One kind's table; `n` and `x` act on that kind (the screen does the work)."""

    kind: ClassVar[str] = ""

    @property
    def owner(self) -> ResourcesScreen:
        """The screen these tables live on."""
        return cast("ResourcesScreen", self.screen)

    def action_create(self) -> None:
        self.owner.start_create(self.kind)

    def action_remove(self) -> None:
        self.owner.start_remove(self.kind, self.selected_key)

    def action_rotate(self) -> None:
        self.owner.start_rotate(self.kind, self.selected_key)

    def action_edit(self) -> None:
        self.owner.start_edit(self.selected_key)


class NetworksTable(ResourceTable):
    kind = "network"
    BINDINGS = [
        Binding("n", "create", "New network", id="resources.network.create"),
        Binding("x", "remove", "Remove", id="resources.network.remove"),
    ]


class SecretsTable(ResourceTable):
    kind = "secret"
    BINDINGS = [
        Binding("n", "create", "New secret", id="resources.secret.create"),
        Binding("R", "rotate", "Rotate", id="resources.secret.rotate"),
        Binding("x", "remove", "Remove", id="resources.secret.remove"),
    ]


class ConfigsTable(ResourceTable):
    kind = "config"
    BINDINGS = [
        Binding("n", "create", "New config", id="resources.config.create"),
        Binding("e", "edit", "Edit", id="resources.config.edit"),
        Binding("R", "rotate", "Rotate", id="resources.config.rotate"),
        Binding("x", "remove", "Remove", id="resources.config.remove"),
    ]


class ResourcesScreen(DeckScreen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="resources.back"),
        Binding("r", "reload", "Refresh", id="resources.refresh"),
        Binding("y", "inspect", "Inspect", id="inspect"),
        Binding("question_mark", "app.help", "Help", id="help"),
    ]
    DEFAULT_CSS = """
    ResourcesScreen #resources-title { height: 1; padding: 0 1; background: $panel; }
    ResourcesScreen ResourceTable {
        height: 1fr; min-height: 4; border: round $panel-lighten-2;
    }
    ResourcesScreen ResourceTable:focus { border: round $accent; border-title-color: $accent; }
    """

    def __init__(self, cluster: str, *, focus: str = "networks") -> None:
        """FOCUS: the table that has the focus first (networks, secrets or configs)."""
        super().__init__()
        self.cluster = cluster
        self.first_focus = focus
        self.resources: Resources | None = None
        self.error: str | None = None


    def compose(self) -> ComposeResult:
        yield Static(id="resources-title")
        yield NetworksTable(NETWORK_COLUMNS, id="networks")
        yield SecretsTable(SECRET_COLUMNS, id="secrets")
        yield ConfigsTable(CONFIG_COLUMNS, id="configs")
        yield KeysFooter()

    def on_mount(self) -> None:
        self._title("loading…")
        for table in self.query(ResourceTable):
            table.border_title = f"{table.kind.capitalize()}s"
        self.query_one(f"#{self.first_focus}").focus()
        self.action_reload()

    def _title(self, status: str = "") -> None:
        text = Text.assemble(("Resources", "bold"), f" · {clean(self.cluster)}")
        if self.deck.is_read_only(self.cluster):
            text.append("  read-only", style="bold yellow")
        if status:
            text.append(f"  {clean(status)}", style="dim")
        self.query_one("#resources-title", Static).update(text)

    def action_inspect(self) -> None:
        """`y`: the highlighted network, or a secret's or config's metadata (no data)."""
        from swarmdeck.ui.screens.inspect import InspectScreen

        table = self.focused if isinstance(self.focused, ResourceTable) else \
            self.query_one("#networks", ResourceTable)
        row = self.row(table.kind, table.selected_key)
        if row is None:
            self.notify(f"no {table.kind} selected", severity="warning")
            return
        self.app.push_screen(InspectScreen(self.cluster, table.kind, row.id, row.name))

    # ---- reading -------------------------------------------------------------------------
    def action_reload(self) -> None:
        self.run_worker(self.load(), group="resources.load", exclusive=True,
                        exit_on_error=False)

    async def load(self) -> None:
        try:
            ops = await self.deck.fleet.ops(self.cluster)
            found = await resources.fetch(ops)
        except SwarmdeckError as exc:
            self.error = str(exc)
            self._title(f"could not read: {exc}")
            self.notify(clean(str(exc)), title="resources", severity="error", timeout=8)
            return
        self.error = None
        self.show(found)

    def show(self, found: Resources) -> None:
        self.resources = found
        # each kind's rows are of the type its function takes (Resources.of)
        fill: dict[str, Callable[[Any], list]] = {
            "network": network_cells, "secret": secret_cells, "config": config_cells}
        for table in self.query(ResourceTable):
            rows = found.of(table.kind)
            table.set_rows([(r.id, fill[table.kind](r)) for r in rows])
            table.border_title = f"{table.kind.capitalize()}s ({len(rows)})"
        self._title()

    def row(self, kind: str, key: str | None) -> NetworkRow | SecretRow | None:
        if self.resources is None or key is None:
            return None
        return next((r for r in self.resources.of(kind) if r.id == key), None)

    @on(LiveTable.RowSelected, "#configs")
    def _open_config(self, event: LiveTable.RowSelected) -> None:
        row = self.row("config", event.row_key.value)
        if isinstance(row, SecretRow):  # a config (None: no longer listed)
            self.run_worker(self._show_config(row), group="resources.show", exclusive=True)

    @on(LiveTable.RowSelected, "#secrets")
    def _open_secret(self, _event: LiveTable.RowSelected) -> None:
        self.notify("a secret's data is never shown: Docker does not give it back",
                    severity="information", timeout=4)

    async def _show_config(self, row: SecretRow) -> None:
        try:
            ops = await self.deck.fleet.ops(self.cluster)
            _row, data = await resources.config_data(ops, row.id)
        except SwarmdeckError as exc:
            self.notify(clean(str(exc)), title="config", severity="error", timeout=8)
            return
        await self.app.push_screen(ConfigDataScreen(row.name, data))

    # ---- changes -------------------------------------------------------------------------
    def taken(self, kind: str) -> set[str]:
        return {r.name for r in self.resources.of(kind)} if self.resources else set()

    def start_create(self, kind: str) -> None:
        flow = self._create_network() if kind == "network" else self._create_data(kind)
        self.run_worker(flow, group="operations", name=f"{kind} create")

    def _on_row(self, kind: str, key: str | None, action: str,
                flow: Callable[[NetworkRow | SecretRow], Awaitable[None]]) -> None:
        """FLOW on the highlighted row of KIND, in a worker; or why not."""
        row = self.row(kind, key)
        if row is None:
            self.notify(f"no {kind} selected", severity="warning")
            return
        self.run_worker(flow(row), group="operations", name=f"{kind} {action}")

    def start_remove(self, kind: str, key: str | None) -> None:
        self._on_row(kind, key, "remove", lambda row: self._remove(kind, row))

    async def _create_network(self) -> None:
        ops = await guard(self, self.cluster, "network create", "")
        if ops is None:
            return
        wanted = await self.app.push_screen_wait(NetworkDialog(self.cluster,
                                                               self.taken("network")))
        if wanted is None:
            return
        await run_change(self, ops, f"create network {wanted.name}", lambda o, _s: (
            resources.create_network(o, wanted.name, encrypted=wanted.encrypted,
                                     attachable=wanted.attachable, subnet=wanted.subnet)))
        self.action_reload()

    async def _create_data(self, kind: str) -> None:
        ops = await guard(self, self.cluster, f"{kind} create", "")
        if ops is None:
            return
        taken = self.taken(kind)
        name = await self.app.push_screen_wait(PromptDialog(
            f"Name of the new {kind} on {self.cluster}:",
            validate=lambda v: name_error(kind, v, taken)))
        if not name:
            return
        picked = await self._data_file(kind, f"File holding the {kind}'s data (on this "
                                             "machine):")
        if picked is None:
            return
        path, data = picked
        if await self.app.push_screen_wait(ConfirmDialog(
                f"Create {kind} {name} on {self.cluster} from {path} ({len(data)} bytes)?")):
            await run_change(self, ops, f"create {kind} {name}",
                             lambda o, _s: resources.create_secret(o, kind, name, data))
            self.action_reload()

    def start_rotate(self, kind: str, key: str | None) -> None:
        self._on_row(kind, key, "rotate", lambda row: self._rotate_from_file(kind, row))

    def start_edit(self, key: str | None) -> None:
        self._on_row("config", key, "edit", self._edit)

    async def _rotate_from_file(self, kind: str, row: NetworkRow | SecretRow) -> None:
        ops = await guard(self, self.cluster, f"{kind} rotate", row.name)
        if ops is None:
            return
        picked = await self._data_file(kind, f"File holding the new data of {kind} {row.name} "
                                             "(on this machine):")
        if picked is not None:
            await self._rotate(ops, kind, row, picked[1])

    async def _data_file(self, kind: str, question: str) -> tuple[str, bytes] | None:
        """A file's path asked for (checked as it is typed) and its data, or None (cancelled,
        or the file changed since it was checked: said)."""
        path = await self.app.push_screen_wait(PromptDialog(
            question, placeholder="e.g. ~/certs/site.pem",
            validate=lambda v: file_error(kind, v)))
        if not path:
            return None
        try:
            return path, read_file(kind, path)
        except SwarmdeckError as exc:  # changed since it was checked
            self.notify(clean(str(exc)), severity="error")
            return None

    async def _edit(self, row: NetworkRow | SecretRow) -> None:
        """The config's data in $VISUAL/$EDITOR (a temporary file, 0600, removed after);
        what is saved, if it changed, becomes a rotation."""
        ops = await guard(self, self.cluster, "config rotate", row.name)
        if ops is None:
            return
        try:
            _row, before = await resources.config_data(ops, row.id)
        except SwarmdeckError as exc:
            self.notify(clean(str(exc)), title="config", severity="error", timeout=8)
            return
        after = edit_in_editor(self.app, before, suffix=Path(row.name).suffix)
        if after is None:
            self.notify("the editor failed: nothing changed", severity="error")
            return
        if after == before:
            self.notify(f"{row.name} unchanged: nothing to rotate", timeout=4)
            return
        try:
            resources.check_data("config", after)
        except SwarmdeckError as exc:
            self.notify(clean(str(exc)), severity="error")
            return
        await self._rotate(ops, "config", row, after)

    async def _rotate(self, ops, kind: str, row: NetworkRow | SecretRow, data: bytes) -> None:
        from swarmdeck.core.ops import rotate

        try:
            rotation = await rotate.plan(ops, kind, row.name)
        except SwarmdeckError as exc:
            self.notify(clean(str(exc)), title=f"{kind} rotate", severity="error", timeout=8)
            return
        if await self.app.push_screen_wait(ConfirmDialog(rotation.question(len(data)))):
            await run_change(self, ops, f"rotate {kind} {row.name}",
                             lambda o, say: rotate.rotate(o, rotation, data,
                                                          on_progress=say))
            self.action_reload()

    async def _remove(self, kind: str, row: NetworkRow | SecretRow) -> None:
        ops = await guard(self, self.cluster, f"{kind} remove", row.name)
        if ops is None:
            return
        try:
            resources.check_removable(row, kind, self.cluster)
        except SwarmdeckError as exc:
            self.notify(clean(str(exc)), title=f"{kind} remove", severity="warning",
                        timeout=8)
            return
        if await self.app.push_screen_wait(ConfirmDialog(
                f"Remove {kind} {row.name} from {self.cluster}?", typed=row.name,
                danger=True)):
            await run_change(self, ops, f"remove {kind} {row.name}",
                             lambda o, _s: resources.remove(o, kind, row.id))
            self.action_reload()


def edit_in_editor(app, data: bytes, *, suffix: str = "") -> bytes | None:
    """DATA edited in $VISUAL or $EDITOR (else vi) with the console suspended; None when the
    editor fails. The file is private to the user and removed afterwards."""
    editor = shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi")
    fd, name = tempfile.mkstemp(prefix="swarmdeck-config-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)

        def run() -> int:
            return subprocess.run([*editor, name], check=False).returncode

        try:
            with app.suspend():
                code = run()
        except SuspendNotSupported:  # no terminal to hand over (headless): run it anyway
            code = run()
        return Path(name).read_bytes() if code == 0 else None
    except OSError:
        return None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)


# ---- questions ---------------------------------------------------------------------------
def name_error(kind: str, name: str, taken: set[str]) -> str | None:
    try:
        resources.check_name(kind, name)
    except SwarmdeckError as exc:
        return str(exc)
    return f"a {kind} named {name!r} already exists" if name in taken else None


def read_file(kind: str, path: str) -> bytes:
    return resources.check_data(kind, resources.read_file(path))


def file_error(kind: str, path: str) -> str | None:
    if not path:
        return "give the path of a file"
    try:
        read_file(kind, path)
    except SwarmdeckError as exc:
        return str(exc)
    return None


@dataclass(frozen=True)
class NetworkRequest:
    name: str
    encrypted: bool
    attachable: bool
    subnet: str | None


class NetworkDialog(ModalScreen[NetworkRequest | None]):
    """The new overlay network: its name, options and (optionally) its subnet."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]
    DEFAULT_CSS = """
    NetworkDialog { align: center middle; background: $background 60%; }
    NetworkDialog Checkbox { margin-top: 1; }
    """

    def __init__(self, cluster: str, taken: set[str]) -> None:
        super().__init__()
        self.cluster = cluster
        self.taken = taken

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(f"New overlay network on {clean(self.cluster)}"),
                         classes="question")
            yield Label("Name")
            yield Input(id="name", placeholder="e.g. backend")
            yield Label("Subnet (empty: the swarm picks one)")
            yield Input(id="subnet", placeholder="e.g. 10.20.0.0/24")
            yield Checkbox("Encrypted (IPsec between nodes)", id="encrypted")
            yield Checkbox("Attachable (docker run --network)", id="attachable")
            yield Static("", id="error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Create", id="yes", variant="primary")
                yield Button("Cancel", id="no")

    def on_mount(self) -> None:
        self.query_one("#name").focus()

    def request(self) -> NetworkRequest | str:
        """What was asked, or what is wrong with it."""
        name = self.query_one("#name", Input).value.strip()
        subnet = self.query_one("#subnet", Input).value.strip() or None
        error = name_error("network", name, self.taken)
        if error:
            return error
        if subnet:
            try:
                subnet = resources.check_subnet(subnet)
            except SwarmdeckError as exc:
                return str(exc)
        return NetworkRequest(name, self.query_one("#encrypted", Checkbox).value,
                              self.query_one("#attachable", Checkbox).value, subnet)

    @on(Input.Submitted)
    @on(Button.Pressed, "#yes")
    def _submit(self) -> None:
        wanted = self.request()
        if isinstance(wanted, str):
            self.query_one("#error", Static).update(Text(clean(wanted), style="bold red"))
            return
        self.dismiss(wanted)

    @on(Button.Pressed, "#no")
    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfigDataScreen(ModalScreen[None]):
    """A config's data, every control character made visible."""

    BINDINGS = [Binding("escape,enter", "close", "Close", id="resources.config.close")]
    DEFAULT_CSS = """
    ConfigDataScreen { align: center middle; background: $background 60%; }
    ConfigDataScreen .details { height: auto; max-height: 30; }
    """

    def __init__(self, name: str, data: bytes) -> None:
        super().__init__()
        self.config_name = name
        self.text = "\n".join(clean(line) for line in
                              data.decode("utf-8", errors="replace").splitlines())

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(Text(f"config {clean(self.config_name)}", style="bold"),
                         classes="question")
            with VerticalScroll(classes="details"):
                yield Static(Text(self.text), id="data")
            yield Static(Text("Esc or Enter to close", style="dim"))

    def action_close(self) -> None:
        self.dismiss(None)
