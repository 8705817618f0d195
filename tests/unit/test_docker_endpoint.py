"""How the Docker endpoint explains a refused socket channel (no lab needed for the
permission case, which the lab cannot show as root)."""

from __future__ import annotations

from types import SimpleNamespace

import asyncssh
import pytest

from swarmdeck.core.errors import DockerUnavailable, NoLeader, NotAManager, NotFound
from swarmdeck.core.transport.docker import DockerEndpoint


class RefusingConnection:
    """An SSH connection whose socket channels are refused; `run` answers the probe."""

    def __init__(self, probe_output: str) -> None:
        self.probe_output = probe_output
        self.commands: list[str] = []

    async def open_unix_connection(self, path: str, **_options):
        raise asyncssh.ChannelOpenError(asyncssh.OPEN_CONNECT_FAILED, "open failed")

    def is_closed(self) -> bool:
        return False

    async def run(self, command: str, check: bool = False, timeout: float = 0):
        self.commands.append(command)
        return SimpleNamespace(stdout=self.probe_output, exit_status=0)


@pytest.mark.parametrize(("probe", "expected"), [
    ("denied\nalice\n", "m1: permission denied on /var/run/docker.sock for user alice "
                        "(add alice to the docker group on that host, or connect as root)"),
    ("missing\nroot\n", "m1: docker is not running (/var/run/docker.sock does not exist)"),
])
async def test_refused_socket_is_explained(probe, expected):
    endpoint = DockerEndpoint(RefusingConnection(probe), "m1")
    with pytest.raises(DockerUnavailable) as err:
        await endpoint.get("/info")
    assert str(err.value).startswith(expected)
    assert endpoint.via == "stream-local"


def test_api_errors_are_typed():
    endpoint = DockerEndpoint(RefusingConnection(""), "m1")
    worker = endpoint._api_error(
        503, b'{"message":"This node is not a swarm manager. Worker nodes can\'t be used"}',
        "GET", "/nodes")
    assert isinstance(worker, NotAManager) and "m1 is not a swarm manager" in str(worker)
    missing = endpoint._api_error(404, b'{"message":"service x not found"}', "GET", "/services/x")
    assert isinstance(missing, NotFound) and missing.status == 404
    other = endpoint._api_error(500, b"plain text", "POST", "/x")
    assert str(other) == "m1: plain text"


class ScriptedHTTP:
    """An HTTP connection answering from a script of (status, body)."""

    def __init__(self, answers: list[tuple[int, bytes]], calls: list[str]) -> None:
        self.answers = answers
        self.calls = calls
        self.reusable = True
        self.served = 0

    def closed_by_peer(self) -> bool:
        return False

    async def request(self, method, path, payload, headers):
        self.calls.append(f"{method} {path}")
        status, body = self.answers.pop(0)
        return SimpleNamespace(status=status, body=body, headers={"content-type":
                                                                   "application/json"},
                               json=lambda: __import__("json").loads(body))

    def close(self) -> None:
        pass


def scripted(answers):
    endpoint = DockerEndpoint(RefusingConnection(""), "m1")
    calls: list[str] = []
    http = ScriptedHTTP(answers, calls)

    async def acquire(**_options):
        return http

    endpoint._acquire = acquire
    return endpoint, calls


ELECTION = b'{"message":"rpc error: code = Unknown desc = node lost leader status"}'
NO_LEADER = (b'{"message":"rpc error: code = Unknown desc = The swarm does not have a leader.'
             b' It\'s possible that too few managers are online."}')


async def test_reads_are_retried_through_a_leader_election(monkeypatch):
    monkeypatch.setattr("swarmdeck.core.transport.docker.READ_RETRY_DELAYS", (0, 0, 0))
    endpoint, calls = scripted([(500, ELECTION), (503, NO_LEADER), (200, b'[{"ID": "n1"}]')])
    assert await endpoint.get("/nodes") == [{"ID": "n1"}]
    assert calls == ["GET /nodes"] * 3


