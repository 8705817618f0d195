"""Metrics: the sampler script on fake cgroup v1 and v2 trees, parsing, and the arithmetic."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from swarmdeck.core.inventory import ClusterState
from swarmdeck.core.metrics import SAMPLER, ClusterMetrics, NodeSample, parse_sample
from swarmdeck.core.models import Task

A = "a" * 64
B = "b" * 64


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def run_sampler(root: Path, own: Path | None = None) -> list[str]:
    """Two samples from the real script, pointed at ROOT instead of /sys/fs/cgroup, and at
    OWN (default: a directory that does not exist) instead of /var/lib/docker/containers."""
    own = own or root / "no-such-dir"
    proc = subprocess.Popen(["sh", "-c", SAMPLER, "sampler", "0.05", str(root), str(own)],
                            stdout=subprocess.PIPE, text=True)
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        if lines.count("E") == 2:
            break
    proc.kill()
    proc.wait()
    return lines


def first_sample(lines: list[str]) -> NodeSample:
    return parse_sample(lines[1:lines.index("E")])


def test_sampler_reads_cgroup_v1_under_any_parent(tmp_path):
    write(tmp_path / "cpuacct/docker" / A / "cpuacct.usage", "1500000000\n")
    write(tmp_path / "memory/docker" / A / "memory.usage_in_bytes", "10485760\n")
    write(tmp_path / "memory/docker" / A / "memory.stat",
          "cache 1\ntotal_inactive_file 2097152\n")
    write(tmp_path / "cpuacct/system.slice" / f"docker-{B}.scope" / "cpuacct.usage", "7\n")
    write(tmp_path / "cpuacct/docker/not-a-container/cpuacct.usage", "9\n")
    lines = run_sampler(tmp_path)
    assert lines[0] == "V 1"
    sample = first_sample(lines)
    assert sample.containers == {A: (1500000000, 10485760 - 2097152), B: (7, 0)}
    assert sample.cpu_total > 0 and sample.mem_total > 0 and sample.uptime > 0


def test_sampler_reads_cgroup_v2(tmp_path):
    write(tmp_path / "cgroup.controllers", "cpu memory\n")
    scope = tmp_path / "system.slice" / f"docker-{A}.scope"
    write(scope / "cpu.stat", "usage_usec 2500000\nuser_usec 2000000\n")
    write(scope / "memory.current", "8388608\n")
    write(scope / "memory.stat", "anon 1\ninactive_file 1048576\n")
    write(tmp_path / "docker" / B / "cpu.stat", "usage_usec 10\n")
    lines = run_sampler(tmp_path)
    assert lines[0] == "V 2"
    assert first_sample(lines).containers == {A: (2500000000, 8388608 - 1048576), B: (10000, 0)}


def test_sampler_keeps_only_the_engines_own_containers_when_it_can_tell(tmp_path):
    write(tmp_path / "cpuacct/docker" / A / "cpuacct.usage", "5\n")
    write(tmp_path / "cpuacct/docker" / B / "cpuacct.usage", "6\n")
    own = tmp_path / "containers"
    (own / A).mkdir(parents=True)
    assert set(first_sample(run_sampler(tmp_path, own)).containers) == {A}


def test_parse_skips_lines_cut_by_a_dying_link():
    sample = parse_sample(["T 100.5", "S cpu 10 0 10 70 10 0 0 0 0 0", "M 1024 512",
                           f"C {A} 12", "C"])
    assert sample.uptime == 100.5
    assert (sample.cpu_total, sample.cpu_idle) == (100, 80)
    assert (sample.mem_total, sample.mem_available) == (1024 * 1024, 512 * 1024)
    assert sample.containers == {}


def sample(uptime: float, busy: int, idle: int, containers: dict) -> NodeSample:
    return NodeSample(uptime=uptime, cpu_total=busy + idle, cpu_idle=idle,
                      mem_total=4 << 30, mem_available=3 << 30, containers=containers)


def test_rates_and_the_own_container_filter():
    metrics = ClusterMetrics(history=3)
    metrics.add_sample("n1", sample(10.0, 100, 900, {A: (0, 100), B: (0, 5)}), own={A})
    assert "n1" not in metrics.nodes  # one sample is not a rate yet
    metrics.add_sample("n1", sample(12.0, 150, 1000, {A: (1_000_000_000, 200),
                                                      B: (9_000_000_000, 5)}), own={A})
    node = metrics.nodes["n1"].last
    assert node.cpu == pytest.approx(100 * 50 / 150)
    assert node.mem == 1 << 30
    assert metrics.containers[A].last.cpu == pytest.approx(50.0)  # 1 s of CPU in 2 s
    assert metrics.containers[A].last.mem == 200
    assert B not in metrics.containers  # another node's container (shared cgroup tree)


def test_history_is_bounded_and_services_sum_their_tasks():
    metrics = ClusterMetrics(history=3)
    for i in range(6):
        metrics.add_sample("n1", sample(float(i), 10 * i, 100 * i,
                                        {A: (i * 10**9, 100), B: (i * 2 * 10**9, 50)}),
                           own={A, B})
    assert len(metrics.nodes["n1"].points) == 3
    state = ClusterState("c")
    state.tasks = {
        "t1": Task(id="t1", service_id="s", node_id="n1", state="running",
                   desired_state="running", container_id=A),
        "t2": Task(id="t2", service_id="s", node_id="n1", state="running",
                   desired_state="running", container_id=B),
    }
    metrics.aggregate(state)
    point = metrics.services["s"].last
    assert point.cpu == pytest.approx(300.0) and point.mem == 150
    del state.tasks["t2"]
    metrics.aggregate(state)
    assert B not in metrics.containers  # a gone task's history is dropped
    assert metrics.services["s"].last.cpu == pytest.approx(100.0)


def test_a_node_whose_containers_change_asks_for_a_task_reread():
    metrics = ClusterMetrics()
    asked: list[str] = []
    metrics.on_containers_changed = asked.append
    metrics.add_sample("n1", sample(1.0, 1, 1, {A: (0, 1)}), own={A})
    assert asked == []  # a first sample changes nothing
    metrics.add_sample("n1", sample(2.0, 2, 2, {A: (5, 1)}), own={A})
    assert asked == []  # the same containers, only their figures moved
    metrics.add_sample("n1", sample(3.0, 3, 3, {A: (9, 1), B: (0, 1)}), own={A, B})
    metrics.add_sample("n1", sample(4.0, 4, 4, {B: (1, 1)}), own={B})
    assert asked == ["n1", "n1"]  # one started, one ended


def test_all_nodes_are_watched_only_while_each_up_node_sends_samples():
    from swarmdeck.core.metrics import MetricsCollector
    from swarmdeck.core.models import Node
    from swarmdeck.core.transport.ssh import SSHSettings

    state = ClusterState("c")
    state.nodes = {i: Node(id=i, hostname=i, role="worker", availability="active", status=s)
                   for i, s in (("n1", "ready"), ("n2", "ready"), ("n3", "down"))}
    collector = MetricsCollector(state, SSHSettings(), interval=2.0,
                                 manager_connection=lambda: None, user=lambda: None)
    assert not collector.watches_all_nodes()
    collector.metrics.add_sample("n1", sample(1.0, 1, 1, {}), own=set())
    assert not collector.watches_all_nodes()  # n2 has sent nothing
    collector.metrics.add_sample("n2", sample(1.0, 1, 1, {}), own=set())
    assert collector.watches_all_nodes()  # n3 is down: nothing to watch there
    collector.metrics.problems["n2"] = "ssh refused"
    assert not collector.watches_all_nodes()
    collector.metrics.problems.clear()
    collector.metrics.sampled_at["n1"] -= 60  # n1's sampler went quiet
    assert not collector.watches_all_nodes()


def _burning_tree(root: Path, v2: bool, share: float, stop) -> None:
    """Advance a fake container's CPU counter at SHARE of one core, by the wall clock."""
    import time

    start = time.monotonic()
    path = (root / "system.slice" / f"docker-{A}.scope" / "cpu.stat" if v2
            else root / "cpuacct/docker" / A / "cpuacct.usage")
    while not stop.is_set():
        used_ns = int(share * (time.monotonic() - start) * 1e9)
        text = f"usage_usec {used_ns // 1000}\n" if v2 else f"{used_ns}\n"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)  # whole values only: the sampler never reads a half-written one
        stop.wait(0.005)


