"""The live log view and screen on synthetic lines: following and pausing, filters, search,
replica and node filters, toggles, saving, the ring's bound, and nothing a cluster sends
reaching the terminal as an escape sequence."""

from __future__ import annotations

import asyncio
import gc
import time
from datetime import UTC, datetime, timedelta

from textual import events
from textual.app import App, ComposeResult

from swarmdeck.core.log_follow import StreamNote
from swarmdeck.core.logs import LogLine
from swarmdeck.core.sanitize import clean
from swarmdeck.ui.screens.logs import LogsScreen
from swarmdeck.ui.widgets.logview import CUT, FLOOD_FRAME, FRAME, TEXT, LogView

T0 = datetime(2026, 1, 2, 12, 0, 0, tzinfo=UTC)
SIZE = (100, 20)
# shop_worker in the recorded prod state: its replicas (task id -> slot, node)
WORKER = "x2kl1znov7v1jne1w75foszj0"
WORKER_TASKS = {"oamy006yezrcmg89uhh2wesqo": (1, "prod-w2"),
                "4l6xrfb4b2nlf21pc2oq7zyrj": (2, "prod-m3"),
                "ilprq27ylwtss2unk556ggc1i": (3, "prod-w1")}
WORKER_NODES = {"prod-w2": "pu1csz3gsv6dww56q8phld9lh", "prod-m3": "paih17tbfo3q7a2buvd7uw3hd",
                "prod-w1": "bu3orjoltqp8foyygflp4efde"}


def log(text: str, i: int = 0, *, stream: str = "stdout", task: str | None = None,
        node: str | None = None, service: str | None = None) -> LogLine:
    return LogLine(T0 + timedelta(milliseconds=i), stream, text, task, node, service,
                   ns=int((T0 + timedelta(milliseconds=i)).timestamp() * 1e9))


def worker_line(text: str, i: int, slot: int = 1, stream: str = "stdout") -> LogLine:
    task = next(t for t, (s, _n) in WORKER_TASKS.items() if s == slot)
    return log(text, i, stream=stream, task=task, node=WORKER_NODES[WORKER_TASKS[task][1]],
               service=WORKER)


class ViewApp(App):
    def __init__(self, **options) -> None:
        super().__init__()
        self.options = options

    def compose(self) -> ComposeResult:
        yield LogView(**self.options)


def feed(view: LogView, count: int, start: int = 0, replicas: int = 3) -> None:
    for i in range(start, start + count):
        view.add(log(f"line {i}", i, stream="stderr" if i % 10 == 9 else "stdout"),
                 f"web.{i % replicas + 1}", f"node-{i % replicas + 1}")


def drawn(view: LogView) -> list[str]:
    return [view.render_line(y).text.rstrip() for y in range(view.size.height)]


async def settle(pilot) -> None:
    await pilot.pause(FRAME * 3)


# ---- the view on its own -------------------------------------------------------------------
async def test_lines_are_tagged_coloured_per_replica_and_stderr_is_marked():
    app = ViewApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(LogView)
        feed(view, 10)
        await settle(pilot)
        lines = drawn(view)
        assert lines[0].startswith("12:00:00.000 web.1@node-1 ") and lines[0].endswith("line 0")
        assert " ! line 9" in lines[9] and " ! " not in lines[8]
        colours = set()
        for y in range(3):
            label = next(s for s in view.render_line(y) if "@node" in s.text)
            colours.add(label.style.color.name)
        assert len(colours) == 3


async def test_following_keeps_the_newest_line_in_view():
    app = ViewApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(LogView)
        feed(view, 500)
        await settle(pilot)
        assert view.following and view.scroll_offset.y == view.max_scroll_y > 0
        assert [line for line in drawn(view) if line][-1].endswith("line 499")
        feed(view, 5, start=500)
        await settle(pilot)
        assert [line for line in drawn(view) if line][-1].endswith("line 504")


