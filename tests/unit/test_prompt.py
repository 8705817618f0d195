"""Questions on a real (pseudo-)terminal: Ctrl-C at a confirmation cancels at once, exit 130,
nothing recorded.

Every CLI question comes once a cluster is connected, so the confirmation is driven through
main() with the command replaced by one that asks inside asyncio.run, as the real ones do.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from terminal import Terminal

ASKING = """
import asyncio, sys
import swarmdeck.cli.ops as ops
from swarmdeck.cli.main import main
from swarmdeck.core.audit import AuditLog

def run_ops(args):  # a change that asks once connected, inside asyncio.run as they all do
    async def change():
        await asyncio.sleep(0)
        ops.confirm("Scale web to 3 on prod?", yes=False, typed={typed!r})
        AuditLog.default().record(cluster="prod", manager="m1", action="scale", target="web")
        print("applied")
        return 0
    return asyncio.run(change())

ops.run_ops = run_ops
sys.exit(main(["scale", "web=3"]))
"""


def audit_file(home: Path) -> Path:
    return home / ".local" / "state" / "swarmdeck" / "audit.jsonl"


@pytest.mark.parametrize("typed, prompt", [(None, "Scale web to 3 on prod? [y/N] "),
                                           ("web", "Type 'web' to confirm: ")])
def test_ctrl_c_at_a_confirmation_cancels_at_once(isolated_env, typed, prompt):
    with Terminal.python("-c", ASKING.format(typed=typed)) as term:
        term.expect(prompt)
        term.send("\x03")
        sent = time.monotonic()
        code = term.wait(timeout=2.0)
        assert time.monotonic() - sent < 2.0
        assert code == 130
        assert "swarmdeck: cancelled, nothing changed" in term.text
        assert "applied" not in term.text and "Traceback" not in term.text
    assert not audit_file(isolated_env).exists()


def test_the_confirmation_still_takes_an_answer(isolated_env):
    with Terminal.python("-c", ASKING.format(typed=None)) as term:
        term.expect("[y/N] ")
        term.send("y\r")
        assert term.wait(timeout=10) == 0
        assert "applied" in term.text
    assert audit_file(isolated_env).exists()


def test_end_of_input_at_a_confirmation_changes_nothing(isolated_env):
    with Terminal.python("-c", ASKING.format(typed="web")) as term:
        term.expect("to confirm: ")
        term.send("\x04")  # Ctrl-D
        assert term.wait(timeout=10) == 2
        assert "not confirmed: nothing was changed" in term.text
        assert "Traceback" not in term.text
    assert not audit_file(isolated_env).exists()
