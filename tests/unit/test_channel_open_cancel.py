"""A request cancelled while its channel opens (a log stream stopped as it starts) leaves
no channel behind: asyncssh keeps a channel the server confirms after its opener stopped
waiting open and owned by nobody, so the node connection never became idle (the lab's
background test found one). The opening now goes on and the channel is closed at once."""

from __future__ import annotations

import asyncio

from swarmdeck.core.transport.docker import DockerEndpoint


class Writer:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


class Conn:
    def __init__(self) -> None:
        self.confirm = asyncio.Event()
        self.writers: list[Writer] = []

    async def open_unix_connection(self, path, window):
        await self.confirm.wait()  # the server's confirmation, a round trip later
        writer = Writer()
        self.writers.append(writer)
        return object(), writer


async def test_a_channel_confirmed_after_its_caller_left_is_closed():
    conn = Conn()
    endpoint = DockerEndpoint(conn, "node (fake)")  # type: ignore[arg-type]
    opening = asyncio.ensure_future(endpoint._open())
    await asyncio.sleep(0.01)
    opening.cancel()
    await asyncio.sleep(0.01)
    conn.confirm.set()  # confirmed after the caller was cancelled
    await asyncio.sleep(0.01)
    assert opening.cancelled()
    [writer] = conn.writers
    assert writer.closed


async def test_a_channel_its_caller_waits_for_is_kept():
    conn = Conn()
    endpoint = DockerEndpoint(conn, "node (fake)")  # type: ignore[arg-type]
    conn.confirm.set()
    http = await endpoint._open()
    assert http is not None and not conn.writers[0].closed