async def test_pause_keeps_the_view_and_counts_what_arrives_then_end_follows_again():
    app = ViewApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(LogView)
        view.focus()
        feed(view, 100)
        await settle(pilot)
        view.pause()
        await settle(pilot)
        before = drawn(view)
        assert before[-1].strip() == "❚❚ paused · 0 new · End follows"
        feed(view, 1234, start=100)
        await settle(pilot)
        # lines keep coming into the ring; the view stays put and says how many came
        assert drawn(view)[:-1] == before[:-1]
        assert drawn(view)[-1].strip() == "❚❚ paused · 1,234 new · End follows"
        assert view.total_lines == 1334 and view.new_since_pause == 1234
        await pilot.press("end")
        await settle(pilot)
        assert view.following and "paused" not in drawn(view)[-1]
        assert [line for line in drawn(view) if line][-1].endswith("line 1333")


async def test_scrolling_up_pauses_following():
    app = ViewApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(LogView)
        view.focus()
        feed(view, 300)
        await settle(pilot)
        await pilot.press("pageup")
        await settle(pilot)
        assert not view.following
        top = view.scroll_offset.y
        feed(view, 50, start=300)
        await settle(pilot)
        assert view.scroll_offset.y == top and view.new_since_pause == 50
        await pilot.press("G")
        await settle(pilot)
        assert view.following and view.scroll_offset.y == view.max_scroll_y


async def test_the_ring_keeps_the_newest_lines_and_a_paused_view_stays_on_its_lines():
    app = ViewApp(max_lines=1000)
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(LogView)
        feed(view, 1000)
        await settle(pilot)
        view.pause()
        view.scroll_to(y=500, animate=False)
        await settle(pilot)
        before = drawn(view)
        assert before[0].endswith("line 500")
        feed(view, 300, start=1000)  # the oldest 300 leave the ring
        await settle(pilot)
        assert drawn(view)[:-1] == before[:-1] and view.scroll_offset.y == 200
        feed(view, 5000, start=1300)
        await settle(pilot)
        assert view.kept == 1000 and view.total_lines == 6300
        assert view.snapshot()[0][TEXT] == "line 5300" and view.snapshot()[-1][TEXT] == "line 6299"


async def test_kept_lines_cost_the_garbage_collector_nothing_and_give_their_logline_back():
    app = ViewApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(LogView)
        sent = [log(f"line {i}\x1b[0m", i, task="t1", node="n1", service="s1") for i in range(500)]
        for line in sent:
            view.add(line, "web.1", "node-1")
        view.add_note("a note")
        await settle(pilot)
        gc.collect()
        assert not any(gc.is_tracked(entry) for entry in view.snapshot())
        assert [view.line_of(entry) for entry in view.snapshot()[:-1]] == sent
        assert view.line_of(view.snapshot()[-1]) is None


async def test_redraws_are_coalesced_not_one_per_line():
    app = ViewApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(LogView)
        await settle(pilot)
        frames = view.frames
        started = time.monotonic()
        for burst in range(20):
            feed(view, 1000, start=burst * 1000)
            await asyncio.sleep(0.01)
        await settle(pilot)
        elapsed = time.monotonic() - started
        assert view.total_lines == 20_000
        assert view.frames - frames <= elapsed / FRAME + 2


async def test_a_flood_is_drawn_less_often_than_a_trickle():
    """A frame that brings a screenful of new rows redraws everything: while following a
    flood the view draws at FLOOD_FRAME; rows that come a few at a time, or a flood while
    paused (nothing in view moves), at FRAME."""
    app = ViewApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(LogView)
        await settle(pilot)
        assert view._frame == FRAME
        feed(view, SIZE[1] * 2)
        await settle(pilot)
        assert view._frame == FLOOD_FRAME
        feed(view, 1, start=1000)
        await settle(pilot)
        assert view._frame == FRAME
        view.pause()
        feed(view, SIZE[1] * 2, start=2000)
        await settle(pilot)
        assert view._frame == FRAME
        view.resume()
        # and the pace itself: frames a second under a steady flood
        frames, started, i = view.frames, time.monotonic(), 3000
        while time.monotonic() - started < 1.0:
            feed(view, SIZE[1] * 2, start=i)
            i += SIZE[1] * 2
            await asyncio.sleep(0.005)
        assert 2 <= (view.frames - frames) / (time.monotonic() - started) <= 1 / FLOOD_FRAME + 2


