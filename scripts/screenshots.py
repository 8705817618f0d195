"""Take SVG screenshots of the console's main screens from the live lab (run as root).

    .venv/bin/python scripts/screenshots.py    # writes screenshots/*.svg
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from swarmdeck.cli.lab import lab_dir
from swarmdeck.core.config import load_config
from swarmdeck.core.fleet import Fleet
from swarmdeck.lab.lab import Lab
from swarmdeck.lab.topology import LabSpec
from swarmdeck.ui.app import SwarmdeckApp
from swarmdeck.ui.widgets.table import LiveTable

OUT = Path(__file__).resolve().parent.parent / "screenshots"


async def wait_for_rows(app, pilot, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.screen.query_one("#services", LiveTable).row_count:
            return
        await pilot.pause(0.2)
    raise SystemExit("the console showed no services within 30 s: is the lab healthy?")


async def shoot(lab: Lab) -> None:
    config = load_config(lab.config_file)
    app = SwarmdeckApp(config, Fleet(config), start_cluster="prod")
    async with app.run_test(size=(150, 42)) as pilot:
        await wait_for_rows(app, pilot)
        await pilot.press("j", "j", "j", "j")  # shop_worker: its logs fill the pane
        await pilot.pause(3)
        app.save_screenshot("main.svg", str(OUT))
        await pilot.press("k", "enter")
        await pilot.pause(0.5)
        app.save_screenshot("service.svg", str(OUT))
        await pilot.press("escape", "tab", "j", "j", "j", "enter")
        await pilot.pause(0.5)
        app.save_screenshot("node.svg", str(OUT))
        await pilot.press("escape", "A")
        await pilot.pause(0.5)
        app.save_screenshot("all-clusters.svg", str(OUT))
        await pilot.press("question_mark")
        await pilot.pause(0.3)
        app.save_screenshot("help.svg", str(OUT))


def main() -> None:
    lab = Lab(lab_dir(None), say=lambda m: print(f"lab: {m}", flush=True))
    lab.up(lab.spec() or LabSpec())
    OUT.mkdir(exist_ok=True)
    asyncio.run(shoot(lab))
    for svg in sorted(OUT.glob("*.svg")):
        print(svg)


if __name__ == "__main__":
    main()