async def test_writes_are_reported_not_resent(monkeypatch):
    monkeypatch.setattr("swarmdeck.core.transport.docker.READ_RETRY_DELAYS", (0, 0, 0))
    endpoint, calls = scripted([(503, NO_LEADER), (200, b"{}")])
    with pytest.raises(NoLeader) as err:
        await endpoint.request("POST", "/services/x/update", body={})
    assert calls == ["POST /services/x/update"]  # sent once
    assert "no leader" in str(err.value) and "changes are refused" in str(err.value)


async def test_a_lasting_election_error_surfaces_after_bounded_retries(monkeypatch):
    monkeypatch.setattr("swarmdeck.core.transport.docker.READ_RETRY_DELAYS", (0, 0, 0))
    endpoint, calls = scripted([(503, NO_LEADER)] * 4)
    with pytest.raises(NoLeader):
        await endpoint.get("/services")
    assert len(calls) == 4


DEADLINE = b'{"message":"rpc error: code = DeadlineExceeded desc = context deadline exceeded"}'


def test_a_read_the_leader_did_not_answer_means_no_leader_a_write_stays_unknown():
    endpoint = DockerEndpoint(RefusingConnection(""), "m3")
    read = endpoint._api_error(500, DEADLINE, "GET", "/nodes")
    assert isinstance(read, NoLeader)
    # a write that timed out may still be committed later: not said to be refused
    write = endpoint._api_error(500, DEADLINE, "POST", "/services/x/update")
    assert not isinstance(write, NoLeader) and "context deadline exceeded" in str(write)


async def test_a_slow_error_is_not_retried(monkeypatch):
    # the manager already waited its own 20 s for a leader: asking again would wait as long
    monkeypatch.setattr("swarmdeck.core.transport.docker.READ_RETRY_DELAYS", (0, 0, 0))
    monkeypatch.setattr("swarmdeck.core.transport.docker.SLOW_ANSWER", -1.0)
    endpoint, calls = scripted([(500, DEADLINE), (200, b"[]")])
    with pytest.raises(NoLeader):
        await endpoint.get("/nodes")
    assert calls == ["GET /nodes"]


# ---- kept-alive channels the other side closed ------------------------------------------

OK_JSON = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


class FakeChannel:
    """One SSH channel to the engine: every request written is answered, until the server
    side closes it (as the engine and sshd do with idle keep-alive channels)."""

    def __init__(self, log: list[str]) -> None:
        import asyncio

        self.reader = asyncio.StreamReader()
        self.log = log
        self.open = True
        self.writer = self

    def write(self, data: bytes) -> None:
        self.log.append(data.split(b" ", 2)[0].decode() + (" sent" if self.open else " lost"))
        if self.open:
            self.reader.feed_data(OK_JSON)

    def server_closes(self, *, eof_seen: bool = True) -> None:
        """EOF_SEEN: the close already reached us (else it is still on its way)."""
        self.open = False
        if eof_seen:
            self.reader.feed_eof()

    def is_closing(self) -> bool:
        return self.reader.at_eof()

    def close(self) -> None:
        pass


class ChannelServer:
    def __init__(self) -> None:
        self.channels: list[FakeChannel] = []
        self.log: list[str] = []

    async def open_unix_connection(self, path: str, **_options):
        import asyncio

        await asyncio.sleep(0)  # a channel opens in a round trip: parallel requests each dial
        channel = FakeChannel(self.log)
        self.channels.append(channel)
        return channel.reader, channel.writer

    def is_closed(self) -> bool:
        return False


async def test_a_channel_the_server_closed_while_idle_is_never_handed_out():
    import asyncio

    server = ChannelServer()
    endpoint = DockerEndpoint(server, "m1")
    await asyncio.gather(*(endpoint.get("/info") for _ in range(3)))
    assert len(server.channels) == 3 and len(endpoint._idle) == 3
    for channel in server.channels:
        channel.server_closes()
    assert await endpoint.get("/nodes") == {}
    assert len(server.channels) == 4  # dialled fresh
    assert "GET lost" not in server.log
    assert len(endpoint._idle) == 1  # the dead ones were dropped, the fresh one kept