async def test_long_lines_are_cut_or_wrapped_and_timestamps_toggle():
    app = ViewApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(LogView)
        view.add(log("x" * 5000 + "END"), "web.1", "node-1")
        view.add(log("short"), "web.1", "node-1")
        await settle(pilot)
        strip = view._rows(view.snapshot()[0])[0]
        assert "… +3,979 cells (w wraps)" in strip.text and "END" not in strip.text
        assert strip.cell_length < CUT + 100
        view.wrap = True
        await settle(pilot)
        rows = view._rows(view.snapshot()[0])
        width = view.scrollable_content_region.width
        assert len(rows) > 50 and all(len(r.text.rstrip()) <= width for r in rows)
        assert rows[-1].text.rstrip().endswith("END")
        assert view.virtual_size.height == len(rows) + 1
        assert drawn(view)[-1].endswith("short")  # following: the end shows
        assert drawn(view)[-1].startswith("12:00:00.000 ")
        view.timestamps = False
        await settle(pilot)
        assert drawn(view)[-1].startswith("web.1@node-1 ")
        view.wrap = False
        await settle(pilot)
        assert view.virtual_size.height == 2


async def test_escape_sequences_from_a_cluster_are_inert_in_everything_drawn():
    app = ViewApp()
    async with app.run_test(size=(160, 20)) as pilot:
        view = app.query_one(LogView)
        evil = ("title \x1b]0;owned\x07 clip \x1b]52;c;aGk=\x07 csi \x1b[2J c1 \x9b31m "
                "cr \rend bs \x08 nul \x00 rlo \u202egpj.exe zw a\u200bb")
        view.add(log(evil), "web\x1b[31m.1", "node\x9b1\u2066")
        view.add(log(evil, 1, stream="stderr"), "web.2", "node-2")
        view.add_note(f"web.3 on node\x1b]0;x\x07: node down {evil}", "warning")
        view.set_search(None)
        await settle(pilot)
        texts = [seg.text for y in range(view.size.height) for seg in view.render_line(y)]
        view.wrap = True
        await settle(pilot)
        texts += [seg.text for y in range(view.size.height) for seg in view.render_line(y)]
        joined = "".join(texts)
        for bad in ("\x1b", "\x9b", "\r", "\x07", "\x00", "\x08", "\u202e", "\u200b", "\u2066"):
            assert bad not in joined
        for placeholder in ("<ESC>]0;owned<BEL>", "<ESC>]52;c;aGk=<BEL>", "<ESC>[2J", "<9B>31m",
                            "<CR>end", "<BS>", "<00>", "web<ESC>[31m.1@node<9B>1<U+2066>",
                            "node<ESC>]0;x<BEL>", "<U+202E>gpj.exe", "a<U+200B>b"):
            assert placeholder in joined, placeholder


def test_printable_text_is_what_clean_would_make_of_it():
    # the view skips clean()'s per-character work for printable text: it must change nothing
    for code in range(0x10000):
        char = chr(code)
        if char.isprintable():
            assert clean(char) == char
    assert not "\t".isprintable() and not "\x1b".isprintable() and not "\x9b".isprintable()
    assert not any(c.isprintable() for c in "\u202e\u2066\u200b\u200e\u061c\ufeff\u2060")


async def test_search_highlights_matches_and_n_and_N_move_between_them():
    app = ViewApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(LogView)
        for i in range(300):
            view.add(log(f"job {i}" + (" needle" if i % 50 == 7 else "")), "web.1", "node-1")
        await settle(pilot)
        from swarmdeck.ui.widgets.logview import compile_pattern

        assert view.set_search(compile_pattern("NEEDLE".lower()))
        assert view.current_match[1] == "job 257 needle" and not view.following
        lit = [seg for y in range(view.size.height) for seg in view.render_line(y)
               if seg.text == "needle"]
        assert lit and lit[0].style.bgcolor is not None
        assert view.search_previous() and view.current_match[1] == "job 207 needle"
        assert view.search_previous() and view.current_match[1] == "job 157 needle"
        assert view.search_next() and view.current_match[1] == "job 207 needle"
        shown = drawn(view)
        assert any("▶ job 207 needle" in line for line in shown)  # the match is in view
        assert view.search_next() and view.current_match[1] == "job 257 needle"
        # past the newest match, n wraps to the oldest
        assert view.search_next() and view.current_match[1] == "job 7 needle"
        assert not view.set_search(compile_pattern("absent"))


