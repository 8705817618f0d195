"""`swarmdeck exec` against the lab: commands in shop_web's containers on the nodes that run
them (checked against `docker ps` there), exit status and stderr passed through, read-only
and bad targets refused in one line, an interactive shell on a pseudo-terminal (its size
followed), and a link cut mid-shell leaving the local terminal as it was. Then
`swarmdeck port-forward`: HTTP to a local port reaches that replica's httpd."""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import termios
import time
import urllib.request
from pathlib import Path

from terminal import Terminal

from swarmdeck.lab import faults, system

SERVICE = "shop_web"


def audit_lines() -> list[dict]:
    path = Path(os.environ["XDG_STATE_HOME"]) / "swarmdeck" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() \
        else []


def run(lab, *args: str, config: Path | None = None, stdin=subprocess.DEVNULL,
        timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "swarmdeck", "--config",
                           str(config or lab.config_file), *args],
                          stdin=stdin, capture_output=True, timeout=timeout)


def running_replicas(lab) -> list[tuple[int, str]]:
    """(slot, node) of each running shop_web task, as the swarm reports them."""
    out = lab.docker_on("prod-m1", "service", "ps", SERVICE, "--filter",
                        "desired-state=running", "--format",
                        "{{.Name}} {{.Node}} {{.CurrentState}}")
    found = []
    for line in out.splitlines():
        name, node, state = line.split(" ", 2)
        if state.startswith("Running"):
            found.append((int(name.rsplit(".", 1)[1]), node))
    assert found, f"no running {SERVICE} task in the lab: {out!r}"
    return sorted(found)


def containers_on(lab, node: str) -> list[str]:
    """The short IDs of shop_web's containers on NODE, from that node's own engine."""
    out = lab.docker_on(node, "ps", "--filter",
                        f"label=com.docker.swarm.service.name={SERVICE}", "--format", "{{.ID}}")
    return out.split()


def test_a_command_runs_in_the_replica_on_its_own_node(lab):
    for slot, node in running_replicas(lab):
        on_node = containers_on(lab, node)
        assert len(on_node) == 1, (node, on_node)
        by_slot = run(lab, "exec", f"{SERVICE}.{slot}", "-c", "prod", "--", "hostname")
        assert by_slot.returncode == 0, by_slot.stderr
        # a swarm task's hostname is its container's short ID
        assert by_slot.stdout.decode().strip() == on_node[0]
        by_node = run(lab, "exec", SERVICE, "-c", "prod", "--node", node, "--", "hostname")
        assert by_node.stdout.decode().strip() == on_node[0], by_node.stderr
    # without a slot: the first running replica by slot
    first_slot, first_node = running_replicas(lab)[0]
    plain = run(lab, "exec", SERVICE, "-c", "prod", "--", "hostname")
    assert plain.stdout.decode().strip() == containers_on(lab, first_node)[0]
    entry = audit_lines()[-1]
    assert (entry["action"], entry["cluster"], entry["target"], entry["result"]) == \
        ("exec", "prod", f"{SERVICE}.{first_slot}", "ok")
    assert entry["params"]["node"] == first_node
    assert entry["params"]["container"] == containers_on(lab, first_node)[0]
    assert entry["params"]["command"] == ["hostname"]
    assert entry["params"]["exit_status"] == 0 and entry["user"]


def _full_id(lab, node: str, short: str) -> str:
    return lab.docker_on(node, "inspect", "--format", "{{.Id}}", short).strip()


