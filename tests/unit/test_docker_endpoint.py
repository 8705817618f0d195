"""How the Docker endpoint explains a refused socket channel (no lab needed for the
permission case, which the lab cannot show as root)."""

from __future__ import annotations

from types import SimpleNamespace

import asyncssh
import pytest

from swarmdeck.core.errors import DockerUnavailable, NotAManager, NotFound
from swarmdeck.core.transport.docker import DockerEndpoint


class RefusingConnection:
    """An SSH connection whose socket channels are refused; `run` answers the probe."""

    def __init__(self, probe_output: str) -> None:
        self.probe_output = probe_output
        self.commands: list[str] = []

    async def open_unix_connection(self, path: str):
        raise asyncssh.ChannelOpenError(asyncssh.OPEN_CONNECT_FAILED, "open failed")

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
