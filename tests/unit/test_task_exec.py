"""`swarmdeck exec` without a cluster: which task is picked, the errors an operator gets,
the byte pump between the local end and the process, the local terminal's raw mode, and
the command line cut at `--`."""

from __future__ import annotations

import asyncio
import os
import termios

import asyncssh
import pytest

from swarmdeck.cli.commands import split_command
from swarmdeck.core import local_tty
from swarmdeck.core.audit import AuditLog
from swarmdeck.core.errors import (
    ConnectionLost,
    DockerAPIError,
    ExecFailed,
    HostUnreachable,
    ReadOnly,
    SwarmdeckError,
    UsageError,
)
from swarmdeck.core.exec_session import task_access
from swarmdeck.core.inventory import ClusterState
from swarmdeck.core.models import Node, Service, Task
from swarmdeck.core.task_exec import TaskExec, pick_task, pump
from swarmdeck.core.transport.hijack import STDERR, STDOUT, Hijacked


def node(name: str) -> Node:
    return Node(id=f"id-{name}", hostname=name, role="worker", availability="active",
                status="ready", address="10.0.0.9")


def service(name: str, mode: str = "replicated", replicas: int | None = 2) -> Service:
    return Service(id=f"sid-{name}", name=name, mode=mode, replicas=replicas,
                   image="demo:1.0")


def task(tid: str, svc: Service, on: str, slot: int | None, state: str = "running",
         desired: str = "running", error: str = "") -> Task:
    return Task(id=tid, service_id=svc.id, node_id=f"id-{on}", slot=slot, state=state,
                desired_state=desired, error=error,
                container_id=f"c-{tid}" if state == "running" else None)


WEB = service("shop_web")
AGENT = service("agent", mode="global", replicas=None)
JOB = service("job", replicas=1)
DOTTED = service("api.v2")


def state() -> ClusterState:
    nodes = [node(n) for n in ("m1", "w1", "w2")]
    tasks = [
        task("old3", WEB, "w1", 3, state="shutdown", desired="shutdown"),
        task("web2", WEB, "w2", 2),
        task("web1", WEB, "w1", 1),
        task("web1-old", WEB, "m1", 1, state="failed", desired="shutdown",
             error="task: non-zero exit (1)"),
        task("ag-w1", AGENT, "w1", None),
        task("ag-m1", AGENT, "m1", None),
        task("job1", JOB, "m1", 1, state="complete", desired="shutdown"),
        task("dot1", DOTTED, "m1", 1),
    ]
    return ClusterState("prod", nodes={n.id: n for n in nodes},
                        services={s.id: s for s in (WEB, AGENT, JOB, DOTTED)},
                        tasks={t.id: t for t in tasks})


def test_no_slot_picks_the_first_running_replica_by_slot():
    target = pick_task(state(), "shop_web")
    assert (target.task.id, target.node.hostname, target.container_id) == \
        ("web1", "w1", "c-web1")
    assert target.replica == "shop_web.1"


def test_a_slot_picks_that_replica():
    target = pick_task(state(), "shop_web.2")
    assert (target.task.id, target.node.hostname) == ("web2", "w2")


def test_node_narrows_the_choice():
    assert pick_task(state(), "shop_web", node="w2").task.id == "web2"
    assert pick_task(state(), "shop_web", node="id-w2").task.id == "web2"


def test_a_global_service_task_is_picked_by_node():
    target = pick_task(state(), "agent", node="w1")
    assert target.task.id == "ag-w1" and target.replica == "agent@w1"


def test_a_dotted_service_name_is_a_name_not_a_slot():
    assert pick_task(state(), "api.v2").task.id == "dot1"
    assert pick_task(state(), "api.v2.1").task.id == "dot1"


