"""A small HTTP/1.1 client over any pair of asyncio-style streams.

The Docker API is plain HTTP on a unix socket; here the socket's bytes travel in an SSH
channel. Each `HTTPConnection` is one channel, kept alive and reused for many requests.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

MAX_HEADER_BYTES = 64 * 1024
BLOCK = 64 * 1024  # what a streamed body is read in (a few hundred log lines)
MAX_CHUNK_LINE = 1024  # a chunk-size line longer than this is not HTTP


class Reader(Protocol):
    async def readline(self) -> bytes: ...
    async def readexactly(self, n: int) -> bytes: ...
    async def read(self, n: int = -1) -> bytes: ...


class Writer(Protocol):
    def write(self, data: bytes) -> None: ...
    def close(self) -> None: ...


class ProtocolError(Exception):
    """The peer did not speak HTTP as expected (the stream is unusable afterwards)."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def build_path(path: str, params: dict[str, Any] | None = None) -> str:
    if not params:
        return path
    clean = {
        k: (json.dumps(v) if isinstance(v, dict | list) else str(v).lower()
            if isinstance(v, bool) else v)
        for k, v in params.items() if v is not None
    }
    return f"{path}?{urlencode(clean)}"


class HTTPConnection:
    def __init__(self, reader: Reader, writer: Writer, host: str = "docker") -> None:
        self.reader = reader
        self.writer = writer
        self.host = host
        self.reusable = True
        self.served = 0  # requests answered: a channel that served one has been kept alive

    def closed_by_peer(self) -> bool:
        """Has the other side closed this channel (EOF received, or the writer closing)?"""
        at_eof = getattr(self.reader, "at_eof", None)
        closing = getattr(self.writer, "is_closing", None)
        return bool((at_eof is not None and at_eof()) or (closing is not None and closing()))

    def _send(self, method: str, path: str, body: bytes | None,
              headers: dict[str, str] | None) -> None:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}"]
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}")
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode()
        self.writer.write(head + (body or b""))

    async def _read_head(self) -> tuple[int, dict[str, str]]:
        status_line = await self.reader.readline()
        if not status_line:
            raise ProtocolError("connection closed before a response")
        parts = status_line.decode("latin-1").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise ProtocolError(f"not an HTTP response: {status_line[:80]!r}")
        headers: dict[str, str] = {}
        total = 0
        while True:
            line = await self.reader.readline()
            total += len(line)
            if total > MAX_HEADER_BYTES:
                raise ProtocolError("response headers too large")
            if line in (b"\r\n", b"\n", b""):
                break
            key, _, value = line.decode("latin-1").partition(":")
            headers[key.strip().lower()] = value.strip()
        if parts[0] == "HTTP/1.0" or headers.get("connection", "").lower() == "close":
            self.reusable = False
        return int(parts[1]), headers

    async def request(self, method: str, path: str, body: bytes | None = None,
                      headers: dict[str, str] | None = None) -> Response:
        self._send(method, path, body, headers)
        status, resp_headers = await self._read_head()
        if method == "HEAD" or status in (204, 304):
            self.served += 1
            return Response(status, resp_headers, b"")
        data = b"".join([chunk async for chunk in self._body(resp_headers)])
        self.served += 1
        return Response(status, resp_headers, data)

    async def open_stream(self, method: str, path: str,
                          headers: dict[str, str] | None = None
                          ) -> tuple[int, dict[str, str], AsyncIterator[bytes]]:
        """Send a request whose response body streams (events, logs): the connection is
        dedicated to it from then on."""
        self.reusable = False
        self._send(method, path, None, headers)
        status, resp_headers = await self._read_head()
        return status, resp_headers, self._body(resp_headers)

    async def _body(self, headers: dict[str, str]) -> AsyncIterator[bytes]:
        chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        if chunked and not self.reusable:
            # a dedicated stream (logs, events): nothing follows the body on this channel,
            # so it is read in big blocks and the chunks are cut out of them. Reading each
            # chunk (a log line, often) from the SSH channel cost more than the line.
            async for data in self._chunked_blocks():
                yield data
        elif chunked:
            while True:
                size_line = await self.reader.readline()
                if not size_line:
                    raise ProtocolError("connection closed inside a chunked body")
                try:
                    size = int(size_line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise ProtocolError(f"bad chunk size {size_line[:40]!r}") from None
                if size == 0:
                    await self.reader.readline()  # trailing CRLF (no trailers from Docker)
                    return
                data = await self.reader.readexactly(size)
                await self.reader.readexactly(2)
                yield data
        elif "content-length" in headers:
            length = int(headers["content-length"])
            if length:
                yield await self.reader.readexactly(length)
        else:
            self.reusable = False
            while True:
                data = await self.reader.read(65536)
                if not data:
                    return
                yield data

    async def _chunked_blocks(self) -> AsyncIterator[bytes]:
        """The chunks' data, joined per block read. Sizes are checked as strictly as in
        the chunk-by-chunk reader."""
        buffer, pos = b"", 0
        while True:
            pieces: list[bytes] = []
            while True:
                eol = buffer.find(b"\n", pos)
                if eol < 0:
                    if len(buffer) - pos > MAX_CHUNK_LINE:
                        raise ProtocolError(f"bad chunk size {buffer[pos:pos + 40]!r}")
                    break
                size_line = buffer[pos:eol]
                try:
                    size = int(size_line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise ProtocolError(f"bad chunk size {size_line[:40]!r}") from None
                if size == 0:
                    if pieces:
                        yield b"".join(pieces)
                    return
                end = eol + 1 + size
                if end + 2 > len(buffer):
                    break
                pieces.append(buffer[eol + 1:end])
                pos = end + 2
            if pieces:
                yield b"".join(pieces)
            buffer, pos = buffer[pos:], 0
            data = await self.reader.read(BLOCK)
            if not data:
                raise ProtocolError("connection closed inside a chunked body")
            buffer += data

    def close(self) -> None:
        self.reusable = False
        with contextlib.suppress(Exception):  # closing a dead channel must never raise
            self.writer.close()


async def json_lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[Any]:
    """Split a stream of JSON documents separated by newlines (Docker events)."""
    buffer = b""
    async for chunk in chunks:
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.strip():
                yield json.loads(line)
    if buffer.strip():
        yield json.loads(buffer)
