"""Live logs of one service or a whole stack, every replica, full screen.

The lines come from the fleet's follow_logs (each replica read from its own node, merged
in time order, resumed after a drop) in a worker that hands each one to the LogView in
O(1) and gives the event loop back every few milliseconds, so a flood never holds up a
keystroke. The header says what is followed, how many lines came and which replicas or
services are not streaming (from the stream's notes and from the inventory) until they are
back.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.suggester import SuggestFromList
from textual.widgets import Input, Static

from swarmdeck.core.errors import SwarmdeckError
from swarmdeck.core.log_follow import StreamNote, Tagger, silent_replicas
from swarmdeck.core.logs import LogLine
from swarmdeck.core.sanitize import clean
from swarmdeck.ui.deck import DeckScreen
from swarmdeck.ui.widgets.footer import KeysFooter
from swarmdeck.ui.widgets.logview import LogView, PatternError, compile_pattern

if TYPE_CHECKING:
    from textual.timer import Timer


Item = LogLine | StreamNote
Source = Callable[[], AsyncIterator[Item]]
SLICE = 0.004  # seconds of ingest before the event loop gets a turn (keys, frames)
FILTER_DELAY = 0.12  # typing a filter applies it once the keys pause
STALLED = {"warning": "stream lost, resuming", "info": "stream ended, resuming",
           "error": "stopped"}
PROMPTS = {
    "filter": "filter: only lines whose text or replica@node tag contains this (re: for a "
              "regular expression; empty: all)",
    "search": "search: highlight and go to matches, then n / N (re: for a regular expression)",
    "replica": "replica (service.slot), service, or @node; several with commas; empty: all",
    "save": "save the lines shown to this file",
}


class LogsScreen(DeckScreen):
    BINDINGS = [
        Binding("escape", "back", "Back", id="logs.back"),
        Binding("space,p", "pause", "Pause", id="logs.pause"),
        Binding("f,ampersand", "prompt('filter')", "Filter", id="logs.filter"),
        Binding("slash", "prompt('search')", "Search", id="logs.search"),
        Binding("n", "next", "Next", id="logs.next"),
        Binding("N", "previous", "Previous", id="logs.previous"),
        Binding("r", "prompt('replica')", "Replica", id="logs.replica"),
        Binding("t", "timestamps", "Times", id="logs.timestamps"),
        Binding("w", "wrap", "Wrap", id="logs.wrap"),
        Binding("ctrl+r", "regex", "Regex", show=False, id="logs.regex"),
        Binding("x", "clear", "Clear filters", show=False, id="logs.clear"),
        Binding("s", "prompt('save')", "Save", id="logs.save"),
        Binding("question_mark", "app.help", "Help", id="help"),
    ]
    DEFAULT_CSS = """
    LogsScreen #logs-header { height: auto; padding: 0 1; background: $panel; }
    LogsScreen #logs-input { dock: bottom; margin-bottom: 1; }
    """

    def __init__(self, cluster: str, services: Sequence[tuple[str, str]], title: str, *,
                 source: Source | None = None, tail: int | str = 200,
                 max_lines: int = 100_000) -> None:
        """SERVICES: (id, name) pairs to follow. SOURCE: what yields the lines and notes
        (default: the app's fleet.follow_logs)."""
        super().__init__()
        self.cluster = cluster
        self.services = list(services)
        self.target = title
        self.tail = tail
        self.max_lines = max_lines
        self.regex = False
        self._source = source
        self._names = dict(self.services)
        self._tags: dict[tuple, tuple[str, str]] = {}
        self._tagger: Tagger | None = None
        self._stalled: dict[str, str] = {}  # service id -> why its stream is not flowing
        self._silent: dict[str, str] = {}  # "replica on node" -> why (the node is down)
        self._mode = ""
        self._before = ""  # the filter when the prompt opened (Esc puts it back)
        self._texts = {"filter": "", "search": "", "replica": ""}
        self._filter_timer: Timer | None = None
        self._header: str | None = None


    @property
    def view(self) -> LogView:
        return self.query_one(LogView)

    def compose(self) -> ComposeResult:
        yield Static(id="logs-header")
        yield LogView(self.max_lines, id="logview")
        yield Input(id="logs-input")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#logs-input").display = False
        self.view.focus()
        self.refresh_data()
        self._update_header()
        self.set_interval(0.25, self._update_header)
        self.set_interval(5.0, self._forget_tags)
        self._follow()

    # ---- lines in ----------------------------------------------------------------------------
    def _open_source(self) -> AsyncIterator[Item]:
        if self._source is not None:
            return self._source()
        fleet = self.deck.fleet
        if hasattr(fleet, "follow_logs"):
            return fleet.follow_logs(self.cluster, self.services, tail=self.tail)
        return _each_service(fleet, self.cluster, self.services, self.tail)

    @work(group="logs-follow", exit_on_error=False, description="follow logs")
    async def _follow(self) -> None:
        view = self.view
        stream = self._open_source()
        clock = time.perf_counter
        deadline = clock() + SLICE
        count = 0
        try:
            async for item in stream:
                if isinstance(item, LogLine):
                    if self._stalled:  # (a key that is not stalled is left alone)
                        self._flowing_again(item.task_id if item.task_id in self._stalled
                                            else item.service_id)
                    tag, node = self._tag(item)
                    view.add(item, tag, node)
                else:
                    self._note(item)
                count += 1
                if not count & 63 and clock() > deadline:
                    await asyncio.sleep(0)  # keys and frames go first
                    deadline = clock() + SLICE
            view.add_note("the log stream ended", "info")
        except SwarmdeckError as exc:
            view.add_note(f"log stream stopped: {exc}", "error")
        finally:
            close = getattr(stream, "aclose", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()

    def _tag(self, line: LogLine) -> tuple[str, str]:
        key = (line.task_id, line.node_id, line.service_id)
        tagged = self._tags.get(key)
        if tagged is None:
            if self._tagger is None:
                self._tagger = Tagger(self.deck.fleet.state(self.cluster))
            tagged = self._tags[key] = self._tagger.tag(line)
        return tagged

    def _forget_tags(self) -> None:
        """Tasks the inventory learned since get their slot names."""
        self._tags.clear()
        self._tagger = None

    def _note(self, note: StreamNote) -> None:
        """A note on one replica's stream marks that replica, one on a service's stream
        the service, as not streaming until a line of it comes."""
        self.view.add_note(note.text, note.level)
        if note.task_id is not None:
            self._stalled[note.task_id] = STALLED.get(note.level, note.level)
            self._names.setdefault(note.task_id, note.replica or note.task_id[:12])
        elif note.service_id is not None and note.service_id in self._names:
            self._stalled[note.service_id] = STALLED.get(note.level, note.level)

    def _flowing_again(self, key: str | None) -> None:
        """KEY: a task (replica) or a service whose lines come again."""
        why = self._stalled.get(key or "")
        if why is None or why == STALLED["error"]:
            return
        del self._stalled[key or ""]
        self.view.add_note(f"{self._names.get(key or '', '?')}: streaming again", "info")

    def refresh_data(self) -> None:
        """The inventory changed (the app calls this): replicas on nodes that are down, or
        back."""
        state = self.deck.fleet.state(self.cluster)
        now = {}
        for note in silent_replicas(state, [sid for sid, _ in self.services]):
            where, _, why = note.text.partition(": ")
            now[where] = why.split(",")[0]
            if where not in self._silent:
                self.view.add_note(note.text, note.level)
        for where in self._silent.keys() - now.keys():
            self.view.add_note(f"{where}: node back, its lines stream again", "info")
        self._silent = now

    # ---- header ------------------------------------------------------------------------------
    def _update_header(self) -> None:
        view = self.view
        head = Text.assemble(("Logs ", "bold"), clean(self.target), ("  ·  ", "dim"),
                             clean(self.cluster), ("  ·  ", "dim"))
        if view.following:
            head.append("following", "green")
        else:
            head.append(f"paused · {view.new_since_pause:,} new · End follows", "bold yellow")
        head.append(f"  ·  {view.total_lines:,} lines, {view.kept:,} kept", "dim")
        if view.filtering:
            head.append(f", {view.shown_count:,} shown", "dim")
        shown = [(name, self._texts[name]) for name in ("filter", "replica", "search")
                 if self._texts[name]]
        if shown or self.regex:
            head.append("\n")
            parts = [f"{name}: {clean(text)}" for name, text in shown]
            head.append("  ·  ".join(parts + (["regex"] if self.regex else [])), "cyan")
        silent = [f"{clean(self._names.get(sid, sid[:12]))} ({why})"
                  for sid, why in self._stalled.items()]
        silent += [f"{clean(where)} ({clean(why)})" for where, why in self._silent.items()]
        if silent:
            head.append("\nnot streaming: " + "  ·  ".join(silent), "bold yellow")
        if head.plain != self._header:
            # a layout (costly under a flood) only when the header gains or loses a line
            grown = self._header is None or head.plain.count("\n") != self._header.count("\n")
            self._header = head.plain
            self.query_one("#logs-header", Static).update(head, layout=grown)

    # ---- actions -----------------------------------------------------------------------------
    def action_back(self) -> None:
        if self.query_one("#logs-input").display:
            self._close_prompt(cancel=True)
        else:
            self.app.pop_screen()

    def action_pause(self) -> None:
        self.view.toggle_pause()
        self._update_header()

    def action_timestamps(self) -> None:
        self.view.timestamps = not self.view.timestamps

    def action_wrap(self) -> None:
        self.view.wrap = not self.view.wrap

    def action_regex(self) -> None:
        self.regex = not self.regex
        for mode in ("filter", "search"):
            if self._texts[mode]:
                self._apply(mode, self._texts[mode], quiet=True)
        self._update_header()

    def action_clear(self) -> None:
        for mode in ("filter", "replica", "search"):
            self._apply(mode, "", quiet=True)
        self._update_header()

    def action_next(self) -> None:
        self._step(self.view.search_next())

    def action_previous(self) -> None:
        self._step(self.view.search_previous())

    def _step(self, found: bool) -> None:
        if not found:
            what = self._texts["search"]
            self.notify(f"no line shown matches {clean(what)!r}" if what else
                        "search first (/), then n and N move between matches",
                        severity="warning", timeout=2)

    # ---- the prompt --------------------------------------------------------------------------
    def action_prompt(self, mode: str) -> None:
        box = self.query_one("#logs-input", Input)
        self._mode = mode
        self._before = self._texts.get(mode, "")
        box.placeholder = PROMPTS[mode]
        box.border_title = mode
        box.suggester = SuggestFromList(
            [*self.view.replicas, *(f"@{n}" for n in self.view.nodes)]) \
            if mode == "replica" else None
        box.value = self._default_path() if mode == "save" else self._before
        box.remove_class("-invalid")
        box.display = True
        box.focus()

    def _default_path(self) -> str:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", self.target).strip("-") or "logs"
        return f"swarmdeck-{slug}-{datetime.now():%Y%m%d-%H%M%S}.log"

    @on(Input.Changed, "#logs-input")
    def _typed(self, event: Input.Changed) -> None:
        if self._mode != "filter":
            return
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(
            FILTER_DELAY, lambda: self._apply("filter", event.value, quiet=True))

    @on(Input.Submitted, "#logs-input")
    def _submitted(self, event: Input.Submitted) -> None:
        if self._mode == "save":
            self._save(event.value)
            self._close_prompt()
        elif self._apply(self._mode, event.value):
            self._close_prompt()

    def _close_prompt(self, *, cancel: bool = False) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
            self._filter_timer = None
        if cancel and self._mode == "filter":
            self._apply("filter", self._before, quiet=True)
        self.query_one("#logs-input").display = False
        self._mode = ""
        self.view.focus()
        self._update_header()

    def _apply(self, mode: str, text: str, *, quiet: bool = False) -> bool:
        """Apply what was typed for MODE; False (and the prompt marked) when it is not
        valid. QUIET: while typing, say nothing about it."""
        box = self.query_one("#logs-input", Input)
        view = self.view
        try:
            if mode == "replica":
                replicas, nodes = self._sources(text)
                view.set_sources(replicas, nodes)
            else:
                pattern = compile_pattern(text, regex=self.regex)
                if mode == "filter":
                    view.set_filter(pattern)
                elif not view.set_search(pattern) and pattern is not None and not quiet:
                    self.notify(f"no line shown matches {clean(text)!r}", severity="warning",
                                timeout=2)
        except PatternError as exc:
            box.add_class("-invalid")
            if not quiet:
                self.notify(clean(str(exc)), severity="error")
            return False
        box.remove_class("-invalid")
        self._texts[mode] = text
        if quiet:
            self._update_header()
        return True

    def _sources(self, text: str) -> tuple[set[str] | None, set[str] | None]:
        """`web.1, web, @node-2` -> (replicas, nodes); a service name stands for all its
        replicas. Raises PatternError for a name no line came from."""
        words = [w for w in re.split(r"[,\s]+", text.strip()) if w]
        if not words:
            return None, None
        tags, nodes = set(self.view.replicas), set(self.view.nodes)
        replicas: set[str] = set()
        hosts: set[str] = set()
        for word in words:
            if word.startswith("@") and word[1:] in nodes:
                hosts.add(word[1:])
            elif word in tags:
                replicas.add(word)
            elif word in nodes:
                hosts.add(word)
            elif slots := {t for t in tags if t.startswith(word + ".")}:
                replicas |= slots
            else:
                raise PatternError(f"no line came from a replica, service or node named "
                                   f"{word!r}")
        return replicas or None, hosts or None

    @work(group="logs-save", description="save logs")
    async def _save(self, text: str) -> None:
        view = self.view
        # announced absolute: a relative name lands in the console's working directory,
        # which the operator may not know
        path = Path(text.strip() or self._default_path()).expanduser().absolute()
        entries = view.snapshot()
        try:
            count = await asyncio.to_thread(view.save, path, entries,
                                            timestamps=view.timestamps)
        except OSError as exc:
            self.notify(f"could not save to {clean(str(path))}: {clean(exc.strerror or str(exc))}",
                        severity="error")
            return
        self.notify(f"saved {count:,} lines to {clean(str(path))}")


async def _each_service(fleet, cluster: str, services: Sequence[tuple[str, str]],
                        tail: int | str) -> AsyncIterator[Item]:
    """For a fleet without inventories (recorded data): each service's fleet.logs(), in
    arrival order, without resuming."""
    queue: asyncio.Queue[Item | None] = asyncio.Queue(maxsize=10_000)

    async def pump(service_id: str, name: str) -> None:
        try:
            async with contextlib.aclosing(fleet.logs(cluster, service_id,
                                                      tail=tail)) as lines:
                async for line in lines:
                    await queue.put(line)
        except SwarmdeckError as exc:
            await queue.put(StreamNote(f"{name}: log stream lost ({exc})", service_id))
        finally:
            await queue.put(None)

    pumps = [asyncio.create_task(pump(sid, name)) for sid, name in services]
    try:
        running = len(pumps)
        while running:
            item = await queue.get()
            if item is None:
                running -= 1
            else:
                yield item
    finally:
        for task in pumps:
            task.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)
