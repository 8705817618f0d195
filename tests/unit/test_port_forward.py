"""`swarmdeck port-forward` without a cluster: the port argument, the container's address as
its node reaches it, and the forwarder carrying bytes both ways (a local echo server stands
in for the node's end of the SSH channel)."""

from __future__ import annotations

import asyncio

import pytest

from swarmdeck.core.errors import ExecFailed, NotFound, UsageError
from swarmdeck.core.port_forward import Forwarder, PortSpec, container_address, parse_ports


@pytest.mark.parametrize("text, spec", [("8080", PortSpec(8080, 8080)),
                                        ("18080:80", PortSpec(18080, 80)),
                                        ("0:80", PortSpec(0, 80))])
def test_ports(text, spec):
    assert parse_ports(text) == spec


@pytest.mark.parametrize("text", ["http", "80:http", "0", "70000", "1:0", "-1:80", ""])
def test_bad_ports_are_usage_errors(text):
    with pytest.raises(UsageError):
        parse_ports(text)


class Engine:
    label = "w1 (root@10.0.0.9:22)"

    def __init__(self, answers: dict) -> None:
        self.answers = answers

    async def get(self, path: str, **_params):
        answer = self.answers.get(path)
        if answer is None:
            raise NotFound(404, "no such object", path=path)
        return answer


def test_a_swarm_task_is_reached_on_the_nodes_gwbridge():
    engine = Engine({
        "/containers/c1/json": {"Id": "c1full", "NetworkSettings": {"Networks": {
            "shop_default": {"IPAddress": "10.0.1.5"}}}},
        "/networks/docker_gwbridge": {"Containers": {
            "c1full": {"IPv4Address": "172.18.0.3/16"}}},
    })
    assert asyncio.run(container_address(engine, "c1")) == "172.18.0.3"


def test_host_network_and_default_bridge():
    host = Engine({"/containers/c1/json": {"Id": "c1", "NetworkSettings": {
        "Networks": {"host": {}}}}})
    assert asyncio.run(container_address(host, "c1")) == "127.0.0.1"
    bridge = Engine({"/containers/c1/json": {"Id": "c1", "NetworkSettings": {
        "Networks": {"bridge": {"IPAddress": "172.17.0.2"}}}}})
    assert asyncio.run(container_address(bridge, "c1")) == "172.17.0.2"


def test_no_reachable_address_says_which_networks():
    engine = Engine({"/containers/c1/json": {"Id": "c1", "NetworkSettings": {
        "Networks": {"backend": {"IPAddress": "10.0.9.2"}}}}})
    with pytest.raises(ExecFailed, match=r"no address its node can reach \(networks: backend\)"):
        asyncio.run(container_address(engine, "c1"))


class LocalConn:
    """An SSH connection's open_connection, served by plain local TCP (the "node")."""

    def __init__(self) -> None:
        self.opened: list[tuple[str, int]] = []

    async def open_connection(self, host: str, port: int):
        self.opened.append((host, port))
        return await asyncio.open_connection(host, port)


async def _echo(reader, writer):
    while data := await reader.read(1024):
        writer.write(data.upper())
        await writer.drain()
    writer.close()


def test_each_connection_is_carried_both_ways_on_a_channel_of_its_own():
    async def run():
        server = await asyncio.start_server(_echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        conn = LocalConn()
        forwarder = Forwarder(conn, "127.0.0.1", port, label="w1")
        local = await forwarder.listen(0)
        answers = []
        for word in (b"hello", b"again"):
            reader, writer = await asyncio.open_connection("127.0.0.1", local)
            writer.write(word)
            writer.write_eof()
            answers.append(await reader.read())
            writer.close()
        await forwarder.close()
        server.close()
        return answers, conn.opened, forwarder.server.sockets

    answers, opened, sockets = asyncio.run(run())
    assert answers == [b"HELLO", b"AGAIN"]
    assert len(opened) == 2
    assert sockets == ()  # closed: the port is free again


def test_a_refused_channel_is_one_note_and_the_listener_goes_on():
    async def run():
        notes = []

        class Refusing:
            async def open_connection(self, host, port):
                raise OSError(111, "Connection refused")

        forwarder = Forwarder(Refusing(), "10.0.0.5", 8080, label="w1", on_note=notes.append)
        local = await forwarder.listen(0)
        reader, writer = await asyncio.open_connection("127.0.0.1", local)
        closed = await reader.read()
        writer.close()
        await forwarder.close()
        return notes, closed

    notes, closed = asyncio.run(run())
    assert closed == b""
    assert notes == ["connection to 10.0.0.5:8080 from w1 failed: Connection refused"]