# ---- the screen ----------------------------------------------------------------------------
def source_of(items: list, *, then_wait: asyncio.Event | None = None):
    async def source():
        for item in items:
            yield item
        if then_wait is not None:
            await then_wait.wait()
    return source


async def open_logs(app, pilot, items, **kwargs) -> LogsScreen:
    stop = asyncio.Event()
    screen = LogsScreen("prod", [(WORKER, "shop_worker")], "shop_worker",
                        source=source_of(items, then_wait=stop), **kwargs)
    await app.push_screen(screen)
    await settle(pilot)
    return screen


def worker_lines(count: int, start: int = 0) -> list[LogLine]:
    return [worker_line(f"job {i}" + (" ERROR disk" if i % 25 == 3 else ""), i,
                        slot=i % 3 + 1, stream="stderr" if i % 25 == 3 else "stdout")
            for i in range(start, start + count)]


async def test_screen_tags_replicas_from_the_inventory(make_app):
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await open_logs(app, pilot, worker_lines(30))
        lines = [line for line in drawn(screen.view) if line]
        assert "shop_worker.1@prod-w2" in lines[-3] or "shop_worker.1@prod-w2" in lines[-1]
        assert {r for r in screen.view.replicas} == {"shop_worker.1", "shop_worker.2",
                                                     "shop_worker.3"}
        header = ""
        for _ in range(30):  # the header is redrawn on the view's tick, not per line
            header = str(screen.query_one("#logs-header").render())
            if "30 lines" in header:
                break
            await pilot.pause(0.1)
        assert "shop_worker" in header and "following" in header and "30 lines" in header


async def test_screen_filter_substring_and_regex_while_lines_keep_arriving(make_app):
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await open_logs(app, pilot, worker_lines(200))
        view = screen.view
        await pilot.press("f", *"error", "enter")
        await settle(pilot)
        shown = [line for line in drawn(view) if line]
        assert len(shown) == 8 and all("ERROR disk" in line for line in shown)
        assert view.shown_count == 8 and view.total_lines == 200
        for line in worker_lines(50, start=200):
            view.add(line, *screen._tag(line))
        await settle(pilot)
        assert view.shown_count == 10 and view.total_lines == 250  # ingestion never stopped
        await pilot.press("f", "ctrl+u", *r"re:^job 1\d0$", "enter")
        await settle(pilot)
        assert [line.split()[-1] for line in drawn(view) if line] == \
            ["100", "110", "120", "130", "140", "150", "160", "170", "180", "190"]
        await pilot.press("f", "ctrl+u", *"re:job (", "enter")  # refused, said, kept open
        await settle(pilot)
        assert screen.query_one("#logs-input").display and view.shown_count == 10
        assert screen.query_one("#logs-input").has_class("-invalid")
        await pilot.press("escape")  # cancel: the filter before the prompt stays
        await settle(pilot)
        assert not screen.query_one("#logs-input").display and view.shown_count == 10
        assert app.screen is screen
        await pilot.press("x")
        await settle(pilot)
        assert not view.filtering and view.shown_count == 250


async def test_screen_filter_matches_the_replica_and_node_tag_too(make_app):
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await open_logs(app, pilot, worker_lines(90))
        view = screen.view
        await pilot.press("f", *"shop_worker.2@", "enter")
        await settle(pilot)
        shown = [line for line in drawn(view) if line]
        assert view.shown_count == 30 and shown
        assert all("shop_worker.2@prod-m3" in line for line in shown)
        await pilot.press("f", "ctrl+u", *"@prod-w1", "enter")
        await settle(pilot)
        assert view.shown_count == 30
        # a replica that starts after the filter is set is matched by its tag as well
        view.add(log("hello", 999, task="new-task", node="n"), "shop_worker.4", "prod-w1")
        await settle(pilot)
        assert view.shown_count == 31
        assert any("shop_worker.4@prod-w1" in line for line in drawn(view))


