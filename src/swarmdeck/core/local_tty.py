"""The local terminal during `swarmdeck exec`: raw mode (every key, Ctrl+C included, goes to
the remote process as a byte), always restored; its size; its input read without blocking
the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import termios
import tty
from collections.abc import AsyncIterator, Iterator

READ_BLOCK = 64 * 1024


@contextlib.contextmanager
def raw_mode(fd: int) -> Iterator[None]:
    """FD in raw mode for the block; its previous mode back afterwards, however the block
    ends (the link dropped, an error, a signal turned into an exception)."""
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd, termios.TCSANOW)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def size(fd: int) -> tuple[int, int]:
    """(rows, columns) of the terminal on FD."""
    columns, rows = os.get_terminal_size(fd)
    return rows, columns


async def chunks(fd: int) -> AsyncIterator[bytes]:
    """What arrives on FD until its end. A terminal or a pipe is watched by the event loop;
    a regular file (which cannot be) is read in a worker thread."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes] = asyncio.Queue()

    def readable() -> None:
        try:
            data = os.read(fd, READ_BLOCK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(fd)
        queue.put_nowait(data)

    try:
        loop.add_reader(fd, readable)
    except PermissionError:  # a regular file: epoll refuses it
        while True:
            data = await asyncio.to_thread(os.read, fd, READ_BLOCK)
            if not data:
                return
            yield data
    try:
        while True:
            data = await queue.get()
            if not data:
                return
            yield data
    finally:
        loop.remove_reader(fd)
