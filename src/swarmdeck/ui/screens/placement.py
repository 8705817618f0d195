"""`P` on a service: where its tasks may run, and pinning it.

The dialog shows the service's placement constraints and the nodes that can run it now, and
builds a change: untick a constraint to remove it, pin to one of the cluster's nodes, to a
node label, or add any expression. Under it a preview says where the tasks could run after
the change, or warns that no node could. The change then goes the way of every change, in
the console as in the CLI (core.actions.placement through ui.operations.perform): read-only
refused and audited, the plan read again from the cluster, a question (a "no" on record),
the change followed. Everything read from the cluster is made inert before it is shown.
"""

from __future__ import annotations

from typing import cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from swarmdeck.core import actions
from swarmdeck.core.errors import SwarmdeckError
from swarmdeck.core.models import Node, Service
from swarmdeck.core.ops import placement as ops_placement
from swarmdeck.core.ops.placement import Survey, listed
from swarmdeck.core.placement import (
    label_constraint,
    node_constraint,
    parse_constraint,
    pinned,
    unavailable,
)
from swarmdeck.core.sanitize import clean
from swarmdeck.ui.deck import Deck
from swarmdeck.ui.operations import perform


def node_option(node: Node) -> Text:
    state = unavailable(node)
    labels = ",".join(f"{k}={v}" for k, v in sorted(node.labels.items()))
    return Text(clean(f"{node.hostname} ({node.role}" + (f", {state}" if state else "")
                      + (f", {labels}" if labels else "") + ")"))


class PlacementDialog(ModalScreen[list[str] | None]):
    """Answers the constraints wanted after the change (None: cancelled)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]
    DEFAULT_CSS = """
    PlacementDialog { align: center middle; background: $background 60%; }
    PlacementDialog Label { margin-top: 1; width: 100%; }
    PlacementDialog #now, PlacementDialog #preview { height: auto; }
    PlacementDialog #preview { margin-top: 1; }
    """

    def __init__(self, cluster: str, survey: Survey, *, read_only: str | None = None) -> None:
        """READ_ONLY: why the cluster is read-only (the dialog then only shows)."""
        super().__init__()
        self.cluster = cluster
        self.survey = survey
        self.read_only = read_only

    def compose(self) -> ComposeResult:
        found = self.survey
        with VerticalScroll(classes="dialog wide"):
            yield Static(Text(clean(f"Placement of {found.name} on {self.cluster}"),
                              style="bold"), classes="question")
            yield Static(self._verdict(found.constraints, now=True), id="now")
            if found.constraints:
                yield Label("Constraints (untick to remove)")
                for i, text in enumerate(found.constraints):
                    yield Checkbox(Text(clean(text)), True, id=f"keep-{i}", compact=True)
            yield Label("Pin to a node")
            yield Select([(node_option(n), n.id) for n in found.nodes], id="node",
                         prompt="(no node)")
            labels = sorted({f"{k}={v}" for n in found.nodes for k, v in n.labels.items()})
            yield Label(Text(clean("Pin to a node label KEY=VALUE"
                                   + (f" (on nodes: {', '.join(labels)})" if labels else ""))))
            yield Input(id="label", placeholder="e.g. zone=a")
            yield Label("Add a constraint expression")
            yield Input(id="expression", placeholder="e.g. node.role==worker")
            yield Static("", id="preview")
            yield Static("", id="error", classes="error")
            if self.read_only:
                yield Static(Text(clean(f"read-only ({self.read_only}): changes are refused"),
                                  style="bold yellow"))
            with Horizontal(classes="buttons"):
                yield Button("Apply", id="yes", variant="primary",
                             disabled=bool(self.read_only))
                yield Button("Cancel", id="no")

    def on_mount(self) -> None:
        self.query_one("#node", Select).focus()

    def _verdict(self, constraints: list[str], *, now: bool = False) -> Text:
        placed = self.survey.place(constraints)
        lead = "now: " if now else "after the change: "
        text = Text(clean(f"{lead}constraints {listed(constraints)}"))
        text.append("\n" + clean(placed.verdict()),
                    style="green" if placed.placeable else "bold red")
        if placed.shortfall:
            text.append("\n" + clean(placed.shortfall), style="yellow")
        return text

    def wanted(self) -> list[str] | str:
        """The constraints after the change, or what is wrong with the input."""
        found = self.survey
        after = [text for i, text in enumerate(found.constraints)
                 if self.query_one(f"#keep-{i}", Checkbox).value]
        node_id = self.query_one("#node", Select).value
        label = self.query_one("#label", Input).value.strip()
        expression = self.query_one("#expression", Input).value.strip()
        try:
            node = next((n for n in found.nodes if n.id == node_id), None)
            if node is not None:
                after = pinned(after, node_constraint(node, found.nodes))
            if label:
                after = pinned(after, label_constraint(label))
            if expression:
                after = pinned(after, parse_constraint(expression))
        except SwarmdeckError as exc:
            return str(exc)
        return after

    @on(Checkbox.Changed)
    @on(Select.Changed)
    @on(Input.Changed)
    def _preview(self) -> None:
        wanted = self.wanted()
        error = self.query_one("#error", Static)
        preview = self.query_one("#preview", Static)
        if isinstance(wanted, str):
            error.update(Text(clean(wanted), style="bold red"))
            preview.update("")
            return
        error.update("")
        preview.update(Text("no change yet", style="dim") if wanted == self.survey.constraints
                       else self._verdict(wanted))

    @on(Input.Submitted)
    @on(Button.Pressed, "#yes")
    def _submit(self) -> None:
        if self.read_only:
            return
        wanted = self.wanted()
        if isinstance(wanted, str) or wanted == self.survey.constraints:
            message = wanted if isinstance(wanted, str) else \
                "nothing to change: untick a constraint, pick a node, or type a label or " \
                "an expression"
            self.query_one("#error", Static).update(Text(clean(message), style="bold red"))
            return
        self.dismiss(wanted)

    @on(Button.Pressed, "#no")
    def action_cancel(self) -> None:
        self.dismiss(None)


async def edit_placement(widget: Widget, cluster: str, service: Service) -> None:
    """Read the service and the nodes afresh, ask, confirm, change, follow."""
    app = cast(Deck, widget.app)
    try:
        ops = await app.fleet.ops(cluster, read_only_flag=app.read_only)
        found = await ops_placement.survey(ops, service.id)
    except SwarmdeckError as exc:
        app.notify(clean(f"placement of {service.name}: {exc}"), severity="error", timeout=8)
        return
    after = await app.push_screen_wait(PlacementDialog(
        cluster, found, read_only=app.read_only_reason(cluster)))
    if after is None:
        return
    change = ops_placement.plan(found, after)
    # the plan is read again from the cluster when it is asked (core.actions): confirmed
    # with a warning in view is the force
    await perform(widget, cluster, actions.placement(
        found.name, change.action,
        lambda now, _cluster: ops_placement.plan(now, after, change.action), force=True))
