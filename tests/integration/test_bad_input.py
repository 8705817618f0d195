"""Bad input, everywhere: one matrix running the real `swarmdeck` command for each mistake an
operator makes (config, destination, host, user, Docker, object names). Each row expects its
exit code, ONE stderr line, no traceback, a message that says what to fix, and nothing
changed: the config file as it was, no change in the audit log, and the service a bad change
named with the same spec version."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
from special_hosts import BRIDGE, old_engine_socket, sshd_with_user, sshd_without_docker

from swarmdeck.core.audit import AuditLog

IMAGE = "10.213.0.1:5000/swarmdeck/demo:1.0"
SERVICE = "bad_web"  # this file's own service: nobody else changes it
# root reads any file; without these capabilities it obeys the mode like anyone else
NO_OVERRIDE = ("setpriv", "--bounding-set", "-dac_override,-dac_read_search")


# ---- setups: each writes what the row needs and returns the config path ----------------

def toml(ctx, text: str) -> Path:
    path = ctx.tmp / "config.toml"
    path.write_text(text)
    path.chmod(0o600)
    return path


def cluster(ctx, managers: list[str], *, ssh_config: Path | None = None, extra: str = "",
            timeout: int = 5) -> Path:
    return toml(ctx, f'[ssh]\nconfig = ["{ssh_config or ctx.lab.ssh_config}"]\n'
                     f"connect_timeout = {timeout}\n"
                     f"[clusters.prod]\nmanagers = {json.dumps(managers)}\n{extra}")


def via(ctx, host: str, port: int, *, user: str = "root", alias: str = "prod-m1",
        identity: Path | None = None) -> Path:
    """An ssh config whose Host `target` goes to HOST:PORT, checked against ALIAS's key."""
    path = ctx.tmp / "ssh_config"
    path.write_text(f"Host target\n    HostName {host}\n    Port {port}\n    User {user}\n"
                    f"    HostKeyAlias {alias}\n    IdentityFile {identity or ctx.lab.identity}\n"
                    f"    IdentitiesOnly yes\n    UserKnownHostsFile {ctx.lab.known_hosts}\n")
    return path


def wrong_key(ctx) -> Path:
    key = ctx.tmp / "wrong_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return cluster(ctx, ["target"], ssh_config=via(ctx, "10.213.0.11", 22, identity=key))


def unreadable(ctx) -> Path:
    path = cluster(ctx, ["prod-m1"])
    path.chmod(0o000)
    return path


def lab_config(ctx) -> Path:
    return ctx.lab.config_file


@dataclass(frozen=True)
class Row:
    id: str
    argv: tuple[str, ...]
    code: int
    says: str  # a regex the one stderr line must match: what is wrong and what to do
    setup: Callable = lab_config
    prefix: tuple[str, ...] = ()
    spec_kept: bool = False  # the row names SERVICE: its spec must not move


