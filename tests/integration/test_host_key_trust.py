"""Trusting a host key against the lab's real sshd: the console shows a refused unknown key
with its fingerprint, trusts it only after `yes` is typed (the known_hosts copy gains the
line OpenSSH would write, the audit log records it, the cluster connects by itself), and
never offers to trust a CHANGED key. `swarmdeck trust` does the same for scripts."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from pathlib import Path

from test_console_live import wait_until
from textual.widgets import Button, Input

from swarmdeck.core.audit import AuditLog
from swarmdeck.core.config import load_config
from swarmdeck.core.fleet import Fleet
from swarmdeck.lab.proxy import DelayProxy
from swarmdeck.ui.app import SwarmdeckApp
from swarmdeck.ui.screens.dialogs import ConfirmDialog
from swarmdeck.ui.screens.host_key import HostKeyWarning
from swarmdeck.ui.widgets.health import HealthBar
from swarmdeck.ui.widgets.table import LiveTable

NODE, ADDRESS = "staging-m1", "10.213.0.16"


def host_key(lab, node: str) -> tuple[str, str]:
    """(fingerprint as `ssh-keygen -l` prints it, "TYPE BASE64") of a lab node's host key."""
    pub = lab.dir / "nodes" / node / "ssh_host_ed25519_key.pub"
    out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(pub)],
                         capture_output=True, text=True, check=True).stdout
    return out.split()[1], " ".join(pub.read_text().split()[:2])


def lab_copy(tmp_path: Path, lab, extra_known: str = "") -> tuple[Path, Path]:
    """The lab's ssh config and known_hosts copied, without staging-m1's line (plus
    EXTRA_KNOWN); a config with the staging cluster on that copy."""
    known = tmp_path / "known_hosts"
    kept = [line for line in lab.known_hosts.read_text().splitlines()
            if not line.startswith(f"{NODE},")]
    known.write_text("\n".join(kept) + "\n" + extra_known)
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(lab.ssh_config.read_text().replace(str(lab.known_hosts), str(known)))
    config = tmp_path / "config.toml"
    config.write_text(f'[ssh]\nconfig = ["{ssh_config}"]\n'
                      f'[clusters.staging]\nmanagers = ["{NODE}"]\nmetrics = "off"\n')
    config.chmod(0o600)
    return config, known


def changed_line(lab) -> str:
    """staging-m1's address with ANOTHER node's key: what a man in the middle looks like."""
    return f"{ADDRESS} {host_key(lab, 'prod-m2')[1]}\n"


def swarmdeck(config: Path, *args: str, stdin: str | None = None
              ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "swarmdeck", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=60, input=stdin)


def header(app) -> str:
    return app.screen.query_one(HealthBar).render().plain


# ---- the console -------------------------------------------------------------------------

async def test_console_trusts_an_unknown_key_after_typed_confirmation(tmp_path, lab):
    config_path, known = lab_copy(tmp_path, lab)
    fingerprint, public_key = host_key(lab, NODE)
    before = known.read_text()
    config = load_config(config_path)
    app = SwarmdeckApp(config, Fleet(config))
    async with app.run_test(size=(220, 40)) as pilot:
        assert await wait_until(pilot, lambda: "unknown host key" in header(app), 20), \
            header(app)
        assert fingerprint in header(app) and "T: review the host key" in header(app)
        commands = [c.title for c in app.get_system_commands(app.screen)]
        assert "Review host key" in commands  # the palette offers it too
        await pilot.press("T")
        assert await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), 5)
        details = " ".join(str(s.render()) for s in app.screen.query(".details Static"))
        assert fingerprint in details and "ssh-ed25519" in details
        assert f"address: {ADDRESS} port 22" in details and str(known) in details
        box = app.screen.query_one("#typed", Input)
        box.value = "y"  # anything but `yes` keeps Confirm disabled
        await pilot.pause()
        assert app.screen.query_one("#yes", Button).disabled
        assert known.read_text() == before
        box.value = "yes"
        await pilot.press("enter")
        nodes = app.screen.query_one("#nodes", LiveTable)
        started = time.monotonic()
        assert await wait_until(pilot, lambda: nodes.row_count == 2, 15), header(app)
        assert time.monotonic() - started < 8  # reconnected at once, not after a backoff
        assert "T: review" not in header(app)
        assert "Review host key" not in [c.title for c in app.get_system_commands(app.screen)]
    assert known.read_text() == before + f"{ADDRESS} {public_key}\n"
    entries = [e for e in AuditLog.default().read() if e["action"] == "trust host key"]
    assert [(e["cluster"], e["target"], e["params"]["fingerprint"], e["result"])
            for e in entries] == [("staging", ADDRESS, fingerprint, "ok")]


