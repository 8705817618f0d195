"""A one-shot command imports only what it uses: `swarmdeck --version` and `--help` start no
SSH, no models and no UI, `swarmdeck ls` no UI, and the lazily built parser still lists and
explains every command. Each run is a real `python -m swarmdeck` process that reports the
modules it had loaded when it exited. The times are in bench/cli_startup.py, not here: a busy
machine would make a timed assertion flaky."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from importlib import import_module
from pathlib import Path

import pytest

from swarmdeck import __version__
from swarmdeck.cli import ops as cli_ops
from swarmdeck.cli.commands import COMMANDS, CONSOLE
from swarmdeck.cli.main import build_parser, main
from swarmdeck.core.audit import AuditLog
from swarmdeck.core.ops.resources import KINDS

# dependencies that parsing a command line needs none of
HEAVY = ("asyncssh", "cryptography", "pydantic", "textual", "rich", "tomlkit", "yaml")

# runs `swarmdeck ARGS...` as `python -m swarmdeck` does, then writes the top-level names of
# the modules loaded (at exit, so after SystemExit too, and before the os._exit of a command
# that ends at once) to the file named first
WRAPPER = """
import atexit, json, os, runpy, sys
out, sys.argv = sys.argv[1], ["swarmdeck", *sys.argv[2:]]
def report():
    open(out, "w").write(json.dumps(sorted(sys.modules)))
atexit.register(report)
_exit = os._exit
def exit_now(code):
    report()
    _exit(code)
