"""A cluster whose manager's host no DNS can hold: the console says what is wrong with it
(the key to fix) in its header, instead of "connecting…" forever, and the other cluster is
loaded as usual. The real Fleet runs here; its only manager is a closed port on this machine,
so nothing leaves it."""

from __future__ import annotations

import io

from rich.console import Console
from ui_waits import wait_until

from swarmdeck.core.config import load_config
from swarmdeck.core.fleet import Fleet
from swarmdeck.ui.app import SwarmdeckApp


def plain(widget) -> str:
    console = Console(width=400, file=io.StringIO(), color_system=None)
    console.print(widget.content)
    return console.file.getvalue()


async def test_the_header_says_what_is_wrong_with_the_cluster(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[ssh]\nconnect_timeout = 3\n'
                    '[clusters.good]\nmanagers = ["ops@127.0.0.1:1"]\nmetrics = "off"\n'
                    '[clusters.bad]\nmanagers = ["ops@edge..lan"]\nmetrics = "off"\n')
    path.chmod(0o600)
    config = load_config(path)
    app = SwarmdeckApp(config, Fleet(config), start_cluster="bad")
    async with app.run_test(size=(200, 30)) as pilot:
        health = app.screen.query_one("#health")
        assert await wait_until(pilot, lambda: "managers[0]" in plain(health), timeout=10), \
            plain(health)
        text = plain(health)
        assert "connecting…" not in text
        assert "'edge..lan' has an empty label" in text
        good = app.fleet.state("good")
        assert await wait_until(pilot, lambda: good.error is not None, timeout=10)
        assert "connection refused" in str(good.error)
