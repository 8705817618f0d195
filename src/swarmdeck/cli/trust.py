"""`swarmdeck trust HOST`: show the SSH host key a host offers and, once confirmed, add it to
the known_hosts file its ssh config uses (what answering `yes` to OpenSSH does), for first
setups and scripts. A key that differs from the known one is refused, never replaced (exit 1).
"""

from __future__ import annotations

import argparse
import asyncio

from swarmdeck.cli.render import load_config
from swarmdeck.core.config import Config
from swarmdeck.core.destinations import Destination, parse_destination
from swarmdeck.core.errors import AuthenticationFailed, ConfigError, HostKeyError
from swarmdeck.core.fleet import ssh_settings
from swarmdeck.core.sanitize import clean
from swarmdeck.core.transport.host_keys import OfferedKey, trust
from swarmdeck.core.transport.ssh import SSHSettings, connect


def run_trust(args: argparse.Namespace) -> int:
    from swarmdeck.cli.prompt import confirm

    config = load_config(args.config)
    dest = parse_destination(args.host)
    cluster = args.cluster or _cluster_listing(config, dest)
    if cluster is not None:
        config.cluster(cluster)  # an unknown name fails here, with a did-you-mean
    key = asyncio.run(_offered(dest, ssh_settings(config, cluster)))
    if isinstance(key, str):
        print(clean(key))
        return 0
    print(f"The host key of {clean(str(dest))} is not in known_hosts:")
    for line in key.describe():
        print(f"  {clean(line)}")
    print("Compare the fingerprint with the host's own (from its owner, out of band) first.",
          flush=True)
    confirm(f"Trust the host key of {dest}?", yes=args.yes, typed="yes")
    print(clean(trust(key, cluster=cluster or "-", manager=f"{key.host}:{key.port}")))
    return 0


async def _offered(dest: Destination, settings: SSHSettings) -> OfferedKey | str:
    """The unknown key DEST offers, or a line saying it is trusted already. A changed key
    (or any other failure before the key is checked) raises."""
    try:
        conn, resolved = await connect(dest, settings)
    except HostKeyError as exc:
        if exc.changed or exc.key is None:
            raise
        return exc.key
    except AuthenticationFailed:  # asyncssh checks the host key before authenticating
        return f"the host key of {dest} is already trusted (the login itself failed: " \
               "check the user and keys)"
    try:
        key = conn.get_server_host_key()
        fingerprint = f" ({key.get_fingerprint('sha256')})" if key else ""
        return f"the host key of {resolved.label} is already trusted{fingerprint}"
    finally:
        conn.close()
        await conn.wait_closed()


def _cluster_listing(config: Config, dest: Destination) -> str | None:
    """The first cluster whose managers include DEST (its ssh config is the one to use)."""
    for name, cluster in config.clusters.items():
        try:
            managers = cluster.manager_destinations()
        except ConfigError:  # a docker context that is gone: not this cluster
            continue
        if any(m.host == dest.host and dest.port in (None, m.port)
               and dest.user in (None, m.user) for m in managers):
            return name
    return None
