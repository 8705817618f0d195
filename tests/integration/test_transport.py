"""The SSH transport against the lab's real sshd: OpenSSH config semantics, one-line errors,
and the dial-stdio fallback where stream-local forwarding is forbidden."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from swarmdeck.core.config import load_config
from swarmdeck.core.fleet import Fleet
from swarmdeck.core.inventory import ClusterState


def write_toml(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path


def ls(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "swarmdeck", "--config", str(config), "ls",
                           *args], capture_output=True, text=True, timeout=60)


def test_users_own_ssh_config_include_proxyjump_hostkeyalias(isolated_env, tmp_path, lab):
    """No [ssh] section: ~/.ssh/config is read as OpenSSH would, through its Include."""
    ssh_dir = isolated_env / ".ssh"
    ssh_dir.mkdir(mode=0o700)
    (ssh_dir / "config").write_text(
        "Include clusters.conf\n\n"
        "Host *\n"
        "    User root\n"
        f"    IdentityFile {lab.identity}\n"
        f"    UserKnownHostsFile {lab.known_hosts}\n"
    )
    (ssh_dir / "clusters.conf").write_text(
        "Host jump\n    HostName 10.213.0.11\n\n"
        "Host behind-jump\n"
        "    HostName 10.213.0.12\n"
        "    ProxyJump jump\n"
        "    HostKeyAlias prod-m2\n"
    )
    config = write_toml(tmp_path / "c.toml", '[clusters.prod]\nmanagers = ["behind-jump"]\n')
    proc = ls(config, "nodes", "--json")
    assert proc.returncode == 0, proc.stderr
    assert {n["hostname"] for n in json.loads(proc.stdout)} >= {"prod-m1", "prod-m2"}
    clusters = ls(config, "clusters", "--json")
    assert json.loads(clusters.stdout)[0]["manager"].startswith("behind-jump (root@10.213.0.12")


def test_rejected_key_says_authentication_failed(tmp_path, lab):
    key = tmp_path / "wrong_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(
        f"Host m1\n    HostName 10.213.0.11\n    User root\n    IdentityFile {key}\n"
        f"    IdentitiesOnly yes\n    UserKnownHostsFile {lab.known_hosts}\n")
    config = write_toml(tmp_path / "c.toml",
                        f'[ssh]\nconfig = "{ssh_config}"\n[clusters.prod]\nmanagers = ["m1"]\n')
    proc = ls(config, "nodes")
    assert proc.returncode == 1
    assert "authentication failed" in proc.stderr and "user (root)" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_missing_docker_socket_says_docker_is_not_running(tmp_path, lab):
    config = write_toml(tmp_path / "c.toml",
                        f'[ssh]\nconfig = "{lab.ssh_config}"\n[clusters.prod]\n'
                        'managers = ["prod-m1"]\ndocker_socket = "/run/nothing/docker.sock"\n')
    proc = ls(config, "services")
    assert proc.returncode == 1
    assert "docker is not running (/run/nothing/docker.sock does not exist)" in proc.stderr


@pytest.fixture
def sshd_without_streamlocal(lab):
    """A second sshd in prod-m3's namespaces, on port 2222, that forbids socket forwarding."""
    node_run = lab.dir / "nodes" / "prod-m3" / "run"
    sshd_pid = int((node_run / "sshd.pid").read_text())
    subprocess.run(
        ["nsenter", "-t", str(sshd_pid), "--net", "--mount", "--uts", "/usr/sbin/sshd",
         "-f", str(lab.dir / "nodes" / "prod-m3" / "sshd_config"), "-o", "Port=2222",
         "-o", "AllowStreamLocalForwarding=no", "-o", "PidFile=/run/sshd-alt.pid"],
        check=True, capture_output=True)
    pidfile = node_run / "sshd-alt.pid"
    deadline = time.monotonic() + 10
    while not pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    yield
    os.kill(int(pidfile.read_text()), signal.SIGTERM)


async def test_dial_stdio_when_streamlocal_is_forbidden(tmp_path, lab, sshd_without_streamlocal):
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(
        "Host m3-alt\n    HostName 10.213.0.13\n    Port 2222\n    HostKeyAlias prod-m3\n"
        f"    User root\n    IdentityFile {lab.identity}\n"
        f"    UserKnownHostsFile {lab.known_hosts}\n")
    config = write_toml(tmp_path / "c.toml",
                        f'[ssh]\nconfig = "{ssh_config}"\n[clusters.prod]\n'
                        'managers = ["m3-alt"]\n')
    fleet = Fleet(load_config(config))
    try:
        state = (await fleet.load())["prod"]
        assert isinstance(state, ClusterState), state
        assert state.info.hostname == "prod-m3" and len(state.nodes) == 5
        assert fleet.inventory("prod").session.docker.via == "dial-stdio"
    finally:
        await fleet.close()
