"""`swarmdeck` command line: argument parsing and dispatch, nothing else.

Building the parser imports nothing of swarmdeck (cli.commands holds every command's help and
options), a command's options are added only when it is the one chosen, and the module that
runs it is imported only then: `swarmdeck --version` and `--help` cost little more than the
interpreter's start, and `swarmdeck ls` pays only for what it uses (no Textual).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any, NoReturn

from swarmdeck import __version__
from swarmdeck.cli.commands import COMMANDS, CONSOLE, split_command


class _Subcommands(argparse._SubParsersAction):
    """Subparsers whose options are added when argparse picks one: `swarmdeck --help` lists
    every command from its help line alone, and `swarmdeck CMD ...` builds CMD's only.
    (argparse has no public hook for this; its subparsers action has kept this shape since
    Python 3.2.)"""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending: dict[str, Callable[[argparse.ArgumentParser], None]] = {}

    def add_command(self, name: str, help: str,
                    arguments: Callable[[argparse.ArgumentParser], None]) -> None:
        self.add_parser(name, help=help)
        self._pending[name] = arguments

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        arguments = self._pending.pop(values[0], None)
        if arguments is not None:
            arguments(self.choices[values[0]])
        super().__call__(parser, namespace, values, option_string)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="swarmdeck",
        description="A keyboard-driven operations console for Docker Swarm, over SSH.",
    )
    parser.add_argument("--version", action="version", version=f"swarmdeck {__version__}")
    parser.add_argument("--config", metavar="PATH",
                        help="config file (default: $SWARMDECK_CONFIG or "
                             "$XDG_CONFIG_HOME/swarmdeck/config.toml)")
    parser.add_argument("--cluster", dest="start_cluster", metavar="NAME",
                        help="console: start on this cluster")
    parser.add_argument("--read-only", action="store_true",
                        help="refuse every change (deploy, scale, node and token actions)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", action=_Subcommands,
                                description="without a command, the console starts")
    assert isinstance(sub, _Subcommands)  # typeshed types it as the stock action
    for name, command in COMMANDS.items():
        sub.add_command(name, command.help, command.arguments)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """ARGV None: the process's own command line (the process is this command's alone)."""
    ends_at_once = False
    try:
        code, ends_at_once = _run(argv)
        return code
    finally:
        _warn_changed_keys()
        if ends_at_once and argv is None:  # the process's own command line, not a caller's
            end_now(code)


SIGPIPE_EXIT = 141  # what a shell reports for a command ended by SIGPIPE (128 + 13)


def _drop_stdout() -> None:
    """Standard output's reader is gone: what is left in its buffer goes nowhere (flushing it
    at exit would fail again and print a warning)."""
    import contextlib

    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def end_now(code: int) -> NoReturn:
    """The process ends here with CODE, its output flushed, without the interpreter's
    teardown: after `swarmdeck exec` that freed modules and objects for 0.5-0.7 s (measured
    on the lab). Only for a command with nothing left to do: its terminal is restored, its
    audit line written (os.write), its connections closed."""
    import contextlib

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a reader gone, a stream closed
            stream.flush()
    os._exit(code)


def _warn_changed_keys() -> None:
    """Every changed host key met on the way, even when another manager answered: printed
    last, so that it is not scrolled away by the command's own output."""
    keys = sys.modules.get("swarmdeck.core.transport.host_keys")
    if keys is None:  # nothing was dialled
        return
    from swarmdeck.core.sanitize import clean

    for line in keys.CHANGED_KEYS.warnings():
        print(f"swarmdeck: {clean(line)}", file=sys.stderr)
    keys.CHANGED_KEYS.clear()


# whether this process runs the one command it was started for (main() of its own command
# line), not a caller's (a test's): what it imports can then be frozen out of collections
_own_process = False


def import_modules(*modules: str) -> None:
    """MODULES, imported as a command's own module is: for a command that imports the bulk
    of what it uses once it has started something else (`ls` dials its managers first)."""
    for module in modules:
        _import_command(module, _own_process)


# the loop's turn for an SSH packet while a thread imports: Python hands the one lock it runs
# under to another thread every 5 ms by default, so each socket call of the loop (a send, a
# connect) waited up to that long for the importing thread, many times per handshake
SWITCH_INTERVAL = 0.001


async def beside_the_loop(work: Callable[..., Any], *args: Any) -> Any:
    """WORK(*ARGS) in a thread (imports, validation: CPU) while the event loop keeps its SSH
    handshakes going, the loop given a turn at least every SWITCH_INTERVAL."""
    import asyncio

    interval = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        return await asyncio.to_thread(work, *args)
    finally:
        sys.setswitchinterval(interval)


def _import_command(module: str, own_process: bool) -> ModuleType:
    """The module that runs the command. In a process of its own, imported without the
    cyclic collector: pydantic's and asyncssh's imports had it walk their objects again and
    again (~50 ms of a one-shot command) to find next to no garbage. What they built lives
    as long as the process: it is frozen out of later collections (the console's too)."""
    if not own_process:  # a test calling main(): its objects are not frozen for good
        return importlib.import_module(module)
    import gc

    gc.disable()
    try:
        return importlib.import_module(module)
    finally:
        gc.freeze()
        gc.enable()


def said(error: BaseException) -> None:
    """ERROR was printed: a changed key it quotes need not be printed again."""
    keys = sys.modules.get("swarmdeck.core.transport.host_keys")
    if keys is not None:
        keys.CHANGED_KEYS.said(error)


def _run(argv: Sequence[str] | None) -> tuple[int, bool]:
    """The exit code, and whether the command asks to end the process at once."""
    from swarmdeck.core.errors import SwarmdeckError

    global _own_process
    own_process = _own_process = argv is None
    try:
        argv, exec_argv = split_command(list(sys.argv[1:] if argv is None else argv))
        args = build_parser().parse_args(argv)
        if exec_argv is not None:  # exec's command after --, kept exactly as given
            args.argv = exec_argv
        command = COMMANDS[args.command] if args.command else None
        module, function = (command.runner if command else CONSOLE).split(":")
        # a module failing to import is a crash too
        code = getattr(_import_command(module, own_process), function)(args)
        return code, bool(command and command.ends_at_once)
    except SwarmdeckError as exc:
        from swarmdeck.core.sanitize import clean

        print(f"swarmdeck: {clean(str(exc))}", file=sys.stderr)  # errors quote the cluster
        said(exc)
        return exc.exit_code, False
    except KeyboardInterrupt:
        print("swarmdeck: interrupted", file=sys.stderr)
        return 130, False
    except BrokenPipeError:  # the reader went away (`swarmdeck ls | head`): stop quietly
        _drop_stdout()
        return SIGPIPE_EXIT, False
    except Exception as exc:  # a bug: its traceback could quote secrets, so it goes to a file
        from swarmdeck.core import crash

        print(crash.report(exc), file=sys.stderr)
        return crash.EXIT_CODE, False