@pytest.mark.parametrize("ref, node_ref, error, text", [
    ("shop_wbe", None, UsageError, "no service 'shop_wbe' in cluster prod: did you mean "
                                   "'shop_web'?"),
    ("shop_web.7", None, UsageError, "shop_web has no slot 7 in cluster prod (slots: 1, 2, 3)"),
    ("agent.1", None, UsageError, "agent is a global service: it has no slots"),
    ("shop_web", "w9", UsageError, "no node 'w9' in cluster prod"),
    ("shop_web", "m1", ExecFailed, "no running task of shop_web on m1 (it runs on w1, w2)"),
    ("shop_web.3", None, ExecFailed, "shop_web.3 is not running in cluster prod: its latest "
                                     "task is shutdown on w1"),
    ("job", None, ExecFailed, "job is not running in cluster prod: its latest task is "
                              "complete on m1"),
])
def test_errors_say_what_and_where(ref, node_ref, error, text):
    with pytest.raises(error) as caught:
        pick_task(state(), ref, node=node_ref)
    assert text in str(caught.value)
    assert "\n" not in str(caught.value)
    assert caught.value.exit_code == (2 if error is UsageError else 1)


# ---- the pump ------------------------------------------------------------------------------
class FakeChannel:
    """A hijacked channel: READS are what the engine sends (an exception: the link fails
    there); what is written and whether EOF was sent are kept."""

    def __init__(self, reads: list) -> None:
        self.reads = list(reads)
        self.written = b""
        self.eof = False
        self.closed = False

    async def read(self, n: int) -> bytes:
        await asyncio.sleep(0.01)
        if not self.reads:
            return b""
        item = self.reads.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    def write(self, data: bytes) -> None:
        self.written += data

    def write_eof(self) -> None:
        self.eof = True

    def close(self) -> None:
        self.closed = True


