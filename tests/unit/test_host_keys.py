"""Trusting a host key writes what OpenSSH writes, where it reads it, and nothing else: no
lab needed (keys are generated; asyncssh reads the result back as a connection would)."""

from __future__ import annotations

from pathlib import Path

import asyncssh
import pytest

from swarmdeck.core.audit import AuditLog
from swarmdeck.core.errors import (
    HostKeyError,
    NoManagerReachable,
    Refused,
    SwarmdeckError,
    TransportError,
)
from swarmdeck.core.transport import host_keys
from swarmdeck.core.transport.host_keys import (
    host_key_problem,
    known_hosts_name,
    offered_key,
    trust,
)


def new_key() -> asyncssh.SSHKey:
    return asyncssh.generate_private_key("ssh-ed25519").convert_to_public()


def line_of(key: asyncssh.SSHKey) -> str:
    return " ".join(key.export_public_key("openssh").decode().split()[:2])


def trusted_by_asyncssh(path, host: str, port: int | None = None) -> list[asyncssh.SSHKey]:
    return list(asyncssh.match_known_hosts(str(path), host, "", port)[0])


@pytest.mark.parametrize(("host", "port", "alias", "name"), [
    ("10.0.0.5", 22, None, "10.0.0.5"),
    ("10.0.0.5", 2222, None, "[10.0.0.5]:2222"),
    ("fe80::1", 2222, None, "[fe80::1]:2222"),
    ("10.0.0.5", 2222, "prod-m1", "prod-m1"),  # OpenSSH files a HostKeyAlias without port
])
def test_the_name_openssh_looks_up(host, port, alias, name):
    assert known_hosts_name(host, port, alias) == name


def test_an_unknown_key_is_appended_and_audited(tmp_path):
    known = tmp_path / "ssh" / "known_hosts"  # neither the file nor its directory exists
    key = new_key()
    offered = offered_key(key, name="[10.0.0.5]:2222", host="10.0.0.5", port=2222,
                          known_hosts=(str(known),), destination="ops@edge")
    assert not offered.changed and offered.key_type == "ssh-ed25519"
    assert offered.fingerprint == key.get_fingerprint("sha256")
    audit = AuditLog(tmp_path / "audit.jsonl")
    said = trust(offered, cluster="edge", audit=audit)
    assert "added to" in said and offered.fingerprint in said
    assert known.read_text() == f"[10.0.0.5]:2222 {line_of(key)}\n"
    assert known.stat().st_mode & 0o777 == 0o600 and known.parent.stat().st_mode & 0o777 == 0o700
    assert trusted_by_asyncssh(known, "10.0.0.5", 2222) == [key]
    [entry] = audit.read()
    assert (entry["action"], entry["target"], entry["result"]) == (
        "trust host key", "[10.0.0.5]:2222", "ok")
    assert entry["params"]["fingerprint"] == offered.fingerprint

    again = trust(offered, cluster="edge", audit=audit)  # twice: one line, not two
    assert "already trusted" in again
    assert known.read_text().count("\n") == 1


@pytest.mark.parametrize("where", ["/dev/null", "link", "dir"])
def test_a_known_hosts_that_is_no_file_is_refused_not_reported_trusted(tmp_path, where):
    """UserKnownHostsFile /dev/null swallowed the line and trust said it was added."""
    path = {"/dev/null": Path("/dev/null"), "link": tmp_path / "known_hosts",
            "dir": tmp_path / "known.d"}[where]
    if where == "link":
        path.symlink_to("/dev/null")
    elif where == "dir":
        path.mkdir()
    offered = offered_key(new_key(), name="edge-1", host="10.0.0.6", port=22,
                          known_hosts=(str(path),))
    audit = AuditLog(tmp_path / "audit.jsonl")
    with pytest.raises(SwarmdeckError) as info:
        trust(offered, cluster="edge", audit=audit)
    message = str(info.value)
    assert info.value.exit_code == 1
    assert f"{path} is not a regular file" in message and "not trusted" in message
    assert "UserKnownHostsFile" in message
    [entry] = audit.read()
    assert entry["result"] == "error"


