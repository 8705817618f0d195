"""Cluster events: Docker's messages parsed once, the bounded ring, the filter, the inventory
recording its one stream into the ring, and `swarmdeck events` refusing bad input."""

from __future__ import annotations

import asyncio
import re
import time
from types import SimpleNamespace

import pytest

from swarmdeck.cli.main import main
from swarmdeck.core import times
from swarmdeck.core.errors import ConnectionLost, UsageError
from swarmdeck.core.events import (
    EVENT_TYPES,
    ClusterEvent,
    EventFilter,
    EventLog,
    params,
    parse_types,
    worth_keeping,
)
from swarmdeck.core.inventory import ClusterInventory
from swarmdeck.core.times import moment as when
from swarmdeck.core.transport.ssh import SSHSettings

T0 = 1795954303_000000000  # ns

# shapes recorded from the lab's engine (API 1.41)
SCALE = {"Type": "service", "Action": "update", "scope": "swarm", "time": 1795954303,
         "timeNano": T0 + 642396298,
         "Actor": {"ID": "a0ytq885wvczt0tm3ff8i6x67",
                   "Attributes": {"name": "ev-probe", "replicas.new": "2",
                                  "replicas.old": "1"}}}
IMAGE = {"Type": "service", "Action": "update", "scope": "swarm", "timeNano": T0 + 1,
         "Actor": {"ID": "a0ytq885wvczt0tm3ff8i6x67", "Attributes": {
             "image.new": "reg:5000/demo:1.1@sha256:9525",
             "image.old": "reg:5000/demo:1.0@sha256:3c06",
             "name": "ev-probe"}}}
UPDATING = {"Type": "service", "Action": "update", "timeNano": T0 + 2,
            "Actor": {"ID": "a0y", "Attributes": {"name": "ev-probe",
                                                  "updatestate.new": "updating"}}}
DIE = {"status": "die", "id": "23f7165c2adf", "Type": "container", "Action": "die",
       "scope": "local", "time": 1795954309,
       "Actor": {"ID": "23f7165c2adfe322ea10d98e9", "Attributes": {
           "com.docker.swarm.service.name": "ev-probe",
           "com.docker.swarm.task.id": "iq6hvyfbf7ebqk9ckfw3y1av1",
           "com.docker.swarm.task.name": "ev-probe.1.iq6hvyfbf7ebqk9ckfw3y1av1",
           "exitCode": "137", "image": "reg:5000/demo:1.0@sha256:3c06",
           "name": "ev-probe.1.iq6hvyfbf7ebqk9ckfw3y1av1"}}}
NODE_DOWN = {"Type": "node", "Action": "update", "scope": "swarm", "timeNano": T0 + 5,
             "Actor": {"ID": "n7ml", "Attributes": {"name": "prod-w1", "state.old": "ready",
                                                    "state.new": "down"}}}
CONNECT = {"Type": "network", "Action": "connect", "scope": "local", "timeNano": T0 + 6,
           "Actor": {"ID": "1820dd", "Attributes": {"container": "23f7165c2adfe322ea10d98e9",
                                                    "name": "bridge", "type": "bridge"}}}
PROBE = {"Type": "container", "Action": "exec_start: /bin/sh -c true", "timeNano": T0 + 7,
         "Actor": {"ID": "c1", "Attributes": {"name": "web.1.x"}}}


def ev(raw: dict) -> ClusterEvent:
    event = ClusterEvent.from_api(raw)
    assert event is not None
    return event


def at(seconds: int, name: str = "web", kind: str = "service") -> ClusterEvent:
    return ClusterEvent(time_ns=T0 + seconds * 1_000_000_000, type=kind, action="update",
                        actor_id=f"id-{name}", name=name)


# ---- parsing -----------------------------------------------------------------------------

def test_a_scale_reads_as_the_replicas_it_changed():
    event = ev(SCALE)
    assert (event.type, event.action, event.name, event.scope) == (
        "service", "update", "ev-probe", "swarm")
    assert event.time_ns == T0 + 642396298 and event.time == pytest.approx(1795954303.642)
    assert event.changes == {"replicas": ("1", "2")}
    assert event.summary == "replicas 1 -> 2"


def test_changes_and_details_worth_showing():
    assert ev(IMAGE).summary == "image reg:5000/demo:1.0 -> reg:5000/demo:1.1"  # no digests
    assert ev(UPDATING).summary == "updatestate -> updating"
    assert ev(NODE_DOWN).summary == "state ready -> down"
    die = ev(DIE)
    assert die.time_ns == 1795954309 * 1_000_000_000  # only `time` given: seconds
    assert die.name == "ev-probe.1"  # the task id is noise in a list of events
    assert die.summary == "service ev-probe, exit 137, image reg:5000/demo:1.0"
    assert ev(CONNECT).summary == "container 23f7165c2adf, driver bridge"


def test_messages_without_type_or_action_are_dropped_and_probes_not_kept():
    assert ClusterEvent.from_api({"status": "pull", "id": "x"}) is None
    assert ClusterEvent.from_api({"Type": "service"}) is None
    assert not worth_keeping(ev(PROBE))
    assert worth_keeping(ev(DIE)) and worth_keeping(ev(SCALE))


