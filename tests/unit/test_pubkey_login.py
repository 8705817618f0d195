"""core.transport.pubkey: a key read from a file is signed at once, so the server answers one
request instead of a query and then the signed request (one round trip less per login). A
real asyncssh server on 127.0.0.1 counts what it is asked; a refused key still falls through
to the next one."""

from __future__ import annotations

import asyncssh
import pytest

from swarmdeck.core.transport import pubkey


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


async def login(client_keys: list[asyncssh.SSHKey], accepted: asyncssh.SSHKey) -> list[bytes]:
    """What the server was asked (each key, once per request) while CLIENT_KEYS logged in."""
    asked: list[bytes] = []
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    server = await asyncssh.create_server(lambda: Server(accepted, asked), "127.0.0.1", 0,
                                          server_host_keys=[host_key])
    port = server.sockets[0].getsockname()[1]
    try:
        async with asyncssh.connect("127.0.0.1", port, username="ops", known_hosts=None,
                                    client_keys=client_keys, agent_path=None,
                                    preferred_auth="publickey") as conn:
            assert conn.get_extra_info("username") == "ops"
    finally:
        server.close()
        await server.wait_closed()
    return asked


async def test_a_key_file_is_signed_at_once():
    assert pubkey.INSTALLED, "asyncssh's public key auth changed: logins take a round trip more"
    key = asyncssh.generate_private_key("ssh-ed25519")
    assert await login([key], key) == [key.public_data]  # one request, not query + signed


async def test_a_refused_key_falls_through_to_the_next():
    refused = asyncssh.generate_private_key("ssh-ed25519")
    key = asyncssh.generate_private_key("ecdsa-sha2-nistp256")
    assert await login([refused, key], key) == [refused.public_data, key.public_data]


async def test_no_key_accepted_is_a_failed_login():
    refused = asyncssh.generate_private_key("ssh-ed25519")
    with pytest.raises(asyncssh.PermissionDenied):
        await login([refused], asyncssh.generate_private_key("ssh-ed25519"))


def test_keys_that_ask_someone_are_queried_first():
    local = asyncssh.load_keypairs([asyncssh.generate_private_key("ssh-ed25519")])[0]
    assert pubkey.signs_at_once(local)

    class AgentKey:  # an agent's, a signing helper's: not a key held here
        algorithm = b"ssh-ed25519"

    assert not pubkey.signs_at_once(AgentKey())
    touch = asyncssh.load_keypairs([asyncssh.generate_private_key("ssh-ed25519")])[0]
    touch.algorithm = b"sk-ssh-ed25519@openssh.com"  # a security key wants a touch
    assert not pubkey.signs_at_once(touch)
