"""Dialling a one-shot command's managers before its config is validated.

An SSH handshake is mostly waiting: several round trips (0.3 s over a 50 ms link). Importing
pydantic and the models and validating the config is CPU (about 0.1 s). A command that reads
from the raw file which manager each cluster will dial first can start those handshakes,
then validate and import while they run: transport.ssh's connect() takes a connection dialled
so when the validated config asks for the same destination with the same settings.

The raw read decides nothing. A config that validation refuses is refused as before (the
connection is dropped unused, its errors unsaid); a raw read that differs from the validated
config only costs a connection nobody takes. So anything unusual here (a docker context, a
value of the wrong type, an unreadable file) simply dials nothing.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from swarmdeck.core.config_paths import config_path, resolve_paths
from swarmdeck.core.destinations import Destination, parse_destination
from swarmdeck.core.errors import ConfigError
from swarmdeck.core.transport.ssh import SSHSettings, dial_ahead

TIMING = ("connect_timeout", "keepalive_interval", "keepalive_count_max")


def first_dials(explicit_path: str | Path | None, names: Sequence[str] | None = None,
                env: Mapping[str, str] | None = None
                ) -> list[tuple[Destination, SSHSettings]]:
    """The first manager of each cluster NAMES (default: all, in the file's order) and how
    it is reached, as the config file says before validation; [] when it cannot say."""
    raw = _raw(explicit_path, env)
    if raw is None:
        return []
    clusters, ssh, base = raw
    found = []
    for name in names or list(clusters):
        try:
            found.append(_first_dial(clusters.get(name), ssh, base))
        except (ConfigError, ValueError, TypeError, LookupError):
            continue
    return found


def _raw(explicit_path: str | Path | None, env: Mapping[str, str] | None = None
         ) -> tuple[dict[str, Any], dict[str, Any], Path] | None:
    """The file's [clusters] and [ssh] tables as written, and its folder; None when it
    cannot be read so."""
    env = os.environ if env is None else env
    path = config_path(explicit_path, env)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    clusters, ssh = data.get("clusters"), data.get("ssh", {})
    if not isinstance(clusters, dict) or not isinstance(ssh, dict):
        return None
    return clusters, ssh, path.parent


def _first_dial(cluster: Any, ssh: dict[str, Any], base: Path
                ) -> tuple[Destination, SSHSettings]:
    managers = cluster.get("managers") if isinstance(cluster, dict) else None
    if not isinstance(managers, list) or not managers or "context" in cluster:
        raise LookupError("no managers listed")
    dest = parse_destination(managers[0])  # a host no DNS can hold: a ConfigError
    files = [_paths(cluster.get("ssh_config"), base), _paths(ssh.get("config"), base)]
    timing = {key: ssh.get(key, getattr(SSHSettings, key)) for key in TIMING}
    for key, value in timing.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(key)
    return dest, SSHSettings.chosen(*files, **timing)


def _paths(value: Any, base: Path) -> list[str] | None:
    """A path or a list of paths, as the config's PathList reads it."""
    values = [value] if isinstance(value, str) else value
    if values is not None and not (isinstance(values, list)
                                   and all(isinstance(v, str) for v in values)):
        raise TypeError(value)
    return resolve_paths(values, base)


def start_for(explicit_path: str | Path | None, cluster: str | None) -> int:
    """Dial the first manager of CLUSTER, or with none named, of the only cluster the file
    lists (a command that works on one cluster: with several and none named it is refused,
    and nothing is dialled); how many were dialled (0 or 1)."""
    if not cluster:
        raw = _raw(explicit_path)
        if raw is None or len(raw[0]) != 1:
            return 0
        cluster = next(iter(raw[0]))
    return start(explicit_path, [cluster])


def start(explicit_path: str | Path | None, names: Sequence[str] | None = None) -> int:
    """Dial the first manager of each cluster NAMES (default: all) in the running loop;
    how many were dialled. transport.ssh.drop_dialled() closes those nobody takes."""
    dials = first_dials(explicit_path, names)
    for dest, settings in dials:
        dial_ahead(dest, settings)
    return len(dials)