async def test_console_never_offers_to_trust_a_changed_key(tmp_path, lab):
    config_path, known = lab_copy(tmp_path, lab, extra_known=changed_line(lab))
    before = known.read_text()
    fingerprint = host_key(lab, NODE)[0]
    old = host_key(lab, "prod-m2")[0]
    config = load_config(config_path)
    app = SwarmdeckApp(config, Fleet(config))
    async with app.run_test(size=(220, 40)) as pilot:
        # said at once (the key met), then with the key that shows why (the cluster's error)
        assert await wait_until(pilot, lambda: "T: host key CHANGED" in header(app), 20), \
            header(app)
        await pilot.press("T")
        assert await wait_until(pilot, lambda: isinstance(app.screen, HostKeyWarning), 5)
        text = " ".join(str(s.render()) for s in app.screen.query("Static"))
        assert "POSSIBLE ATTACK" in text and fingerprint in text and old in text
        assert f"ssh-keygen -R {ADDRESS} -f {known}" in text
        assert not app.screen.query(Input)
        assert [b.id for b in app.screen.query(Button)] == ["close"]  # nothing to confirm
        await pilot.press("enter")
        assert await wait_until(pilot, lambda: not isinstance(app.screen, HostKeyWarning), 5)
        assert "HOST KEY CHANGED" in header(app)
    assert known.read_text() == before
    assert not [e for e in AuditLog.default().read() if e["action"] == "trust host key"]


# ---- the command line --------------------------------------------------------------------

def test_cli_trust_asks_then_writes_then_knows(tmp_path, lab):
    config, known = lab_copy(tmp_path, lab)
    fingerprint, public_key = host_key(lab, NODE)
    before = known.read_text()

    refused = swarmdeck(config, "trust", NODE)  # no terminal, no --yes
    assert refused.returncode == 2, refused.stderr
    assert fingerprint in refused.stdout  # shown before the question
    assert "pass --yes" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert known.read_text() == before

    done = swarmdeck(config, "trust", NODE, "--yes")
    assert done.returncode == 0, done.stderr
    assert known.read_text() == before + f"{ADDRESS} {public_key}\n"
    listed = swarmdeck(config, "ls", "nodes")
    assert listed.returncode == 0, listed.stderr
    assert "staging-w1" in listed.stdout

    again = swarmdeck(config, "trust", NODE, "--yes")
    assert again.returncode == 0 and "already trusted" in again.stdout
    assert fingerprint in again.stdout
    assert known.read_text() == before + f"{ADDRESS} {public_key}\n"


def test_cli_trust_refuses_a_changed_key(tmp_path, lab):
    config, known = lab_copy(tmp_path, lab, extra_known=changed_line(lab))
    before = known.read_text()
    proc = swarmdeck(config, "trust", NODE, "--yes")
    assert proc.returncode == 1
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "HOST KEY CHANGED" in err and "attack" in err
    assert host_key(lab, NODE)[0] in err and host_key(lab, "prod-m2")[0] in err
    assert f"ssh-keygen -R {ADDRESS} -f {known}" in err
    assert known.read_text() == before


def test_cli_trust_with_known_hosts_dev_null_says_nothing_was_trusted(tmp_path, lab):
    """UserKnownHostsFile /dev/null: every key is unknown, and a line written there is gone;
    trust said "added" and exited 0."""
    config, _known = lab_copy(tmp_path, lab)
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(ssh_config.read_text().replace(str(_known), "/dev/null"))
    assert "/dev/null" in ssh_config.read_text()
    proc = swarmdeck(config, "trust", NODE, "--yes")
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "/dev/null is not a regular file: the key was not trusted" in err
    assert "UserKnownHostsFile" in err
    assert "trusted the" not in proc.stdout  # no success line (the preview says "would be")
    [entry] = [e for e in AuditLog.default().read() if e["action"] == "trust host key"]
    assert entry["result"] == "error"


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


