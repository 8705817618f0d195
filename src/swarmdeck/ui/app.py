"""The console: wiring only. Screens hold their own actions; the core holds the state; what
screens share of the app is ui.deck.Deck (FleetSource is there too)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Iterable
from importlib import resources

from rich.console import RenderableType
from rich.text import Text
from rich.traceback import Traceback
from textual.app import SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from swarmdeck.core.config import Config
from swarmdeck.core.crash import EXIT_CODE
from swarmdeck.core.errors import HostKeyError
from swarmdeck.core.sanitize import clean
from swarmdeck.core.transport.host_keys import CHANGED_KEYS
from swarmdeck.ui.crash import crash_line, traceback_line
from swarmdeck.ui.deck import Deck, DeckScreen, FleetSource
from swarmdeck.ui.palette import screen_actions
from swarmdeck.ui.screens.help import HelpScreen
from swarmdeck.ui.screens.main import MainScreen

STYLES = str(resources.files("swarmdeck.styles") / "swarmdeck.tcss")
REFRESH_DELAY = 0.25  # coalesce bursts of inventory changes into one redraw


# Collect young objects less often (CPython: 700, 10, 10). A log flood makes several
# tracked objects per line that live a fraction of a second; with the defaults they reached
# the oldest generation and a full collection ran about once a second, walking the whole
# console (100-300 ms each, every keystroke behind it). Measured on the lab, reading 1M
# lines from 10 replicas: keystroke p95 145 -> 75 ms, 16.6k -> 21.3k lines/s.
GC_THRESHOLDS = (2000, 20, 100)


def settle_garbage_collector() -> tuple[int, ...]:
    """Once the first screen is built: what exists now (Textual, the screens, the config)
    lives as long as the app, so full collections stop walking it (gc.freeze), and young
    objects are collected less often. Returns the thresholds it replaced."""
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    return before


def restore_garbage_collector(thresholds: tuple[int, ...]) -> None:
    """When the app ends (in a process that goes on: tests, the bench): what was frozen
    can be collected again."""
    gc.unfreeze()
    gc.set_threshold(*thresholds)


class SwarmdeckApp(Deck):
    CSS_PATH = STYLES
    TITLE = "swarmdeck"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("colon", "command", "Command", id="app.command"),
        Binding("tab", "app.focus_next", "Next pane", show=False, id="focus.next"),
        Binding("shift+tab", "app.focus_previous", "Previous pane", show=False,
                id="focus.previous"),
    ]

    def __init__(self, config: Config, fleet: FleetSource, *, start_cluster: str | None = None,
                 read_only: bool = False) -> None:
        super().__init__(config, fleet, start_cluster=start_cluster, read_only=read_only)
        self.theme = config.ui.theme  # checked against Textual's themes when it was loaded
        self._refresh_pending: asyncio.TimerHandle | None = None
        self._unsubscribe = None
        self._unsubscribe_keys: Callable[[], None] | None = None
        self._gc_before: tuple[int, ...] | None = None
        # a crash line is printed whole, the terminal wraps it: the report's path copies as
        # one piece (rich would crop it at the width, or break it with newlines)
        self.error_console.soft_wrap = True

    def on_mount(self) -> None:
        self._apply_keymap()
        self._unsubscribe = self.fleet.subscribe(self._on_change)
        self._unsubscribe_keys = CHANGED_KEYS.subscribe(self._on_changed_key)
        # the cluster shown first is said before any cluster starts: the others begin in the
        # background (no sampler connection is opened to be closed a moment later)
        self.fleet.show([self.start_cluster])
        for name in self.fleet.names:
            self.run_worker(self.fleet.run(name), name=f"inventory {name}",
                            group="inventory", exit_on_error=False)
        self.push_screen(MainScreen())
        self.call_after_refresh(self._settle_gc)

    def _on_changed_key(self, error: HostKeyError) -> None:
        first = error.host not in self.changed_keys
        self.changed_keys[error.host] = error
        if first:
            self.notify(clean(str(error)), title="HOST KEY CHANGED", severity="error",
                        timeout=60)
        if isinstance(self.screen, MainScreen):
            self.screen.show_header()

    def _settle_gc(self) -> None:
        self._gc_before = settle_garbage_collector()

    def _apply_keymap(self) -> None:
        keys = dict(self.config.keys)
        if keys:
            self.set_keymap(keys)

    async def on_unmount(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
        if self._unsubscribe_keys:
            self._unsubscribe_keys()
        await self.forwards.close_all()  # before the connections they run on
        await self.fleet.close()
        if self._gc_before is not None:
            restore_garbage_collector(self._gc_before)

    # ---- a crash: a report file and one line, never Textual's traceback ------------------
    def _handle_exception(self, error: Exception) -> None:
        """Textual's own prints a rich traceback with every frame's local variables
        (App._fatal_error: show_locals=True), and those held a secret's data and a join
        token. The rest is as Textual does it: the app exits, run_test re-raises the error."""
        self._return_code = EXIT_CODE
        if self._exception is None:
            self._exception = error
            self._exception_event.set()
        self.bell()
        self._exit_renderables.append(Text(crash_line(error)))
        self._close_messages_no_wait()

    def panic(self, *renderables: RenderableType) -> None:
        """The driver's input thread reports its own death as a rich Traceback: a crash too."""
        if any(isinstance(r, Traceback) for r in renderables):
            self._return_code = EXIT_CODE
            renderables = tuple(Text(traceback_line(r), no_wrap=True, overflow="ignore")
                                if isinstance(r, Traceback) else r for r in renderables)
        super().panic(*renderables)

    # ---- inventory -> screens ------------------------------------------------------------
    def _on_change(self, change) -> None:
        if change.kind == "metrics" and not self._shows(change.cluster):
            return  # a metrics tick of a cluster that is not on screen changes nothing seen
        if change.kind == "events":
            return  # only the events view shows them, and it listens for itself
        # a cluster shown that has just loaded is drawn at once (the first screen waits for
        # nothing), and so is one that has just lost its link (STALE is never held back, even
        # when the next manager answers a moment later); other changes wait a moment, to be
        # drawn together
        at_once = change.kind in ("loaded", "connection") and self._shows(change.cluster)
        if self._refresh_pending is not None:
            if not at_once:
                return
            self._refresh_pending.cancel()
        # a plain loop timer: a Textual timer is a task of its own, started every time
        self._refresh_pending = asyncio.get_running_loop().call_later(
            0 if at_once else REFRESH_DELAY, self._refresh_screens)

    def _shows(self, cluster: str) -> bool:
        return any(isinstance(screen, DeckScreen) and screen.shows(cluster)
                   for screen in self.screen_stack)

    def _refresh_screens(self) -> None:
        self._refresh_pending = None
        if not self.is_running:
            return  # the app ended while the redraw was pending
        for screen in self.screen_stack:
            if isinstance(screen, DeckScreen) and screen.is_mounted:
                screen.refresh_data()

    # ---- actions shared by every screen --------------------------------------------------
    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_command(self) -> None:
        from swarmdeck.ui.screens.command import open_prompt

        open_prompt(self)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from screen_actions(self, screen)  # every pane's, not only the focused one's
        main = next((s for s in self.screen_stack if isinstance(s, MainScreen)), None)
        if main is not None:
            for name in self.fleet.names:
                yield SystemCommand(f"Switch to cluster {name}", "show its services and nodes",
                                    lambda n=name: main.switch_cluster(n))
