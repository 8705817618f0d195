"""The doctor: a cluster's findings, worst first, with why each matters and what to do.

The findings come from core.doctor over the live inventory, so they follow every change.
Certificates, engine labels and registry lookups of images nodes cannot pull need one extra
fetch, made when the screen opens and on `r`; without a live session (recorded data, a lost
connection) those checks are left out.
"""

from __future__ import annotations

import contextlib

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from swarmdeck.core import views
from swarmdeck.core.doctor import Finding, SwarmFacts, counts, diagnose, gather_facts
from swarmdeck.core.inventory import ClusterState
from swarmdeck.core.sanitize import clean
from swarmdeck.ui import clock
from swarmdeck.ui.deck import DeckScreen
from swarmdeck.ui.keys import key_of
from swarmdeck.ui.widgets.cells import kv_table
from swarmdeck.ui.widgets.footer import KeysFooter
from swarmdeck.ui.widgets.health import HealthBar
from swarmdeck.ui.widgets.table import LiveTable

COLUMNS = [("severity", "SEVERITY"), ("subject", "SUBJECT"), ("what", "FINDING")]
SEVERITY_STYLES = {"error": "bold red", "warning": "bold yellow", "info": "cyan"}
# check -> (binding id, what that key does about it): the console's way to the fix, with
# the key as the user's keymap has it ({key})
CONSOLE_KEYS = {
    "node.drain": ("node.activate", "{key} on the node in the nodes pane sets it active"),
    "node.pause": ("node.activate", "{key} on the node in the nodes pane sets it active"),
    "node.down": ("node.remove", "{key} on the node in the nodes pane removes it, if the "
                                 "host is gone for good"),
    "managers.count": ("node.promote", "{key} on a worker in the nodes pane promotes it"),
    "service.replicas": ("logs.full", "Enter here opens the service (Enter on a task there "
                                      "shows its whole error and last lines); {key} on it "
                                      "in the services pane shows every replica's logs"),
    "service.restart_loop": ("logs.full", "{key} on the service in the services pane shows "
                                          "every replica's logs; Enter here opens it"),
    "service.placement": ("service.pin", "{key} on the service in the services pane shows "
                                         "the nodes that can run it and changes its "
                                         "constraints"),
    "service.image_pull": ("service.update", "{key} on the service in the services pane "
                                             "sets another image"),
    "service.local_image": ("service.update", "{key} on the service in the services pane "
                                              "sets an image with its registry"),
    "network.unencrypted": ("cluster.resources", "{key} (or :networks) lists the networks; "
                                                 "create the encrypted one there"),
}


def console_key(app, check: str) -> str | None:
    """How to act on a finding of CHECK in the console, naming the key as bound now."""
    found = CONSOLE_KEYS.get(check)
    if found is None:
        return None
    key = key_of(app, found[0])
    return found[1].format(key=key) if key else None


def finding_cells(finding: Finding) -> tuple:
    return (Text(finding.severity.upper(), style=SEVERITY_STYLES[finding.severity]),
            finding.subject, finding.what)


