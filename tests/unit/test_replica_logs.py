"""Following replicas from their own nodes (core.replica_logs), on fake engines: lines are
tagged with their task, a dropped stream resumes from the replica's own last line without a
repeat, a node that cannot be reached is read through the manager (and said), and a
stopped container's stream ends it quietly. The lab tests prove the same on real engines."""

from __future__ import annotations

import asyncio
import contextlib
import struct

from swarmdeck.core.errors import ConnectionLost, DockerUnavailable, HostUnreachable
from swarmdeck.core.inventory import ClusterState
from swarmdeck.core.log_follow import StreamNote
from swarmdeck.core.models import Node, Service, Task
from swarmdeck.core.replica_logs import follow_replicas

BASE = 1_800_000_000


def frame(n: int, text: str, *, task: str | None = None) -> bytes:
    details = f"com.docker.swarm.task.id={task} " if task else ""
    line = f"2027-01-15T08:00:{n:02d}.000000001Z {details}{text}\n".encode()
    return struct.pack(">BxxxI", 1, len(line)) + line


class FakeEngine:
    """A container engine: LINES[cid] (numbers); the first stream of DROP cids breaks after
    half its lines. since= is honoured like Docker (inclusive)."""

    def __init__(self, lines: dict[str, list[int]], drop: set[str] = frozenset(),
                 running: bool = False) -> None:
        self.lines = lines
        self.drop = set(drop)
        self.running = running
        self.calls: list[tuple[str, dict]] = []

    @contextlib.asynccontextmanager
    async def stream(self, path: str, params=None, **_):
        self.calls.append((path, dict(params or {})))
        cid = path.split("/")[2]
        numbers = self.lines[cid]
        since = (params or {}).get("since")
        if since:
            first = int(since.split(".")[0]) - BASE
            numbers = [n for n in numbers if n >= first]

        async def body():
            for i, n in enumerate(numbers):
                if cid in self.drop and i == len(numbers) // 2:
                    self.drop.discard(cid)
                    raise ConnectionLost("link cut")
                yield frame(n, f"{cid} line {n}")
                await asyncio.sleep(0)

        yield body()

    async def get(self, path: str, **_):
        return {"State": {"Running": self.running}}


def stamp_seconds(n: int) -> int:
    from swarmdeck.core.logs import stamp_ns

    return stamp_ns(f"2027-01-15T08:00:{n:02d}.000000001Z") // 1_000_000_000


class FakeSession:
    def __init__(self, docker) -> None:
        self.docker = docker


class FakeInventory:
    def __init__(self, tasks: list[Task], manager) -> None:
        self.state = ClusterState("prod")
        self.state.services = {"s1": Service(id="s1", name="web", mode="replicated")}
        self.state.nodes = {n: Node(id=n, hostname=n, role="worker", availability="active",
                                    status="ready") for n in ("n1", "n2")}
        self.state.tasks = {t.id: t for t in tasks}
        self.session = FakeSession(manager)

    async def connect(self):
        return self.session

    def subscribe(self, listener):
        return lambda: None


class FakeLinks:
    def __init__(self, engines: dict[str, object]) -> None:
        self.engines = engines
        self.forgotten: list[str] = []

    async def engine(self, node_id: str, session):
        found = self.engines[node_id]
        if isinstance(found, Exception):
            raise found
        return found

    def forget(self, node_id: str) -> None:
        self.forgotten.append(node_id)


def task(tid: str, node: str, cid: str, slot: int) -> Task:
    return Task(id=tid, service_id="s1", node_id=node, slot=slot, state="running",
                desired_state="running", container_id=cid)


async def collect(stream, until=None) -> tuple[dict[str, list[str]], list[str]]:
    """Until the stream ends, or UNTIL(lines) holds (a followed stream goes on waiting for
    new replicas)."""
    lines: dict[str, list[str]] = {}
    notes: list[str] = []
    async with contextlib.aclosing(stream):
        async for item in stream:
            if isinstance(item, StreamNote):
                notes.append(item.text)
            else:
                lines.setdefault(item.task_id, []).append(item.text)
                assert item.service_id == "s1" and item.node_id
            if until is not None and until(lines):
                break
    return lines, notes


async def test_each_replica_is_read_from_its_node_and_resumed_without_a_repeat(monkeypatch):
    global BASE
    BASE = stamp_seconds(0)
    engines = {"n1": FakeEngine({"c1": list(range(1, 21))}, drop={"c1"}),
               "n2": FakeEngine({"c2": list(range(1, 11))})}
    inventory = FakeInventory([task("t1", "n1", "c1", 1), task("t2", "n2", "c2", 2)],
                              manager=None)
    links = FakeLinks(engines)
    monkeypatch.setattr("swarmdeck.core.replica_logs.random.uniform", lambda a, b: 0.0)
    # following: the dropped stream resumes; the containers are not running, so each
    # stream's end is the replica's end
    lines, notes = await asyncio.wait_for(collect(follow_replicas(
        inventory, links, [("s1", "web")], follow=True, tail="all", window=0.01),
        until=lambda got: sum(map(len, got.values())) >= 30), 10)
    assert lines["t1"] == [f"c1 line {n}" for n in range(1, 21)]  # all, once, in order
    assert lines["t2"] == [f"c2 line {n}" for n in range(1, 11)]
    assert any("web.1 on n1: log stream lost" in n for n in notes), notes
    assert links.forgotten == ["n1"]
    resumed = engines["n1"].calls[1][1]
    assert resumed["tail"] == "all" and resumed["since"].startswith(str(BASE + 10))


