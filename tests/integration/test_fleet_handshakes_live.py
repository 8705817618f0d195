"""Many clusters behind one sshd that throttles handshakes as OpenSSH does by default
(MaxStartups 10:30:100: past 10 unauthenticated connections it drops new ones at random).
Dialled all at once, dozens failed with "Connection lost"; the handshakes in flight are
bounded per host and overall, so every cluster answers."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from special_hosts import sshd_with_max_startups

CLUSTERS = 60  # bounded: each is one SSH connection to staging-m1, no container


def test_sixty_clusters_behind_one_throttling_sshd_all_answer(lab, tmp_path):
    with sshd_with_max_startups(lab, "staging-m1", tmp_path, "10:30:100") as port:
        ssh_config = tmp_path / "ssh_config"
        ssh_config.write_text(
            f"Host throttled\n    HostName 10.213.0.16\n    Port {port}\n"
            f"    HostKeyAlias staging-m1\n    User root\n    IdentityFile {lab.identity}\n"
            f"    IdentitiesOnly yes\n    UserKnownHostsFile {lab.known_hosts}\n")
        config = tmp_path / "config.toml"
        config.write_text(f'[ssh]\nconfig = ["{ssh_config}"]\n' + "".join(
            f'[clusters.c{i:03}]\nmanagers = ["throttled"]\nmetrics = "off"\n'
            for i in range(CLUSTERS)))
        config.chmod(0o600)
        t0 = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "swarmdeck", "--config", str(config),
                               "ls", "clusters", "--json"],
                              capture_output=True, text=True, timeout=120)
        took = time.monotonic() - t0
    rows = json.loads(done.stdout)
    failed = [(r["cluster"], r.get("error")) for r in rows if r["status"] != "ok"]
    assert not failed, (len(failed), failed[:3], done.stderr[-500:])
    assert len(rows) == CLUSTERS and done.returncode == 0
    print(f"{CLUSTERS} clusters behind one MaxStartups 10:30:100 sshd: {took:.1f}s")
