"""Service logs from the Docker API: demultiplexed, split into lines, tagged with the task
and node each line came from. Text stays untrusted: renderers pass it through sanitize."""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from swarmdeck.core.models import parse_time
from swarmdeck.core.transport.docker import STREAM_WINDOW, DockerEndpoint

STREAMS = {0: "stdin", 1: "stdout", 2: "stderr"}
_HEADER = struct.Struct(">BxxxI")
MAX_LINE = 64 * 1024  # a line longer than this is cut (the rest follows as more lines)
# seconds of reading and parsing before the event loop gets a turn: while the SSH channel
# holds data already received, reading it never waits, and a flood would otherwise keep
# the loop (keys, frames, other streams) waiting for as long as the backlog lasts
SLICE = 0.004
# a service's stream carries every replica's lines (and ~150 bytes of labels on each)
SERVICE_STREAM_WINDOW = 256 * 1024


@dataclass(slots=True)
class LogLine:
    timestamp: datetime | None
    stream: str  # stdout | stderr
    text: str  # untrusted, not yet sanitized
    task_id: str | None = None
    node_id: str | None = None
    service_id: str | None = None
    ns: int = 0  # the engine's timestamp in nanoseconds (datetime keeps only microseconds)


def stamp_ns(stamp: str) -> int:
    """RFC 3339 with up to 9 fraction digits -> integer nanoseconds since the epoch (0 if
    it is not a timestamp). Exact, so a resumed stream can drop what it already gave."""
    return _stamp(stamp)[0]


# A flood of lines shares a few seconds: the seconds part of a UTC stamp is parsed once.
_SECONDS: dict[str, tuple[int, datetime]] = {}
_SECONDS_KEPT = 4096


def _stamp(stamp: str) -> tuple[int, datetime | None]:
    """(nanoseconds, datetime) of a timestamp, (0, None) when it is not one. Docker writes
    `2026-11-29T12:00:00.123456789Z`; that shape takes the fast path."""
    if len(stamp) > 20 and stamp[19] == "." and stamp[-1] == "Z" and stamp[10] == "T":
        fraction = stamp[20:-1]
        if fraction.isdigit() and len(fraction) <= 9:
            head = stamp[:19]
            known = _SECONDS.get(head)
            if known is None:
                moment = parse_time(head + "Z")
                if moment is None:
                    return 0, None
                if len(_SECONDS) >= _SECONDS_KEPT:
                    _SECONDS.clear()
                known = _SECONDS[head] = (int(moment.timestamp()), moment)
            nanos = int(fraction.ljust(9, "0"))
            return (known[0] * 1_000_000_000 + nanos,
                    known[1].replace(microsecond=nanos // 1000))
    moment = parse_time(stamp)
    if moment is None:
        return 0, None
    head, dot, rest = stamp.partition(".")
    digits = ""
    if dot:
        for ch in rest:
            if not ch.isdigit():
                break
            digits += ch
    whole = int(moment.replace(microsecond=0).timestamp())
    return whole * 1_000_000_000 + int((digits or "0").ljust(9, "0")[:9]), moment


def since_value(ns: int) -> str:
    """The API's `since` for a nanosecond timestamp (seconds.nanoseconds)."""
    return f"{ns // 1_000_000_000}.{ns % 1_000_000_000:09d}"


def parse_line(raw: bytes, stream: str) -> LogLine:
    """`TIMESTAMP [com.docker.swarm.node.id=..,com.docker.swarm.service.id=..,...] MESSAGE`"""
    text = raw.decode("utf-8", errors="replace")
    stamp_text, _, rest = text.partition(" ")
    ns, timestamp = _stamp(stamp_text)
    if timestamp is None:
        rest = text
    task_id = node_id = service_id = None
    if rest.startswith("com.docker.swarm."):
        details, _, rest = rest.partition(" ")
        for pair in details.split(","):
            key, _, value = pair.partition("=")
            if key == "com.docker.swarm.task.id":
                task_id = value
            elif key == "com.docker.swarm.node.id":
                node_id = value
            elif key == "com.docker.swarm.service.id":
                service_id = value
    return LogLine(timestamp, stream, rest, task_id, node_id, service_id, ns)


class Demuxer:
    """Docker's multiplexed stream (8-byte frame headers) or a raw TTY stream, to lines."""

    def __init__(self, multiplexed: bool | None = None) -> None:
        self.multiplexed = multiplexed  # None: decided by the first bytes
        self._frames = b""
        self._partial: dict[str, bytes] = {}

    def feed(self, data: bytes) -> list[tuple[str, bytes]]:
        out: list[tuple[str, bytes]] = []
        if self.multiplexed is None and data:
            # a frame header: stream byte 0-2, three zero bytes (a TTY stream has text)
            self.multiplexed = data[0] in (0, 1, 2) and data[1:4] == b"\0\0\0"
        if not self.multiplexed:
            self._lines("stdout", data, out)
            return out
        buffer = self._frames + data if self._frames else data
        pos, end_of_data = 0, len(buffer)
        while end_of_data - pos >= 8:  # offsets, not slices of the rest: a piece holds
            kind, size = _HEADER.unpack_from(buffer, pos)  # hundreds of frames
            end = pos + 8 + size
            if end > end_of_data:
                break
            self._lines(STREAMS.get(kind, "stdout"), buffer[pos + 8:end], out)
            pos = end
        self._frames = buffer[pos:]
        return out

    def _lines(self, stream: str, data: bytes, out: list[tuple[str, bytes]]) -> None:
        if stream not in self._partial and data.endswith(b"\n") and data.count(b"\n") == 1:
            out.append((stream, data[:-1].rstrip(b"\r")))  # a frame is a line, usually
            return
        buffer = self._partial.pop(stream, b"") + data
        *complete, rest = buffer.split(b"\n")
        out.extend((stream, line.rstrip(b"\r")) for line in complete)
        while len(rest) > MAX_LINE:
            out.append((stream, rest[:MAX_LINE]))
            rest = rest[MAX_LINE:]
        if rest:
            self._partial[stream] = rest

    def flush(self) -> list[tuple[str, bytes]]:
        out = [(stream, rest) for stream, rest in self._partial.items() if rest]
        self._partial.clear()
        return out


async def service_log_batches(docker: DockerEndpoint, service_id: str, *,
                              follow: bool = True, tail: int | str = 100,
                              since: str | None = None) -> AsyncGenerator[list[LogLine], None]:
    """The lines of each piece the stream delivers, as one list: under a flood a piece
    holds hundreds of lines, and handing them on together keeps the per-line cost low."""
    params = {"stdout": True, "stderr": True, "timestamps": True, "details": True,
              "follow": follow, "tail": str(tail), "since": since}
    async for batch in log_batches(docker, f"/services/{service_id}/logs", params,
                                   window=SERVICE_STREAM_WINDOW):
        yield batch


async def log_batches(docker: DockerEndpoint, path: str, params: dict, *,
                      window: int = STREAM_WINDOW) -> AsyncIterator[list[LogLine]]:
    """The lines of a logs endpoint (a service's or a container's), a list per piece
    received, with the event loop given a turn every SLICE seconds of work."""
    demux = Demuxer()
    clock = time.perf_counter
    deadline = clock() + SLICE
    async with docker.stream(path, params, window=window) as body:
        async for chunk in body:
            batch = [parse_line(raw, stream) for stream, raw in demux.feed(chunk)]
            if batch:
                yield batch
            if clock() > deadline:
                await asyncio.sleep(0)
                deadline = clock() + SLICE
    rest = [parse_line(raw, stream) for stream, raw in demux.flush()]
    if rest:
        yield rest

