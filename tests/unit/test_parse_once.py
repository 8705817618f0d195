"""core.transport.parse_once: asyncssh's per-connection parsing of the ssh config and of
known_hosts is done once, and an edit to either file is still seen at the next connection."""

from __future__ import annotations

import shlex

import asyncssh
import pytest
from asyncssh.known_hosts import match_known_hosts

from swarmdeck.core.transport import parse_once


def test_both_are_in_place():
    assert parse_once.INSTALLED == (True, True), \
        "asyncssh reads its files another way now: each connection parses them again"


@pytest.mark.parametrize("line", ["Host a b", 'ProxyCommand "ssh -W %h:%p jump"',
                                  "IdentityFile='~/my keys/id'", "Port=2222"])
def test_a_line_splits_as_shlex_splits_it(line):
    assert parse_once.split(line) == shlex.split(line)
    first = parse_once.split(line)
    first.append("changed by a caller")
    assert parse_once.split(line) == shlex.split(line)  # each caller gets its own list


def test_an_unbalanced_quote_still_raises():
    for _ in range(2):
        with pytest.raises(ValueError):
            parse_once.split('HostName "open')


def test_an_edited_config_is_read_again(tmp_path):
    config = tmp_path / "ssh_config"
    config.write_text("Host box\n    HostName 10.213.9.9\n    Port 2201\n")
    options = asyncssh.SSHClientConnectionOptions(config=[str(config)], host="box")
    assert (options.host, options.port) == ("10.213.9.9", 2201)
    config.write_text("Host box\n    HostName 10.213.9.9\n    Port 2202\n")
    options = asyncssh.SSHClientConnectionOptions(config=[str(config)], host="box")
    assert options.port == 2202


def key_line(host: str) -> tuple[str, asyncssh.SSHKey]:
    key = asyncssh.generate_private_key("ssh-ed25519")
    return f"{host} {key.export_public_key().decode()}", key


def test_known_hosts_are_kept_until_the_file_changes(tmp_path):
    known = tmp_path / "known_hosts"
    line, key = key_line("box")
    known.write_text(line)
    first = parse_once.read_known_hosts([str(known)])
    assert parse_once.read_known_hosts([str(known)]) is first  # parsed once
    assert [k.public_data for k in match_known_hosts([str(known)], "box", "", None)[0]] == \
        [key.public_data]
    other, other_key = key_line("other")
    known.write_text(line + other)  # a host key trusted meanwhile
    assert parse_once.read_known_hosts([str(known)]) is not first
    assert [k.public_data for k in match_known_hosts([str(known)], "other", "", None)[0]] == \
        [other_key.public_data]


def test_a_missing_known_hosts_file_fails_as_before(tmp_path):
    with pytest.raises(OSError):
        parse_once.read_known_hosts([str(tmp_path / "absent")])
