"""The console at 80x24, 120x40 and 200x60: which columns show, what a row reads, the pinned
name, sorting on shift+letter, the panes that follow the terminal's size. Every check reads
what the tables draw (their rendered lines), on recorded lab data."""

from __future__ import annotations

from io import StringIO

from rich.console import Console
from textual.widgets._footer import FooterKey
from ui_waits import wait_until

from swarmdeck.core.models import Service
from swarmdeck.ui.screens.detail import ServiceScreen
from swarmdeck.ui.screens.help import bindings_table
from swarmdeck.ui.widgets.cells import SERVICE_OPTIONAL
from swarmdeck.ui.widgets.logs import LogPane
from swarmdeck.ui.widgets.projects import ProjectsTree
from swarmdeck.ui.widgets.table import LiveTable


def table(app, selector: str) -> LiveTable:
    return app.screen.query_one(selector, LiveTable)


def drawn(t: LiveTable, key: str) -> str:
    """The line the table draws for row KEY (it must be in view)."""
    row = t.rows.index(key) - t.scroll_offset.y
    return t.render_line(row + 1).text


def header(t: LiveTable) -> str:
    return t.render_line(0).text


def key_of(app, selector: str, name: str) -> str:
    t = table(app, selector)
    column = "hostname" if selector == "#nodes" else "name"
    return next(k for k in t.rows if t.get_cell(k, column).plain == name)


async def ready(pilot) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: table(app, "#services").row_count == 5
                     and table(app, "#services").shown_columns)
    await pilot.pause(0.1)


