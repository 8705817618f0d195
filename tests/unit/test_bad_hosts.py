"""A manager's host that no DNS can hold (`a..b`, a label over 63 characters): Python's
resolver raises a UnicodeError from inside asyncio, which made every command crash with a
traceback. It is that one cluster's one-line error now (the key to fix named), and the other
clusters work. Nothing here reaches a network: the name is refused before any lookup, and
the good cluster is a closed port on this machine."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from unittest import mock

import pytest

from swarmdeck.cli.main import main
from swarmdeck.core.config import load_config
from swarmdeck.core.destinations import Destination
from swarmdeck.core.errors import ConfigError, HostUnreachable
from swarmdeck.core.fleet import Fleet
from swarmdeck.core.transport import ssh
from swarmdeck.core.transport.ssh import SSHSettings, connect

LONG = "a" * 64


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    path.chmod(0o600)
    return path


@pytest.fixture
def two_clusters(tmp_path: Path) -> Path:
    return write(tmp_path, '[ssh]\nconnect_timeout = 3\n'
                           '[clusters.good]\nmanagers = ["ops@127.0.0.1:1"]\n'
                           '[clusters.bad]\nmanagers = ["ops@127.0.0.1:1", "ops@prod..lan"]\n')


def test_the_config_loads_and_names_the_bad_entry(two_clusters: Path) -> None:
    config = load_config(two_clusters)
    assert config.cluster("good").problem is None
    problem = config.cluster("bad").problem
    assert problem is not None and problem.exit_code == 2
    message = str(problem)
    assert message.startswith(f"clusters.bad.managers[1] in {two_clusters}: host "
                              "'prod..lan' has an empty label")
    assert "(line 6)" in message and "fix the host name, or remove the entry" in message
    with pytest.raises(ConfigError) as info:
        config.cluster("bad").manager_destinations()
    assert info.value is problem


def test_a_label_over_63_characters(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, f'[clusters.c]\nmanagers = ["{LONG}.example.com"]\n'))
    assert "has a label of 64 characters" in str(config.cluster("c").problem)
    assert "DNS allows at most 63" in str(config.cluster("c").problem)


def test_ls_prints_the_good_cluster_and_one_line_for_the_bad(two_clusters: Path, capsys
                                                             ) -> None:
    assert main(["--config", str(two_clusters), "ls", "clusters"]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "UnicodeError" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 2  # one line per failed cluster
    bad = next(line for line in lines if "cluster bad:" in line)
    assert "clusters.bad.managers[1]" in bad and "'prod..lan' has an empty label" in bad
    good = next(line for line in lines if "cluster good:" in line)
    assert "connection refused" in good
    rows = out.strip().splitlines()
    assert rows[0].startswith("CLUSTER") and len(rows) == 3  # both clusters listed


def test_a_command_on_the_bad_cluster_alone_says_so_without_a_traceback(two_clusters: Path,
                                                                         capsys) -> None:
    assert main(["--config", str(two_clusters), "scale", "-c", "bad", "web=2", "--yes"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "clusters.bad.managers[1]" in err
    assert "Traceback" not in err


async def test_the_fleet_loads_every_cluster_and_keeps_each_error(two_clusters: Path) -> None:
    fleet = Fleet(load_config(two_clusters))
    try:
        results = await fleet.load()
    finally:
        await fleet.close()
    assert isinstance(results["good"], HostUnreachable)
    assert isinstance(results["bad"], ConfigError)
    assert fleet.state("bad").error is results["bad"]  # what the console's header shows


@pytest.mark.parametrize("host", ["a..b", f"{LONG}.example.com", ".lead"])
async def test_connect_refuses_a_name_no_dns_can_hold(host: str) -> None:
    with pytest.raises(HostUnreachable) as info:
        await connect(Destination("ops", host, None), SSHSettings(config_files=()))
    assert f"ssh to {host}: cannot resolve it" in str(info.value)


async def test_connect_refuses_a_bad_hostname_from_the_ssh_config(tmp_path: Path) -> None:
    config = tmp_path / "ssh_config"
    config.write_text(f"Host edge\n  HostName {LONG}.example.com\n")
    with pytest.raises(HostUnreachable) as info:
        await connect(Destination(None, "edge", None), SSHSettings(config_files=(str(config),)))
    assert "has a label of 64 characters" in str(info.value)
    assert "fix HostName for it in your ssh config" in str(info.value)


async def test_any_codec_error_in_the_connect_is_a_transport_error() -> None:
    async def codec_error(*_args, **_kwargs):
        raise UnicodeError("encoding with 'idna' codec failed (UnicodeError: label empty "
                           "or too long)")

    with mock.patch.object(ssh.asyncssh, "connect", codec_error), \
            pytest.raises(HostUnreachable, match="is not a valid host name"):
        await asyncio.wait_for(connect(Destination(None, "prod-m1", None),
                                       SSHSettings(config_files=())), 10)


async def test_a_docker_context_whose_host_no_dns_can_hold(tmp_path: Path, isolated_env
                                                           ) -> None:
    """Said as that host's problem, not as "not an ssh:// host"."""
    meta = isolated_env / ".docker" / "contexts" / "meta" / "x"
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps(
        {"Name": "edge", "Endpoints": {"docker": {"Host": "ssh://ops@edge..lan"}}}))
    config = load_config(write(tmp_path, '[clusters.edge]\ncontext = "edge"\n'))
    fleet = Fleet(config)
    try:
        results = await fleet.load()
    finally:
        await fleet.close()
    assert isinstance(results["edge"], HostUnreachable)
    assert "cannot resolve it: host 'edge..lan' has an empty label" in str(results["edge"])