def test_the_same_event_has_the_same_key_and_others_do_not():
    assert ev(SCALE).key == ev(dict(SCALE)).key
    assert len({ev(r).key for r in (SCALE, IMAGE, UPDATING, DIE, NODE_DOWN, CONNECT)}) == 6


# ---- the ring ----------------------------------------------------------------------------

def test_the_ring_keeps_the_newest_and_each_event_once():
    ring = EventLog(size=3)
    assert [ring.add(at(i)) for i in range(5)] == [True] * 5
    assert [e.time_ns for e in ring.events()] == [at(i).time_ns for i in (2, 3, 4)]
    assert not ring.add(at(4))  # overlap after a reconnect: not twice
    assert len(ring) == 3 and ring.added == 5 and ring.size == 3
    assert ring.last_time == at(4).time
    assert ring.add(at(0))  # an evicted event's key is forgotten with it
    assert [e.time_ns for e in ring.events()] == [at(i).time_ns for i in (3, 4, 0)]
    assert ring.last_time == at(4).time


# ---- the filter --------------------------------------------------------------------------

def test_filter_by_type_and_words():
    events = [ev(r) for r in (SCALE, IMAGE, DIE, NODE_DOWN, CONNECT)]
    chosen = EventFilter.parse("type:service,node")
    assert chosen.types == {"service", "node"} and chosen.words == ()
    assert [e.name for e in events if chosen.matches(e)] == ["ev-probe", "ev-probe", "prod-w1"]
    words = EventFilter.parse("Probe  137")  # every word, anywhere, any case
    assert [e.type for e in events if words.matches(e)] == ["container"]
    both = EventFilter.parse("t:containers ev-probe")
    assert both.types == {"container"} and [e.action for e in events if both.matches(e)] \
        == ["die"]
    assert all(EventFilter.parse("").matches(e) for e in events)
    assert EventFilter.parse("type:").types == frozenset()  # half typed: no restriction yet
    assert str(EventFilter.parse("web type:node,service")) == "type:node,service web"
    with pytest.raises(ValueError, match="unknown event type 'task'"):
        EventFilter.parse("type:task")


def test_types_are_checked():
    assert parse_types(["service,nodes", "config", "service"]) == ["service", "node", "config"]
    with pytest.raises(ValueError, match="unknown event type 'containr'"):
        parse_types(["containr"])
    with pytest.raises(ValueError, match="no event type given"):
        parse_types([","])
    assert params([], 12.5, 13.0) == {"filters": {"type": list(EVENT_TYPES)},
                                      "since": "12.500000", "until": "13.000000"}


# ---- the inventory records the stream it follows ----------------------------------------

class FakeDocker:
    """The past events answer a request with `until`; the live stream is the other one."""

    def __init__(self, past: list[dict], live: list[dict]) -> None:
        self.past, self.live = past, live
        self.streams: list[dict] = []
        self.gets: list[str] = []

    async def events(self, query):
        self.streams.append(query)
        for raw in self.past if "until" in query else self.live:
            await asyncio.sleep(0)
            yield raw

    async def get(self, path, **_params):
        self.gets.append(path)
        if path == "/tasks":
            return []
        return {"ID": path.rsplit("/", 1)[1], "Spec": {
            "Name": "ev-probe", "Mode": {"Replicated": {"Replicas": 2}},
            "TaskTemplate": {"ContainerSpec": {"Image": "reg:5000/demo:1.0"}}}}


async def test_the_inventory_keeps_what_it_follows_in_the_ring():
    inventory = ClusterInventory("prod", [], SSHSettings())
    docker = FakeDocker(past=[NODE_DOWN, CONNECT], live=[CONNECT, SCALE, DIE, PROBE])
    inventory.session = SimpleNamespace(docker=docker, label="prod-m1", closed=False,
                                        heard=lambda: None, last_heard=time.monotonic())
    inventory.server_time = (T0 + 5_500_000_000) / 1e9
    changes = []
    inventory.subscribe(changes.append)
    # the stream ends right after a service event woke the task pump: follow() must still
    # return (on 3.11 asyncio.wait_for swallowed that cancel and follow() waited forever)
    with pytest.raises(ConnectionLost, match="event stream from prod-m1 ended"):
        await asyncio.wait_for(inventory.follow(), 5)
    ring = inventory.state.events
    assert [(e.type, e.action) for e in ring.events()] == [
        ("node", "update"), ("network", "connect"), ("service", "update"),
        ("container", "die")]  # CONNECT once, the health probe not at all
    assert ring.started == inventory.server_time
    past, live = docker.streams
    assert float(past["since"]) == pytest.approx(inventory.server_time - 600)
    assert float(past["until"]) == pytest.approx(inventory.server_time)
    assert float(live["since"]) == pytest.approx(inventory.server_time) and "until" not in live
    assert set(live["filters"]["type"]) == set(EVENT_TYPES)
    # the live service event updated the state; container events fetched nothing
    assert "a0ytq885wvczt0tm3ff8i6x67" in inventory.state.services
    assert not any("23f7165c" in path for path in docker.gets)
    # once for the past, then once per event new to the ring (SCALE, DIE)
    assert [c.kind for c in changes].count("events") == 1 + 2


