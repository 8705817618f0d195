"""Crash reports (core/crash.py) and the CLI's crash: one line on stderr, a 0600 file with
the traceback, never a local variable, join tokens masked. The console's crash is in
tests/ui/test_crash.py."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

import swarmdeck.cli.ls
from swarmdeck.cli.commands import COMMANDS
from swarmdeck.cli.main import main
from swarmdeck.core import crash

SECRET = "hunter" + "2hunter2"  # built at run time: no source line quotes it
TOKEN = "SWMTKN-1-" + "0a" * 25 + "-" + "z" * 21 + "abcd"


def state(home: Path) -> Path:
    return home / ".local" / "state" / "swarmdeck"


def failing(message: str) -> Exception:
    """An exception raised (so it has a traceback) in a frame holding a secret."""
    secret_data = SECRET.encode()
    try:
        raise KeyError(f"no key {len(secret_data)}")
    except KeyError:
        try:
            raise RuntimeError(message)  # noqa: B904 - the implicit context is the point
        except RuntimeError as exc:
            return exc


def test_report_holds_frames_and_messages_but_no_local_and_no_token(isolated_env):
    error = failing(f"rotation recorded nowhere: new token {TOKEN}")
    shown = crash.report(error)
    match = re.fullmatch(r"swarmdeck crashed: RuntimeError: rotation recorded nowhere: new "
                         r"token SWMTKN-1-…abcd — details in (\S+)", shown)
    assert match, shown
    path = Path(match[1])
    assert path.parent == state(isolated_env)
    assert re.fullmatch(r"crash-\d{8}-\d{6}\.txt", path.name)
    assert os.stat(path).st_mode & 0o777 == 0o600
    text = path.read_text()
    assert "Traceback (most recent call last):" in text and "in failing" in text
    assert "KeyError: 'no key 14'" in text  # the context, with its message
    assert "During handling of the above exception" in text
    assert SECRET not in text and TOKEN not in text and "SWMTKN-1-…abcd" in text


def test_the_one_line_is_one_line_and_inert():
    error = ValueError("first \x1b]52;c;AAAA\x07 line\nsecond line " + "x" * 500)
    line = crash.summary(error)
    assert "\n" not in line and "\x1b" not in line and "second" not in line
    assert line.startswith("ValueError: first <ESC>]52;c;AAAA<BEL> line")
    assert crash.summary(ValueError()) == "ValueError"


def test_control_characters_in_a_message_reach_the_file_inert(isolated_env):
    path = crash.write_report(failing("name \x1b[2J\x9b31m here"))
    text = path.read_text()
    assert "\x1b" not in text and "\x9b" not in text and "name <ESC>[2J<9B>31m here" in text


def test_two_crashes_in_one_second_keep_two_files(isolated_env):
    now = datetime(2026, 12, 4, 17, 1, 2, tzinfo=UTC)
    first = crash.save("a", context="background task failover prod", now=now)
    second = crash.save("b", context="background task metrics prod", now=now)
    assert (first.name, second.name) == ("crash-20261204-170102.txt",
                                         "crash-20261204-170102-2.txt")
    assert first.read_text().startswith("background task failover prod\n")


def test_an_unwritable_state_dir_falls_back_to_the_temporary_dir(isolated_env, tmp_path,
                                                                 monkeypatch):
    blocker = tmp_path / "state-is-a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_STATE_HOME", str(blocker))  # root ignores modes: a file blocks
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    shown = crash.report(failing("audit log unwritable"))
    assert shown.endswith(f"details in {tmp_path / 'tmp'}/" + shown.rsplit("/", 1)[1])
    written = list((tmp_path / "tmp").glob("crash-*.txt"))
    assert len(written) == 1 and os.stat(written[0]).st_mode & 0o777 == 0o600


def test_nowhere_to_write_still_gives_the_line(isolated_env, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_STATE_HOME", str(blocker))
    monkeypatch.setattr("tempfile.tempdir", str(blocker / "tmp"))
    shown = crash.report(failing(f"lost {TOKEN}"))
    assert shown == ("swarmdeck crashed: RuntimeError: lost SWMTKN-1-…abcd — no details "
                     "written (Not a directory)")


# ---- the CLI ---------------------------------------------------------------------------
def test_an_unexpected_error_in_a_command_is_one_line_and_a_file(isolated_env, monkeypatch,
                                                                 capsys):
    def run_ls(args):
        secret_data = SECRET
        raise AttributeError(f"'NoneType' object has no attribute 'rotate' ({TOKEN}, "
                             f"{len(secret_data)})")

    monkeypatch.setattr(swarmdeck.cli.ls, "run_ls", run_ls)
    assert main(["ls"]) == crash.EXIT_CODE == 70
    out, err = capsys.readouterr()
    assert out == ""
    assert "Traceback" not in err and SECRET not in err and TOKEN not in err
    match = re.fullmatch(r"swarmdeck crashed: AttributeError: 'NoneType' object has no "
                         r"attribute 'rotate' \(SWMTKN-1-…abcd, 14\) — details in (\S+)\n", err)
    assert match, err
    text = Path(match[1]).read_text()
    assert "in run_ls" in text and SECRET not in text and TOKEN not in text


def test_expected_errors_and_interrupts_are_not_crashes(isolated_env, monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(swarmdeck.cli.ls, "run_ls", interrupted)
    assert main(["ls"]) == 130
    assert capsys.readouterr().err == "swarmdeck: interrupted\n"
    assert not state(isolated_env).exists()
    with pytest.raises(SystemExit):
        main(["ls", "--no-such-option"])


def test_a_module_that_fails_to_import_is_a_crash_too(isolated_env, monkeypatch, capsys):
    ls = COMMANDS["ls"]
    monkeypatch.setitem(COMMANDS, "ls", ls._replace(runner="swarmdeck.cli.no_such_module:run_ls"))
    assert main(["ls"]) == 70
    err = capsys.readouterr().err
    assert err.startswith("swarmdeck crashed: ModuleNotFoundError: No module named "
                          "'swarmdeck.cli.no_such_module' — details in ")
    assert "Traceback" not in err
