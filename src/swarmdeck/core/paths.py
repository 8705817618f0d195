"""Where swarmdeck's files are: the config, the state (the audit log) and the cache, found
through the XDG variables. Without pydantic or the config's models: the audit log and the
SSH transport need these paths before (or without) the config being read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def config_path(explicit: str | Path | None = None,
                env: Mapping[str, str] | None = None) -> Path:
    """--config PATH, else $SWARMDECK_CONFIG, else $XDG_CONFIG_HOME/swarmdeck/config.toml."""
    env = os.environ if env is None else env
    if explicit:
        return Path(explicit).expanduser()
    if env.get("SWARMDECK_CONFIG"):
        return Path(env["SWARMDECK_CONFIG"]).expanduser()
    return _xdg("XDG_CONFIG_HOME", ".config", env) / "swarmdeck" / "config.toml"


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    """$XDG_STATE_HOME/swarmdeck (default ~/.local/state/swarmdeck); not created here."""
    return _xdg("XDG_STATE_HOME", ".local/state", os.environ if env is None else env) \
        / "swarmdeck"


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """$XDG_CACHE_HOME/swarmdeck (default ~/.cache/swarmdeck); not created here."""
    return _xdg("XDG_CACHE_HOME", ".cache", os.environ if env is None else env) / "swarmdeck"


def _home(env: Mapping[str, str]) -> Path:
    return Path(env.get("HOME") or Path.home())


def _xdg(var: str, default: str, env: Mapping[str, str]) -> Path:
    base = env.get(var)  # the XDG spec says relative values are to be ignored
    return Path(base) if base and Path(base).is_absolute() else _home(env) / default