os._exit = exit_now
runpy.run_module("swarmdeck", run_name="__main__", alter_sys=True)
"""


def run(tmp_path: Path, *argv: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    report = tmp_path / "modules.json"
    proc = subprocess.run([sys.executable, "-c", WRAPPER, str(report), *argv],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    return proc, set(json.loads(report.read_text()))


def heavy_in(modules: set[str]) -> set[str]:
    return {name for name in modules if name.split(".")[0] in HEAVY}


def test_audit_reads_the_local_log_without_the_ssh_stack(tmp_path):
    AuditLog.default().record(cluster="prod", manager="prod-m1", action="scale",
                              target="web", params={"replicas": 3})
    proc, modules = run(tmp_path, "audit")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[1].split()[3:] == ["prod", "scale", "web", "replicas=3",
                                                       "ok"]
    assert "swarmdeck.core.audit" in modules  # the wrapper does see what a command loads
    assert not {m.split(".")[0] for m in modules} & {"asyncssh", "cryptography", "textual"}
    proc, _ = run(tmp_path, "audit", "--json")
    assert json.loads(proc.stdout)["params"] == {"replicas": 3}


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["ls", "--help"],
                                  ["scale", "--help"], ["node", "drain", "--help"],
                                  ["ls", "pods"]])
def test_parsing_imports_no_ssh_no_models_no_ui(tmp_path, argv):
    proc, modules = run(tmp_path, *argv)
    assert proc.returncode == (2 if "pods" in argv else 0), proc.stderr
    assert heavy_in(modules) == set()
    assert not any(m.startswith("swarmdeck.core.") and m != "swarmdeck.core.errors"
                   for m in modules), sorted(m for m in modules if m.startswith("swarmdeck"))
    if argv == ["--version"]:
        assert proc.stdout == f"swarmdeck {__version__}\n"


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_help_loads_no_ssh_and_no_ui(tmp_path, name):
    proc, modules = run(tmp_path, name, "--help")
    assert proc.returncode == 0 and proc.stdout.startswith(f"usage: swarmdeck {name}")
    allowed = {"pydantic"} if name == "events" else set()  # it lists core.events' types
    assert {m.split(".")[0] for m in heavy_in(modules)} <= allowed


@pytest.mark.parametrize("config", [None, "unreachable"])
def test_ls_fails_fast_without_the_ui(tmp_path, config):
    """With no config, or with a cluster whose manager refuses the connection at once (port 1
    of this machine): `ls` says why, and never loads Textual."""
    argv = ["ls"]
    if config:
        path = tmp_path / "c.toml"
        path.write_text('[clusters.gone]\nmanagers = ["ops@127.0.0.1:1"]\n')
        path.chmod(0o600)
        argv = ["--config", str(path), "ls"]
    proc, modules = run(tmp_path, *argv)
    if config:
        assert proc.returncode == 1
        assert "cluster gone: ssh to ops@127.0.0.1:1: connection refused" in proc.stderr
        assert "asyncssh" in modules  # it did try to connect
    else:
        assert proc.returncode == 2 and "no clusters configured" in proc.stderr
    assert "swarmdeck.cli.ls" in modules
    # the console's samplers and log readers: the fleet imports them where they start
    assert not {"swarmdeck.core.metrics", "swarmdeck.core.log_follow", "swarmdeck.core.logs",
                "swarmdeck.core.node_links", "swarmdeck.core.replica_logs"} & modules
    # nor what only a service short of replicas (the image checks), a size or exec needs
    assert not {"swarmdeck.core.doctor_images", "swarmdeck.core.placement", "humanize",
                "swarmdeck.core.transport.hijack"} & modules
    assert not any(m.split(".")[0] == "textual" or m.startswith("swarmdeck.ui")
                   for m in modules)


def listed_commands(help_text: str) -> dict[str, str]:
    """The COMMAND section of `swarmdeck --help`: name -> its help, lines joined."""
    section = help_text.split("  COMMAND\n", 1)[1]
    found: dict[str, str] = {}
    name = None
    for line in section.splitlines():
        if match := re.fullmatch(r" {4}(\S+) +(.*)", line):
            name, found[match[1]] = match[1], match[2]
        elif name and line.startswith(" " * 6) and line.strip():
            found[name] += " " + line.strip()
    return found


def test_help_lists_every_command_with_its_help(tmp_path):
    proc, _ = run(tmp_path, "--help")
    assert proc.returncode == 0
    listed = listed_commands(proc.stdout)
    assert listed == {name: command.help for name, command in COMMANDS.items()}
    # the commands the runners handle are all there: cli.ops' own table of changes, the
    # resource kinds of core.ops.resources, and each command's runner is a function
    assert set(cli_ops.COMMANDS) | set(KINDS) <= set(listed)
    for runner in [CONSOLE, *(command.runner for command in COMMANDS.values())]:
        module, function = runner.split(":")
        assert callable(getattr(import_module(module), function)), runner


def option_strings(parser: argparse.ArgumentParser) -> set[str]:
    return {s for action in parser._actions for s in action.option_strings}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_command_help_shows_its_own_options(name, capsys):
    """The options are added only when the command is chosen: `swarmdeck CMD --help` shows
    every option its arguments add, and its description."""
    whole = argparse.ArgumentParser(prog=f"swarmdeck {name}")
    COMMANDS[name].arguments(whole)
    with pytest.raises(SystemExit) as done:
        main([name, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: swarmdeck {name} ")
    for option in option_strings(whole):
        assert re.search(rf"(^|[\s,\[]){re.escape(option)}\b", out), (option, out)
    if whole.description:
        assert " ".join(whole.description.replace("%%", "%").split()[:6]) in " ".join(out.split())


def test_options_are_added_once_and_only_for_the_chosen_command():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert all(option_strings(p) == {"-h", "--help"} for p in sub.choices.values())
    args = parser.parse_args(["scale", "web=2", "--yes"])
    assert args.command == "scale" and args.targets == ["web=2"] and args.yes
    built = {name for name, p in sub.choices.items() if option_strings(p) != {"-h", "--help"}}
    assert built == {"scale"}
    again = parser.parse_args(["scale", "api=3"])  # a second parse does not add them twice
    assert again.targets == ["api=3"] and not again.yes


def test_a_bad_port_spec_is_refused_before_the_ssh_stack_loads(tmp_path):
    """`port-forward` reads its ports before anything else, and that reading loads no SSH
    transport: the early dial of a hinted target must not wait ~0.2 s of asyncssh imports
    (bench/port_forward.py measures the first byte)."""
    path = tmp_path / "c.toml"
    path.write_text('[clusters.gone]\nmanagers = ["ops@127.0.0.1:1"]\n')
    path.chmod(0o600)
    proc, modules = run(tmp_path, "--config", str(path), "port-forward", "web", "80:99999")
    assert proc.returncode == 2, proc.stderr
    assert "'80:99999': ports are 1 to 65535" in proc.stderr
    assert "swarmdeck.core.port_spec" in modules
    assert heavy_in(modules) == set()


async def test_the_importing_thread_gives_the_loop_its_turn_and_the_interval_comes_back():
    """cli.main.beside_the_loop: while a thread imports, Python hands the loop its turn every
    SWITCH_INTERVAL (not every 5 ms, which held each socket call of a handshake back); the
    interval is put back afterwards, after a failure too."""
    import sys

    from swarmdeck.cli import main as cli_main

    before = sys.getswitchinterval()
    assert await cli_main.beside_the_loop(sys.getswitchinterval) == cli_main.SWITCH_INTERVAL
    assert sys.getswitchinterval() == before

    def fails() -> None:
        raise ValueError("bad config")

    with pytest.raises(ValueError, match="bad config"):
        await cli_main.beside_the_loop(fails)
    assert sys.getswitchinterval() == before
