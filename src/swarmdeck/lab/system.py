"""Thin wrappers over the host commands the lab needs (ip, iptables, processes, cgroups)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from swarmdeck.core.errors import LabError

REQUIRED_COMMANDS = {
    "dockerd": "docker.io",
    "docker": "docker.io",
    "sshd": "openssh-server",
    "ssh-keygen": "openssh-client",
    "docker-registry": "docker-registry",
    "busybox": "busybox-static",
    "iptables": "iptables",
    "ip": "iproute2",
    "nsenter": "util-linux",
    "unshare": "util-linux",
}


def find_command(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")
    if path is None:
        package = REQUIRED_COMMANDS.get(name, name)
        raise LabError(f"the lab needs '{name}': install it with apt-get install {package}")
    return path


def check_prerequisites() -> None:
    if os.geteuid() != 0:
        raise LabError(
            "the lab needs root (it creates network namespaces, a bridge and one dockerd per "
            "node): run it with sudo"
        )
    missing = sorted(
        {pkg for cmd, pkg in REQUIRED_COMMANDS.items() if not _has(cmd)}
    )
    if missing:
        raise LabError("the lab needs these packages: apt-get install -y " + " ".join(missing))


def _has(cmd: str) -> bool:
    try:
        find_command(cmd)
    except LabError:
        return False
    return True


def run(
    args: Sequence[str], *, check: bool = True, input: bytes | None = None,
    timeout: float = 120, env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(
        list(args), input=input, capture_output=True, timeout=timeout, env=env,
    )
    if check and proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip() or proc.stdout.decode(
            errors="replace").strip()
        raise LabError(f"`{' '.join(args)}` failed: {err}")
    return proc


def netns_list(prefix: str) -> list[str]:
    proc = run(["ip", "netns", "list"], check=False)
    names = [line.split()[0] for line in proc.stdout.decode().splitlines() if line.strip()]
    return [n for n in names if n.startswith(prefix)]


def netns_pids(name: str) -> set[int]:
    proc = run(["ip", "netns", "pids", name], check=False)
    return {int(p) for p in proc.stdout.decode().split() if p.isdigit()}


def link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def links_with_prefix(prefix: str) -> list[str]:
    try:
        return sorted(n for n in os.listdir("/sys/class/net") if n.startswith(prefix))
    except FileNotFoundError:
        return []


def cgroup_dirs(name: str) -> list[Path]:
    """Every cgroup directory called NAME, under v1 controllers or a v2 unified tree."""
    root = Path("/sys/fs/cgroup")
    found: list[Path] = []
    candidates = [root / name] + [p / name for p in root.iterdir() if p.is_dir()] \
        if root.is_dir() else []
    for path in candidates:
        if path.is_dir():
            found.append(path)
    return found


def cgroup_pids(dirs: Iterable[Path]) -> set[int]:
    pids: set[int] = set()
    for top in dirs:
        for procs in top.rglob("cgroup.procs"):
            try:
                pids |= {int(p) for p in procs.read_text().split()}
            except OSError:
                continue
    return pids


def remove_cgroups(dirs: Iterable[Path]) -> None:
    for top in dirs:
        subdirs = sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
        for d in [*subdirs, top]:
            with contextlib.suppress(OSError):
                d.rmdir()


def pids_mentioning(text: str) -> set[int]:
    """Processes whose command line contains TEXT (the lab directory)."""
    me = os.getpid()
    found: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            cmdline = Path("/proc", entry, "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if text.encode() in cmdline:
            found.add(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is not alive for our purposes
    try:
        stat = Path("/proc", str(pid), "stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def signal_pids(pids: Iterable[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def wait_gone(pids: Iterable[int], timeout: float) -> set[int]:
    """Wait until the processes have exited; returns the ones still alive."""
    remaining = set(pids)
    deadline = time.monotonic() + timeout
    while remaining and time.monotonic() < deadline:
        remaining = {p for p in remaining if alive(p)}
        if remaining:
            time.sleep(0.05)
    return remaining


def kill_all(pids: set[int], *, grace: float) -> set[int]:
    """SIGTERM, wait GRACE seconds, then SIGKILL. Returns pids that would not die."""
    if not pids:
        return set()
    signal_pids(pids, signal.SIGTERM)
    left = wait_gone(pids, grace)
    if left:
        signal_pids(left, signal.SIGKILL)
        left = wait_gone(left, 10)
    return left


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def mounts_under(path: Path) -> list[str]:
    """Mount points (this mount namespace) at or below PATH, deepest first."""
    prefix = str(path)
    points = []
    try:
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            point = line.split()[4].replace("\\040", " ")
            if point == prefix or point.startswith(prefix + "/"):
                points.append(point)
    except OSError:
        return []
    return sorted(points, key=lambda p: -p.count("/"))