async def test_screen_search_next_and_previous(make_app):
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await open_logs(app, pilot, worker_lines(200))
        view = screen.view
        await pilot.press("slash", *"disk", "enter")
        await settle(pilot)
        assert view.current_match[1] == "job 178 ERROR disk" and not view.following
        await pilot.press("N")
        assert view.current_match[1] == "job 153 ERROR disk"
        await pilot.press("n", "n")
        assert view.current_match[1] == "job 3 ERROR disk"
        assert "search: disk" in str(screen.query_one("#logs-header").render())


async def test_screen_replica_and_node_filters(make_app):
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await open_logs(app, pilot, worker_lines(90))
        view = screen.view
        await pilot.press("r", *"shop_worker.2", "enter")
        await settle(pilot)
        shown = [line for line in drawn(view) if line]
        assert view.shown_count == 30 and all("shop_worker.2@prod-m3" in s for s in shown)
        await pilot.press("r", "ctrl+u", *"@prod-w1", "enter")
        await settle(pilot)
        assert view.shown_count == 30 and all("shop_worker.3@prod-w1" in s
                                              for s in drawn(view) if s)
        await pilot.press("r", "ctrl+u", *"shop_worker", "enter")  # the service: all replicas
        await settle(pilot)
        assert view.shown_count == 90
        await pilot.press("r", "ctrl+u", *"nosuch", "enter")
        await settle(pilot)
        assert screen.query_one("#logs-input").has_class("-invalid")