async def test_cli_trust_on_another_port_creates_the_default_known_hosts(tmp_path, lab,
                                                                          isolated_env):
    """No UserKnownHostsFile: the key goes to ~/.ssh/known_hosts (created 0600 in a 0700
    directory), as [host]:port since the port is not 22."""
    port = free_port("10.213.0.1")
    proxy = DelayProxy(("10.213.0.1", port), (ADDRESS, 22), delay=0.0)
    await proxy.start()
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(f"Host via-proxy\n    HostName 10.213.0.1\n    Port {port}\n"
                          f"    User root\n    IdentityFile {lab.identity}\n")
    config = tmp_path / "config.toml"
    config.write_text(f'[ssh]\nconfig = ["{ssh_config}"]\n'
                      '[clusters.staging]\nmanagers = ["via-proxy"]\n')
    config.chmod(0o600)
    try:
        done = await asyncio.to_thread(swarmdeck, config, "trust", "via-proxy", "--yes")
        assert done.returncode == 0, done.stderr
        known = isolated_env / ".ssh" / "known_hosts"
        assert known.read_text() == f"[10.213.0.1]:{port} {host_key(lab, NODE)[1]}\n"
        assert known.stat().st_mode & 0o777 == 0o600
        assert known.parent.stat().st_mode & 0o777 == 0o700
        listed = await asyncio.to_thread(swarmdeck, config, "ls", "nodes")
        assert listed.returncode == 0, listed.stderr
    finally:
        await proxy.close()


# ---- a changed key on one of several managers: never quiet -------------------------------

def prod_with_changed_key(tmp_path: Path, lab, node: str) -> Path:
    """A config for prod (three managers) whose known_hosts copy holds ANOTHER node's key
    for NODE: that manager is refused, the others answer."""
    known = tmp_path / "known_hosts"
    other = host_key(lab, "prod-w1")[1]
    known.write_text("".join(
        f"{line.split()[0]} {other}\n" if line.startswith(f"{node},") else line + "\n"
        for line in lab.known_hosts.read_text().splitlines()))
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(lab.ssh_config.read_text().replace(str(lab.known_hosts), str(known)))
    config = tmp_path / "config.toml"
    config.write_text(f'[ssh]\nconfig = ["{ssh_config}"]\n'
                      '[clusters.prod]\nmanagers = ["prod-m1", "prod-m2", "prod-m3"]\n')
    config.chmod(0o600)
    return config


def test_cli_says_a_changed_key_even_when_another_manager_answered(tmp_path, lab):
    """prod-m1 (tried first) offers a key known_hosts does not hold for it: the command is
    served by prod-m2, and still ends with the warning on stderr, every time."""
    config = prod_with_changed_key(tmp_path, lab, "prod-m1")
    for _ in range(2):
        done = swarmdeck(config, "ls", "nodes")
        assert done.returncode == 0, done.stderr
        assert "prod-m1" in done.stdout and "prod-w2" in done.stdout  # answered by another
        warning = [line for line in done.stderr.splitlines() if "HOST KEY CHANGED" in line]
        assert len(warning) == 1, done.stderr
        assert "WARNING" in warning[0] and "10.213.0.11" in warning[0]
        assert "ssh-keygen -R" in warning[0]  # what to do


def test_cli_says_a_changed_key_met_on_a_nodes_own_link(tmp_path, lab):
    """prod-m2 is not the manager in use, but `stats` dials every node: its changed key is
    said on stderr, not only in the table's note."""
    config = prod_with_changed_key(tmp_path, lab, "prod-m2")
    done = swarmdeck(config, "stats", "--once")
    assert done.returncode == 0, done.stderr
    warning = [line for line in done.stderr.splitlines() if "HOST KEY CHANGED" in line]
    assert len(warning) == 1 and "10.213.0.12" in warning[0], done.stderr


async def test_console_says_a_changed_key_on_the_second_manager(tmp_path, lab):
    """The console connects through prod-m1; its metrics dial prod-m2 directly and meet the
    changed key: a notification and the header say it, and keep saying it."""
    config = load_config(prod_with_changed_key(tmp_path, lab, "prod-m2"))
    app = SwarmdeckApp(config, Fleet(config), start_cluster="prod")
    async with app.run_test(size=(220, 40)) as pilot:
        assert await wait_until(pilot, lambda: "HOST KEY CHANGED" in header(app), 40), \
            header(app)
        assert "10.213.0.12" in header(app) and "via prod-m1" in header(app)
        notes = [n for n in app._notifications if n.title == "HOST KEY CHANGED"]
        assert len(notes) == 1 and "10.213.0.12" in notes[0].message
        assert notes[0].severity == "error"
        await pilot.pause(12)  # the node link is dialled again (RETRY): still one note
        assert "HOST KEY CHANGED" in header(app)
        assert len([n for n in app._notifications if n.title == "HOST KEY CHANGED"]) == 1