@pytest.mark.parametrize("v2", [False, True], ids=["cgroup-v1", "cgroup-v2"])
def test_container_cpu_is_measured_against_a_real_clock(tmp_path, v2):
    """A container using 30 % of a core reads 30 %, whatever the host's idle time does
    (the elapsed time once came from /proc/uptime's idle field, summed over every CPU)."""
    import threading

    if v2:
        write(tmp_path / "cgroup.controllers", "cpu memory\n")
        write(tmp_path / "system.slice" / f"docker-{A}.scope" / "cpu.stat", "usage_usec 0\n")
    else:
        write(tmp_path / "cpuacct/docker" / A / "cpuacct.usage", "0\n")
    stop = threading.Event()
    burner = threading.Thread(target=_burning_tree, args=(tmp_path, v2, 0.3, stop))
    burner.start()
    proc = subprocess.Popen(["sh", "-c", SAMPLER, "sampler", "0.4", str(tmp_path),
                             str(tmp_path / "no-such-dir")], stdout=subprocess.PIPE, text=True)
    metrics = ClusterMetrics()
    try:
        assert proc.stdout is not None
        block: list[str] = []
        for line in proc.stdout:
            line = line.rstrip("\n")
            if line != "E":
                block.append(line)
                continue
            metrics.add_sample("n1", parse_sample(block), own={A})
            block = []
            series = metrics.containers.get(A)
            if series is not None and len(series.points) >= 5:
                break
    finally:
        proc.kill()
        proc.wait()
        stop.set()
        burner.join()
    readings = metrics.containers[A].cpu()
    average = sum(readings) / len(readings)
    assert average == pytest.approx(30.0, abs=5), readings