def test_a_placement_hint_is_checked_on_its_node_and_a_stale_one_changes_nothing(lab):
    """The first exec leaves a hint (core.task_hint); the next one uses it, its node's engine
    having confirmed the container. A stale hint, pointing at another node and a container
    that really runs there (another replica's), is refuted by that node's engine: the
    command runs in the replica the manager names, and the hint is put right."""
    from dataclasses import replace

    from swarmdeck.core.task_hint import TaskHints

    replicas = running_replicas(lab)
    assert len(replicas) >= 2, replicas
    (first_slot, first_node), (_slot, other_node) = replicas[0], \
        next(r for r in replicas if r[1] != replicas[0][1])
    expected = containers_on(lab, first_node)[0]
    cold = run(lab, "exec", SERVICE, "-c", "prod", "--", "hostname")
    assert cold.stdout.decode().strip() == expected, cold.stderr
    assert "found_by" not in audit_lines()[-1]["params"]
    hints = TaskHints.default(lab.config_file, "prod", SERVICE, None)
    hint = hints.recall()
    assert hint is not None and hint.container_id.startswith(expected)
    first = next(n for n in lab.all_nodes() if n.name == first_node)
    assert hint.dial == [first.address, 22]  # dialled before asyncssh is even imported
    assert (hints.path.stat().st_mode & 0o777) == 0o600

    hinted = run(lab, "exec", SERVICE, "-c", "prod", "--", "hostname")
    assert hinted.stdout.decode().strip() == expected, hinted.stderr
    entry = audit_lines()[-1]
    assert (entry["target"], entry["result"], entry["params"]["found_by"],
            entry["params"]["container"]) == (f"{SERVICE}.{first_slot}", "ok",
                                              "placement hint", expected)

    # read-only: refused with a hint as without one, nothing run
    refused = run(lab, "--read-only", "exec", SERVICE, "-c", "prod", "--", "hostname")
    assert refused.returncode == 1 and refused.stdout == b""

    other = next(n for n in lab.all_nodes() if n.name == other_node)
    other_container = _full_id(lab, other_node, containers_on(lab, other_node)[0])
    hints.remember(replace(hint, host=other.address, port=None, hostname=other_node,
                           dial=[other.address, 22], container_id=other_container))
    stale = run(lab, "exec", SERVICE, "-c", "prod", "--", "hostname")
    assert stale.returncode == 0, stale.stderr
    assert stale.stdout.decode().strip() == expected  # not the other replica's
    entry = audit_lines()[-1]
    assert entry["manager"] and "found_by" not in entry["params"]
    assert entry["params"]["container"] == expected
    assert hints.recall().container_id.startswith(expected)  # put right

    # pointed at a node where the container is not at all: the same
    hints.remember(replace(hint, host=other.address, port=None, hostname=other_node,
                           dial=[other.address, 22]))
    gone = run(lab, "exec", SERVICE, "-c", "prod", "--", "hostname")
    assert gone.stdout.decode().strip() == expected, gone.stderr
    assert "found_by" not in audit_lines()[-1]["params"]


def test_exit_status_and_streams_pass_through(lab):
    result = run(lab, "exec", SERVICE, "-c", "prod", "--", "sh", "-c",
                 "echo to-out; echo to-err >&2; echo more-out; exit 7")
    assert result.returncode == 7
    assert result.stdout == b"to-out\nmore-out\n"
    assert result.stderr == b"to-err\n"
    as_nobody = run(lab, "exec", SERVICE, "-c", "prod", "--user", "65534", "--", "id", "-u")
    assert as_nobody.stdout == b"65534\n", as_nobody.stderr
    assert audit_lines()[-1]["params"]["user"] == "65534"
    # input piped in reaches the process, and its end closes the process's stdin
    piped = subprocess.run(
        [sys.executable, "-m", "swarmdeck", "--config", str(lab.config_file), "exec",
         SERVICE, "-c", "prod", "--", "wc", "-c"],
        input=b"x" * 100_000, capture_output=True, timeout=60)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.split() == [b"100000"]


