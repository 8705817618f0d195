"""core.transport.pubkey: a login with a key file is one round trip, not three. The
connection starts with publickey (no "none" request first) and signs at once (no query
first). A real asyncssh server on 127.0.0.1, reached through swarmdeck's own connect() with an
ssh config, counts what it is asked; a refused key still falls through to the next one, and
a login with no usable key still ends in a clear refusal."""

from __future__ import annotations

import logging
from pathlib import Path

import asyncssh
import pytest

from swarmdeck.core.destinations import Destination
from swarmdeck.core.errors import SwarmdeckError
from swarmdeck.core.transport import pubkey
from swarmdeck.core.transport.ssh import SSHSettings, connect


class Server(asyncssh.SSHServer):
    def __init__(self, accepted: asyncssh.SSHKey, asked: list[bytes]) -> None:
        self.accepted, self.asked = accepted, asked

    def begin_auth(self, username: str) -> bool:
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        self.asked.append(key.public_data)
        return key.public_data == self.accepted.public_data


@pytest.fixture
def asyncssh_debug(caplog):
    """asyncssh's packet-level log (it says each refusal it hears: 'Remaining auth
    methods')."""
    asyncssh.set_debug_level(2)
    caplog.set_level(logging.DEBUG, logger="asyncssh")
    yield caplog
    asyncssh.set_debug_level(1)


async def login(tmp_path: Path, monkeypatch, keys: list[asyncssh.SSHKey],
                accepted: asyncssh.SSHKey) -> list[bytes]:
    """Log in as swarmdeck does with KEYS (IdentityFile each, in order); what the server was
    asked (a key once per request)."""
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    asked: list[bytes] = []
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    server = await asyncssh.create_server(lambda: Server(accepted, asked), "127.0.0.1", 0,
                                          server_host_keys=[host_key])
    port = server.sockets[0].getsockname()[1]
    (tmp_path / "known_hosts").write_text(
        f"[127.0.0.1]:{port} {host_key.export_public_key().decode()}")
    identities = []
    for n, key in enumerate(keys):
        key.write_private_key(tmp_path / f"id{n}")
        (tmp_path / f"id{n}").chmod(0o600)
        identities.append(f"    IdentityFile {tmp_path / f'id{n}'}\n")
    (tmp_path / "ssh_config").write_text(
        f"Host box\n    HostName 127.0.0.1\n    Port {port}\n    User ops\n"
        f"    UserKnownHostsFile {tmp_path / 'known_hosts'}\n    IdentitiesOnly yes\n"
        + "".join(identities))
    try:
        conn, _ = await connect(Destination(None, "box"),
                                SSHSettings(config_files=(str(tmp_path / "ssh_config"),)))
        conn.close()
        await conn.wait_closed()
    finally:
        server.close()
        await server.wait_closed()
    return asked


def refusals(caplog) -> list[str]:
    """The refusals the client heard (the server's side logs in this process too)."""
    lines = [r.getMessage() for r in caplog.records]
    clients = {line.split("]")[0] for line in lines if "Signing request with" in line}
    return [line for line in lines if "Remaining auth methods" in line
            and line.split("]")[0] in clients]


async def test_a_key_file_logs_in_with_one_request(tmp_path, monkeypatch, asyncssh_debug):
    assert pubkey.INSTALLED, "asyncssh's public key auth changed: logins take a round trip more"
    key = asyncssh.generate_private_key("ssh-ed25519")
    assert await login(tmp_path, monkeypatch, [key], key) == [key.public_data]  # no query
    assert refusals(asyncssh_debug) == []  # and no "none" request refused first


async def test_a_refused_key_falls_through_to_the_next(tmp_path, monkeypatch, asyncssh_debug):
    refused = asyncssh.generate_private_key("ssh-ed25519")
    key = asyncssh.generate_private_key("ecdsa-sha2-nistp256")
    assert await login(tmp_path, monkeypatch, [refused, key], key) == \
        [refused.public_data, key.public_data]
    assert len(refusals(asyncssh_debug)) == 1


async def test_no_key_accepted_is_a_refused_login(tmp_path, monkeypatch):
    refused = asyncssh.generate_private_key("ssh-ed25519")
    with pytest.raises(SwarmdeckError, match="(?i)permission denied|auth"):
        await login(tmp_path, monkeypatch, [refused],
                    asyncssh.generate_private_key("ssh-ed25519"))


def test_keys_that_ask_someone_are_queried_first():
    local = asyncssh.load_keypairs([asyncssh.generate_private_key("ssh-ed25519")])[0]
    assert pubkey.signs_at_once(local)

    class AgentKey:  # an agent's, a signing helper's: not a key held here
        algorithm = b"ssh-ed25519"

    assert not pubkey.signs_at_once(AgentKey())
    touch = asyncssh.load_keypairs([asyncssh.generate_private_key("ssh-ed25519")])[0]
    touch.algorithm = b"sk-ssh-ed25519@openssh.com"  # a security key wants a touch
    assert not pubkey.signs_at_once(touch)


def test_a_key_still_encrypted_is_not_decrypted_for_a_server_that_may_refuse_it(tmp_path):
    """A passphrase asked for lazily (a callable) is asked only for a key the server said
    it would take."""
    path, key = tmp_path / "id", asyncssh.generate_private_key("ssh-ed25519")
    key.write_private_key(path, passphrase="secret", cipher_name="aes256-cbc",
                          format_name="pkcs8-pem")
    key.write_public_key(tmp_path / "id.pub")  # with it, asyncssh decrypts only to sign
    asked: list[str] = []

    def passphrase(filename: str) -> str:
        asked.append(filename)
        return "secret"

    encrypted = asyncssh.load_keypairs([str(path)], passphrase=passphrase)[0]
    assert not pubkey.signs_at_once(encrypted) and asked == []


class Conn:
    def __init__(self, preferred: list[bytes] | None = None, keys: bool = True,
                 gss: object = None, host_keys: tuple = ()) -> None:
        self._auth_methods = [b"none"]
        self._public_key_auth = keys
        self._gss, self._client_host_keys = gss, list(host_keys)
        self._preferred_auth = preferred if preferred is not None else \
            list(asyncssh.auth.get_supported_client_auth_methods())


def test_publickey_goes_first_unless_the_config_says_otherwise():
    conn = Conn()
    pubkey.publickey_first(conn)
    assert conn._auth_methods == [b"publickey", b"none"]  # "none" next, without a key
    for untouched in (Conn(keys=False), Conn([b"password", b"publickey"]),
                      Conn(gss=object()), Conn(host_keys=("a host key",))):
        pubkey.publickey_first(untouched)
        assert untouched._auth_methods == [b"none"]
    chosen = Conn([b"publickey", b"password"])
    pubkey.publickey_first(chosen)
    assert chosen._auth_methods == [b"publickey", b"none"]