async def test_a_node_out_of_reach_is_read_through_the_manager():
    global BASE
    BASE = stamp_seconds(0)

    class Manager(FakeEngine):
        """The service stream: both replicas' lines, labelled with their task."""

        @contextlib.asynccontextmanager
        async def stream(self, path: str, params=None, **_):
            assert path == "/services/s1/logs" and params["details"]

            async def body():
                for n in range(1, 6):
                    yield frame(n, f"one {n}", task="t1") + frame(n, f"two {n}", task="t2")

            yield body()

    engines = {"n1": FakeEngine({"c1": [1, 2, 3]}),
               "n2": HostUnreachable("ssh to n2: connection refused")}
    inventory = FakeInventory([task("t1", "n1", "c1", 1), task("t2", "n2", "c2", 2)],
                              manager=Manager({}))
    lines, notes = await collect(follow_replicas(
        inventory, FakeLinks(engines), [("s1", "web")], follow=False, tail="all"))
    assert lines["t1"] == ["c1 line 1", "c1 line 2", "c1 line 3"]  # from its node only
    assert lines["t2"] == [f"two {n}" for n in range(1, 6)]  # only its own lines
    assert notes == ["web.2 on n2: its node's engine cannot be reached (ssh to n2: connection "
                     "refused); reading it through the manager's service log stream"]


async def test_a_replica_read_through_the_manager_goes_back_to_its_node(monkeypatch):
    """Following: while a replica's lines come through the manager, its node is tried again
    now and then; once its engine answers, the replica is read there, from its last line
    through the manager: every line once, in order, and the move said."""
    global BASE
    BASE = stamp_seconds(0)
    monkeypatch.setattr("swarmdeck.core.replica_logs.NODE_RETRY", 0.01)
    monkeypatch.setattr("swarmdeck.core.node_links.RETRY", 0.01)

    class Manager(FakeEngine):
        """The service stream: lines 1-5 of t2, then nothing more (it keeps following)."""

        @contextlib.asynccontextmanager
        async def stream(self, path: str, params=None, **_):
            async def body():
                for n in range(1, 6):
                    yield frame(n, f"c2 line {n}", task="t2")
                await asyncio.Event().wait()

            yield body()

    class NodeEngine(FakeEngine):
        """n2's dockerd: not answering until the manager gave t2's 5 lines."""

        gets = 0

        async def get(self, path: str, **_):
            self.gets += 1
            if given.get("t2", 0) < 5:
                raise DockerUnavailable("dockerd on n2 is not answering")
            return await super().get(path)

    class ComingBack(FakeLinks):
        """n2's sshd refuses the first dial, then answers (its dockerd not yet)."""

        def __init__(self) -> None:
            super().__init__({})
            self.node = NodeEngine({"c2": list(range(1, 11))})
            self.tries = 0

        async def engine(self, node_id: str, session):
            self.tries += 1
            if self.tries == 1:
                raise HostUnreachable("ssh to n2: connection refused")
            return self.node

    given: dict[str, int] = {}
    links = ComingBack()
    inventory = FakeInventory([task("t2", "n2", "c2", 2)], manager=Manager({}))

    def until(got: dict[str, list[str]]) -> bool:
        given.update({tid: len(lines) for tid, lines in got.items()})
        return len(got.get("t2", [])) >= 10

    lines, notes = await asyncio.wait_for(collect(follow_replicas(
        inventory, links, [("s1", "web")], follow=True, tail="all", window=0.01),
        until=until), 10)
    assert lines["t2"] == [f"c2 line {n}" for n in range(1, 11)]
    assert links.node.gets >= 2  # sshd answering was not enough: its engine was asked
    resumed = links.node.calls[0][1]
    assert resumed["since"].startswith(str(BASE + 5))
    assert notes[0].startswith("web.2 on n2: its node's engine cannot be reached")
    assert "web.2 on n2: its node's engine answers again; reading it from the node" in notes


async def test_a_flood_is_held_back_not_buffered_without_bound(monkeypatch):
    """Producers far faster than the reader: what is in flight (produced, not yet read)
    stays within the merge's bound plus the queue, whatever the flood's length."""
    from swarmdeck.core import log_follow
    from swarmdeck.core.logs import LogLine

    monkeypatch.setattr(log_follow, "MAX_HELD", 500)
    queue: asyncio.Queue = asyncio.Queue(maxsize=4)
    produced = 0

    async def producer(stream: int) -> None:
        nonlocal produced
        for batch in range(200):
            lines = [LogLine(None, "stdout", f"{stream} {batch} {i}", ns=batch * 100 + i)
                     for i in range(50)]
            await queue.put(lines)
            produced += len(lines)

    done = asyncio.gather(*(producer(s) for s in range(3)))
    read, in_flight = 0, []
    async for _line in log_follow.merge(queue, done, follow=True, window=10.0):
        read += 1
        in_flight.append(produced - read)
        if read % 100 == 0:
            await asyncio.sleep(0.001)  # a slow reader
        if read == 30_000:
            break
    assert read == 30_000  # everything came, without waiting out the 10 s window
    # bound 500 + 4 queued pieces + one piece per producer blocked on put, 50 lines each
    assert max(in_flight) <= 500 + 4 * 50 + 3 * 50