def test_a_configured_shell_is_the_one_started(lab, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(lab.config_file.read_text() + '\n[exec]\nshell = "no-such-shell -l"\n')
    config.chmod(0o600)
    result = run(lab, "exec", SERVICE, "-c", "prod", config=config)
    assert result.returncode == 126  # the engine's status for a program it cannot start
    assert b'"no-such-shell": executable file not found' in result.stdout + result.stderr
    assert audit_lines()[-1]["params"]["command"] == ["no-such-shell", "-l"]


def test_read_only_refuses(lab, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(lab.config_file.read_text().replace(
        "[clusters.prod]\n", "[clusters.prod]\nread_only = true\n"))
    config.chmod(0o600)
    result = run(lab, "exec", SERVICE, "-c", "prod", "--", "touch", "/tmp/x", config=config)
    assert result.returncode == 1 and result.stdout == b""
    assert result.stderr.decode().splitlines() == [
        f"swarmdeck: exec refused: cluster prod is read-only (read_only = true for "
        f"[clusters.prod] in {config})"]
    entry = audit_lines()[-1]
    assert (entry["action"], entry["result"], entry["error"]) == ("exec", "refused", "read-only")
    assert entry["params"]["command"] == ["touch", "/tmp/x"]
    flag = run(lab, "--read-only", "exec", SERVICE, "-c", "prod", "--", "true")
    assert flag.returncode == 1 and b"read-only (--read-only)" in flag.stderr


def test_bad_targets_say_what_and_where(lab):
    unknown = run(lab, "exec", "shop_wbe", "-c", "prod", "--", "true")
    assert unknown.returncode == 2
    assert unknown.stderr.decode() == ("swarmdeck: no service 'shop_wbe' in cluster prod: "
                                       "did you mean 'shop_web'?\n")
    slots = [slot for slot, _ in running_replicas(lab)]
    missing = run(lab, "exec", f"{SERVICE}.{max(slots) + 5}", "-c", "prod", "--", "true")
    assert missing.returncode == 2
    assert f"{SERVICE} has no slot {max(slots) + 5} in cluster prod" in missing.stderr.decode()
    # the lab's one-off job ran to completion: nothing to exec into
    done = run(lab, "exec", "backup-once", "-c", "prod", "--", "true")
    assert done.returncode == 1
    assert done.stderr.decode().startswith(
        "swarmdeck: backup-once is not running in cluster prod: its latest task is complete")
    nodes = {node for _, node in running_replicas(lab)}
    idle = sorted({"prod-m1", "prod-m2", "prod-m3", "prod-w1", "prod-w2"} - nodes)[0]
    elsewhere = run(lab, "exec", SERVICE, "-c", "prod", "--node", idle, "--", "true")
    assert elsewhere.returncode == 1
    assert elsewhere.stderr.decode() == (f"swarmdeck: no running task of {SERVICE} on {idle} "
                                         f"(it runs on {', '.join(sorted(nodes))})\n")
    for result in (unknown, missing, done, elsewhere):
        assert result.stderr.decode().count("\n") == 1


# ---- at a terminal -------------------------------------------------------------------------
def set_size(term: Terminal, rows: int, cols: int) -> None:
    """As a terminal window does: the kernel then sends SIGWINCH to the foreground."""
    fcntl.ioctl(term.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def at_terminal(lab, *args: str) -> Terminal:
    return Terminal([sys.executable, "-m", "swarmdeck", "--config", str(lab.config_file),
                     *args])


def test_an_interactive_shell(lab):
    with at_terminal(lab, "exec", SERVICE, "-c", "prod") as term:
        cooked = termios.tcgetattr(term.master)  # the pty's modes, read from its master
        set_size(term, 30, 100)
        term.expect("# ", timeout=30)
        assert not termios.tcgetattr(term.master)[3] & termios.ICANON  # raw while it runs
        term.send("echo hi-$((6*7))\r")
        term.expect("hi-42", timeout=10)
        term.send("busybox stty size\r")
        term.expect("30 100", timeout=10)
        set_size(term, 40, 120)
        time.sleep(0.5)  # the resize request goes out on SIGWINCH
        term.send("busybox stty size\r")
        term.expect("40 120", timeout=10)
        # Ctrl+C is a byte for the remote shell: it interrupts the remote sleep, not us
        term.send("sleep 30\r")
        time.sleep(0.5)
        term.send("\x03")
        term.send("echo after-$((1+1))\r")
        term.expect("after-2", timeout=5)
        term.send("exit\r")
        assert term.wait(timeout=15) == 0
        assert termios.tcgetattr(term.master) == cooked


def test_the_consoles_key_opens_a_shell_and_comes_back(lab):
    term = Terminal([sys.executable, "-m", "swarmdeck", "--config", str(lab.config_file),
                     "--cluster", "prod"], env=dict(os.environ, TERM="xterm-256color"))
    with term:
        set_size(term, 45, 130)
        term.expect(SERVICE, timeout=30)
        term.send("/")  # the services table's filter: shop_web becomes the first row
        time.sleep(0.5)
        term.send(SERVICE + "\r")
        time.sleep(1)
        term.send("!")
        # its replicas are asked for (slot, node, state): the second one
        slot, node = running_replicas(lab)[1]
        term.expect(f"slot {slot}  on {node}  running", timeout=30)
        time.sleep(0.3)
        term.send("\x1b[B\r")  # down, Enter
        term.expect(f"swarmdeck: shell in {SERVICE}.{slot} on {node}", timeout=30)
        term.expect("# ", timeout=20)
        start = len(term.output)
        term.send("sleep 3; echo hi-$((6*7))\r")  # the console's 2 s metrics tick passes
        term.expect("hi-42", timeout=15)
        shell_part = term.output[start:]
        # the console draws nothing while the shell has the terminal
        assert b"\x1b[?1049h" not in shell_part and b"Filter" not in shell_part
        term.send("exit\r")
        term.expect("ended (exit status 0)", timeout=20)
        term.send("q")
        assert term.wait(timeout=20) == 0
    entry = audit_lines()[-1]
    assert (entry["action"], entry["result"], entry["params"]["exit_status"]) == \
        ("exec", "ok", 0)
    assert entry["params"]["command"] == ["sh"]


def test_sigterm_ends_the_session_and_restores_the_terminal(lab):
    with at_terminal(lab, "exec", SERVICE, "-c", "prod") as term:
        cooked = termios.tcgetattr(term.master)
        term.expect("# ", timeout=30)
        term.proc.send_signal(signal.SIGTERM)
        assert term.wait(timeout=10) == 128 + signal.SIGTERM
        assert termios.tcgetattr(term.master) == cooked
        assert term.text.rstrip().endswith("swarmdeck: terminated")
    assert audit_lines()[-1]["result"] == "interrupted"


def _sockets(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            link = os.readlink(fd)
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    return inodes


def _local_ports(pid: int) -> set[int]:
    """The local TCP ports of PID's sockets (read in its own network namespace)."""
    mine, ports = _sockets(pid), set()
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[9] in mine:
            ports.add(int(fields[1].split(":")[1], 16))
    return ports


def _sshd_serving(lab, node: str, client_ports: set[int]) -> set[int]:
    """The node's sshd processes holding a connection from one of CLIENT_PORTS."""
    found = set()
    for pid in system.netns_pids(faults.lab_node(lab, node).netns):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() != "sshd":
                continue
            held = _sockets(pid)
            for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
                fields = line.split()
                if fields[9] in held and int(fields[2].split(":")[1], 16) in client_ports:
                    found.add(pid)
        except OSError:
            continue
    return found


def test_a_link_cut_mid_shell_restores_the_terminal(lab):
    slot, node = running_replicas(lab)[0]
    with at_terminal(lab, "exec", f"{SERVICE}.{slot}", "-c", "prod") as term:
        cooked = termios.tcgetattr(term.master)
        term.expect("# ", timeout=30)
        term.send("echo up-$((2*3))\r")
        term.expect("up-6", timeout=10)
        assert not termios.tcgetattr(term.master)[3] & termios.ICANON
        serving = _sshd_serving(lab, node, _local_ports(term.proc.pid))
        assert serving, f"no sshd on {node} serves swarmdeck's connection"
        for pid in serving:
            os.kill(pid, signal.SIGKILL)
        code = term.wait(timeout=30)
        assert code == 1
        assert termios.tcgetattr(term.master) == cooked
        last = term.text.rstrip("\r\n").splitlines()[-1]
        assert re.fullmatch(r"swarmdeck: lost connection to .*", last.strip()), term.text


# ---- port-forward --------------------------------------------------------------------------
def test_port_forward_reaches_the_replicas_httpd(lab, tmp_path):
    slot, node = running_replicas(lab)[0]
    token = f"pf-{os.getpid()}-{time.monotonic_ns()}"
    marker = f"/www/{token}.txt"
    made = run(lab, "exec", f"{SERVICE}.{slot}", "-c", "prod", "--", "sh", "-c",
               f"echo {token} > {marker}")
    assert made.returncode == 0, made.stderr
    proc = subprocess.Popen(
        [sys.executable, "-m", "swarmdeck", "--config", str(lab.config_file), "port-forward",
         f"{SERVICE}.{slot}", "0:8080", "-c", "prod"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        match = re.fullmatch(rf"forwarding 127\.0\.0\.1:(\d+) -> {SERVICE}\.{slot} "
                             rf"(\S+):8080 on {node} \(Ctrl\+C stops\)\n", line)
        assert match, (line, proc.stderr.read() if proc.poll() is not None else "")
        port = int(match[1])
        for _ in range(3):  # one connection after another, each its own channel
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/{token}.txt",
                                        timeout=10) as answer:
                assert answer.read().decode().strip() == token
        # 127.0.0.1 only: the same port on the machine's other address is not listening
        with socket.socket() as other:
            other.settimeout(3)
            assert other.connect_ex(("10.213.0.1", port)) != 0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert "stopped forwarding" in proc.stderr.read()
        with socket.socket() as after:
            assert after.connect_ex(("127.0.0.1", port)) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        run(lab, "exec", f"{SERVICE}.{slot}", "-c", "prod", "--", "rm", "-f", marker)
    entry = [e for e in audit_lines() if e["action"] == "port-forward"][-1]
    assert (entry["target"], entry["result"]) == (f"{SERVICE}.{slot}", "ok")
    assert entry["params"]["remote_port"] == 8080 and entry["params"]["local_port"] == port


def test_port_forward_refuses_bad_ports_and_read_only(lab, tmp_path):
    bad = run(lab, "port-forward", SERVICE, "80:http", "-c", "prod")
    assert bad.returncode == 2
    assert bad.stderr.decode() == ("swarmdeck: '80:http': give [LOCAL:]REMOTE ports, e.g. "
                                   "8080 or 18080:80\n")
    flag = run(lab, "--read-only", "port-forward", SERVICE, "8080", "-c", "prod")
    assert flag.returncode == 1
    assert flag.stderr.decode() == ("swarmdeck: port-forward refused: cluster prod is "
                                    "read-only (--read-only)\n")


def test_port_forward_ends_when_the_node_link_is_cut(lab):
    slot, node = running_replicas(lab)[0]
    proc = subprocess.Popen(
        [sys.executable, "-m", "swarmdeck", "--config", str(lab.config_file), "port-forward",
         f"{SERVICE}.{slot}", "0:8080", "-c", "prod"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().startswith("forwarding 127.0.0.1:")
        serving = _sshd_serving(lab, node, _local_ports(proc.pid))
        assert serving, f"no sshd on {node} serves swarmdeck's connection"
        for pid in serving:
            os.kill(pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == 1
        err = proc.stderr.read()
        assert re.fullmatch(r"swarmdeck: lost connection to .*: nothing is forwarded any more\n",
                            err), err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
