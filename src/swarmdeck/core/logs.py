"""Service logs from the Docker API: demultiplexed, split into lines, tagged with the task
and node each line came from. Text stays untrusted: renderers pass it through sanitize."""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from swarmdeck.core.models import parse_time
from swarmdeck.core.transport.docker import DockerEndpoint

STREAMS = {0: "stdin", 1: "stdout", 2: "stderr"}
MAX_LINE = 64 * 1024  # a line longer than this is cut (the rest follows as more lines)


@dataclass(frozen=True)
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
    moment = parse_time(stamp)
    if moment is None:
        return 0
    head, dot, rest = stamp.partition(".")
    digits = ""
    if dot:
        for ch in rest:
            if not ch.isdigit():
                break
            digits += ch
    whole = int(moment.replace(microsecond=0).timestamp())
    return whole * 1_000_000_000 + int((digits or "0").ljust(9, "0")[:9])


def since_value(ns: int) -> str:
    """The API's `since` for a nanosecond timestamp (seconds.nanoseconds)."""
    return f"{ns // 1_000_000_000}.{ns % 1_000_000_000:09d}"


def parse_line(raw: bytes, stream: str) -> LogLine:
    """`TIMESTAMP [com.docker.swarm.node.id=..,com.docker.swarm.service.id=..,...] MESSAGE`"""
    text = raw.decode("utf-8", errors="replace")
    stamp_text, _, rest = text.partition(" ")
    timestamp = parse_time(stamp_text)
    if timestamp is None:
        rest = text
    attrs: dict[str, str] = {}
    if rest.startswith("com.docker.swarm."):
        details, _, rest = rest.partition(" ")
        for pair in details.split(","):
            key, _, value = pair.partition("=")
            attrs[key] = value
    return LogLine(
        timestamp=timestamp, stream=stream, text=rest,
        task_id=attrs.get("com.docker.swarm.task.id"),
        node_id=attrs.get("com.docker.swarm.node.id"),
        service_id=attrs.get("com.docker.swarm.service.id"),
        ns=stamp_ns(stamp_text) if timestamp is not None else 0,
    )


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
        self._frames += data
        while len(self._frames) >= 8:
            kind, size = struct.unpack(">BxxxI", self._frames[:8])
            if len(self._frames) < 8 + size:
                break
            payload, self._frames = self._frames[8:8 + size], self._frames[8 + size:]
            self._lines(STREAMS.get(kind, "stdout"), payload, out)
        return out

    def _lines(self, stream: str, data: bytes, out: list[tuple[str, bytes]]) -> None:
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


async def service_logs(docker: DockerEndpoint, service_id: str, *, follow: bool = True,
                       tail: int | str = 100, since: str | None = None
                       ) -> AsyncIterator[LogLine]:
    params = {"stdout": True, "stderr": True, "timestamps": True, "details": True,
              "follow": follow, "tail": str(tail), "since": since}
    demux = Demuxer()
    async with docker.stream(f"/services/{service_id}/logs", params) as body:
        async for chunk in body:
            for stream, raw in demux.feed(chunk):
                yield parse_line(raw, stream)
    for stream, raw in demux.flush():
        yield parse_line(raw, stream)
