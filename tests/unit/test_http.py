"""The HTTP/1.1 client that carries Docker API calls over SSH channels."""

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarmdeck.core.transport.http import HTTPConnection, ProtocolError, build_path, json_lines


class FakeWriter:
    def __init__(self) -> None:
        self.sent = b""
        self.closed = False

    def write(self, data: bytes) -> None:
        self.sent += data

    def close(self) -> None:
        self.closed = True


def connection(*responses: bytes) -> tuple[HTTPConnection, FakeWriter]:
    reader = asyncio.StreamReader()
    for r in responses:
        reader.feed_data(r)
    writer = FakeWriter()
    return HTTPConnection(reader, writer), writer


async def test_content_length_response_and_keepalive_reuse():
    conn, writer = connection(
        b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n[1,2,3]',
        b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}',
    )
    first = await conn.request("GET", "/services")
    assert first.status == 200 and first.json() == [1, 2, 3]
    assert conn.reusable
    second = await conn.request("GET", "/nodes")
    assert second.json() == {}
    assert writer.sent.startswith(b"GET /services HTTP/1.1\r\nHost: docker\r\n")
    assert b"GET /nodes HTTP/1.1" in writer.sent


async def test_chunked_response():
    conn, _ = connection(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\n[1,2\r\n3\r\n,3]\r\n0\r\n\r\n"
    )
    resp = await conn.request("GET", "/x")
    assert resp.json() == [1, 2, 3]
    assert conn.reusable


async def test_body_sent_with_length():
    conn, writer = connection(b"HTTP/1.1 204 No Content\r\n\r\n")
    resp = await conn.request("POST", "/x", b'{"a":1}', {"Content-Type": "application/json"})
    assert resp.status == 204
    assert b"Content-Length: 7\r\n\r\n{\"a\":1}" in writer.sent


async def test_http10_or_close_is_not_reused():
    conn, _ = connection(b"HTTP/1.0 200 OK\r\n\r\nhello")
    reader = conn.reader
    reader.feed_eof()
    resp = await conn.request("GET", "/_ping")
    assert resp.body == b"hello"
    assert not conn.reusable


async def test_garbage_is_a_protocol_error():
    conn, _ = connection(b"SSH-2.0-OpenSSH\r\n")
    with pytest.raises(ProtocolError):
        await conn.request("GET", "/x")


async def test_closed_before_response_is_a_protocol_error():
    conn, _ = connection()
    conn.reader.feed_eof()
    with pytest.raises(ProtocolError):
        await conn.request("GET", "/x")


async def test_streamed_json_lines_split_across_chunks():
    async def chunks():
        yield b'{"Type":"service"}\n{"Ty'
        yield b'pe":"node"}\n'
        yield b'{"Type":"network"}'

    assert [e["Type"] async for e in json_lines(chunks())] == ["service", "node", "network"]


def test_build_path_encodes_filters_as_json():
    assert build_path("/x") == "/x"
    path = build_path("/networks", {"filters": {"scope": ["swarm"]}, "all": True, "n": None})
    assert path == "/networks?filters=%7B%22scope%22%3A+%5B%22swarm%22%5D%7D&all=true"


# ---- the streaming chunked reader over random block boundaries ---------------------------

class BlockReader:
    """A channel that hands out the bytes in the given cuts, one cut per read."""

    def __init__(self, data: bytes, cuts: list[int]) -> None:
        self.blocks, pos = [], 0
        for cut in sorted(set(c for c in cuts if 0 < c < len(data))):
            self.blocks.append(data[pos:cut])
            pos = cut
        self.blocks.append(data[pos:])

    async def read(self, n: int = -1) -> bytes:
        return self.blocks.pop(0) if self.blocks else b""


def chunked(payloads: list[bytes], *, end: bool = True) -> bytes:
    body = b"".join(b"%x;ext=1\r\n" % len(p) + p + b"\r\n" if i % 3 == 2
                    else b"%x\r\n" % len(p) + p + b"\r\n" for i, p in enumerate(payloads))
    return body + (b"0\r\n\r\n" if end else b"")


@settings(max_examples=300, deadline=None)
@given(payloads=st.lists(st.binary(min_size=1, max_size=300), max_size=12),
       cuts=st.lists(st.integers(min_value=0, max_value=5000), max_size=30))
def test_the_streamed_chunks_are_the_payloads_whatever_the_blocks(payloads, cuts):
    data = chunked(payloads)
    conn = HTTPConnection(BlockReader(data, cuts), FakeWriter())

    async def read() -> bytes:
        return b"".join([b async for b in conn._chunked_blocks()])

    assert asyncio.run(read()) == b"".join(payloads)


@settings(max_examples=200, deadline=None)
@given(payloads=st.lists(st.binary(min_size=1, max_size=200), min_size=1, max_size=8),
       cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=20),
       drop=st.integers(min_value=1, max_value=40))
def test_a_stream_cut_short_is_a_protocol_error_never_a_short_read(payloads, cuts, drop):
    data = chunked(payloads, end=False)
    data = data[:max(len(data) - drop, 0)]  # the channel closed inside the body
    conn = HTTPConnection(BlockReader(data, cuts), FakeWriter())

    async def read() -> bytes:
        return b"".join([b async for b in conn._chunked_blocks()])

    with pytest.raises(ProtocolError):
        asyncio.run(read())
