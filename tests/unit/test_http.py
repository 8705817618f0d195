"""The HTTP/1.1 client that carries Docker API calls over SSH channels."""

import asyncio

import pytest

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