async def test_handshakes_in_flight_are_bounded_per_host_and_overall(monkeypatch):
    """Dozens of connections at once (a fleet behind one jump host): never more than
    PER_HOST handshakes to one sshd (its MaxStartups drops the rest), nor more than OVERALL
    in all; a handshake dropped anyway is dialled again."""
    import asyncio

    import asyncssh

    from swarmdeck.core.transport import ssh

    in_flight: dict[str, int] = {}
    peak: dict[str, int] = {}
    total = [0, 0]  # now, peak
    dropped = [0]

    async def fake_connect(host, **kwargs):
        in_flight[host] = in_flight.get(host, 0) + 1
        peak[host] = max(peak.get(host, 0), in_flight[host])
        total[0] += 1
        total[1] = max(total[1], total[0])
        try:
            await asyncio.sleep(0.01)
            if host == "10.0.0.1" and dropped[0] < 3:  # the first three are dropped
                dropped[0] += 1
                raise asyncssh.ConnectionLost("Connection lost")
            return object()
        finally:
            in_flight[host] -= 1
            total[0] -= 1

    monkeypatch.setattr(ssh.asyncssh, "connect", fake_connect)
    settings = ssh.SSHSettings(config_files=())
    one_host = [Destination("root", "10.0.0.1", 22) for _ in range(40)]
    many = [Destination("root", f"10.0.1.{i}", 22) for i in range(1, 200)]
    done = await asyncio.gather(*(ssh.connect(d, settings) for d in one_host + many))
    assert len(done) == 239
    assert 2 <= peak["10.0.0.1"] <= ssh.PER_HOST  # 40 at once before
    assert ssh.PER_HOST < total[1] <= ssh.OVERALL  # hosts in parallel, within the ceiling
    assert dropped[0] == 3  # and all 40 connected: each dropped one was dialled again


async def test_an_ssh_config_file_gone_is_a_clear_error_not_a_crash(tmp_path):
    """The file the config names was removed (or never there): one line naming it, as a
    SwarmdeckError the console shows and retries, not an internal error with a report."""
    from swarmdeck.core.transport import ssh

    missing = tmp_path / "ssh_config"
    with pytest.raises(ConfigError, match=f"cannot read {missing}: No such file"):
        await ssh.connect(Destination("root", "10.0.0.1", 22),
                          ssh.SSHSettings(config_files=(str(missing),)))
