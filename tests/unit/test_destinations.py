import pytest

from swarmdeck.core.destinations import Destination, parse_destination
from swarmdeck.core.errors import ConfigError


@pytest.mark.parametrize(("text", "expected"), [
    ("prod-m1", Destination(None, "prod-m1", None)),
    ("db.example.com", Destination(None, "db.example.com", None)),
    ("ops@10.0.0.12", Destination("ops", "10.0.0.12", None)),
    ("ops@10.0.0.12:2222", Destination("ops", "10.0.0.12", 2222)),
    ("host:22", Destination(None, "host", 22)),
    ("ssh://ops@host:2200", Destination("ops", "host", 2200)),
    ("ssh://host", Destination(None, "host", None)),
    ("ssh://host/", Destination(None, "host", None)),
    ("[::1]:2222", Destination(None, "::1", 2222)),
    ("root@[fe80::1]", Destination("root", "fe80::1", None)),
])
def test_accepted_forms(text, expected):
    assert parse_destination(text) == expected


@pytest.mark.parametrize(("text", "needle"), [
    ("", "empty destination"),
    ("   ", "empty destination"),
    ("host name", "spaces"),
    ("host:abc", "port 'abc'"),
    ("host:70000", "port '70000'"),
    ("host:0", "port '0'"),
    ("tcp://host:2375", "only ssh://"),
    ("ssh://host/path", "path is not allowed"),
    ("@host", "bad user"),
    ("fe80::1", "IPv6 address in brackets"),
    ("[fe80::1", "unclosed ["),
    ("[fe80::1]x", "expected :PORT"),
    ("ho$t", "bad host name"),
])
def test_rejected_forms_say_what_is_wrong(text, needle):
    with pytest.raises(ConfigError) as err:
        parse_destination(text)
    assert needle in str(err.value)


def test_display_round_trips():
    for text in ["ops@host:2222", "host", "root@[fe80::1]:22"]:
        assert str(parse_destination(text)) == text