async def test_a_stream_closed_on_a_live_connection_is_opened_again_from_the_last_event(
        monkeypatch):
    """An sshd with ChannelTimeout closes the quiet event stream's channel while the SSH
    connection lives: the stream is opened again at once from the last event's time; the
    repeat is dropped, nothing is lost, and no reconnection (no STALE) happens."""
    from swarmdeck.core import inventory as inventory_module

    monkeypatch.setattr(inventory_module, "REOPEN_AFTER", 0.01)

    class ClosingDocker(FakeDocker):
        async def events(self, query):
            self.streams.append(query)
            if "until" in query:
                return
            if len(self.streams) == 2:  # the first live stream: one event, then closed
                yield SCALE
                await asyncio.sleep(0.05)
                raise ConnectionLost("lost connection to prod-m1: connection closed inside "
                                     "a chunked body")
            for raw in (SCALE, DIE):  # opened again: the repeat, then what came meanwhile
                yield raw

    inventory = ClusterInventory("prod", [], SSHSettings())
    docker = ClosingDocker(past=[], live=[])
    inventory.session = SimpleNamespace(docker=docker, label="prod-m1", closed=False,
                                        heard=lambda: None, last_heard=time.monotonic())
    inventory.server_time = (T0 + 5_500_000_000) / 1e9
    changes = []
    inventory.subscribe(changes.append)
    with pytest.raises(ConnectionLost, match="event stream from prod-m1 ended"):
        await asyncio.wait_for(inventory.follow(), 5)  # the second stream ended at once
    _past, first, again = docker.streams
    assert float(again["since"]) == pytest.approx(ev(SCALE).time)
    assert [(e.type, e.action) for e in inventory.state.events.events()] == [
        ("service", "update"), ("container", "die")]
    assert [c.kind for c in changes].count("events") == 1 + 2  # SCALE once, DIE once


async def test_after_a_reconnect_the_past_is_read_from_the_last_event_kept():
    inventory = ClusterInventory("prod", [], SSHSettings())
    inventory.state.events.add(ev(SCALE))
    docker = FakeDocker(past=[SCALE, NODE_DOWN], live=[])
    inventory.session = SimpleNamespace(docker=docker, label="prod-m2", closed=False,
                                        heard=lambda: None, last_heard=time.monotonic())
    inventory.server_time = T0 / 1e9 + 60
    with pytest.raises(ConnectionLost):
        await inventory.follow()
    assert float(docker.streams[0]["since"]) == pytest.approx(ev(SCALE).time)
    assert [e.key for e in inventory.state.events.events()] == [ev(SCALE).key,
                                                                 ev(NODE_DOWN).key]


# ---- the command's input -----------------------------------------------------------------

def test_times_given_to_the_command():
    assert when("90s", 1000.0) == 910.0 and when("10m", 1000.0) == 400.0
    assert when("1.5h", 10_000.0) == 4600.0
    assert when("1795954303.5", 0.0) == 1795954303.5
    assert when("2026-11-20T10:00:00Z", 0.0) == when("2026-11-20T10:00:00", 0.0) \
        == 1795168800.0
    assert when("9999999999d", 1000.0) == 0.0  # longer than since 1970: from the start
    with pytest.raises(UsageError, match="--until 'soon': give a duration"):
        when("soon", 0.0, "until")


@pytest.mark.parametrize("text", ["999999999999999999999", "1e400", "-5", "inf", "nan",
                                  "1e999s", "3000-01-01T00:00:00Z"])
def test_times_the_engine_could_not_take_are_refused_here(text):
    """Each came back as the engine's own `strconv.ParseInt: ... out of range` (exit 1)."""
    with pytest.raises(UsageError, match=f"--since {re.escape(repr(text))}: "):
        times.check(text, None, 1_800_000_000.0)


def test_a_window_is_checked_against_the_managers_clock():
    now = 1_800_000_000.0
    assert times.window("10m", None, now) == (now - 600, None)
    assert times.window(None, None, now, default_since="0s") == (now, None)
    with pytest.raises(UsageError, match="in the future by the manager's clock"):
        times.window(str(now + 3600), None, now)
    with pytest.raises(UsageError, match="--until '1h' is before --since '10m'"):
        times.window("10m", "1h", now)


@pytest.mark.parametrize(("argv", "message"), [
    (["--since", "yesterday"], "--since 'yesterday': give a duration"),
    (["--type", "task"], "--type: unknown event type 'task'"),
    (["-c", "prd"], "unknown cluster 'prd': did you mean 'prod'?"),
    (["-f", "--until", "1m"], "--until cannot go with --follow"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, message):
    path = tmp_path / "config.toml"
    path.write_text('[clusters.prod]\nmanagers = ["prod-m1"]\n'
                    '[clusters.staging]\nmanagers = ["staging-m1"]\n')
    path.chmod(0o600)
    assert main(["--config", str(path), "events", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.count("\n") == 0 and "Traceback" not in err
