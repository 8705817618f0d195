"""Hosts the lab does not have, made for a test and gone after it, without touching the lab's
own processes or files: a temporary sshd (its own config, port and pid file) in the host's
network namespace where no Docker runs, or in a lab node's namespaces with a private
/etc/passwd holding an extra non-root user; and a fake Docker API on a unix socket that
answers as an engine too old for swarmdeck."""

from __future__ import annotations

import contextlib
import os
import socket
import socketserver
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

BRIDGE = "10.213.0.1"
SSHD = "/usr/sbin/sshd"


def _sshd_config(lab, node: str, folder: Path, address: str, port: int,
                 max_startups: str | None = None) -> Path:
    """NODE's sshd config (its host key) listening on ADDRESS:PORT only, with its own pid file
    and an authorized_keys copy that a non-root user may read; MAX_STARTUPS replaces the
    lab's lax handshake limit."""
    keys = folder / "authorized_keys"
    keys.write_text((lab.dir / "authorized_keys").read_text())
    keys.chmod(0o644)
    drop = ("ListenAddress", "Port", "PidFile", "AuthorizedKeysFile",
            *(("MaxStartups",) if max_startups else ()))
    kept = [line for line in (lab.dir / "nodes" / node / "sshd_config").read_text().splitlines()
            if not line.startswith(drop)]
    config = folder / f"sshd-{port}.conf"
    config.write_text("\n".join([*kept, f"ListenAddress {address}:{port}",
                                 f"PidFile {folder}/sshd-{port}.pid",
                                 f"AuthorizedKeysFile {keys}",
                                 *([f"MaxStartups {max_startups}"] if max_startups else [])])
                      + "\n")
    return config


def _wait_listening(proc: subprocess.Popen, address: str, port: int) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(OSError), socket.create_connection((address, port), 0.5):
            return True
        time.sleep(0.05)
    return False


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def _sshd(command: list[str], address: str, first_port: int, log: Path) -> Iterator[int]:
    """Start COMMAND (formatted with {port}) until one port binds; yields the port."""
    with log.open("a") as out:
        for port in range(first_port, first_port + 5):
            proc = subprocess.Popen([part.format(port=port) for part in command],
                                    stdout=subprocess.DEVNULL, stderr=out)
            if _wait_listening(proc, address, port):
                break
            _stop(proc)
        else:
            raise RuntimeError(f"no temporary sshd came up: {log.read_text()[-2000:]}")
    try:
        yield port
    finally:
        _stop(proc)


@contextlib.contextmanager
def sshd_without_docker(lab, folder: Path) -> Iterator[int]:
    """An sshd on the bridge address (the host's own namespace, where no dockerd runs), with
    prod-m1's host key, in a private mount namespace whose /run is empty: nothing there
    answers as Docker. Yields its port."""
    with socket.socket() as s:
        s.bind((BRIDGE, 0))
        first = s.getsockname()[1]
    for port in range(first, first + 5):
        _sshd_config(lab, "prod-m1", folder, BRIDGE, port)
    command = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
               "mount -t tmpfs tmpfs /run && mkdir /run/sshd && "
               f"exec {SSHD} -D -e -f {folder}/sshd-{{port}}.conf"]
    with _sshd(command, BRIDGE, first, folder / "sshd.log") as port:
        yield port


@contextlib.contextmanager
def sshd_with_user(lab, node: str, user: str, folder: Path) -> Iterator[int]:
    """An sshd in NODE's namespaces (so /var/run/docker.sock is the node's real socket) that
    sees a private /etc/passwd with USER, a non-root account in no group of the node's: its
    logins use the lab's key. FOLDER must be readable by that user. Yields the port."""
    passwd = folder / "passwd"
    passwd.write_text(Path("/etc/passwd").read_text()
                      + f"{user}:x:4217:4217:swarmdeck test user:/tmp:/bin/sh\n")
    passwd.chmod(0o644)
    address = _node_address(lab, node)
    first = 24000 + os.getpid() % 900
    for port in range(first, first + 5):
        _sshd_config(lab, node, folder, address, port)
    pid = (lab.dir / "nodes" / node / "run" / "sshd.pid").read_text().strip()
    command = ["nsenter", "-t", pid, "--net", "--mount", "--uts",
               "unshare", "--mount", "--propagation", "private", "sh", "-c",
               f"mount --bind {passwd} /etc/passwd && "
               f"exec {SSHD} -D -e -f {folder}/sshd-{{port}}.conf"]
    with _sshd(command, address, first, folder / "sshd.log") as port:
        yield port


@contextlib.contextmanager
def sshd_with_max_startups(lab, node: str, folder: Path, max_startups: str) -> Iterator[int]:
    """A second sshd in NODE's namespaces (its real Docker socket) whose MaxStartups is
    MAX_STARTUPS (OpenSSH's default is 10:30:100: beyond 10 handshakes in flight it drops
    new ones at random). Yields the port."""
    address = _node_address(lab, node)
    first = 25000 + os.getpid() % 900
    for port in range(first, first + 5):
        _sshd_config(lab, node, folder, address, port, max_startups)
    pid = (lab.dir / "nodes" / node / "run" / "sshd.pid").read_text().strip()
    command = ["nsenter", "-t", pid, "--net", "--mount", "--uts",
               SSHD, "-D", "-e", "-f", f"{folder}/sshd-{{port}}.conf"]
    with _sshd(command, address, first, folder / "sshd.log") as port:
        yield port


def _node_address(lab, node: str) -> str:
    text = (lab.dir / "nodes" / node / "sshd_config").read_text()
    return next(line.split()[1] for line in text.splitlines()
                if line.startswith("ListenAddress"))


class _OldEngine(socketserver.StreamRequestHandler):
    """Answers every request as Docker 1.12 would head it: Api-Version 1.24."""

    def handle(self) -> None:
        while True:
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                byte = self.rfile.read(1)
                if not byte:
                    return
                head += byte
            self.wfile.write(b"HTTP/1.1 200 OK\r\nApi-Version: 1.24\r\nServer: Docker/1.12.6\r\n"
                             b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
            self.wfile.flush()


@contextlib.contextmanager
def old_engine_socket(path: Path) -> Iterator[Path]:
    server = socketserver.ThreadingUnixStreamServer(str(path), _OldEngine)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield path
    finally:
        server.shutdown()
        server.server_close()
        path.unlink(missing_ok=True)
