"""The audit log: every mutation attempted, one JSON line each, appended to
$XDG_STATE_HOME/swarmdeck/audit.jsonl. Refusals (read-only) and failures are recorded too.

Secrets never reach the file: parameters whose name says token, password or secret are masked,
and so is any value that looks like a swarm join token.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from swarmdeck.core.config_paths import state_dir
from swarmdeck.core.errors import AuditUnavailable

SECRET_NAMES = re.compile(r"token|password|secret|auth", re.I)
MIN_FREE = 64 * 1024  # bytes: less free space than this and a line may not fit
JOIN_TOKEN = re.compile(r"SWMTKN-1-[0-9a-z]+-[0-9a-z]+", re.I)


def mask_token(token: str) -> str:
    """SWMTKN-1-<hash>-<secret> -> the prefix and the secret's last 4 characters."""
    if JOIN_TOKEN.fullmatch(token):
        return f"SWMTKN-1-…{token[-4:]}"
    return "****"


def mask(value: Any, name: str = "") -> Any:
    if isinstance(value, Mapping):
        return {k: mask(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask(v, name) for v in value]
    if isinstance(value, str):
        if name and SECRET_NAMES.search(name):
            return mask_token(value)
        return JOIN_TOKEN.sub(lambda m: mask_token(m.group(0)), value)
    return value


def audit_path(env: Mapping[str, str] | None = None) -> Path:
    return state_dir(env) / "audit.jsonl"


@dataclass
class AuditLog:
    path: Path

    @classmethod
    def default(cls, env: Mapping[str, str] | None = None) -> AuditLog:
        return cls(audit_path(env))

    def record(self, *, cluster: str, manager: str | None, action: str, target: str,
               params: Mapping[str, Any] | None = None, result: str = "ok",
               error: str | None = None) -> dict[str, Any]:
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "user": _local_user(),
            "cluster": cluster,
            "manager": manager,
            "action": action,
            "target": target,
            "params": mask(dict(params or {})),
            "result": result,
        }
        if error is not None:
            entry["error"] = mask(error)
        line = json.dumps(entry, ensure_ascii=False, default=str) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # O_APPEND: concurrent swarmdeck processes never interleave within a line
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                written = os.write(fd, line.encode())
            finally:
                os.close(fd)
            if written != len(line.encode()):
                raise OSError(28, "short write (disk full?)")
        except OSError as exc:
            raise self._unavailable(exc) from None
        return entry

    def check(self) -> None:
        """Can a line be appended? Raise AuditUnavailable (saying which file and why) when
        not: a change is refused before it is made rather than left unrecorded."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            os.close(fd)
            if shutil.disk_usage(self.path.parent).free < MIN_FREE:
                raise OSError(28, "No space left on device")
        except OSError as exc:
            raise self._unavailable(exc) from None

    def _unavailable(self, exc: OSError) -> AuditUnavailable:
        reason = exc.strerror or str(exc)
        return AuditUnavailable(
            f"refused: the audit log {self.path} cannot be written ({reason}); nothing was "
            "changed", hint="fix that file or its directory (permissions, space), or point "
                            "XDG_STATE_HOME elsewhere")

    def read(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The newest LIMIT entries, oldest first; a damaged line is skipped, not fatal."""
        if not self.path.exists():
            return []
        entries = []
        with self.path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if isinstance(entry, dict):
                    entries.append(entry)
        return entries[-limit:] if limit else entries


def _local_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())
