"""Public key login in one round trip instead of three.

asyncssh, like OpenSSH, first sends a "none" request to learn which methods the server takes,
then asks whether it would take a key (a request without a signature, answered by PK_OK),
and signs only then: two round trips more on every new connection (100 ms on a 50 ms link;
every command and every node connection pays them).

- publickey_first(): a connection that has keys (and no GSS or hostbased way in) starts
  with publickey. A server that refuses it lists its methods in the refusal, as it would
  for "none", and the login goes on from there; without a key, "none" comes next as before.
  Left alone when the ssh config's PreferredAuthentications puts another method first.
- RFC 4252 section 7 lets a client send the signed request at once, and the server answers
  it as it answers the query: success, or failure and the next key is tried.

Here a key held in this process in the clear (read from a key file) is signed at once.
Signing it costs well under a millisecond and asks nobody. A key of an agent (an agent may
ask its user to confirm each signature), a security key (a touch), a token, a signing helper
or a key still encrypted (its passphrase) is asked about first, as before.

If asyncssh's client public key auth no longer looks as expected (another version), nothing
is changed and logins work as asyncssh does them (tests/unit/test_pubkey_login.py fails
then, to say so).
"""

from __future__ import annotations

from typing import Any

from asyncssh import auth
from asyncssh.packet import Boolean, String
from asyncssh.public_key import SSHLocalKeyPair

_AUTH = getattr(auth, "_ClientPublicKeyAuth", None)
_TOUCH = (b"sk-", b"webauthn-")  # security keys' algorithms: each signature is a touch


def signs_at_once(keypair: Any) -> bool:
    """Whether KEYPAIR's signed request goes out without asking the server first: a key
    held here, in the clear. Not one asyncssh signs in its executor (use_executor): a
    security key, a PKCS#11 token, or a key still encrypted, whose passphrase would be asked
    for even when the server refuses the key."""
    return type(keypair) is SSHLocalKeyPair and \
        not getattr(keypair, "use_executor", True) and \
        not bytes(keypair.algorithm).startswith(_TOUCH)


async def _start(self: Any) -> None:
    """asyncssh's _ClientPublicKeyAuth._start, with a local key signed at once."""
    self._keypair = await self._conn.public_key_auth_requested()
    if self._keypair is None:
        self._conn.try_next_auth(next_method=True)
        return
    if signs_at_once(self._keypair):
        await self._send_signed_request()
        return
    self.logger.debug1("Trying public key auth with %s key", self._keypair.algorithm)
    await self.send_request(Boolean(False), String(self._keypair.algorithm),
                            String(self._keypair.public_data))


def publickey_first(conn: Any) -> None:
    """Start CONN's login (an asyncssh client connection, just made) with publickey. Not
    when it could log in by GSS (Kerberos) or hostbased, which asyncssh and OpenSSH try
    before publickey: their order is kept."""
    if getattr(conn, "_auth_methods", None) != [b"none"] or \
            not getattr(conn, "_public_key_auth", False):
        return
    if getattr(conn, "_gss", None) is not None or getattr(conn, "_client_host_keys", None):
        return
    preferred = list(getattr(conn, "_preferred_auth", ()))
    if preferred != list(auth.get_supported_client_auth_methods()) and \
            preferred[:1] != [b"publickey"]:
        return  # PreferredAuthentications says another method goes first
    conn._auth_methods = [b"publickey", b"none"]


def install() -> bool:
    """Put the one-round-trip login in place; False when asyncssh's shape is not the one
    this was written for (left as it is)."""
    if _AUTH is None or getattr(_AUTH, "_start", None) is None or \
            not hasattr(_AUTH, "_send_signed_request"):
        return False
    _AUTH._start = _start
    return True


INSTALLED = install()
