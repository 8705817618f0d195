"""A child process on a pseudo-terminal of its own, as a person at a shell runs it: the
terminal echoes what is typed (unless the child turns echo off), Enter ends a line and
Ctrl-C (\\x03) sends SIGINT to the child. For unit and integration tests alike (tests/ is
on the import path: its conftest.py sits there)."""

from __future__ import annotations

import errno
import fcntl
import os
import select
import signal
import subprocess
import sys
import termios
import time
from collections.abc import Sequence


def _take_the_terminal() -> None:
    """In the child, after setsid: its stdin becomes its controlling terminal, so the line
    discipline signals it and /dev/tty is this pty."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    def __init__(self, argv: Sequence[str], *, env: dict[str, str] | None = None) -> None:
        self.master, slave = os.openpty()
        try:
            self.proc = subprocess.Popen(
                list(argv), stdin=slave, stdout=slave, stderr=slave, env=env,
                start_new_session=True, preexec_fn=_take_the_terminal, close_fds=True)
        finally:
            os.close(slave)
        self.output = b""
        self._eof = False

    @classmethod
    def python(cls, *args: str, env: dict[str, str] | None = None) -> Terminal:
        return cls([sys.executable, *args], env=env)

    @property
    def text(self) -> str:
        return self.output.decode(errors="replace")

    def send(self, data: str) -> None:
        os.write(self.master, data.encode())

    def expect(self, wanted: str, timeout: float = 10.0) -> None:
        """Read until WANTED has been shown."""
        deadline = time.monotonic() + timeout
        while wanted.encode() not in self.output:
            left = deadline - time.monotonic()
            if left <= 0 or self._eof:
                raise AssertionError(f"{wanted!r} not shown; the terminal shows {self.text!r}")
            self._read(left)

    def wait(self, timeout: float) -> int:
        """The child's exit code, all its output read; fails if it runs longer."""
        deadline = time.monotonic() + timeout
        while not self._eof:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"still running after {timeout} s; the terminal shows "
                                     f"{self.text!r}")
            self._read(left)
        return self.proc.wait(max(0.1, deadline - time.monotonic()))

    def _read(self, timeout: float) -> None:
        ready, _, _ = select.select([self.master], [], [], min(timeout, 0.2))
        if not ready:
            return
        try:
            chunk = os.read(self.master, 4096)
        except OSError as exc:  # EIO: every end of the slave side is closed
            if exc.errno != errno.EIO:
                raise
            chunk = b""
        if chunk:
            self.output += chunk
        else:
            self._eof = True

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        os.close(self.master)

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
