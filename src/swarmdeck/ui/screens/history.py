"""`h` on a project environment (`:history`): its deploys as the cluster keeps them
(core.ops.history), newest first, the one running now marked; `d` deploys a revision again
through the deploy's own preview and question (ui.operations.deploy_environment), `v` or
Enter shows a revision: what deploying it would change against what runs now, then its specs.
The marker is worked out from the inventory (core.ops.drift.running_revision): it follows
each change the console sees without another request."""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from swarmdeck.core import views
from swarmdeck.core.config import EnvironmentConfig
from swarmdeck.core.errors import SwarmdeckError
from swarmdeck.core.ops import drift, history
from swarmdeck.core.ops.base import did_you_mean
from swarmdeck.core.sanitize import clean
from swarmdeck.ui import clock
from swarmdeck.ui.deck import Deck, DeckScreen
from swarmdeck.ui.screens.inspect import InspectScreen
from swarmdeck.ui.widgets.footer import KeysFooter
from swarmdeck.ui.widgets.table import LiveTable

COLUMNS = [("revision", "REV>"), ("now", "NOW"), ("age", "AGE>"), ("time", "TIME (UTC)"),
           ("user", "USER"), ("commit", "COMMIT"), ("images", "IMAGES")]
RUNNING = "●"  # the revision running now (the title says it in words)


class HistoryScreen(DeckScreen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="history.back"),
        Binding("d", "deploy", "Deploy again", id="history.deploy"),
        Binding("v", "view", "View", id="history.view"),
        Binding("r", "reload", "Refresh", id="history.refresh"),
        Binding("question_mark", "app.help", "Help", id="help"),
    ]
    DEFAULT_CSS = """
    HistoryScreen #history-title { height: 1; padding: 0 1; background: $panel; }
    HistoryScreen LiveTable { height: 1fr; border: round $panel-lighten-2; }
    HistoryScreen LiveTable:focus { border: round $accent; }
    """

    def __init__(self, project: str, environment: str, env: EnvironmentConfig) -> None:
        super().__init__()
        self.project = project
        self.environment = environment
        self.cluster = env.cluster  # the app refreshes the screens showing a changed cluster
        self.stack = env.stack
        self.kept: list[history.Stored] = []
        self.running: int | None = None
        self.status = "reading the history kept on the cluster…"


    @property
    def table(self) -> LiveTable:
        return self.query_one("#revisions", LiveTable)

    def compose(self) -> ComposeResult:
        yield Static(id="history-title")
        yield LiveTable(COLUMNS, widest={"images": 80}, always=["revision", "now", "age",
                                                                "user", "images"],
                        optional=["time", "commit"], shrink=["images"], id="revisions")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.table.focus()
        self._title()
        self.action_reload()

    def action_reload(self) -> None:
        self.run_worker(self.load(), group="history.load", exclusive=True, exit_on_error=False)

    async def load(self) -> None:
        try:
            ops = await self.deck.fleet.ops(self.cluster)
            self.kept = list(reversed(await history.stored(ops, self.stack)))  # newest first
        except SwarmdeckError as exc:
            self.status = f"could not read the history: {exc}"
            self._title()
            return
        self.status = "" if self.kept else \
            "no deploy recorded on the cluster (each deploy from swarmdeck adds one)"
        self.refresh_data()

    def refresh_data(self) -> None:
        """The rows, and which one runs now (from the inventory: no request)."""
        if not self.is_mounted:
            return  # a change came before the view was built: on_mount reads it all
        state = self.deck.fleet.state(self.cluster)
        self.running = drift.running_revision(list(reversed(self.kept)), state) \
            if state.loaded else None
        now = clock.now()
        rows = []
        for kept in self.kept:
            rev = kept.revision
            moment = _moment(rev.time)
            rows.append((str(rev.revision), [
                Text(str(rev.revision), justify="right"),
                Text(RUNNING, style="bold green") if rev.revision == self.running else "",
                Text(views.compact_age(now - moment) if moment else "-", justify="right"),
                rev.time.replace("T", " ").removesuffix("Z")[:16] or "-",
                rev.user or "-", rev.commit or "-",
                history.images_text(rev.images)]))
        self.table.set_rows(rows)
        self._title()

    def _title(self) -> None:
        text = Text.assemble(("History", "bold"), f" · {clean(self.project)}/"
                             f"{clean(self.environment)} · stack {clean(self.stack)} on "
                             f"{clean(self.cluster)}")
        if self.status:
            text.append(f"  {clean(self.status)}", style="dim" if self.status.endswith("…")
                        else "yellow")
        elif self.running is not None:
            text.append(f"  running now: revision {self.running}", style="green")
        elif self.kept and not self.deck.fleet.state(self.cluster).loaded:
            text.append("  running now: not known until the cluster is loaded", style="dim")
        elif self.kept:
            text.append("  running now: none of these (changed since: see drift)",
                        style="yellow")
        self.query_one("#history-title", Static).update(text)
        self.table.border_title = f"Revisions ({len(self.kept)}, the last "\
                                  f"{history.KEEP} are kept)"

    def _selected(self) -> history.Stored | None:
        key = self.table.selected_key
        found = next((k for k in self.kept if str(k.revision.revision) == key), None)
        if found is None:
            self.notify("no revision selected", severity="warning")
        return found

    # ---- keys --------------------------------------------------------------------------
    def action_deploy(self) -> None:
        from swarmdeck.ui.operations import deploy_environment

        kept = self._selected()
        if kept is None:
            return

        async def deploy() -> None:
            if await deploy_environment(self, self.project, self.environment,
                                        kept.revision.revision):
                self.action_reload()  # the deploy is the newest revision now

        self.run_worker(deploy(), group="operations")

    @on(LiveTable.RowSelected, "#revisions")
    def _open(self) -> None:
        self.action_view()

    def action_view(self) -> None:
        kept = self._selected()
        if kept is None:
            return
        state = self.deck.fleet.state(self.cluster)
        found = {"what deploying it changes (running now -> this revision)":
                 changes_lines(kept, state), **history.document(kept)}
        self.app.push_screen(RevisionScreen(self.cluster, f"{self.project}/{self.environment}"
                                            f" revision {kept.revision.revision}", found))


