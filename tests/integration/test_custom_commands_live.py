"""Custom commands ([[commands]]) on the lab: placeholders filled for a task and run over
SSH on its node (each one a single argument, never shell syntax), on this machine for a
node; a dangerous one asks, is refused on a read-only cluster, and is audited."""

from __future__ import annotations

import json
from pathlib import Path

from swarmdeck.core.audit import AuditLog

COMMANDS = '''
[[commands]]
name = "where"
scope = "task"
where = "node"
run = ["sh", "-c", "echo host=$(hostname) container=$1 arg=$2", "sh", "{container}",
       "{service}; touch /tmp/injected"]

[[commands]]
name = "address"
scope = "node"
run = ["echo", "{node}", "at", "{node_address}"]

[[commands]]
name = "missing"
scope = "cluster"
run = ["/no/such/program", "{cluster}"]

[[commands]]
name = "wipe"
scope = "node"
where = "node"
dangerous = true
run = ["echo", "would wipe", "{node}"]
'''


def test_custom_commands_on_the_lab(lab, swarmdeck, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(lab.config_file.read_text() + COMMANDS)
    config.chmod(0o600)
    read_only = tmp_path / "read_only.toml"
    read_only.write_text(config.read_text().replace(
        '[clusters.prod]\n', '[clusters.prod]\nread_only = true\n'))
    read_only.chmod(0o600)

    Path("/tmp/injected").unlink(missing_ok=True)
    done = swarmdeck("run", "where", "shop_web.1", "-c", "prod", config=config)
    assert done.returncode == 0, done.stderr
    tasks = json.loads(lab.docker_on("prod-m1", "service", "ps", "shop_web", "--filter",
                                     "desired-state=running", "--format", "{{json .}}",
                                     "--no-trunc").replace("}\n{", "},{").join("[]"))
    [one] = [t for t in tasks if t["Name"] == "shop_web.1"]
    container = lab.docker_on(one["Node"], "ps", "-q", "--no-trunc", "--filter",
                              f"label=com.docker.swarm.task.id={one['ID']}").strip()
    assert done.stdout.strip() == (f"host={one['Node']} container={container} "
                                   "arg=shop_web; touch /tmp/injected")
    assert not Path("/tmp/injected").exists()  # the lab's nodes share this filesystem

    done = swarmdeck("run", "address", "prod-w2", "-c", "prod", config=config)
    assert done.returncode == 0 and done.stdout.strip() == "prod-w2 at 10.213.0.15"

    done = swarmdeck("run", "wipe", "prod-w1", "-c", "prod", config=config)  # no terminal
    assert done.returncode == 2 and "pass --yes" in done.stderr
    done = swarmdeck("run", "wipe", "prod-w1", "-c", "prod", "--yes", config=read_only)
    assert done.returncode != 0 and "read-only" in done.stderr
    done = swarmdeck("run", "wipe", "prod-w1", "-c", "prod", "--yes", config=config)
    assert done.returncode == 0 and done.stdout.strip() == "would wipe prod-w1"
    results = [(e["action"], e["target"], e["result"]) for e in AuditLog.default().read()]
    assert ("command wipe", "prod-w1", "refused") in results
    assert ("command wipe", "prod-w1", "ok") in results
    assert ("command where", "shop_web.1", "ok") in results

    # a program that is not there: what to fix, exit 2, no crash; the failed run on record
    done = swarmdeck("run", "missing", "-c", "prod", config=config)
    assert done.returncode == 2, done.stderr
    assert "command 'missing': cannot run '/no/such/program'" in done.stderr
    assert "crashed" not in done.stderr and "Traceback" not in done.stderr
    [failed] = [e for e in AuditLog.default().read() if e["action"] == "command missing"]
    assert failed["result"] == "error" and "/no/such/program" in failed["error"]

    done = swarmdeck("run", "nope", "-c", "prod", config=config)
    assert done.returncode == 2 and "no custom command 'nope'" in done.stderr
    done = swarmdeck("run", "address", "-c", "prod", config=config)
    assert done.returncode == 2 and "needs a node" in done.stderr
