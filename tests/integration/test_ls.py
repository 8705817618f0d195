"""`swarmdeck ls` over SSH agrees with what `docker` on the manager itself reports."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

CLUSTERS = {"prod": "prod-m1", "staging": "staging-m1"}


def docker_json(lab, node: str, *args: str) -> list[dict]:
    out = lab.docker_on(node, *args, "--format", "{{json .}}")
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def ls_json(swarmdeck, what: str, *extra: str) -> list[dict]:
    proc = swarmdeck("ls", what, "--json", *extra)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_services_match_docker_service_ls(lab, swarmdeck, cluster):
    ours = {s["name"]: s for s in ls_json(swarmdeck, "services", "--cluster", cluster)}
    theirs = {s["Name"]: s for s in docker_json(lab, CLUSTERS[cluster], "service", "ls")}
    assert set(ours) == set(theirs)
    assert {s["cluster"] for s in ours.values()} == {cluster}
    for name, svc in theirs.items():
        mine = ours[name]
        assert mine["mode"] == svc["Mode"].replace(" ", "-")
        assert mine["image"] == svc["Image"]
        if "job" not in svc["Mode"]:
            running, desired = svc["Replicas"].split()[0].split("/")
            assert (mine["replicas_running"], mine["replicas_desired"]) == (
                int(running), int(desired)), name
    stacks = {s["stack"] for s in ours.values()}
    assert "shop" in stacks


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_nodes_match_docker_node_ls(lab, swarmdeck, cluster):
    ours = {n["hostname"]: n for n in ls_json(swarmdeck, "nodes", "--cluster", cluster)}
    theirs = {n["Hostname"]: n for n in docker_json(lab, CLUSTERS[cluster], "node", "ls")}
    assert set(ours) == set(theirs)
    for host, node in theirs.items():
        mine = ours[host]
        assert mine["id"] == node["ID"]
        assert mine["role"] == ("manager" if node["ManagerStatus"] else "worker")
        assert mine["leader"] == (node["ManagerStatus"] == "Leader")
        assert mine["status"] == node["Status"].lower()
        assert mine["availability"] == node["Availability"].lower()
    assert sum(n["leader"] for n in ours.values()) == 1


def test_tasks_match_docker_stack_ps(lab, swarmdeck):
    ours = [t for t in ls_json(swarmdeck, "tasks", "--cluster", "prod", "--stack", "shop")
            if t["desired_state"] == "running"]
    theirs = [t for t in docker_json(lab, "prod-m1", "stack", "ps", "shop")
              if t["DesiredState"] == "Running"]
    assert sorted((t["service"], t["slot"], t["node"]) for t in ours) == sorted(
        (t["Name"].rsplit(".", 1)[0], int(t["Name"].rsplit(".", 1)[1]), t["Node"])
        for t in theirs)
    assert {t["id"][:12] for t in ours} == {t["ID"] for t in theirs}
    assert all(t["state"] == "running" and t["error"] is None for t in ours)


def test_both_clusters_at_once_and_readable_tables(swarmdeck):
    proc = swarmdeck("ls", "services")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:5] == ["CLUSTER", "NAME", "STACK", "MODE", "REPLICAS"]
    web = [line.split() for line in lines if " shop_web " in line]
    assert sorted(row[0] for row in web) == ["prod", "staging"]
    assert all(row[4] == "2/2" for row in web)
    clusters = swarmdeck("ls", "clusters")
    assert clusters.returncode == 0, clusters.stderr
    prod = next(line.split() for line in clusters.stdout.splitlines() if line.startswith("prod"))
    assert prod[1] == "ok" and "prod-m1" in prod and "5/5" in prod


def test_stacks_show_their_project_or_unmanaged(lab, swarmdeck):
    rows = ls_json(swarmdeck, "stacks")
    by_key = {(r["cluster"], r["name"]): r for r in rows}
    assert by_key[("prod", "shop")]["project"] == "shop/production"
    assert by_key[("staging", "shop")]["project"] == "shop/staging"
    assert by_key[("prod", "shop")]["services"] == 2
    lab.docker_on("staging-m1", "service", "create", "--detach", "--name", "adhoc_tool",
                  "--label", "com.docker.stack.namespace=adhoc", "--stop-grace-period", "1s",
                  "10.213.0.1:5000/swarmdeck/demo:1.0", "sleep", "1000")
    try:
        rows = {(r["cluster"], r["name"]): r for r in ls_json(swarmdeck, "stacks")}
        assert rows[("staging", "adhoc")]["project"] is None
        table = swarmdeck("ls", "stacks", "--cluster", "staging").stdout
        assert any(line.split()[1] == "adhoc" and line.endswith("unmanaged")
                   for line in table.splitlines()[1:])
    finally:
        lab.docker_on("staging-m1", "service", "rm", "adhoc_tool")


def write_config(tmp_path, lab, clusters: dict[str, list[str]], ssh_config=None,
                 timeout: int = 10):
    path = tmp_path / "config.toml"
    text = f'[ssh]\nconfig = ["{ssh_config or lab.ssh_config}"]\nconnect_timeout = {timeout}\n'
    for name, managers in clusters.items():
        text += f"[clusters.{name}]\nmanagers = {json.dumps(managers)}\n"
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_one_failing_cluster_does_not_hide_the_others(tmp_path, lab, swarmdeck):
    config = write_config(tmp_path, lab, {"prod": ["prod-m1"], "broken": ["root@10.213.0.11:2999"]})
    proc = swarmdeck("ls", "services", "--json", config=config)
    assert proc.returncode == 1
    rows = json.loads(proc.stdout)
    assert {r["cluster"] for r in rows} == {"prod"} and rows
    assert "cluster broken" in proc.stderr and "connection refused" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_address_fails_fast_with_a_clear_message(tmp_path, lab, swarmdeck):
    config = write_config(tmp_path, lab, {"ghost": ["root@10.213.0.250"]}, timeout=2)
    started = time.monotonic()
    proc = swarmdeck("ls", "nodes", config=config)
    elapsed = time.monotonic() - started
    assert proc.returncode == 1
    assert "10.213.0.250" in proc.stderr and "no answer within 2s" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert elapsed < 8


def test_worker_given_as_manager_names_the_managers(tmp_path, lab, swarmdeck):
    config = write_config(tmp_path, lab, {"prod": ["prod-w1"]})
    proc = swarmdeck("ls", "nodes", config=config)
    assert proc.returncode == 1
    assert "prod-w1" in proc.stderr and "not a swarm manager" in proc.stderr
    assert "10.213.0.11:2377" in proc.stderr


def host_fingerprint(lab, node: str) -> str:
    pub = lab.dir / "nodes" / node / "ssh_host_ed25519_key.pub"
    out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(pub)],
                         capture_output=True, text=True, check=True).stdout
    return out.split()[1]


def ssh_config_with_known_hosts(tmp_path, lab, known_hosts_text: str):
    known = tmp_path / "known_hosts"
    known.write_text(known_hosts_text)
    cfg = tmp_path / "ssh_config"
    cfg.write_text(
        "Host m1\n    HostName 10.213.0.11\n    User root\n"
        f"    IdentityFile {lab.identity}\n    UserKnownHostsFile {known}\n"
    )
    return cfg


def test_unknown_host_key_is_refused_with_its_fingerprint(tmp_path, lab, swarmdeck):
    cfg = ssh_config_with_known_hosts(tmp_path, lab, "")
    config = write_config(tmp_path, lab, {"prod": ["m1"]}, ssh_config=cfg)
    proc = swarmdeck("ls", "nodes", config=config)
    assert proc.returncode == 1
    assert "unknown host key" in proc.stderr
    assert host_fingerprint(lab, "prod-m1") in proc.stderr
    assert "ssh-keyscan" in proc.stderr
    assert (tmp_path / "known_hosts").read_text() == ""  # never accepted silently


def test_changed_host_key_is_refused_as_a_possible_attack(tmp_path, lab, swarmdeck):
    other = (lab.dir / "nodes" / "prod-m2" / "ssh_host_ed25519_key.pub").read_text().split()
    cfg = ssh_config_with_known_hosts(tmp_path, lab, f"10.213.0.11 {other[0]} {other[1]}\n")
    config = write_config(tmp_path, lab, {"prod": ["m1"]}, ssh_config=cfg)
    proc = swarmdeck("ls", "nodes", config=config)
    assert proc.returncode == 1
    assert "HOST KEY CHANGED" in proc.stderr and "attack" in proc.stderr
    assert host_fingerprint(lab, "prod-m1") in proc.stderr


def test_unknown_cluster_name_is_a_usage_error(swarmdeck):
    proc = swarmdeck("ls", "nodes", "--cluster", "prd")
    assert proc.returncode == 2
    assert "prod" in proc.stderr
