"""DEST parsing: every accepted form, every rejected one, and the compact display."""

from __future__ import annotations

import pytest

from swarmdeck.core.destinations import Destination, parse_destination
from swarmdeck.core.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "user", "host", "port"),
    [
        ("prod-m1", None, "prod-m1", None),
        ("db.example.com", None, "db.example.com", None),
        ("ops@prod-m1", "ops", "prod-m1", None),
        ("ops@db.example.com:2222", "ops", "db.example.com", 2222),
        ("10.0.0.12:22", None, "10.0.0.12", 22),
        ("ssh://ops@10.0.0.13:2222", "ops", "10.0.0.13", 2222),
        ("ssh://prod-m2", None, "prod-m2", None),
        ("ssh://prod-m2/", None, "prod-m2", None),
        ("SSH://ops@prod-m2", "ops", "prod-m2", None),
        ("[::1]:2222", None, "::1", 2222),
        ("[::1]", None, "::1", None),
        ("user@[fe80::1]:22", "user", "fe80::1", 22),
        ("ssh://root@[2001:db8::5]:2200", "root", "2001:db8::5", 2200),
        ("a_b.c-d@host_1", "a_b.c-d", "host_1", None),
        ("host:65535", None, "host", 65535),
        ("host:1", None, "host", 1),
        ("db.example.com.", None, "db.example.com.", None),  # a rooted name
        ("a" * 63 + ".example.com", None, "a" * 63 + ".example.com", None),
    ],
)
def test_accepted_forms(text: str, user: str | None, host: str, port: int | None) -> None:
    assert parse_destination(text) == Destination(user, host, port)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty destination"),
        ("   ", "empty destination"),
        ("host:abc", "port 'abc'"),
        ("host:70000", "port '70000'"),
        ("host:0", "port '0'"),
        ("host:", "port ''"),
        ("host:²", "port"),
        ("ops@host:-1", "port '-1'"),
        ("prod m1", "spaces"),
        ("ops@prod-m1\t", "spaces"),
        ("tcp://10.0.0.1:2376", "only ssh:// is supported, not tcp://"),
        ("unix:///var/run/docker.sock", "only ssh:// is supported"),
        ("ssh://host/some/path", "a path is not allowed"),
        ("@host", "bad user name ''"),
        ("ops@", "the host is missing"),
        ("ssh://", "the host is missing"),
        (":22", "the host is missing"),
        ("fe80::1", "write an IPv6 address in brackets"),
        ("[::1", "unclosed ["),
        ("[::1]x", "expected :PORT after ]"),
        ("[not-v6]:22", "is not an IPv6 address"),
        ("[]:22", "is not an IPv6 address"),
        ("ho$t", "bad host name 'ho$t'"),
        ("-o@host", "bad user name '-o'"),
        # what Python's resolver refuses with a UnicodeError deep inside the connect
        ("a..b", "host 'a..b' has an empty label"),
        ("ops@prod..example.com:22", "has an empty label"),
        (".prod", "has an empty label"),
        ("a" * 64 + ".example.com", "has a label of 64 characters"),
        ("ssh://ops@" + "b" * 70, "DNS allows at most 63 between dots"),
        (".".join(["abcdefghi"] * 26), "is 259 characters long: a DNS name has at most 253"),
    ],
)
def test_rejected_forms_say_why_and_list_the_forms(text: str, why: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_destination(text)
    message = str(info.value)
    assert why in message
    assert "user@host:port" in message and "ssh://" in message  # the accepted forms
    assert "\n" not in message
    assert info.value.exit_code == 2


def test_non_string_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not a string"):
        parse_destination(22)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("dest", "shown"),
    [
        (Destination(None, "prod-m1", None), "prod-m1"),
        (Destination("ops", "prod-m1", None), "ops@prod-m1"),
        (Destination(None, "prod-m1", 2222), "prod-m1:2222"),
        (Destination("ops", "10.0.0.1", 22), "ops@10.0.0.1:22"),
        (Destination(None, "::1", 2222), "[::1]:2222"),
        (Destination("u", "fe80::1", None), "u@[fe80::1]"),
    ],
)
def test_str_is_compact(dest: Destination, shown: str) -> None:
    assert str(dest) == shown


@pytest.mark.parametrize(
    "text", ["prod-m1", "ops@h:2222", "[::1]:2222", "u@[fe80::1]", "h:22", "root@[fe80::1]:22"])
def test_str_round_trips(text: str) -> None:
    dest = parse_destination(text)
    assert str(dest) == text
    assert parse_destination(str(dest)) == dest


def test_destination_is_frozen_and_hashable() -> None:
    dest = parse_destination("ops@h:22")
    with pytest.raises(AttributeError):
        dest.host = "other"  # type: ignore[misc]
    assert {dest, parse_destination("ssh://ops@h:22")} == {dest}


def test_a_host_no_dns_can_hold_is_let_through_when_asked() -> None:
    """The config reports it as its cluster's own problem, not the whole file's."""
    assert parse_destination("ops@a..b", dns=False) == Destination("ops", "a..b", None)