async def test_80x24_a_service_row_shows_replicas_cpu_and_memory(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        services = table(app, "#services")
        assert {"name", "replicas", "cpu", "mem"} <= set(services.shown_columns)
        line = drawn(services, key_of(app, "#services", "shop_worker"))
        assert "shop_worker" in line and "3/3" in line
        assert "1.5%" in line and "5 MiB" in line  # the synthetic samples' last values
        assert services.virtual_size.width <= services.size.width  # nothing off screen
        nodes = table(app, "#nodes")
        assert {"hostname", "role", "status", "cpu", "mem"} <= set(nodes.shown_columns)
        line = drawn(nodes, key_of(app, "#nodes", "prod-m1"))
        assert "prod-m1" in line and "leader" in line and "ready" in line
        assert "21.0%" in line and "GiB" in line
        # the projects pane gives its room to the tables at 80 columns
        assert not app.screen.query_one(ProjectsTree).display


async def test_200x60_every_column_shows(make_app):
    app = make_app()
    async with app.run_test(size=(200, 60)) as pilot:
        await ready(pilot)
        for selector in ("#services", "#nodes"):
            t = table(app, selector)
            assert t.shown_columns == t.column_keys
            head = header(t)
            for _key, label in t._column_specs:
                assert label.rstrip(">") in head
        line = drawn(table(app, "#services"), key_of(app, "#services", "shop_web"))
        # the image may shrink to the room left (cut with "…"), never out of view
        assert "host:8080->8080/tcp" in line and "10.213.0.1:5000/swarmdeck/" in line
        assert "replicated" in line and "13m" in line


async def test_optional_columns_come_in_their_order_and_come_back(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        services = table(app, "#services")
        optional = [k for k in services.shown_columns if k in SERVICE_OPTIONAL]
        assert 0 < len(optional) < len(SERVICE_OPTIONAL)
        assert optional == SERVICE_OPTIONAL[:len(optional)]  # a prefix: in that order
        middle = list(services.shown_columns)
        await pilot.resize_terminal(80, 24)
        assert await wait_until(pilot, lambda: services.shown_columns == [
            "name", "replicas", "cpu", "mem"])
        await pilot.resize_terminal(200, 60)
        assert await wait_until(pilot, lambda: services.shown_columns == services.column_keys)
        await pilot.resize_terminal(120, 40)
        assert await wait_until(pilot, lambda: services.shown_columns == middle)


async def test_widths_follow_the_rows_shown_not_another_cluster(make_app, fleet):
    long_name = "staging_" + "x" * 36
    staging = fleet.state("staging")
    some = next(iter(staging.services.values()))
    staging.services[some.id] = some.model_copy(update={"name": long_name})
    app = make_app()
    async with app.run_test(size=(200, 60)) as pilot:
        await ready(pilot)
        services = table(app, "#services")
        before = services.column_widths["name"]
        assert before == len("monitoring_collector")
        await pilot.press("c")  # staging
        assert await wait_until(pilot, lambda: services.column_widths["name"] == len(long_name))
        await pilot.press("c")  # prod again: the name column is as narrow as before
        assert await wait_until(pilot, lambda: services.column_widths["name"] == before)
        assert services.shown_columns == services.column_keys  # and the rest came back


async def test_the_name_stays_when_scrolling_sideways(make_app):
    app = make_app()
    async with app.run_test(size=(60, 24)) as pilot:
        await ready(pilot)
        services = table(app, "#services")
        key = key_of(app, "#services", "shop_worker")
        assert services.virtual_size.width > services.size.width  # too narrow for them
        assert "MiB" not in drawn(services, key)
        for _ in range(10):
            await pilot.press("right")
        await pilot.pause()
        assert services.scroll_offset.x > 0
        line = drawn(services, key)
        assert line.startswith(" shop_worker")  # pinned
        assert "5 MiB" in line  # what was off screen came into view
        assert header(services).startswith(" NAME")


async def test_sort_on_cpu_puts_the_busiest_first_and_again_reverses(make_app, fleet):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        services = table(app, "#services")
        services.focus()
        letter = services.sort_letters["cpu"]
        assert letter == "C"
        metrics = fleet.metrics("prod").metrics
        state = fleet.state("prod")
        busy = sorted((s for s in state.services.values() if s.id in metrics.services),
                      key=lambda s: -metrics.services[s.id].last.cpu)
        await pilot.press(letter)
        names = [services.get_cell(k, "name").plain for k in services.rows]
        assert names[0] == busy[0].name == "shop_worker"
        assert names[-1] == "backup-once"  # no samples: last
        assert "CPU↓" in header(services)
        assert "1.5%" in drawn(services, services.rows[0])
        await pilot.press(letter)
        names = [services.get_cell(k, "name").plain for k in services.rows]
        assert names[0] == busy[-1].name and names[-1] == "backup-once"
        assert "CPU↑" in header(services)
        # kept for the pane while the console runs: another cluster and back
        await pilot.press("c", "c")
        await pilot.pause(0.2)
        assert services.sort_column == "cpu" and not services.sort_reverse
        await pilot.press(services.sort_letters["name"])
        names = [services.get_cell(k, "name").plain for k in services.rows]
        assert names == sorted(names)


async def test_natural_order_by_default(make_app, fleet):
    prod = fleet.state("prod")
    for n in (10, 2, 1):
        prod.services[f"f{n}"] = Service(id=f"f{n}", name=f"f{n}", mode="replicated",
                                         replicas=1, image="busybox")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: table(app, "#services").row_count == 8)
        services = table(app, "#services")
        names = [services.get_cell(k, "name").plain for k in services.rows]
        assert names.index("f1") < names.index("f2") < names.index("f10")


async def test_sort_keys_collide_with_no_other_key_and_show_in_help(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        for selector in ("#services", "#nodes"):
            t = table(app, selector)
            t.focus()
            await pilot.pause()
            assert len(t.sort_letters) == len(t.column_keys)
            assert len(set(t.sort_letters.values())) == len(t.sort_letters)
            others = {key for node, bindings in app.screen._binding_chain
                      for key, b in bindings if not b.action.startswith("sort(")}
            assert not others & set(t.sort_letters.values())
            # each header shows its letter: underlined in the label or added to it
            labels = t._header_labels()
            for (key, _label), text in zip(t._column_specs, labels, strict=True):
                letter = t.sort_letters[key]
                assert any(text.plain[s.start:s.end] == letter and "underline" in str(s.style)
                           for s in text.spans)
        table(app, "#services").focus()
        await pilot.pause()
        out = Console(file=StringIO(), width=120)
        out.print(bindings_table(app.screen))  # what `?` lists
        assert any(line.split()[:4] == ["C", "Sort", "by", "cpu"]
                   for line in out.file.getvalue().splitlines())


async def test_g_and_shift_g_go_to_the_first_and_last_row(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        services = table(app, "#services")
        services.focus()
        await pilot.press("G")
        assert services.cursor_row == services.row_count - 1
        await pilot.press("g")
        assert services.cursor_row == 0
        tree = app.screen.query_one(ProjectsTree)
        tree.focus()
        await pilot.press("g")
        first = tree.cursor_line
        await pilot.press("j", "j")
        assert tree.cursor_line == first + 2
        await pilot.press("k")
        assert tree.cursor_line == first + 1
        await pilot.press("G")
        assert tree.cursor_line == tree.last_line


async def test_panes_follow_the_terminal_size(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        tree, logs = app.screen.query_one(ProjectsTree), app.screen.query_one(LogPane)
        assert not tree.display and not logs.display
        await pilot.press("o")  # shows the projects pane, focused
        assert tree.display and app.screen.focused is tree
        await pilot.press("o")
        assert not tree.display and app.screen.focused is table(app, "#services")
        await pilot.resize_terminal(140, 40)
        assert await wait_until(pilot, lambda: tree.display and logs.display)
        await pilot.resize_terminal(80, 24)
        assert await wait_until(pilot, lambda: not tree.display and not logs.display)
        await pilot.press("L")  # shown by hand, it stays while only the width changes
        assert logs.display
        await pilot.resize_terminal(120, 24)
        assert await wait_until(pilot, lambda: tree.display)
        assert logs.display
        await pilot.resize_terminal(120, 36)
        await pilot.pause(0.1)
        assert logs.display and tree.display


async def test_footer_keeps_help_and_only_whole_keys(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.pause(0.2)
        keys = list(app.screen.query(FooterKey))
        assert keys[0].key == "question_mark"
        assert "o" in [k.key for k in keys]  # the projects pane's key, hidden at 80
        palette = next(k for k in keys if k.has_class("-command-palette"))
        for k in keys:
            if k is not palette:  # whole, and left of the palette's key
                assert k.region.right <= palette.region.x
                assert k.region.width >= len(k.key_display) + len(k.description) + 2
        # fewer than Textual's footer would cut: some keys are left out at 80 columns
        await pilot.resize_terminal(200, 60)
        await pilot.pause(0.3)
        assert len(list(app.screen.query(FooterKey))) > len(keys)


async def test_service_detail_scrolls_at_80x24(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        services = table(app, "#services")
        services.cursor_row = services.rows.index(key_of(app, "#services", "shop_web"))
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: isinstance(app.screen, ServiceScreen))
        await pilot.pause(0.1)
        box = app.screen.query_one("#summary-box")
        assert box.max_scroll_y > 0  # cut before: now it scrolls
        box.focus()
        await pilot.press("end")
        await pilot.pause(0.1)
        lines = [strip.text for strip in app.screen._compositor.render_strips()]
        assert any("environment" in line for line in lines)  # the summary's last line
        assert any("reservations" in line for line in lines)


async def test_the_vertical_scrollbar_takes_its_own_column(make_app, fleet):
    """With more rows than fit, the scrollbar appears at the right: the columns are fitted
    to the width left of it, so it never covers the memory figure."""
    prod = fleet.state("prod")
    for n in range(30):
        prod.services[f"x{n}"] = Service(id=f"x{n}", name=f"extra_{n}", mode="replicated",
                                         replicas=1, image="busybox")
    # a name that makes the row exactly as wide as the pane with its scrollbar: 1 too wide
    prod.services["x0"] = prod.services["x0"].model_copy(update={"name": "extra_" + "y" * 21})
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: table(app, "#services").row_count == 35)
        await pilot.pause(0.1)
        services = table(app, "#services")
        assert services.show_vertical_scrollbar and not services.show_horizontal_scrollbar
        assert services.virtual_size.width <= services.scrollable_content_region.width
        services.focus()
        await pilot.press("G")  # shop_worker, last: scrolled into view
        await pilot.pause(0.1)
        region = services.scrollable_content_region
        screen_lines = [strip.text for strip in app.screen._compositor.render_strips()]
        row = services.rows.index(key_of(app, "#services", "shop_worker"))
        line = screen_lines[region.y + 1 + row - services.scroll_offset.y]
        assert "shop_worker" in line
        assert line[region.x:region.right].rstrip().endswith("5 MiB")


async def test_the_column_sorted_on_shows_at_any_width(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        services = table(app, "#services")
        services.focus()
        assert "image" not in services.shown_columns
        await pilot.press(services.sort_letters["image"])
        assert "image" in services.shown_columns
        assert "IMAGE↑" in header(services)
        assert services.virtual_size.width <= services.scrollable_content_region.width


async def test_all_clusters_at_80x24_adds_the_cluster_and_still_fits(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("A")
        services = table(app, "#services")
        assert await wait_until(pilot, lambda: services.row_count == 7)
        assert services.shown_columns == ["name", "cluster", "replicas", "cpu", "mem"]
        assert services.virtual_size.width <= services.scrollable_content_region.width
        staging = next(k for k in services.rows if k.startswith("staging/")
                       and services.get_cell(k, "name").plain == "shop_worker")
        line = drawn(services, staging)
        assert "staging" in line and "3/3" in line and "MiB" in line


async def test_a_narrower_column_keeps_the_virtual_width_while_the_columns_fit(make_app):
    """A filter (or an age one character shorter) narrows a column: the table's virtual
    width stays the pane's, so Textual does not lay the whole screen out again."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        services = table(app, "#services")
        before = services.virtual_size.width
        wide = services.column_widths["name"]
        services.set_filter("shop_w")
        assert services.column_widths["name"] == len("shop_worker") < wide
        assert services.virtual_size.width == before == services.scrollable_content_region.width


async def test_the_console_tells_the_fleet_which_clusters_are_on_screen(make_app, fleet):
    """The clusters off screen go to the background (no samplers, no polling): the screen
    says which ones it shows as the cluster changes, and all of them under A."""
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await ready(pilot)
        assert fleet.shown == ["prod"]
        await pilot.press("c")
        assert fleet.shown == ["staging"]
        await pilot.press("A")  # every cluster's services in one table
        assert set(fleet.shown) == set(fleet.names)
        await pilot.press("A")
        assert fleet.shown == ["staging"]