ROWS = [
    # ---- the config file (exit 2, before any connection) --------------------------------
    Row("toml-syntax", ("ls", "nodes"), 2,
        r"config\.toml: TOML syntax error at line 3, column 0: unexpected end of file",
        lambda c: toml(c, '[clusters.prod]\nmanagers = ["prod-m1"\n')),
    Row("wrong-type-list", ("ls", "nodes"), 2,
        r"clusters\.prod\.managers in \S+config\.toml: expected a list, got \"prod-m1\" "
        r"\(line 2\)", lambda c: toml(c, '[clusters.prod]\nmanagers = "prod-m1"\n')),
    Row("wrong-type-bool", ("ls", "nodes"), 2,
        r"clusters\.prod\.read_only in \S+: expected true or false, got \"yes\" \(line 6\)",
        lambda c: cluster(c, ["prod-m1"], extra='read_only = "yes"\n')),
    Row("unknown-key", ("ls", "nodes"), 2,
        r"unknown key 'managrs' in \[clusters\.prod\] of \S+: did you mean 'managers'\? "
        r"\(line 2\)", lambda c: toml(c, '[clusters.prod]\nmanagrs = ["prod-m1"]\n')),
    Row("missing-file", ("ls", "nodes"), 2,
        r"config file \S+nothing\.toml does not exist \(copy config\.example\.toml there, "
        r"or pass --config PATH\)", lambda c: c.tmp / "nothing.toml"),
    Row("unreadable-file", ("ls", "nodes"), 2,
        r"config file \S+config\.toml cannot be read: permission denied", unreadable,
        prefix=NO_OVERRIDE),
    Row("no-clusters", ("ls", "nodes"), 2,
        r"no clusters configured in \S+ \(add a \[clusters\.NAME\] section with managers "
        r".*`swarmdeck init`.*`swarmdeck cluster add NAME --manager user@host`",
        lambda c: toml(c, "")),
    Row("bad-destination", ("ls", "nodes"), 2,
        r"destination 'root@prod-m1:99999': port '99999' is not a number from 1 to 65535; "
        r"expected a Host alias", lambda c: cluster(c, ["root@prod-m1:99999"])),
    Row("unknown-cluster", ("ls", "nodes", "--cluster", "prd"), 2,
        r"unknown cluster 'prd': did you mean 'prod'\? \(configured in \S+: prod, staging\)"),
    # ---- reaching the manager (exit 1) --------------------------------------------------
    Row("unresolvable", ("ls", "nodes"), 1,
        r"ssh to nosuchhost\.invalid: cannot resolve 'nosuchhost\.invalid' \(it is neither a "
        r"Host in your ssh config nor a DNS name\)",
        lambda c: cluster(c, ["nosuchhost.invalid"])),
    # a host no DNS can hold: Python's resolver raised a UnicodeError (a traceback) before
    Row("empty-dns-label", ("ls", "nodes"), 1,
        r"cluster prod: clusters\.prod\.managers\[0\] in \S+config\.toml: host 'prod\.\.m1' "
        r"has an empty label \(two dots in a row, or a dot at the start\) \(line 5\) \(fix "
        r"the host name, or remove the entry", lambda c: cluster(c, ["prod..m1"])),
    Row("long-dns-label", ("ls", "nodes"), 1,
        r"cluster prod: clusters\.prod\.managers\[0\] in \S+: host 'a{64}\.lan' has a label "
        r"of 64 characters \('a{19}…'\): DNS allows at most 63 between dots",
        lambda c: cluster(c, ["a" * 64 + ".lan"])),
    Row("bad-hostname-in-ssh-config", ("ls", "nodes"), 1,
        r"ssh to target: cannot resolve it: host 'prod\.\.m1' has an empty label .*\(fix "
        r"HostName for it in your ssh config\)",
        lambda c: cluster(c, ["target"], ssh_config=via(c, "prod..m1", 22))),
    Row("connection-refused", ("ls", "nodes"), 1,
        r"root@10\.213\.0\.11:2999: connection refused \(is sshd running and listening on "
        r"port 2999\?\)", lambda c: cluster(c, ["root@10.213.0.11:2999"])),
    Row("no-answer", ("ls", "nodes"), 1,
        r"root@10\.213\.0\.250:22: no answer within 1s \(check the address, the port and the "
        r"network path\)", lambda c: cluster(c, ["root@10.213.0.250"], timeout=1)),
    Row("auth-failed", ("ls", "nodes"), 1,
        r"target \(root@10\.213\.0\.11:22\): authentication failed, no key was accepted "
        r"\(check the user \(root\), IdentityFile in your ssh config or the keys in ssh-agent\)",
        wrong_key),
    Row("wrong-user", ("ls", "nodes"), 1,
        r"prod-m1 \(nosuchuser@10\.213\.0\.11:22\): authentication failed.*check the user "
        r"\(nosuchuser\)", lambda c: cluster(c, ["nosuchuser@prod-m1"])),
    Row("host-without-docker", ("ls", "nodes"), 1,
        r"target \(root@10\.213\.0\.1:\d+\): docker is not running \(/var/run/docker\.sock does"
        r" not exist\) \(start dockerd there, or point the cluster at another manager\)",
        lambda c: cluster(c, ["target"], ssh_config=via(c, BRIDGE, c.hosts.no_docker))),
    Row("socket-permission-denied", ("ls", "nodes"), 1,
        r"target \(bad-op@10\.213\.0\.17:\d+\): permission denied on /var/run/docker\.sock for "
        r"user bad-op \(add bad-op to the docker group on that host, or connect as root\)",
        lambda c: cluster(c, ["target"], ssh_config=via(
            c, "10.213.0.17", c.hosts.non_root, user="bad-op", alias="staging-w1"))),
    Row("worker-as-manager", ("ls", "nodes"), 1,
        r"prod-w1 \(root@10\.213\.0\.14:22\) is a worker, not a swarm manager \(use one of the "
        r"swarm's managers: 10\.213\.0\.11:2377, 10\.213\.0\.12:2377, 10\.213\.0\.13:2377\)",
        lambda c: cluster(c, ["prod-w1"])),
    Row("host-in-no-swarm", ("ls", "nodes"), 1,
        r"spare-1 \(root@10\.213\.0\.18:22\) is not part of a swarm \(swarm state: inactive\) "
        r"\(point the cluster at a manager of an existing swarm\)",
        lambda c: cluster(c, ["spare-1"])),
    Row("engine-too-old", ("ls", "nodes"), 1,
        r"the Docker engine there speaks API 1\.24, older than the 1\.41 swarmdeck needs "
        r"\(upgrade Docker on that host to 20\.10 or newer",
        lambda c: cluster(c, ["target"], ssh_config=via(c, BRIDGE, c.hosts.no_docker),
                          extra=f'docker_socket = "{c.hosts.old_engine}"\n')),
    # ---- objects that do not exist, values that are wrong (nothing may change) ----------
    Row("service-missing", ("scale", "-c", "prod", "nosuch=2", "--yes"), 2,
        r"no service 'nosuch' in cluster prod \(services there: .*bad_web"),
    Row("service-typo", ("scale", "-c", "prod", "bad_wbe=2", "--yes"), 2,
        r"no service 'bad_wbe' in cluster prod: did you mean 'bad_web'\?", spec_kept=True),
    Row("replicas-not-a-number", ("scale", "-c", "prod", "bad_web=lots", "--yes"), 2,
        r"'bad_web=lots': replicas must be a non-negative integer, not 'lots'", spec_kept=True),
    Row("bad-image", ("update", "-c", "prod", "bad_web", "--image", "Bad Image!", "--yes"), 2,
        r"'Bad Image!' is not a valid image reference \(expected \[REGISTRY/\]NAME",
        spec_kept=True),
    Row("no-terminal-no-yes", ("rm", "-c", "prod", "service", "bad_web"), 2,
        r"Remove service bad_web from prod: refused without confirmation \(no terminal to ask "
        r"on; pass --yes to confirm\)", spec_kept=True),
    Row("read-only", ("--read-only", "scale", "-c", "prod", "bad_web=3", "--yes"), 1,
        r"scale refused: cluster prod is read-only \(--read-only\)", spec_kept=True),
    Row("node-missing", ("node", "drain", "-c", "prod", "prod-m9", "--yes"), 2,
        r"no node 'prod-m9' in cluster prod: did you mean 'prod-m\d'\?"),
    Row("node-missing-far", ("node", "pause", "-c", "prod", "db-7", "--yes"), 2,
        r"no node 'db-7' in cluster prod \(nodes there: prod-m1, prod-m2, prod-m3, prod-w1, "
        r"prod-w2\)"),
    Row("stack-missing", ("rm", "-c", "prod", "stack", "nosuch", "--yes"), 2,
        r"no stack 'nosuch' in cluster prod \(stacks there: monitoring, shop\)"),
    Row("stack-typo-in-ls", ("ls", "services", "-c", "prod", "--stack", "shopp"), 2,
        r"no stack 'shopp' in cluster prod: did you mean 'shop'\?"),
    Row("logs-of-nothing", ("logs", "-c", "prod", "nosuch"), 2,
        r"no service or stack 'nosuch' in cluster prod \(services and stacks there: "),
    Row("unknown-project", ("deploy", "nosuch"), 2,
        r"no project 'nosuch' in \S+ \(projects: shop, monitoring\)"),
]


