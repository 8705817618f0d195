"""Where the config file, swarmdeck's state and its cache are (XDG paths), and how a path
written in the config is read: without pydantic, so that what only needs a path (the audit
log, the SSH transport, a command dialling its managers before the config is validated)
does not import the config's models."""

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


def is_chosen(explicit: str | Path | None, env: Mapping[str, str]) -> bool:
    """Whether the config file was named (--config, $SWARMDECK_CONFIG): then it must exist;
    the default one may be missing (an empty config)."""
    return bool(explicit) or bool(env.get("SWARMDECK_CONFIG"))


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    """$XDG_STATE_HOME/swarmdeck (default ~/.local/state/swarmdeck); not created here."""
    return _xdg("XDG_STATE_HOME", ".local/state", os.environ if env is None else env) \
        / "swarmdeck"


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """$XDG_CACHE_HOME/swarmdeck (default ~/.cache/swarmdeck); not created here."""
    return _xdg("XDG_CACHE_HOME", ".cache", os.environ if env is None else env) / "swarmdeck"


def home(env: Mapping[str, str]) -> Path:
    return Path(env.get("HOME") or Path.home())


def _xdg(var: str, default: str, env: Mapping[str, str]) -> Path:
    base = env.get(var)  # the XDG spec says relative values are to be ignored
    return Path(base) if base and Path(base).is_absolute() else home(env) / default


def resolve_path(value: str, base: Path) -> str:
    """~ expanded; a relative path is relative to the config file's directory."""
    return os.path.abspath(base / Path(value).expanduser())


def resolve_paths(values: list[str] | None, base: Path) -> list[str] | None:
    return None if values is None else [resolve_path(v, base) for v in values]
