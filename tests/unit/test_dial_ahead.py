"""`ls` dials each cluster's first manager before it validates its config and imports its
models (core.dial_ahead), and the load takes that connection: one connection, not two, and
the same output. The raw read of the config must name what the validated config dials, and
a config refused after the dial is refused exactly as before. The manager here is an
asyncssh server on this machine in front of a fake Docker socket (the lab's recorded
answers); tests/integration's ls tests run the same path on the lab."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import asyncssh
import pytest

from swarmdeck.cli.main import main
from swarmdeck.core.config import load_config
from swarmdeck.core.destinations import Destination
from swarmdeck.core.dial_ahead import first_dials
from swarmdeck.core.errors import ConfigError, HostKeyError
from swarmdeck.core.fleet import Fleet, ssh_settings
from swarmdeck.core.transport import ssh
from swarmdeck.core.transport.host_keys import CHANGED_KEYS
from swarmdeck.core.transport.ssh import SSHSettings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "lab_prod"


def written(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    path.chmod(0o600)
    return path


# ---- the raw read names what the validated config dials --------------------------------
SAME = {
    "plain": '[clusters.a]\nmanagers = ["ops@m1:2222", "m2"]\n[clusters.b]\nmanagers = ["b1"]\n',
    "common ssh config, one path": '[ssh]\nconfig = "ssh/config"\nconnect_timeout = 3\n'
                                   '[clusters.a]\nmanagers = ["m1"]\n',
    "own ssh config": '[ssh]\nconfig = ["/etc/ssh/x", "rel"]\nkeepalive_interval = 2.5\n'
                      'keepalive_count_max = 4\nconnect_timeout = 7.5\n'
                      '[clusters.a]\nmanagers = ["m1"]\nssh_config = "~/own"\n'
                      '[clusters.b]\nmanagers = ["ssh://u@[fe80::1]:22"]\nssh_config = []\n',
}


@pytest.mark.parametrize("text", SAME.values(), ids=SAME.keys())
def test_the_raw_read_dials_what_the_validated_config_dials(tmp_path, text):
    path = written(tmp_path, text)
    config = load_config(path)
    fleet = Fleet(config)
    dials = {name: (fleet.inventory(name).destinations[0], ssh_settings(config, name))
             for name in config.clusters}
    assert first_dials(str(path)) == list(dials.values())
    assert first_dials(str(path), ["b"] if "b" in dials else ["a"]) == \
        [dials["b" if "b" in dials else "a"]]


SKIPPED = {  # dialled by nobody ahead: left to the validated config (its error, or its dial)
    "docker context": '[clusters.a]\ncontext = "prod"\n',
    "no managers": '[clusters.a]\nmanagers = []\n',
    "not a list": '[clusters.a]\nmanagers = "m1"\n',
    "a host no DNS can hold": '[clusters.a]\nmanagers = ["a..b"]\n',
    "a bad destination": '[clusters.a]\nmanagers = ["ftp://m1"]\n',
    "a timeout in quotes": '[ssh]\nconnect_timeout = "10"\n[clusters.a]\nmanagers = ["m1"]\n',
    "a boolean timeout": '[ssh]\nconnect_timeout = true\n[clusters.a]\nmanagers = ["m1"]\n',
    "a path that is a number": '[ssh]\nconfig = [1]\n[clusters.a]\nmanagers = ["m1"]\n',
    "not TOML": '[clusters.a\nmanagers = ["m1"]\n',
    "clusters not a table": 'clusters = 3\n',
}


@pytest.mark.parametrize("text", SKIPPED.values(), ids=SKIPPED.keys())
def test_what_the_raw_read_cannot_vouch_for_is_not_dialled(tmp_path, text):
    assert first_dials(str(written(tmp_path, text))) == []


def test_only_the_named_clusters_that_exist_are_dialled(tmp_path):
    path = written(tmp_path, SAME["plain"])
    assert first_dials(str(path), ["nope", "b"]) == [(Destination(None, "b1"), SSHSettings())]
    assert first_dials(str(tmp_path / "missing.toml")) == []


@pytest.mark.dials_ahead
def test_exec_and_port_forward_dial_the_one_cluster_they_will_use(tmp_path, monkeypatch):
    """start_for (cli.early, without a hint): the cluster named, or the only one in the file;
    with several and none named the command is refused, so nothing is dialled."""
    from swarmdeck.core import dial_ahead

    dialled: list[Destination] = []
    monkeypatch.setattr(dial_ahead, "dial_ahead", lambda dest, _settings: dialled.append(dest))
    two = written(tmp_path, SAME["plain"])
    assert dial_ahead.start_for(str(two), "b") == 1 and dialled == [Destination(None, "b1")]
    assert dial_ahead.start_for(str(two), None) == 0 and len(dialled) == 1
    assert dial_ahead.start_for(str(two), "nope") == 0 and len(dialled) == 1
    one = tmp_path / "one"
    one.mkdir()
    only = written(one, '[clusters.a]\nmanagers = ["ops@a1:2222"]\n')
    assert dial_ahead.start_for(str(only), None) == 1
    assert dialled[-1] == Destination("ops", "a1", 2222)


# ---- a manager on this machine ------------------------------------------------------------
class Manager:
    """An SSH server (its own loop, in a thread) whose unix-socket channels reach a fake
    Docker API answering with the lab's recorded JSON. Counts the connections it accepts."""

    def __init__(self, tmp_path: Path) -> None:
        self.dir = tmp_path
        self.accepted = 0
        self.open = 0
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        client = asyncssh.generate_private_key("ssh-ed25519")
        client.write_private_key(tmp_path / "id")
        (tmp_path / "id").chmod(0o600)
        self.client_public = client.convert_to_public()
        self.socket = tmp_path / "docker.sock"
        self.answers = {part: (FIXTURES / f"{part}.json").read_bytes()
                        for part in ("info", "nodes", "services", "tasks", "networks")}
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self, known_key: asyncssh.SSHKey | None = None) -> Path:
        """Serve; the config file of a cluster `lab` whose manager this is (KNOWN_KEY: the
        host key its known_hosts holds, default the real one)."""
        self.thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._serve(), self.loop).result(10)
        known = known_key or self.host_key
        (self.dir / "known_hosts").write_text(
            f"mgr {known.export_public_key('openssh').decode().strip()}\n")
        (self.dir / "ssh_config").write_text(
            f"Host mgr\n  HostName 127.0.0.1\n  Port {self.port}\n  HostKeyAlias mgr\n"
            f"  User root\n  IdentityFile {self.dir / 'id'}\n  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {self.dir / 'known_hosts'}\n")
        return written(self.dir, f'[ssh]\nconfig = ["{self.dir / "ssh_config"}"]\n'
                                 f'[clusters.lab]\nmanagers = ["mgr"]\n'
                                 f'docker_socket = "{self.socket}"\n')

    def stop(self) -> None:
        async def close():
            self.acceptor.close()
            self.docker.close()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    async def _serve(self) -> int:
        manager = self

        class Server(asyncssh.SSHServer):
            def connection_made(self, conn):
                manager.accepted += 1
                manager.open += 1

            def connection_lost(self, exc):
                manager.open -= 1

            def unix_connection_requested(self, dest_path):
                return dest_path == str(manager.socket)

        self.docker = await asyncio.start_unix_server(self._http, str(self.socket))
        self.acceptor = await asyncssh.listen(
            "127.0.0.1", 0, server_factory=Server, server_host_keys=[self.host_key],
            authorized_client_keys=asyncssh.import_authorized_keys(
                self.client_public.export_public_key("openssh").decode()))
        return self.acceptor.get_port()

    async def _http(self, reader, writer) -> None:
        try:
            while line := await reader.readline():
                while (await reader.readline()) not in (b"\r\n", b""):
                    pass
                part = line.split()[1].decode().split("?")[0].strip("/")
                body = self.answers.get(part, b"OK" if part == "_ping" else b"[]")
                kind = "text/plain" if part == "_ping" else "application/json"
                writer.write(f"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Type: {kind}\r\n"
                             f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass


@pytest.fixture
def manager(tmp_path):
    server = Manager(tmp_path)
    yield server
    server.stop()


@pytest.mark.dials_ahead
def test_ls_loads_over_the_connection_it_dialled_ahead(manager, capsys):
    config = manager.start()
    assert main(["--config", str(config), "ls", "services"]) == 0
    out, err = capsys.readouterr()
    names = [s["Spec"]["Name"] for s in json.loads(manager.answers["services"])]
    assert err == "" and all(f"lab      {name} " in out for name in names), out
    assert manager.accepted == 1  # the load took the connection dialled first
    assert main(["--config", str(config), "ls", "services", "--json"]) == 0
    assert {r["name"] for r in json.loads(capsys.readouterr().out)} == set(names)
    assert manager.accepted == 2  # one more call, one more connection: nothing kept


@pytest.mark.dials_ahead
def test_a_config_refused_after_the_dial_is_refused_as_before(manager, capsys):
    config = manager.start()
    config.write_text(config.read_text() + "colour = true\n")
    with pytest.raises(ConfigError) as refused:
        load_config(config)
    assert main(["--config", str(config), "ls", "services"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == f"swarmdeck: {refused.value}\n"
    assert "unknown key 'colour'" in err
    for _ in range(100):  # the server hears the close a moment later
        if manager.open == 0:
            break
        time.sleep(0.01)
    assert manager.open == 0  # what was dialled is closed again


def test_a_dial_nobody_takes_says_nothing_not_even_a_changed_key(manager):
    config = manager.start(known_key=asyncssh.generate_private_key("ssh-ed25519"))
    (dest, settings), = first_dials(str(config))

    async def dial_and_drop():
        ssh.dial_ahead(dest, settings)
        dialled = next(iter(ssh._AHEAD.values()))
        await asyncio.wait([dialled])
        assert isinstance(dialled.exception(), HostKeyError)
        assert [w for w in CHANGED_KEYS.warnings() if "HOST KEY CHANGED" in w]  # met...
        await ssh.drop_dialled()

    try:
        asyncio.run(dial_and_drop())
        assert CHANGED_KEYS.warnings() == []  # ...but nothing asked for that host
    finally:
        CHANGED_KEYS.clear()
