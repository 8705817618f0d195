"""One lab node: a network namespace on the lab bridge, its own mount and UTS namespaces,
its own dockerd (own /run and /var/lib/docker) and its own sshd."""

from __future__ import annotations

import json
import shlex
import socket
import subprocess
import time
from pathlib import Path

from swarmdeck.core.errors import LabError
from swarmdeck.lab import system
from swarmdeck.lab.topology import (
    BRIDGE,
    CGROUP_PARENT,
    NODE_ADDRESS_POOL,
    NODE_BRIDGE_IP,
    PREFIX_LEN,
    REGISTRY,
    LabNode,
)


class NodeDirs:
    def __init__(self, lab_dir: Path, node: LabNode) -> None:
        self.root = lab_dir / "nodes" / node.name
        self.run = self.root / "run"
        self.lib = self.root / "lib"
        self.socket = self.run / "docker.sock"
        self.dockerd_pid = self.run / "docker.pid"
        self.sshd_pid = self.run / "sshd.pid"
        self.init_pid = self.root / "init.pid"
        self.host_key = self.root / "ssh_host_ed25519_key"
        self.sshd_config = self.root / "sshd_config"
        self.daemon_json = self.root / "daemon.json"


def docker_host(lab_dir: Path, node: LabNode) -> str:
    return f"unix://{NodeDirs(lab_dir, node).socket}"


def create_network(node: LabNode) -> None:
    """The node's netns, with a veth whose other end sits on the lab bridge."""
    ns = f"/var/run/netns/{node.netns}"
    system.run(["ip", "netns", "add", node.netns])
    system.run(["ip", "link", "add", node.veth, "type", "veth", "peer", "name", "eth0",
                "netns", node.netns])
    system.run(["ip", "link", "set", node.veth, "master", BRIDGE, "up"])
    inside = ["nsenter", f"--net={ns}"]
    system.run([*inside, "ip", "addr", "add", f"{node.address}/{PREFIX_LEN}", "dev", "eth0"])
    system.run([*inside, "ip", "link", "set", "eth0", "up"])
    system.run([*inside, "ip", "link", "set", "lo", "up"])
    system.run([*inside, "ip", "route", "add", "default", "via", node.address.rsplit(".", 1)[0]
                + ".1"])


def write_files(lab_dir: Path, node: LabNode, authorized_keys: Path) -> None:
    d = NodeDirs(lab_dir, node)
    for p in (d.run, d.lib):
        p.mkdir(parents=True, exist_ok=True)
    if not d.host_key.exists():
        system.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", node.name,
                    "-f", str(d.host_key)])
    d.sshd_config.write_text(
        "\n".join([
            f"ListenAddress {node.address}",
            "Port 22",
            f"HostKey {d.host_key}",
            "PermitRootLogin prohibit-password",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes",
            f"AuthorizedKeysFile {authorized_keys}",
            "StrictModes no",
            "UsePAM no",
            "AllowStreamLocalForwarding yes",
            "AllowTcpForwarding yes",
            "MaxSessions 100",
            "MaxStartups 100:30:200",
            "PidFile /run/sshd.pid",
            "ClientAliveInterval 15",
            "Subsystem sftp internal-sftp",
            "",
        ])
    )
    d.daemon_json.write_text(json.dumps({
        "hosts": ["unix:///run/docker.sock"],
        "pidfile": "/run/docker.pid",
        "data-root": "/var/lib/docker",
        "exec-root": "/run/docker",
        "insecure-registries": [REGISTRY],
        "bip": NODE_BRIDGE_IP,
        "default-address-pools": [{"base": NODE_ADDRESS_POOL, "size": 24}],
        "cgroup-parent": f"/{CGROUP_PARENT}",
        "shutdown-timeout": 3,
        "log-level": "warn",
        "features": {"buildkit": False},
    }, indent=2))


def start(lab_dir: Path, node: LabNode) -> subprocess.Popen[bytes]:
    d = NodeDirs(lab_dir, node)
    q = shlex.quote
    script = "\n".join([
        "set -e",
        f"hostname {q(node.name)}",
        "mkdir -p /var/lib/docker /run",
        f"mount --bind {q(str(d.run))} /run",
        f"mount --bind {q(str(d.lib))} /var/lib/docker",
        "mkdir -p /run/sshd",
        f"dockerd --config-file {q(str(d.daemon_json))} "
        f">>{q(str(d.root / 'dockerd.log'))} 2>&1 &",
        f"exec {q(system.find_command('sshd'))} -D -f {q(str(d.sshd_config))} "
        f"-E {q(str(d.root / 'sshd.log'))}",
    ])
    log = open(d.root / "init.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        ["nsenter", f"--net=/var/run/netns/{node.netns}", "unshare", "--mount", "--uts",
         "--propagation", "private", "--fork", "bash", "-c", script],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
    )
    log.close()
    d.init_pid.write_text(str(proc.pid))
    return proc


def wait_ready(lab_dir: Path, node: LabNode, timeout: float = 60) -> None:
    """Until the node's dockerd answers and its sshd accepts TCP connections."""
    d = NodeDirs(lab_dir, node)
    deadline = time.monotonic() + timeout
    docker_ok = ssh_ok = False
    while time.monotonic() < deadline:
        if not docker_ok:
            docker_ok = _docker_ping(d.socket)
        if not ssh_ok:
            ssh_ok = _tcp_open(node.address, 22)
        if docker_ok and ssh_ok:
            return
        time.sleep(0.1)
    log = (d.root / "dockerd.log")
    tail = log.read_text(errors="replace").strip().splitlines()[-3:] if log.exists() else []
    what = "dockerd" if not docker_ok else "sshd"
    raise LabError(f"lab node {node.name}: {what} did not start within {timeout:.0f}s; "
                   f"last dockerd log lines: {' | '.join(tail) or '(none)'}")


def _docker_ping(path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect(str(path))
            s.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            return b" 200 " in s.recv(64)
    except OSError:
        return False


def _tcp_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def stop(lab_dir: Path, node: LabNode, grace: float = 15) -> None:
    """Stop dockerd first (it stops its containers), wait for it, then the rest of the node."""
    d = NodeDirs(lab_dir, node)
    dockerd = system.read_pid(d.dockerd_pid)
    if dockerd and system.alive(dockerd):
        system.kill_all({dockerd}, grace=grace)
    pids = system.netns_pids(node.netns) if Path(f"/var/run/netns/{node.netns}").exists() \
        else set()
    init = system.read_pid(d.init_pid)
    if init:
        pids.add(init)
    system.kill_all({p for p in pids if system.alive(p)}, grace=3)
