"""Snapshots of the main screens on recorded lab data (update: pytest --snapshot-update)."""

from __future__ import annotations

import pytest


async def settle(pilot) -> None:
    await pilot.pause(0.8)  # the log pane starts following 0.3 s after a highlight


def test_main_screen_wide(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=(140, 40), run_before=settle)


def test_main_screen_80x24(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=settle)


def test_service_detail(snap_compare, make_app):
    async def open_web(pilot):
        await pilot.press("j", "j", "j", "enter")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=(120, 36), run_before=open_web)


def test_node_detail(snap_compare, make_app):
    async def open_worker(pilot):
        await pilot.press("tab", "j", "j", "j", "enter")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=(120, 36), run_before=open_worker)


def test_help_screen(snap_compare, make_app):
    async def open_help(pilot):
        await settle(pilot)
        await pilot.press("question_mark")

    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=open_help)


def test_all_clusters_and_stale(snap_compare, make_app, fleet):
    async def all_stale(pilot):
        fleet.state("staging").connected = False
        fleet.emit("staging", "connection")
        await pilot.press("A")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=(140, 40), run_before=all_stale)


def test_service_chart(snap_compare, make_app):
    async def chart(pilot):
        await pilot.press("j", "j", "j", "j", "enter", "c")
        await pilot.pause(0.3)

    assert snap_compare(make_app(), terminal_size=(100, 30), run_before=chart)


def test_remove_confirmation_and_progress(snap_compare, make_app):
    """The dialogs an operation shows, over the main screen (the flows themselves are
    driven against the live lab in tests/integration/test_console_ops_live.py)."""
    from swarmdeck.ui.screens.dialogs import ConfirmDialog

    async def ask(pilot):
        await settle(pilot)
        await pilot.app.push_screen(ConfirmDialog(
            "Remove service shop_web from prod? Its tasks stop.", typed="shop_web",
            danger=True))
        await pilot.press(*"shop_w")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=(100, 30), run_before=ask)


def test_operation_progress_view(snap_compare, make_app):
    from swarmdeck.ui.screens.operation import OperationScreen

    async def progress(pilot):
        await settle(pilot)
        view = OperationScreen("update shop_web")
        await pilot.app.push_screen(view)
        for line in ("shop_web: image 10.213.0.1:5000/swarmdeck/demo:1.0 -> "
                     "10.213.0.1:5000/swarmdeck/demo:1.1",
                     "  shop_web: 2/2 running, update updating",
                     "  shop_web: 1/2 running, update updating",
                     "  shop_web: 2/2 running, update completed -> converged"):
            view.say(line)
        view.finish("update shop_web: done", ok=True)
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=(110, 30), run_before=progress)


# the standard terminal, a roomy one and a big one: what shows at each width
SIZES = [(80, 24), (120, 40), (200, 60)]
SIZE_IDS = ["80x24", "120x40", "200x60"]


@pytest.mark.parametrize("size", SIZES[1:], ids=SIZE_IDS[1:])
def test_main_screen_sizes(snap_compare, make_app, size):
    assert snap_compare(make_app(), terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_service_detail_sizes(snap_compare, make_app, size):
    async def open_web(pilot):
        await pilot.press("j", "j", "j", "enter")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=size, run_before=open_web)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_logs_screen_sizes(snap_compare, make_app, size):
    async def full_logs(pilot):
        await pilot.press("G")  # shop_worker: the recording holds its lines
        await settle(pilot)
        await pilot.press("F")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=size, run_before=full_logs)


def test_main_screen_with_the_log_pane_following(snap_compare, make_app):
    """The everyday screen with a service's lines in the log pane (shop_worker: the
    recording holds its lines), replicas tagged service.slot@node."""
    async def worker(pilot):
        await pilot.press("G")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=(160, 50), run_before=worker)