def frame(stream: int, payload: bytes) -> bytes:
    return bytes([stream, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


async def _pump(reads: list, *, tty: bool, first: bytes = b"", stdin=None):
    channel = FakeChannel(reads)
    out, err = [], []
    await pump(Hijacked(channel, channel, first), tty=tty, out=out.append, err=err.append,
               stdin=stdin, label="w1 (root@10.0.0.9:22)")
    return channel, b"".join(out), b"".join(err)


def test_without_tty_stdout_and_stderr_stay_apart():
    data = frame(STDOUT, b"out\n") + frame(STDERR, b"err\n") + frame(STDOUT, b"more\n")
    channel, out, err = asyncio.run(_pump([data[5:17], data[17:]], tty=False,
                                          first=data[:5]))
    assert (out, err) == (b"out\nmore\n", b"err\n")
    assert channel.closed


def test_with_tty_the_bytes_pass_as_they_are():
    channel, out, err = asyncio.run(_pump([b"\x1b[1mhi\r\n", b"\x01\x00"], tty=True,
                                          first=b"~ # "))
    assert (out, err) == (b"~ # \x1b[1mhi\r\n\x01\x00", b"")


def test_input_reaches_the_process_and_its_end_is_sent():
    async def typed():
        yield b"echo hi\n"
        yield b"exit\n"

    # the output ends only after the input was given
    async def slow_output():
        channel = FakeChannel([])
        reads = [frame(STDOUT, b"hi\n")]

        async def read(n):
            await asyncio.sleep(0.05)
            return reads.pop(0) if reads else b""
        channel.read = read
        out: list[bytes] = []
        await pump(Hijacked(channel, channel, b""), tty=False, out=out.append,
                   err=out.append, stdin=typed(), label="w1")
        return channel, b"".join(out)

    channel, out = asyncio.run(slow_output())
    assert channel.written == b"echo hi\nexit\n" and channel.eof
    assert out == b"hi\n"


def test_a_link_lost_mid_stream_says_so_in_one_line():
    with pytest.raises(ConnectionLost) as caught:
        asyncio.run(_pump([frame(STDOUT, b"x"), asyncssh.ConnectionLost("Connection lost")],
                          tty=False))
    assert str(caught.value) == "lost connection to w1 (root@10.0.0.9:22): Connection lost"


def test_input_that_cannot_be_given_is_a_lost_link():
    class Closed(FakeChannel):
        def write(self, data: bytes) -> None:
            raise BrokenPipeError(32, "Broken pipe")

    async def typed():
        yield b"data"

    async def run():
        channel = Closed([frame(STDOUT, b"a"), frame(STDOUT, b"b"), frame(STDOUT, b"c")])
        await pump(Hijacked(channel, channel, b""), tty=False, out=lambda _b: None,
                   err=lambda _b: None, stdin=typed(), label="w1")

    with pytest.raises(ConnectionLost, match="lost connection to w1: .*Broken pipe"):
        asyncio.run(run())


def test_output_ending_inside_a_frame_is_a_lost_link():
    with pytest.raises(ConnectionLost, match="inside a frame"):
        asyncio.run(_pump([frame(STDOUT, b"hello")[:10]], tty=False))


# ---- the local terminal ------------------------------------------------------------------
def test_raw_mode_is_left_however_the_session_ends():
    leader, follower = os.openpty()
    try:
        before = termios.tcgetattr(follower)
        assert before[3] & termios.ICANON and before[3] & termios.ISIG
        with pytest.raises(ConnectionLost), local_tty.raw_mode(follower):
            raw = termios.tcgetattr(follower)
            # raw: no line editing, no signal keys (Ctrl+C is a byte for the process), no echo
            assert not raw[3] & (termios.ICANON | termios.ISIG | termios.ECHO)
            raise ConnectionLost("lost connection to w1: Connection lost")
        assert termios.tcgetattr(follower) == before
    finally:
        os.close(leader)
        os.close(follower)


def test_input_chunks_come_from_a_pipe_until_its_end():
    async def run() -> list[bytes]:
        read_end, write_end = os.pipe()
        os.write(write_end, b"abc")
        os.close(write_end)
        try:
            return [c async for c in local_tty.chunks(read_end)]
        finally:
            os.close(read_end)

    assert b"".join(asyncio.run(run())) == b"abc"


def test_input_chunks_come_from_a_regular_file(tmp_path):
    path = tmp_path / "input"
    path.write_bytes(b"from a file\n")

    async def run() -> bytes:
        fd = os.open(path, os.O_RDONLY)
        try:
            return b"".join([c async for c in local_tty.chunks(fd)])
        finally:
            os.close(fd)

    assert asyncio.run(run()) == b"from a file\n"


# ---- the command line --------------------------------------------------------------------
def test_the_command_after_double_dash_is_kept_exactly():
    argv = ["--config", "c.toml", "exec", "web", "-c", "prod", "--", "sh", "-c", "exit 7",
            "--", "-x"]
    assert split_command(argv) == (["--config", "c.toml", "exec", "web", "-c", "prod"],
                                   ["sh", "-c", "exit 7", "--", "-x"])
    assert split_command(["exec", "web"]) == (["exec", "web"], None)
    assert split_command(["ls", "--", "x"]) == (["ls", "--", "x"], None)


# ---- the shell -----------------------------------------------------------------------------
class FakeEngine:
    """An engine whose containers hold the programs in HAS; records the calls made."""

    label = "w1 (root@10.0.0.9:22)"

    def __init__(self, has: set[str]) -> None:
        self.has = has
        self.calls: list[tuple[str, str, dict | None]] = []
        self.created: dict[str, list[str]] = {}

    async def request(self, method: str, path: str, *, params=None, body=None):
        self.calls.append((method, path, body))
        if path.endswith("/exec"):
            exec_id = f"e{len(self.created)}"
            self.created[exec_id] = body["Cmd"]
            return {"Id": exec_id}
        program = self.created[path.split("/")[2]][0]
        if program not in self.has:
            raise DockerAPIError(500, f"{self.label}: OCI runtime exec failed: exec failed: "
                                 f"unable to start container process: exec: \"{program}\": "
                                 "executable file not found in $PATH: unknown")
        return None


@pytest.mark.parametrize("has, shell", [({"bash", "sh"}, ["bash"]), ({"sh"}, ["sh"])])
def test_bash_where_the_image_has_it_else_sh(has, shell):
    engine = FakeEngine(has)
    assert asyncio.run(TaskExec(engine, "c1").shell(None, "demo:1.0")) == shell
    # probes are detached and attach nothing
    starts = [body for method, path, body in engine.calls if path.endswith("/start")]
    assert starts and all(b == {"Detach": True, "Tty": False} for b in starts)


def test_no_shell_says_to_give_a_command():
    with pytest.raises(ExecFailed) as caught:
        asyncio.run(TaskExec(FakeEngine(set()), "c1").shell(None, "scratch-app:2"))
    assert str(caught.value) == "no shell in scratch-app:2: give a command after --"


def test_the_configured_shell_is_used_without_probing():
    engine = FakeEngine(set())
    assert asyncio.run(TaskExec(engine, "c1").shell("/bin/ash -l", "demo")) == ["/bin/ash", "-l"]
    assert engine.calls == []


# ---- the guard: read-only, the node out of reach, the audit line --------------------------
class FakeFleet:
    """A console-like fleet: the live state, and a node's engine or the reason it has none."""

    def __init__(self, unreachable: SwarmdeckError | None = None) -> None:
        self.unreachable = unreachable
        self.asked: list[str] = []

    def state(self, name: str) -> ClusterState:
        st = state()
        st.manager = "m1 (root@10.0.0.1:22)"
        return st

    async def task_engine(self, name: str, node_id: str):
        self.asked.append(node_id)
        if self.unreachable is not None:
            raise self.unreachable
        return FakeEngine({"sh"})


async def _access(fleet, audit, *, read_only=None, ref="shop_web", fail=None):
    params: dict = {"command": ["hostname"]}
    async with task_access(fleet, "prod", ref, node=None, action="exec", params=params,
                           read_only=read_only, audit=audit, fresh=False) as found:
        if fail is not None:
            raise fail
        params["exit_status"] = 0
        return found.target


def test_access_is_audited_with_node_container_and_command(tmp_path):
    audit = AuditLog(tmp_path / "audit.jsonl")
    target = asyncio.run(_access(FakeFleet(), audit))
    assert target.replica == "shop_web.1"
    [entry] = audit.read()
    assert (entry["cluster"], entry["manager"], entry["action"], entry["target"],
            entry["result"]) == ("prod", "m1 (root@10.0.0.1:22)", "exec", "shop_web.1", "ok")
    assert entry["params"] == {"command": ["hostname"], "node": "w1", "container": "c-web1",
                               "exit_status": 0}


def test_read_only_is_refused_before_any_node_is_reached(tmp_path):
    audit, fleet = AuditLog(tmp_path / "audit.jsonl"), FakeFleet()
    with pytest.raises(ReadOnly,
                       match=r"^exec refused: cluster prod is read-only \(--read-only\)$"):
        asyncio.run(_access(fleet, audit, read_only="--read-only"))
    assert fleet.asked == []
    [entry] = audit.read()
    assert (entry["result"], entry["error"]) == ("refused", "read-only")


def test_a_node_out_of_reach_says_which_and_why(tmp_path):
    audit = AuditLog(tmp_path / "audit.jsonl")
    fleet = FakeFleet(unreachable=HostUnreachable(
        "ssh to root@10.0.0.9:22: connection refused",
        hint="is sshd running and listening on port 22?"))
    with pytest.raises(ExecFailed) as caught:
        asyncio.run(_access(fleet, audit))
    assert str(caught.value) == ("shop_web.1 runs on w1, which cannot be reached: ssh to "
                                 "root@10.0.0.9:22: connection refused (is sshd running and "
                                 "listening on port 22?)")
    assert caught.value.exit_code == 1
    [entry] = audit.read()
    assert (entry["target"], entry["result"]) == ("shop_web.1", "error")
    assert entry["error"] == str(caught.value)


def test_a_bad_target_is_recorded_as_refused(tmp_path):
    audit = AuditLog(tmp_path / "audit.jsonl")
    with pytest.raises(UsageError):
        asyncio.run(_access(FakeFleet(), audit, ref="nope"))
    [entry] = audit.read()
    assert (entry["target"], entry["result"]) == ("nope", "refused")


def test_an_interrupted_session_is_recorded_as_such(tmp_path):
    audit = AuditLog(tmp_path / "audit.jsonl")
    with pytest.raises(KeyboardInterrupt):
        asyncio.run(_access(FakeFleet(), audit, fail=KeyboardInterrupt()))
    [entry] = audit.read()
    assert (entry["result"], entry["error"]) == ("interrupted", "KeyboardInterrupt")