# ---- what the rows share ----------------------------------------------------------------

@pytest.fixture(scope="module")
def hosts(lab, tmp_path_factory):
    """The special hosts, once for the module: an sshd without Docker (serving the fake old
    engine's socket too) and an sshd logging in a non-root user on staging-w1."""
    readable = Path(tempfile.mkdtemp(prefix="bad-hosts-"))  # the non-root user reads here
    readable.chmod(0o755)
    engine = tmp_path_factory.mktemp("engine") / "docker.sock"
    try:
        with sshd_without_docker(lab, tmp_path_factory.mktemp("nodocker")) as no_docker, \
                sshd_with_user(lab, "staging-w1", "bad-op", readable) as non_root, \
                old_engine_socket(engine):
            yield SimpleNamespace(no_docker=no_docker, non_root=non_root, old_engine=engine)
    finally:
        subprocess.run(["rm", "-rf", str(readable)], check=False)


@pytest.fixture(scope="module")
def service(lab):
    lab.docker_on("prod-m1", "service", "create", "--detach", "--name", SERVICE,
                  "--replicas", "1", "--endpoint-mode", "dnsrr", "--stop-grace-period", "1s",
                  IMAGE, "sleep", "3600")
    try:
        yield SERVICE
    finally:
        lab.docker_on("prod-m1", "service", "rm", SERVICE)


def spec_version(lab) -> str:
    return lab.docker_on("prod-m1", "service", "inspect", SERVICE, "--format",
                         "{{.Version.Index}} {{.Spec.Mode.Replicated.Replicas}} "
                         "{{.Spec.TaskTemplate.ContainerSpec.Image}}").strip()


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_bad_input(row: Row, lab, swarmdeck, hosts, service, tmp_path):
    ctx = SimpleNamespace(lab=lab, tmp=tmp_path, hosts=hosts)
    config = row.setup(ctx)
    config_before = config.read_bytes() if config.is_file() else None
    spec_before = spec_version(lab) if row.spec_kept else None

    result = swarmdeck(*row.argv, config=config, prefix=row.prefix)

    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # one line, not a dump
    assert lines[0].startswith("swarmdeck: "), lines[0]
    assert re.search(row.says, lines[0]), lines[0]
    assert result.returncode == row.code, (result.returncode, lines[0])
    if config_before is not None:
        assert config.read_bytes() == config_before
    if spec_before is not None:
        assert spec_version(lab) == spec_before
    assert not [e for e in AuditLog.default().read() if e["result"] == "ok"]
