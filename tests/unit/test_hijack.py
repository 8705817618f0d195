"""The exec stream's two parsers, fed the bytes in blocks cut at random places (as an SSH
channel delivers them): the upgrade answer and the multiplexed stdout/stderr framing."""

from __future__ import annotations

import json
import random

import pytest

from swarmdeck.core.transport.hijack import (
    STDERR,
    STDOUT,
    FrameDemuxer,
    UpgradeParser,
    upgrade_request,
)
from swarmdeck.core.transport.http import ProtocolError

ANSWER = (b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
          b"Connection: Upgrade\r\nUpgrade: tcp\r\nApi-Version: 1.41\r\n\r\n")


def frame(stream: int, payload: bytes) -> bytes:
    return bytes([stream, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


def cuts(data: bytes, rng: random.Random) -> list[bytes]:
    """DATA in blocks of random sizes (0 to 20 bytes, empty blocks included)."""
    blocks, pos = [], 0
    while pos < len(data):
        size = rng.randint(0, 20)
        blocks.append(data[pos:pos + size])
        pos += size
    return blocks


def demux_all(blocks: list[bytes]) -> dict[int, bytes]:
    demux = FrameDemuxer()
    got = {STDOUT: b"", STDERR: b""}
    for block in blocks:
        for stream, piece in demux.feed(block):
            got[stream] += piece
    assert not demux.pending
    return got


@pytest.mark.parametrize("seed", range(40))
def test_frames_cut_anywhere_give_each_stream_its_bytes_in_order(seed):
    rng = random.Random(seed)
    out, err, data = b"", b"", b""
    for _ in range(rng.randint(1, 30)):
        payload = bytes(rng.randrange(256) for _ in range(rng.randint(0, 40)))
        if rng.random() < 0.5:
            out += payload
            data += frame(STDOUT, payload)
        else:
            err += payload
            data += frame(STDERR, payload)
    assert demux_all(cuts(data, rng)) == {STDOUT: out, STDERR: err}


def test_a_payload_is_given_as_it_arrives_not_held_until_its_frame_ends():
    demux = FrameDemuxer()
    data = frame(STDOUT, b"hello world")
    assert list(demux.feed(data[:5])) == []
    assert list(demux.feed(data[5:13])) == [(STDOUT, b"hello")]
    assert demux.pending
    assert list(demux.feed(data[13:])) == [(STDOUT, b" world")]
    assert not demux.pending


def test_a_cut_off_frame_is_pending():
    demux = FrameDemuxer()
    list(demux.feed(frame(STDERR, b"abc")[:6]))
    assert demux.pending


@pytest.mark.parametrize("bad", [b"\x05\x00\x00\x00\x00\x00\x00\x01x",
                                 b"\x01\x00\x07\x00\x00\x00\x00\x01x",
                                 b"hello, this is a raw TTY stream"])
def test_bytes_that_are_not_frames_are_refused(bad):
    with pytest.raises(ProtocolError, match="not a multiplexed stream header"):
        list(FrameDemuxer().feed(bad))


@pytest.mark.parametrize("seed", range(40))
def test_upgrade_answer_cut_anywhere_keeps_the_stream_bytes_after_it(seed):
    rng = random.Random(seed)
    stream = frame(STDOUT, b"767327dd8ebc\n") + frame(STDERR, b"warn\n")
    parser = UpgradeParser()
    answer = None
    blocks = cuts(ANSWER + stream, rng)
    for i, block in enumerate(blocks):
        answer = parser.feed(block)
        if answer is not None:
            rest = answer.rest + b"".join(blocks[i + 1:])
            break
    assert answer is not None and answer.upgraded and answer.status == 101
    assert answer.headers["upgrade"] == "tcp"
    assert answer.headers["content-type"] == "application/vnd.docker.raw-stream"
    assert rest == stream
    assert demux_all(cuts(rest, rng)) == {STDOUT: b"767327dd8ebc\n", STDERR: b"warn\n"}


def test_an_error_answer_is_not_an_upgrade_and_keeps_its_body():
    body = json.dumps({"message": "Container abc is not running"}).encode()
    head = (f"HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    parser = UpgradeParser()
    assert parser.feed(head[:10]) is None
    answer = parser.feed(head[10:] + body[:7])
    assert answer is not None and not answer.upgraded and answer.status == 409
    assert answer.headers["content-length"] == str(len(body))
    assert answer.rest == body[:7]


def test_what_is_not_http_is_refused_at_once():
    with pytest.raises(ProtocolError, match="not an HTTP response"):
        UpgradeParser().feed(b"SSH-2.0-OpenSSH")


def test_endless_headers_are_refused():
    parser = UpgradeParser()
    parser.feed(b"HTTP/1.1 101 UPGRADED\r\n")
    with pytest.raises(ProtocolError, match="too large"):
        for _ in range(10_000):
            parser.feed(b"X-Filler: " + b"a" * 100 + b"\r\n")


def test_the_upgrade_request_asks_for_the_connection_with_its_body():
    data = upgrade_request("/exec/abc/start", {"Detach": False, "Tty": True})
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /exec/abc/start HTTP/1.1"
    assert "Connection: Upgrade" in lines and "Upgrade: tcp" in lines
    assert f"Content-Length: {len(body)}" in lines
    assert json.loads(body) == {"Detach": False, "Tty": True}
