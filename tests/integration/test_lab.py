"""The lab itself: a killed lab's leftovers are cleared by `up`; `down` leaves nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from swarmdeck.lab import system
from swarmdeck.lab.topology import BRIDGE, CGROUP_PARENT, NETNS_PREFIX


def lab_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "swarmdeck", "lab", *args],
                          capture_output=True, text=True, timeout=600)


def _mounts_lab(pid: str, lab_dir: Path) -> bool:
    try:
        return str(lab_dir) in Path(f"/proc/{pid}/mountinfo").read_text()
    except OSError:
        return False


def what_is_left(lab_dir: Path) -> list[str]:
    """Checked independently of the lab's own bookkeeping."""
    left = []
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    left += [f"netns {line.split()[0]}" for line in netns.splitlines()
             if line.startswith(NETNS_PREFIX)]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    left += [f"link {line.split(':')[1].strip()}" for line in links.splitlines()
             if BRIDGE in line or ": sdl-" in line]
    rules = subprocess.run(["iptables", "-S", "FORWARD"], capture_output=True, text=True).stdout
    left += [f"rule {r}" for r in rules.splitlines() if BRIDGE in r]
    for root, dirs, _files in os.walk("/sys/fs/cgroup"):
        left += [f"cgroup {root}/{d}" for d in dirs if d == CGROUP_PARENT]
        if root.count("/") > 4:
            dirs.clear()
    with open("/proc/self/mountinfo") as f:
        left += [f"mount {line.split()[4]}" for line in f if str(lab_dir) in line]
    my_netns = os.readlink("/proc/self/ns/net")
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            netns = os.readlink(f"/proc/{pid}/ns/net")
        except OSError:
            continue
        # the lab's own daemons: named by the lab's directory, or a docker daemon in another
        # netns whose mounts come from the lab's directory (its node's /run, /var/lib/docker);
        # another project's namespaced docker on the same machine is not the lab's
        if str(lab_dir) in cmd or (comm.startswith(("dockerd", "containerd"))
                                   and netns != my_netns and _mounts_lab(pid, lab_dir)):
            left.append(f"process {pid} {comm}")
    if lab_dir.exists():
        left.append(f"directory {lab_dir}")
    return left


def kill_like_a_crash(lab) -> int:
    """SIGKILL every lab process, as when a session ends: no cleanup code runs."""
    pids: set[int] = set()
    for ns in system.netns_list(NETNS_PREFIX):
        pids |= system.netns_pids(ns)
    pids |= system.cgroup_pids(system.cgroup_dirs(CGROUP_PARENT))
    pids |= system.pids_mentioning(str(lab.dir))
    system.signal_pids(pids, signal.SIGKILL)
    system.wait_gone(pids, 10)
    return len(pids)


def test_solo_clusters_come_and_go_beside_the_lab(lab, swarmdeck):
    """`lab solo add` starts one-node swarms (their own address and pool) without touching the
    lab's clusters; `lab solo rm` removes them and their namespaces."""
    try:
        add = lab_cli("solo", "add", "solo1", "solo2")
        assert add.returncode == 0, add.stderr
        ls = swarmdeck("ls", "clusters", "--json", config=lab.solo_config_file)
        assert ls.returncode == 0, ls.stderr
        rows = {r["cluster"]: r for r in json.loads(ls.stdout)}
        assert set(rows) == {"solo1", "solo2"}
        assert all(r["status"] == "ok" for r in rows.values()), rows
        info = lab.docker_on("prod-m1", "info", "--format", "{{.Swarm.Cluster.ID}}")
        solo = {lab.docker(f"unix://{lab.dir}/nodes/{n}-m1/run/docker.sock", "info",
                           "--format", "{{.Swarm.Cluster.ID}}") for n in ("solo1", "solo2")}
        assert len(solo) == 2 and info not in solo  # two swarms of their own
        assert lab.healthy()
        bad = lab_cli("solo", "add", "prod")
        assert bad.returncode == 2 and "already has a cluster named 'prod'" in bad.stderr
    finally:
        rm = lab_cli("solo", "rm")
    assert rm.returncode == 0, rm.stderr
    assert not [ns for ns in system.netns_list(NETNS_PREFIX) if "solo" in ns]
    assert lab.solo_nodes() == [] and lab.healthy()


@pytest.mark.lab_teardown
def test_killed_lab_is_cleared_by_up_and_down_leaves_nothing(lab):
    lab.add_solo(["solo1"])  # a solo cluster is cleared as well
    killed = kill_like_a_crash(lab)
    assert killed > 20  # dockerds, containerds, shims, sshds, containers, the registry
    stale = what_is_left(lab.dir)
    assert any(s.startswith("netns") for s in stale) and any(BRIDGE in s for s in stale)

    up = lab_cli("up")
    assert up.returncode == 0, up.stderr
    status = lab_cli("status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert status.stdout.count(" active") == 7  # 5 prod + 2 staging nodes in their swarms

    again = lab_cli("up")  # idempotent: nothing rebuilt
    assert again.returncode == 0 and "already up" in again.stderr

    down = lab_cli("down")
    assert down.returncode == 0, down.stderr
    assert what_is_left(lab.dir) == []
    assert lab.leftovers() == []
    assert lab_cli("status").stdout.startswith("no lab")


def test_lab_needs_root_and_says_so(monkeypatch, capsys):
    """As an ordinary user: a one-line message and exit 1, nothing created."""
    from swarmdeck.cli.main import main

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    before = system.netns_list(NETNS_PREFIX)
    assert main(["lab", "up", "--dir", "/tmp/swarmdeck-lab-never-made"]) == 1
    err = capsys.readouterr().err
    assert "needs root" in err and "sudo" in err and "Traceback" not in err
    assert not Path("/tmp/swarmdeck-lab-never-made").exists()
    assert system.netns_list(NETNS_PREFIX) == before
