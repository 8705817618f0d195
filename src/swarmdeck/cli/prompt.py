"""Questions on the terminal: the confirmation before a change (`[y/N]`, or a name to type),
and a secret typed twice without echo.

Ctrl-C cancels a question at once. It did not: the commands ask from inside asyncio.run,
whose SIGINT handler only cancels the main task, and a blocking input() noticed that when
Enter came. While a question waits, Ctrl-C raises KeyboardInterrupt, made `Cancelled`
(exit 130): nothing has been changed at that point, and nothing is recorded as done.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import termios
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from swarmdeck.core.errors import Cancelled, NotConfirmed, UsageError
from swarmdeck.core.sanitize import clean

CANCELLED = "cancelled, nothing changed"
LOOK_AGAIN = 0.2  # seconds: the longest a Ctrl-C can wait to be seen (see _read_line)


def confirm(question: str, *, yes: bool, typed: str | None = None) -> None:
    """Ask on the terminal; with TYPED the answer must be that exact text."""
    if yes:
        return
    if not sys.stdin.isatty():
        # the question's first sentence names the change ("Remove service web from prod")
        raise UsageError(f"{question.split('?', 1)[0]}: refused without confirmation",
                         hint="no terminal to ask on; pass --yes to confirm")
    prompt = (f"{question} Type {typed!r} to confirm: " if typed
              else f"{question} [y/N] ")
    try:
        answer = ask(clean(prompt)).strip()  # questions name what the cluster calls things
    except EOFError:  # Ctrl-D: no answer is a no
        answer = ""
        print(file=sys.stderr)
    if (answer != typed) if typed else (answer.lower() not in ("y", "yes")):
        raise NotConfirmed("not confirmed: nothing was changed")


def ask(prompt: str) -> str:
    """One line typed at the terminal (standard input), the prompt on stderr. Ctrl-C:
    Cancelled; end of input: EOFError."""
    return _read_line(prompt).decode(sys.stdin.encoding or "utf-8", errors="replace")


def read_secret(what: str) -> bytes:
    """A secret typed at the terminal, without echo, twice; the Enter that ends it is not
    part of it. Says how many bytes were read (on stderr: stdout may be a script's)."""
    try:
        with _echo_off(sys.stdin.fileno()):
            first = _read_line(f"{what} (input hidden): ", echoed=False)
            second = _read_line(f"{what} again, to confirm: ", echoed=False)
    except EOFError:  # Ctrl-D
        raise UsageError(f"no {what}: the input ended", hint="type it and press Enter, or "
                         "give it with --file PATH") from None
    if first != second:
        raise UsageError("the two entries differ: nothing was changed",
                         hint="type the same data twice, or give it with --file PATH")
    print(f"{what} read from the terminal: {len(first)} bytes, no trailing newline",
          file=sys.stderr)
    return first


def _read_line(prompt: str, *, echoed: bool = True) -> bytes:
    """A line from the terminal, without its newline; the prompt on stderr, as input()
    writes it at a terminal.

    input() could not be used: a Ctrl-C that comes between the prompt and the read (an
    operator quick on the keys, a loaded machine) leaves Python's handler pending until the
    read returns, at Enter. Here the wait wakes every LOOK_AGAIN seconds and a pending
    Ctrl-C is raised then. ECHOED False: the terminal does not echo (the Enter either)."""
    fd = sys.stdin.fileno()
    with _sigint_raises():
        try:
            sys.stderr.write(prompt)
            sys.stderr.flush()
            while not select.select([fd], [], [], LOOK_AGAIN)[0]:
                pass
            line = os.read(fd, 65536)  # at a terminal: one line, as typed and edited
            if not echoed:
                print(file=sys.stderr)
        except KeyboardInterrupt:
            print(file=sys.stderr)  # after the ^C the terminal echoed
            raise Cancelled(CANCELLED) from None
    if not line:
        raise EOFError
    return line.removesuffix(b"\n")


@contextmanager
def _echo_off(fd: int) -> Iterator[None]:
    """The terminal echoes nothing typed (as getpass does). What was typed before, while it
    still echoed, is discarded: it was shown, so it is no secret."""
    saved = termios.tcgetattr(fd)
    quiet = list(saved)
    quiet[3] &= ~termios.ECHO  # the local modes
    termios.tcsetattr(fd, termios.TCSAFLUSH, quiet)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, saved)


@contextmanager
def _sigint_raises() -> Iterator[None]:
    """While reading: SIGINT raises KeyboardInterrupt (Python's own handler), whatever
    handler was there (asyncio.run's)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers (and receives the signal)
        return
    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        # None: a handler not set from Python, which cannot be put back; Python's stays
        signal.signal(signal.SIGINT, previous if previous is not None
                      else signal.default_int_handler)
