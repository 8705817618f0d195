"""`swarmdeck port-forward` without a cluster: the port argument, the container's address as
its node reaches it, and the forwarder carrying bytes both ways (a local echo server stands
in for the node's end of the SSH channel)."""

from __future__ import annotations

import asyncio

import pytest

from swarmdeck.core.errors import ExecFailed, NotFound, UsageError
from swarmdeck.core.port_forward import Forwarder, container_address
from swarmdeck.core.port_spec import PortSpec, parse_ports


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

    async def open_connection(self, host: str, port: int, **_channel):
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
            async def open_connection(self, host, port, **_channel):
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


class TaskEngine:
    """A node's engine that knows which containers run."""

    def __init__(self, running: set[str]) -> None:
        self.running = running
        self.asked: list[str] = []

    async def get(self, path: str, **_params):
        container = path.split("/")[2]
        self.asked.append(container)
        return {"Id": container, "State": {"Running": container in self.running}}


async def _tagged(tag: bytes):
    async def serve(reader, writer):
        await reader.read()
        writer.write(tag)
        writer.close()
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _fetch(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"hi")
    writer.write_eof()
    data = await reader.read()
    writer.close()
    return data


def test_a_replaced_task_is_found_again_and_new_connections_go_to_it():
    """The old container stopped: its engine says so while the channel opens, and the next
    connections go to the task found again; bytes and connections are counted."""
    from swarmdeck.core.port_forward import Route

    async def run():
        old_server, port = await _tagged(b"old")
        new_server = await asyncio.start_server(
            lambda r, w: _answer(r, w, b"new"), "127.0.0.2", port)
        engine = TaskEngine({"c-old"})
        old = Route(LocalConn(), "127.0.0.1", "w1", "web.1", "c-old", engine)
        new = Route(LocalConn(), "127.0.0.2", "w2", "web.1", "c-new", engine)
        found: list[Route] = []
        notes: list[str] = []

        async def reroute():
            found.append(new)
            return new

        forwarder = Forwarder(old, port=port, reroute=reroute, on_note=notes.append)
        local = await forwarder.listen(0)
        answers = [await _fetch(local)]
        engine.running = {"c-new"}  # `docker service update --force`
        answers += [await _fetch(local), await _fetch(local)]
        await forwarder.close()
        old_server.close()
        new_server.close()
        return answers, found, notes, forwarder

    answers, found, notes, forwarder = asyncio.run(run())
    assert answers == [b"old", b"new", b"new"]
    assert len(found) == 1  # found again once, then used as it is
    assert notes == [f"web.1 was replaced: now forwarding to web.1 127.0.0.2:"
                     f"{forwarder.port} on w2"]
    assert (forwarder.total, forwarder.open) == (3, 0)
    assert (forwarder.bytes_out, forwarder.bytes_in) == (6, 9)
    assert forwarder.summary() == "3 connections, 9 bytes in, 6 bytes out"


async def _answer(reader, writer, tag: bytes) -> None:
    await reader.read()
    writer.write(tag)
    writer.close()


def test_a_channel_that_cannot_open_finds_the_task_again():
    """The node's link is gone (the channel fails) though nothing said the task stopped."""
    from swarmdeck.core.port_forward import Route

    class Refusing:
        async def open_connection(self, host, port, **_channel):
            raise OSError(113, "No route to host")

    async def run():
        server, port = await _tagged(b"there")
        engine = TaskEngine({"c1"})
        old = Route(Refusing(), "10.0.0.5", "w1", "web.1", "c1", engine)
        new = Route(LocalConn(), "127.0.0.1", "w2", "web.1", "c2", engine)

        async def reroute():
            return new

        forwarder = Forwarder(old, port=port, reroute=reroute)
        local = await forwarder.listen(0)
        answer = await _fetch(local)
        await forwarder.close()
        server.close()
        return answer, forwarder.route

    answer, route = asyncio.run(run())
    assert answer == b"there"
    assert route.node == "w2"
