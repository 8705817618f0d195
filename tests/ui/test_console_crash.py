"""A crash of the console: one line on the terminal, a 0600 report file, and neither holds a
local variable (Textual's own traceback listed them: a secret's data, a join token)."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
from rich.traceback import Traceback
from textual.binding import Binding

from swarmdeck.core.crash import EXIT_CODE
from swarmdeck.ui.app import SwarmdeckApp

# built at run time, so that neither is in a source line a traceback could quote
SECRET = "super" + "secret" + "value"
TOKEN = "SWMTKN-1-" + "3" * 50 + "-" + "k" * 21 + "wxyz"
LINE = re.compile(r"^swarmdeck crashed: (?P<what>.+) — details in (?P<path>/\S+)$")


class ExplodingApp(SwarmdeckApp):
    """The console with two keys that fail as a bug would: in an action, in a worker."""

    BINDINGS = [*SwarmdeckApp.BINDINGS,
                Binding("f9", "explode", "Explode"),
                Binding("f10", "explode_in_worker", "Explode in a worker")]

    def action_explode(self) -> None:
        secret_data = SECRET.encode()  # a secret just created, as in the report
        token = TOKEN
        raise RuntimeError(f"cannot record the rotation of {token}: {len(secret_data)} bytes")

    def action_explode_in_worker(self) -> None:
        async def rotate() -> None:
            new_token = TOKEN
            secret_data = SECRET
            raise OSError(f"audit log unwritable after rotating to {new_token} "
                          f"({len(secret_data)} bytes of secret data kept)")
        self.run_worker(rotate(), exit_on_error=True)


def crash_files(home: Path) -> list[Path]:
    return sorted((home / ".local" / "state" / "swarmdeck").glob("crash-*.txt"))


def check_report(home: Path, err: str, out: str, error_name: str) -> str:
    assert SECRET not in err + out and TOKEN not in err + out
    assert "Traceback" not in err and "locals" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    shown = LINE.match(lines[0])
    assert shown, lines[0]
    path = Path(shown["path"])
    assert crash_files(home) == [path]
    assert os.stat(path).st_mode & 0o777 == 0o600
    report = path.read_text()
    assert "Traceback (most recent call last):" in report and error_name in report
    assert SECRET not in report and TOKEN not in report
    assert "SWMTKN-1-…wxyz" in report and "SWMTKN-1-…wxyz" in shown["what"]
    return report


async def test_a_crash_in_an_action_prints_one_line_and_writes_no_locals(
        config, fleet, isolated_env, capsys):
    app = ExplodingApp(config, fleet)
    with pytest.raises(RuntimeError):
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("f9")
            await pilot.pause()
    captured = capsys.readouterr()
    report = check_report(isolated_env, captured.err, captured.out, "RuntimeError")
    assert "in action_explode" in report
    assert app.return_code == EXIT_CODE


async def test_a_crash_in_a_worker_names_the_error_not_textuals_wrapper(
        config, fleet, isolated_env, capsys):
    app = ExplodingApp(config, fleet)
    with pytest.raises(Exception):  # noqa: B017 - Textual re-raises its WorkerFailed
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("f10")
            await pilot.pause(0.2)
    captured = capsys.readouterr()
    report = check_report(isolated_env, captured.err, captured.out, "OSError")
    assert "swarmdeck crashed: OSError: audit log unwritable" in captured.err
    assert "in rotate" in report


def test_a_dead_input_thread_is_a_crash_line_too(config, fleet, isolated_env):
    """Textual's driver hands its input thread's death to panic() as a rich Traceback."""
    app = SwarmdeckApp(config, fleet)
    try:
        token = TOKEN
        raise ValueError(f"bad escape sequence near {token}")
    except ValueError:
        rendered = Traceback(show_locals=True)
    app.panic(rendered)
    shown = io.StringIO()
    app.error_console.file = shown
    app._print_error_renderables()
    err = shown.getvalue()
    check_report(isolated_env, err, "", "ValueError")
    assert app.return_code == EXIT_CODE