async def test_a_read_on_a_channel_dying_unseen_is_sent_again_on_a_fresh_one_not_another_idle():
    import asyncio

    server = ChannelServer()
    endpoint = DockerEndpoint(server, "m1")
    await asyncio.gather(*(endpoint.get("/info") for _ in range(3)))
    for channel in server.channels:
        channel.server_closes(eof_seen=False)  # closed, but the close has not arrived yet
    for channel in server.channels:
        asyncio.get_running_loop().call_soon(channel.reader.feed_eof)
    assert await endpoint.get("/nodes") == {}
    assert server.log.count("GET lost") == 1  # one stale channel tried, then a fresh one
    assert len(server.channels) == 4


async def test_a_channel_idle_past_the_age_limit_is_not_reused(monkeypatch):
    server = ChannelServer()
    endpoint = DockerEndpoint(server, "m1")
    await endpoint.get("/info")
    monkeypatch.setattr("swarmdeck.core.transport.docker.MAX_IDLE_AGE", 0.0)
    await endpoint.get("/info")
    assert len(server.channels) == 2


async def test_writes_go_on_a_fresh_channel_and_a_broken_one_is_never_resent():
    from swarmdeck.core.errors import WriteInterrupted

    server = ChannelServer()
    endpoint = DockerEndpoint(server, "m1")
    await endpoint.get("/info")
    await endpoint.request("POST", "/services/x/update", body={})
    assert len(server.channels) == 2  # the idle GET channel was not used for the write
    original = server.open_unix_connection

    async def dying(path, **options):
        reader, writer = await original(path, **options)
        server.channels[-1].server_closes(eof_seen=False)
        server.channels[-1].reader.feed_eof()
        return reader, writer

    server.open_unix_connection = dying
    with pytest.raises(WriteInterrupted):
        await endpoint.request("POST", "/services/x/update", body={})
    assert server.log.count("POST lost") == 1  # sent once, not again


async def test_an_error_without_a_status_does_not_break_the_retry_check():
    """NotAManager has no HTTP status: judging it for a retry once raised AttributeError,
    which silently ended the console's inventory task."""
    endpoint, _calls = scripted([(503, b'{"message":"This node is not a swarm manager."}')])
    with pytest.raises(NotAManager):
        await endpoint.get("/nodes")


async def test_spare_channels_opened_ahead_carry_writes_once_each_and_never_reads():
    """prewarm (a hinted exec): channels opened while the container is checked serve the
    exec's create and start; each carries one write, a read never takes one."""
    import asyncio

    server = ChannelServer()
    endpoint = DockerEndpoint(server, "m1")
    endpoint.prewarm(2)
    await asyncio.sleep(0.01)
    assert len(server.channels) == 2
    await endpoint.get("/containers/c1/json")
    assert len(server.channels) == 3  # the read opened its own
    first, second = server.channels[:2]
    await endpoint.request("POST", "/containers/c1/exec", body={})
    await endpoint.request("POST", "/exec/e1/start", body={})
    assert len(server.channels) == 3  # the spares served the writes
    assert (first.reader.at_eof(), second.reader.at_eof()) == (False, False)
    await endpoint.request("POST", "/exec/e2/start", body={})
    assert len(server.channels) == 4  # none left: a new one, never the idle read channel


async def test_a_spare_the_server_closed_is_not_used():
    import asyncio

    server = ChannelServer()
    endpoint = DockerEndpoint(server, "m1")
    endpoint.prewarm(1)
    await asyncio.sleep(0.01)
    server.channels[0].server_closes()
    await endpoint.request("POST", "/containers/c1/exec", body={})
    assert "POST lost" not in server.log and len(server.channels) == 2
    await endpoint.close()
