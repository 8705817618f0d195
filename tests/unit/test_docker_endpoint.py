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

    async def acquire():
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
