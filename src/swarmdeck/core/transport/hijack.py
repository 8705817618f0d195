"""A Docker API connection taken over by the stream it starts: `POST /exec/{id}/start` with
`Connection: Upgrade`, answered `101 UPGRADED`, then raw bytes both ways on the same channel.

Two parsers without I/O, fed whatever block sizes the channel delivers: the upgrade answer
(status line and headers, and the stream bytes that may follow them in the same block), and
the engine's multiplexed framing of a process without a TTY (an 8-byte header per frame: the
stream id, three zero bytes, a big-endian payload length).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from swarmdeck.core.transport.http import MAX_HEADER_BYTES, ProtocolError

STDIN, STDOUT, STDERR = 0, 1, 2
FRAME_HEADER = 8


@dataclass
class Hijacked:
    """A channel handed over to a process's stream. FIRST: stream bytes that came with the
    upgrade answer (to be used before reading more)."""

    reader: Any
    writer: Any
    first: bytes

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a dead channel must never raise
            self.writer.close()


@dataclass
class UpgradeAnswer:
    status: int
    reason: str
    headers: dict[str, str]
    rest: bytes  # bytes after the headers: the stream (101), or the start of a body

    @property
    def upgraded(self) -> bool:
        return self.status == 101


class UpgradeParser:
    """Feed the channel's first bytes until `feed` returns the answer (None: more needed)."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> UpgradeAnswer | None:
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        sep = 4
        if end < 0:  # a bare LF server is not Docker, but nothing forbids it
            end, sep = self._buffer.find(b"\n\n"), 2
        if end < 0:
            if len(self._buffer) > MAX_HEADER_BYTES:
                raise ProtocolError("upgrade answer headers too large")
            if not b"HTTP/".startswith(self._buffer[:5]):
                raise ProtocolError(f"not an HTTP response: {self._buffer[:80]!r}")
            return None
        head, rest = self._buffer[:end], self._buffer[end + sep:]
        lines = head.decode("latin-1").replace("\r\n", "\n").split("\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise ProtocolError(f"not an HTTP response: {lines[0][:80]!r}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        return UpgradeAnswer(int(parts[1]), parts[2] if len(parts) > 2 else "", headers, rest)


@dataclass
class FrameDemuxer:
    """Cuts the multiplexed stream into (stream id, payload) pieces as bytes arrive. A frame
    split across blocks gives its payload in pieces, in order; nothing is held back longer
    than it takes the next block to arrive."""

    _buffer: bytearray = field(default_factory=bytearray)
    _stream: int = STDOUT
    _left: int = 0  # payload bytes of the current frame still to come

    def feed(self, data: bytes) -> Iterator[tuple[int, bytes]]:
        self._buffer += data
        while self._buffer:
            if self._left:
                piece = bytes(self._buffer[:self._left])
                del self._buffer[:len(piece)]
                self._left -= len(piece)
                yield self._stream, piece
                continue
            if len(self._buffer) < FRAME_HEADER:
                return
            stream = self._buffer[0]
            if stream not in (STDIN, STDOUT, STDERR) or any(self._buffer[1:4]):
                raise ProtocolError(f"not a multiplexed stream header: "
                                    f"{bytes(self._buffer[:FRAME_HEADER])!r}")
            self._stream = stream
            self._left = int.from_bytes(self._buffer[4:8], "big")
            del self._buffer[:FRAME_HEADER]

    @property
    def pending(self) -> bool:
        """Is a frame cut off (a header or payload bytes still expected)?"""
        return bool(self._buffer) or self._left > 0


def upgrade_request(path: str, body: dict[str, Any], host: str = "docker") -> bytes:
    """The request that asks the engine to hand the connection over to the stream."""
    payload = json.dumps(body).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\n"
            f"Upgrade: tcp\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n")
    return head.encode() + payload