def test_a_key_that_does_not_land_is_said_so(tmp_path, monkeypatch):
    """Written but not there when read back (a file something else rewrites, a filesystem
    that drops writes): not trusted, and said."""
    known = tmp_path / "known_hosts"
    known.write_text("")
    monkeypatch.setattr(host_keys, "_append", lambda _path, _line: None)
    offered = offered_key(new_key(), name="edge-1", host="10.0.0.6", port=22,
                          known_hosts=(str(known),))
    audit = AuditLog(tmp_path / "audit.jsonl")
    with pytest.raises(SwarmdeckError, match="is not in .* when read back: not trusted"):
        trust(offered, cluster="edge", audit=audit)
    assert audit.read()[0]["result"] == "error"


def test_a_hashed_file_gets_a_hashed_line_after_a_line_without_newline(tmp_path):
    other = new_key()
    known = tmp_path / "known_hosts"
    hashed = "|1|c2FsdHNhbHRzYWx0c2FsdHNhbHQ=|AAAAAAAAAAAAAAAAAAAAAAAAAAA="
    known.write_text(f"{hashed} {line_of(other)}")  # no final newline
    key = new_key()
    offered = offered_key(key, name="edge-1", host="10.0.0.6", port=22,
                          known_hosts=(str(known),))
    trust(offered, audit=AuditLog(tmp_path / "audit.jsonl"))
    first, second = known.read_text().splitlines()
    assert first.startswith(hashed) and second.startswith("|1|")
    assert "edge-1" not in known.read_text()
    assert trusted_by_asyncssh(known, "edge-1") == [key]


def test_a_changed_key_is_refused_and_the_file_untouched(tmp_path):
    old, new = new_key(), new_key()
    known = tmp_path / "known_hosts"
    known.write_text(f"edge-1,10.0.0.6 {line_of(old)}\n")
    before = known.read_text()
    offered = offered_key(new, name="10.0.0.6", host="10.0.0.6", port=22,
                          known_hosts=(str(known),))
    assert offered.changed
    assert offered.known_fingerprints == (old.get_fingerprint("sha256"),)
    assert offered.remove_command == f"ssh-keygen -R 10.0.0.6 -f {known}"
    audit = AuditLog(tmp_path / "audit.jsonl")
    with pytest.raises(Refused, match="HOST KEY CHANGED") as err:
        trust(offered, audit=audit)
    assert "ssh-keygen -R 10.0.0.6" in str(err.value)
    assert known.read_text() == before
    assert [e["result"] for e in audit.read()] == ["refused"]


def test_a_key_filed_only_under_the_address_counts_as_known(tmp_path):
    old, new = new_key(), new_key()
    known = tmp_path / "known_hosts"
    known.write_text(f"10.0.0.6 {line_of(old)}\n")
    offered = offered_key(new, name="edge-1", host="10.0.0.6", port=22,
                          known_hosts=(str(known),), address="10.0.0.6")
    assert offered.changed


def test_the_host_key_error_is_found_behind_a_cluster_error(tmp_path):
    key = offered_key(new_key(), name="m1", host="m1", port=22,
                      known_hosts=(str(tmp_path / "k"),))
    unknown = HostKeyError("unknown", host="m1", fingerprint=key.fingerprint, changed=False,
                           key=key)
    other = TransportError("m2: connection refused")
    assert host_key_problem(unknown) is unknown
    assert host_key_problem(NoManagerReachable("none", [other, unknown])) is unknown
    assert host_key_problem(other) is None and host_key_problem(None) is None


# ---- cipher order ------------------------------------------------------------------------
async def test_aes_gcm_is_offered_first_unless_the_ssh_config_names_ciphers(tmp_path):
    from swarmdeck.core.destinations import Destination
    from swarmdeck.core.transport.ssh import SSHSettings, _cipher_order, resolve

    plain = tmp_path / "plain"
    plain.write_text("Host node1\n  HostName 10.213.9.9\n")
    named = tmp_path / "named"
    named.write_text("Host node1\n  Ciphers aes256-ctr\n")
    dest = Destination(host="node1", user=None, port=None)
    free = await resolve(dest, SSHSettings(config_files=(str(plain),)))
    chosen = await resolve(dest, SSHSettings(config_files=(str(named),)))
    assert not free.ciphers_configured and chosen.ciphers_configured
    order = _cipher_order(free.ciphers_configured)["encryption_algs"]
    assert order[0] == "aes128-gcm@openssh.com"
    assert "chacha20-poly1305@openssh.com" in order and len(order) == len(set(order))
    assert _cipher_order(chosen.ciphers_configured) == {}