async def test_screen_toggles_and_save_writes_the_inert_lines_shown(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        evil = worker_line("boom \x1b]0;owned\x07 \x9b2J \rgone", 1000, slot=2, stream="stderr")
        screen = await open_logs(app, pilot, [*worker_lines(100), evil])
        view = screen.view
        await pilot.press("t")
        assert not view.timestamps
        await pilot.press("w")
        assert view.wrap
        await pilot.press("w", "t")
        await pilot.press("f", *"re:ERROR|boom", "enter")
        await settle(pilot)
        target = tmp_path / "saved.log"
        await pilot.press("s", "ctrl+u", *str(target), "enter")
        deadline = time.monotonic() + 5
        while not target.exists() and time.monotonic() < deadline:
            await pilot.pause(0.05)
        await pilot.pause(0.1)
        saved = target.read_text().splitlines()
        assert len(saved) == 4 + 1
        assert saved[0] == f"{worker_lines(4)[3].timestamp.isoformat()} " \
                           "shop_worker.1@prod-w2 | job 3 ERROR disk"
        assert saved[-1].endswith(
            "shop_worker.2@prod-m3 | boom <ESC>]0;owned<BEL> <9B>2J <CR>gone")
        raw = target.read_bytes()
        assert b"\x1b" not in raw and b"\r" not in raw and "\x9b".encode() not in raw


async def test_a_saved_file_is_announced_with_its_absolute_path(make_app, tmp_path,
                                                               monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await open_logs(app, pilot, worker_lines(10))
        await pilot.press("s", "ctrl+u", *"relative.log", "enter")
        wanted = f"saved 10 lines to {tmp_path / 'relative.log'}"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(
                n.message.startswith("saved") for n in app._notifications):
            await pilot.pause(0.05)
        assert [n.message for n in app._notifications if n.message.startswith("saved")] \
            == [wanted]
    assert (tmp_path / "relative.log").read_text().count("\n") == 10


async def headers_around(app, pilot, source, gate: asyncio.Event):
    """The logs screen of shop_worker fed by SOURCE: its header before GATE opens, and
    after."""
    screen = LogsScreen("prod", [(WORKER, "shop_worker")], "shop_worker", source=source)
    await app.push_screen(screen)
    headers = []
    for opened in (False, True):
        if opened:
            gate.set()
        await settle(pilot)
        screen._update_header()
        headers.append(str(screen.query_one("#logs-header").render()))
    return screen, *headers


async def test_screen_says_which_streams_are_not_flowing_and_when_they_are_back(make_app, fleet):
    app = make_app()
    async with app.run_test(size=(140, 30)) as pilot:
        gate = asyncio.Event()
        lost = StreamNote("shop_worker: log stream lost (connection reset); resuming in 1s "
                          "from the last line seen", WORKER)

        async def source():
            yield worker_line("before", 1)
            yield lost
            await gate.wait()
            yield worker_line("after", 2)
            await asyncio.Event().wait()

        screen, before, after = await headers_around(app, pilot, source, gate)
        assert "not streaming: shop_worker (stream lost, resuming)" in before
        assert "not streaming" not in after
        assert any("shop_worker: streaming again" in line for line in drawn(screen.view))
        # a replica's node goes down: its lines cannot come, and the header says so
        state = fleet.state("prod")
        node = WORKER_NODES["prod-w1"]
        state.nodes[node] = state.nodes[node].model_copy(update={"status": "down"})
        screen.refresh_data()
        screen._update_header()
        assert "shop_worker.3 on prod-w1 (node down)" in \
            str(screen.query_one("#logs-header").render())
        state.nodes[node] = state.nodes[node].model_copy(update={"status": "ready"})
        screen.refresh_data()
        screen._update_header()
        await settle(pilot)
        assert "not streaming" not in str(screen.query_one("#logs-header").render())
        assert any("shop_worker.3 on prod-w1: node back" in line for line in drawn(screen.view))


async def test_a_replica_not_streaming_stays_named_while_the_others_flow(make_app):
    """A note on one replica's own stream marks that replica, not its service: lines of
    the other replicas do not clear it, a line of its own does."""
    app = make_app()
    async with app.run_test(size=(140, 30)) as pilot:
        gate = asyncio.Event()
        task = next(t for t, (slot, _n) in WORKER_TASKS.items() if slot == 1)
        lost = StreamNote("shop_worker.1 on prod-w2: log stream lost (connection reset); "
                          "resuming in 1s from the last line seen", WORKER, task_id=task,
                          replica="shop_worker.1 on prod-w2")

        async def source():
            yield lost
            yield worker_line("others flow", 1, slot=2)
            yield worker_line("others flow", 2, slot=3)
            await gate.wait()
            yield worker_line("back", 3, slot=1)
            await asyncio.Event().wait()

        screen, before, after = await headers_around(app, pilot, source, gate)
        assert "not streaming: shop_worker.1 on prod-w2 (stream lost, resuming)" in before
        assert "not streaming" not in after
        assert any("shop_worker.1 on prod-w2: streaming again" in line
                   for line in drawn(screen.view))


async def test_screen_without_a_source_uses_the_fleet(make_app):
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        screen = LogsScreen("prod", [(WORKER, "shop_worker")], "shop_worker")
        await app.push_screen(screen)
        deadline = time.monotonic() + 5
        while screen.view.total_lines == 0 and time.monotonic() < deadline:
            await pilot.pause(0.05)
        await settle(pilot)
        assert screen.view.total_lines > 0
        assert set(screen.view.replicas) <= {"shop_worker.1", "shop_worker.2", "shop_worker.3"}
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is not screen


async def test_a_flood_never_holds_up_keys_or_frames(make_app):
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        total = 200_000

        async def flood():  # never awaits: everything is available at once
            for i in range(total):
                yield worker_line(f"flood {i}", i, slot=i % 3 + 1)
            await asyncio.Event().wait()

        screen = LogsScreen("prod", [(WORKER, "shop_worker")], "shop_worker", source=flood)
        await app.push_screen(screen)
        view = screen.view
        deadline = time.monotonic() + 30
        while view.total_lines < 20_000 and time.monotonic() < deadline:
            await asyncio.sleep(0.001)
        frames = view.frames
        app.post_message(events.Key("t", "t"))
        while view.timestamps and time.monotonic() < deadline:
            await asyncio.sleep(0.001)
        assert not view.timestamps and view.total_lines < total  # the key came mid-flood
        while view.total_lines < total and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert view.total_lines == total and view.frames > frames + 3
        await settle(pilot)
        assert [line for line in drawn(view) if line][-1].endswith(f"flood {total - 1}")
