"""An engine older than swarmdeck supports is refused on its first answer, from the
Api-Version header every Docker answer carries (no request of its own). The lab runs one
engine version only; the live check with a fake old engine is in test_bad_input.py."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from swarmdeck.core.errors import EngineTooOld
from swarmdeck.core.transport.docker import MIN_API_VERSION, DockerEndpoint, api_too_old


@pytest.mark.parametrize(("version", "old"), [
    ("1.24", True), ("1.40", True), ("1.9", True), (MIN_API_VERSION, False), ("1.43", False),
    ("1.100", False), ("2.0", False), ("garbage", False),
])
def test_versions_compare_as_numbers(version, old):
    assert api_too_old(version) is old


class Answering:
    """One HTTP connection answering every request with the same status, headers, body."""

    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers
        self.reusable = True
        self.served = 0
        self.calls = 0

    def closed_by_peer(self) -> bool:
        return False

    async def request(self, method, path, payload, headers):
        self.calls += 1
        return SimpleNamespace(status=200, body=b"{}", json=dict,
                               headers={"content-type": "application/json", **self.headers})

    def close(self) -> None:
        pass


def endpoint_answering(headers: dict[str, str]) -> tuple[DockerEndpoint, Answering]:
    endpoint = DockerEndpoint(SimpleNamespace(), "m1 (root@10.0.0.1:22)")
    http = Answering(headers)

    async def acquire(**_options):
        return http

    endpoint._acquire = acquire
    return endpoint, http


async def test_an_old_engine_is_refused_in_one_line():
    endpoint, _ = endpoint_answering({"api-version": "1.24"})
    with pytest.raises(EngineTooOld) as err:
        await endpoint.get("/info")
    message = str(err.value)
    assert message.startswith("m1 (root@10.0.0.1:22): the Docker engine there speaks API 1.24,"
                              f" older than the {MIN_API_VERSION} swarmdeck needs")
    assert "upgrade Docker" in message and "\n" not in message
    with pytest.raises(EngineTooOld):  # every later call too, not only the first
        await endpoint.get("/nodes")


async def test_a_current_engine_is_checked_once_and_remembered():
    endpoint, http = endpoint_answering({"api-version": "1.41"})
    assert await endpoint.get("/info") == {}
    assert await endpoint.get("/nodes") == {}
    assert endpoint.api_version == "1.41" and http.calls == 2


async def test_an_answer_without_the_header_is_not_judged():
    endpoint, _ = endpoint_answering({})
    assert await endpoint.get("/info") == {}
    assert endpoint.api_version is None
