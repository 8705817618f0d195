"""Questions on a real (pseudo-)terminal: Ctrl-C at a confirmation cancels at once, exit 130,
nothing recorded; a secret typed at the terminal is asked twice without echo and keeps no
newline, one from a pipe keeps every byte.

Every CLI question comes once a cluster is connected, so the confirmation is driven through
main() with the command replaced by one that asks inside asyncio.run, as the real ones do.
"""

from __future__ import annotations

import subprocess
import sys
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


# ---- a secret's data from the terminal -------------------------------------------------
@pytest.fixture
def config(tmp_path) -> str:
    path = tmp_path / "config.toml"
    path.write_text('[clusters.prod]\nmanagers = ["root@192.0.2.1:1"]\n')
    path.chmod(0o600)
    return str(path)


def secret_create(config: str) -> Terminal:
    """`secret create` on a cluster the config does not have: the data is read first, then
    the command stops (exit 2) before any connection."""
    return Terminal.python("-m", "swarmdeck", "--config", config, "secret", "create",
                           "db_password", "-", "--cluster", "nosuch")


def test_a_secret_typed_at_the_terminal_is_hidden_asked_twice_and_has_no_newline(config):
    typed = "s3cr" + "et-pw"
    with secret_create(config) as term:
        term.expect("secret data (input hidden): ")
        term.send(typed + "\r")
        term.expect("secret data again, to confirm: ")
        term.send(typed + "\r")
        assert term.wait(timeout=10) == 2
        assert "secret data read from the terminal: 9 bytes, no trailing newline" in term.text
        assert "unknown cluster 'nosuch'" in term.text
        assert typed not in term.text  # never echoed


def test_two_different_entries_create_nothing(config):
    with secret_create(config) as term:
        term.expect("(input hidden): ")
        term.send("one\r")
        term.expect("again, to confirm: ")
        term.send("two\r")
        assert term.wait(timeout=10) == 2
        assert "the two entries differ: nothing was changed" in term.text
        assert "unknown cluster" not in term.text


def test_ctrl_c_at_the_secret_prompt_cancels(config):
    with secret_create(config) as term:
        term.expect("(input hidden): ")
        term.send("half")
        term.send("\x03")
        assert term.wait(timeout=2.0) == 130
        assert "swarmdeck: cancelled, nothing changed" in term.text


READ = ("import sys; from swarmdeck.cli.resources import read_data; "
        "sys.stdout.write(read_data('-', None, kind='secret').hex())")


def test_the_bytes_read_at_the_terminal_are_the_typed_line():
    with Terminal.python("-c", READ) as term:
        term.expect("(input hidden): ")
        term.send("pa ss\r")
        term.expect("again, to confirm: ")
        term.send("pa ss\r")
        assert term.wait(timeout=10) == 0
        assert term.text.endswith(b"pa ss".hex())


def test_a_pipe_gives_every_byte_a_trailing_newline_too():
    """As `docker secret create NAME -` does: what the pipe holds is the secret."""
    done = subprocess.run([sys.executable, "-c", READ], input=b"line one\nline two\n",
                          capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert bytes.fromhex(done.stdout.decode()) == b"line one\nline two\n"
    assert done.stderr == b""