class DoctorScreen(DeckScreen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="doctor.back"),
        Binding("question_mark", "app.help", "Help", id="help"),
        Binding("r", "recheck", "Recheck", id="doctor.recheck"),
    ]
    DEFAULT_CSS = """
    DoctorScreen #findings { height: 1fr; min-height: 5; border: round $panel-lighten-2; }
    DoctorScreen #findings:focus { border: round $accent; border-title-color: $accent; }
    DoctorScreen #finding {
        height: auto; max-height: 50%; border: round $panel-lighten-2; padding: 0 1;
    }
    """

    def __init__(self, cluster: str) -> None:
        super().__init__()
        self.cluster = cluster
        self.facts: SwarmFacts | None = None
        self.findings: dict[str, Finding] = {}
        self._cells: dict[str, tuple[Finding, tuple]] = {}
        self._seq = self._applied = 0


    def compose(self) -> ComposeResult:
        yield HealthBar()
        yield LiveTable(COLUMNS, widest={"what": 96}, id="findings")
        yield Static(id="finding")
        yield KeysFooter()

    def on_mount(self) -> None:
        self._apply(self._seq, *self._examine(self._state()))  # never opens empty
        self.query_one("#findings").focus()
        self.fetch_facts()

    def action_recheck(self) -> None:
        self.refresh_data()
        self.fetch_facts()

    @work(exclusive=True, group="doctor facts")
    async def fetch_facts(self) -> None:
        """Certificates, engine labels and registry lookups, through the cluster's live
        manager session."""
        inventory = getattr(self.deck.fleet, "inventory", None)
        session = inventory(self.cluster).session if inventory else None
        if session is None or session.closed:
            return
        self.facts = await gather_facts(session.docker, self._state())
        self.refresh_data()

    # A diagnosis of a big cluster takes tens of milliseconds: it runs in a worker thread
    # over a snapshot, so keystrokes never wait for it.
    def refresh_data(self) -> None:
        self._seq += 1
        self._diagnose_in_thread(self._seq, self._state())

    def _state(self) -> ClusterState:
        return self.deck.fleet.state(self.cluster).snapshot()

    def _examine(self, state: ClusterState) -> tuple[ClusterState, list[Finding]]:
        if not state.loaded and state.error is None:
            return state, []  # still connecting: nothing to judge yet
        return state, diagnose(state, now=clock.now(), facts=self.facts)

    @work(thread=True, group="doctor", description="diagnose")  # no repr of the state
    def _diagnose_in_thread(self, seq: int, state: ClusterState) -> None:
        examined = self._examine(state)
        with contextlib.suppress(RuntimeError):  # the app is closing
            self.app.call_from_thread(self._apply_later, seq, *examined)

    def _apply_later(self, seq: int, state: ClusterState, found: list[Finding]) -> None:
        if self.is_mounted:  # not popped while the worker ran
            self._apply(seq, state, found)

    def _apply(self, seq: int, state: ClusterState, found: list[Finding]) -> None:
        if seq < self._applied:
            return  # a newer diagnosis is on screen already
        self._applied = seq
        health = views.cluster_health(self.cluster, state, state.error, now=clock.now())
        self.query_one(HealthBar).show(health, read_only=self.deck.is_read_only(self.cluster))
        table = self.query_one("#findings", LiveTable)
        self.findings = {}
        for finding in found:
            key = f"{finding.check}|{finding.subject}"
            while key in self.findings:
                key += "+"
            self.findings[key] = finding
        for key in [k for k in self._cells if k not in self.findings]:
            del self._cells[key]
        rows = []
        for key, finding in self.findings.items():
            cached = self._cells.get(key)
            if cached is None or cached[0] != finding:  # same finding, same cells: no redraw
                cached = self._cells[key] = (finding, finding_cells(finding))
            rows.append((key, cached[1]))
        table.set_rows(rows)
        tally = counts(found)
        summary = ", ".join(f"{n} {k}{'' if n == 1 else 's'}" for k, n in tally.items() if n)
        title = f"Doctor · {clean(self.cluster)} · {summary or 'no problems found'}"
        if str(table.border_title) != title:
            table.border_title = title
        self._show(table.selected_key, connecting=not state.loaded and state.error is None)

    @on(LiveTable.RowHighlighted, "#findings")
    def _highlighted(self, event: LiveTable.RowHighlighted) -> None:
        self._show(event.row_key.value)

    def _show(self, key: str | None, *, connecting: bool = False) -> None:
        pane = self.query_one("#finding", Static)
        finding = self.findings.get(key or "")
        if finding is None:
            pane.border_title = "Finding"
            pane.update(Text("connecting…" if connecting else
                             "no problems found: nothing to fix", style="dim"))
            return
        # a Text title: a subject from the cluster is never read as markup
        pane.border_title = Text(f"{finding.severity.upper()} · {clean(finding.subject)}")
        pairs = [("what", finding.what), ("why", finding.why), ("fix", finding.fix)]
        keys = console_key(self.app, finding.check)
        if keys:
            pairs.append(("in the console", keys))
        if _subject(finding)[0] in ("service", "node"):
            pane.border_subtitle = "Enter opens it"
        else:
            pane.border_subtitle = ""
        pane.update(kv_table(pairs))

    @on(LiveTable.RowSelected, "#findings")
    def _open_subject(self, event: LiveTable.RowSelected) -> None:
        """Enter: the service or node the finding names, in its own screen."""
        from swarmdeck.ui.screens.detail import NodeScreen, ServiceScreen

        finding = self.findings.get(event.row_key.value or "")
        if finding is None:
            return
        kind, name = _subject(finding)
        state = self.deck.fleet.state(self.cluster)
        if kind == "service":
            found = next((s.id for s in state.services.values() if s.name == name), None)
            if found:
                self.app.push_screen(ServiceScreen(self.cluster, found))
                return
        elif kind == "node":
            found = next((n.id for n in state.nodes.values() if n.hostname == name), None)
            if found:
                self.app.push_screen(NodeScreen(self.cluster, found))
                return
        else:
            self.notify("this finding is about the whole cluster: nothing to open", timeout=3)
            return
        self.notify(clean(f"{kind} {name} is no longer in the cluster"), severity="warning",
                    markup=False)


def _subject(finding: Finding) -> tuple[str, str]:
    """("service", "shop_web") from the subject "service shop_web"."""
    kind, _, name = finding.subject.partition(" ")
    return (kind, name) if name else (finding.subject, "")