def changes_lines(kept: history.Stored, state) -> list[str]:
    if kept.plan is None:
        return ["not known: the revision is in a format this swarmdeck does not read"]
    if not state.loaded:
        return ["not known: the cluster is not loaded yet"]
    out: list[str] = []
    for one in drift.against_running(kept.plan, state):
        if one.action == "update":
            out += [f"update service {one.service}",
                    *(f"  {c.text}" for c in one.changes)]
        elif one.action == "create":
            out.append(f"create service {one.service} (not running now)")
        elif one.action == "remove":
            out.append(f"service {one.service} runs now and is not in this revision (kept: "
                       "a deploy does not prune)")
    return out or ["nothing: this revision is what runs now"]


def _moment(stamp: str) -> float | None:
    try:
        return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))
    except (ValueError, OverflowError):
        return None


class RevisionScreen(InspectScreen):
    """A revision, read-only, searchable and copyable as `y` shows an object (the history
    view has read it already: nothing is fetched)."""

    def __init__(self, cluster: str, title: str, found: dict[str, Any]) -> None:
        super().__init__(cluster, "revision", "", title)
        self.given = found

    def load(self) -> None:  # type: ignore[override]
        self.found, self.status = self.given, ""
        self._show()


def open_history(app: Deck, cluster: str, project: str | None,
                 environment: str | None, stack: str | None = None, *,
                 first: Callable[[], object] = lambda: None) -> str | None:
    """The deploy history of PROJECT's ENVIRONMENT (or of the environment deploying STACK on
    CLUSTER); what is wrong, if anything. FIRST: called once it is known to open (`:history`
    goes back to the main screen then)."""
    config = app.config
    if project is None and stack:
        found = [(p, e) for p, e, env in config.environments()
                 if env.cluster == cluster and env.stack == stack]
        if not found:
            return (f"stack {stack} on {cluster} is not a project environment of the config: "
                    "swarmdeck keeps a history only of the environments it deploys")
        project, environment = found[0]
    if project not in config.projects:
        return (f"no project {project!r} in the config"
                + did_you_mean(project or "", list(config.projects), "projects"))
    envs = config.projects[project].environments
    if environment is None and len(envs) == 1:
        environment = next(iter(envs))
    if environment not in envs:
        return (f"which environment of {project}? :history {project} ENV"
                if environment is None else
                f"project {project} has no environment {environment!r}"
                + did_you_mean(environment, list(envs), "environments"))
    first()
    app.push_screen(HistoryScreen(project, environment, envs[environment]))
    return None
