"""Where a task's container ran the last time `exec` or `port-forward` found it: a placement
hint, so that the next call dials that node at once, beside the manager rather than after it.

A hint is never taken on its word. The node's own engine is asked for the container
(GET /containers/{id}/json) and it is used only when that engine says it is there, running,
and carries the swarm labels of the hinted task: its service's name and ID, its task ID, its
node's ID. Anything else (the container gone or stopped, another task's, the node out of
reach, a hint older than MAX_AGE, a hint file that is unreadable, damaged or not the user's
own) and the manager's answer decides, as without a hint; that answer becomes the next hint.
So a hint can make a call faster, never make it act on a container that is not running the
task now. What it can do is keep to the replica chosen last time while that one runs, when a
lower slot has come back since: it is trusted for MAX_AGE after a manager chose it.

The node is reached as SSH would reach it (its host key checked against known_hosts, under
the hinted name or the address actually dialled), and which node answered is the engine's
word too: the container's node label must be the hinted node's.

The hints live in $XDG_CACHE_HOME/swarmdeck/task-hints.json, written 0600 in a 0700
directory (a file with any other owner or mode is ignored, not read), keyed by the config
file, the cluster, the target as typed and --node.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import json
import os
import socket
import stat
import time
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swarmdeck.core.config_paths import cache_dir
from swarmdeck.core.destinations import Destination

if TYPE_CHECKING:
    from swarmdeck.core.task_exec import ExecTarget
    from swarmdeck.core.transport.ssh import SSHSettings

MAX_AGE = 30 * 60.0  # seconds a manager's choice is trusted (checked on the node each time)
MAX_HINTS = 100  # the oldest are dropped past this many
FILE_NAME = "task-hints.json"
SERVICE_ID = "com.docker.swarm.service.id"
SERVICE_NAME = "com.docker.swarm.service.name"
TASK_ID = "com.docker.swarm.task.id"
NODE_ID = "com.docker.swarm.node.id"


@dataclass(frozen=True)
class TaskHint:
    """What a manager of CLUSTER answered last: the task, its container, its node and how
    that node was reached (USER@HOST:PORT, the manager's own destination for a task on it,
    with SSH, the SSH settings then, and the Docker socket's path): enough to dial it and
    ask its engine before the config is even read (the config's settings must then agree)."""
    cluster: str
    user: str | None
    host: str
    port: int | None
    ssh: dict[str, Any]
    socket_path: str
    node_id: str
    hostname: str
    service_id: str
    service: str
    mode: str
    image: str
    task_id: str
    slot: int | None
    container_id: str
    saved_at: float
    shell: list[str] | None = None  # the shell found in that container, once one was started
    # where its SSH went after the ssh config (an IP address and port), when nothing stands
    # between (no ProxyJump or ProxyCommand): the TCP dial can start before asyncssh loads
    dial: list[Any] | None = None

    @property
    def destination(self) -> Destination:
        return Destination(self.user, self.host, self.port)

    @property
    def settings(self) -> SSHSettings:
        from swarmdeck.core.transport.ssh import SSHSettings

        files = self.ssh.get("config_files")
        return SSHSettings(**{**self.ssh, "config_files": None if files is None
                              else tuple(files)})

    def fits(self, cluster: str, settings: SSHSettings, socket_path: str) -> bool:
        """Was the hint made for CLUSTER as the config now has it?"""
        try:
            return (self.cluster, self.settings, self.socket_path) == \
                (cluster, settings, socket_path)
        except TypeError:  # settings of another version
            return False

    @classmethod
    def of(cls, cluster: str, target: ExecTarget, destination: Destination,
           settings: SSHSettings, socket_path: str, shell: list[str] | None = None,
           dial: tuple[str, int] | None = None) -> TaskHint:
        return cls(cluster, destination.user, destination.host, destination.port,
                   asdict(settings), socket_path, target.node.id,
                   target.node.hostname, target.service.id, target.service.name,
                   target.service.mode, target.service.image, target.task.id,
                   target.task.slot, target.container_id, time.time(), shell,
                   list(dial) if dial is not None else None)

    def early_socket(self) -> socket.socket | None:
        """A TCP connection to the hinted node's sshd, being made (non-blocking) while the
        rest loads; None when the hint holds no plain address to dial."""
        try:
            host, port = self.dial or ("", 0)
            family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 \
                else socket.AF_INET
        except (TypeError, ValueError):
            return None
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        if sock.connect_ex((host, int(port))) not in (0, errno.EINPROGRESS):
            sock.close()
            return None
        return sock

    @classmethod
    def from_json(cls, data: Any) -> TaskHint | None:
        """The hint DATA holds, or None when it is not one (a damaged or older file)."""
        names = {f.name for f in fields(cls)}
        required = {f.name for f in fields(cls) if f.default is MISSING}
        if not isinstance(data, dict) or not required <= data.keys():
            return None
        try:
            return cls(**{k: v for k, v in data.items() if k in names})
        except TypeError:
            return None

    def target(self) -> ExecTarget:
        """The task as the hint names it (running: its node's engine said so just now)."""
        from swarmdeck.core.models import Node, Service, Task
        from swarmdeck.core.task_exec import ExecTarget

        node = Node(id=self.node_id, hostname=self.hostname, role="", availability="",
                    status="ready", address=self.host)
        service = Service(id=self.service_id, name=self.service, mode=self.mode,
                          image=self.image)
        task = Task(id=self.task_id, service_id=self.service_id, node_id=self.node_id,
                    slot=self.slot, state="running", desired_state="running",
                    container_id=self.container_id)
        return ExecTarget(service, task, node)


def refuted(container: Mapping[str, Any], hint: TaskHint) -> str | None:
    """Why the node's engine's answer for the hinted container (its inspect JSON) does not
    confirm the hint, or None when it does: the container runs, and its swarm labels are
    the hinted task's."""
    if not (container.get("State") or {}).get("Running"):
        return "the container is not running"
    labels = (container.get("Config") or {}).get("Labels") or {}
    expected = {SERVICE_ID: hint.service_id, SERVICE_NAME: hint.service,
                TASK_ID: hint.task_id, NODE_ID: hint.node_id}
    for label, value in expected.items():
        if labels.get(label) != value:
            return f"its label {label} is {labels.get(label)!r}, not {value!r}"
    return None


class TaskHints:
    """The hint of one target (KEY) in the user's hint file at PATH."""

    def __init__(self, path: Path, key: str) -> None:
        self.path = path
        self.key = key

    @classmethod
    def default(cls, config_path: Path, cluster: str, ref: str, node: str | None,
                env: Mapping[str, str] | None = None) -> TaskHints:
        key = json.dumps([str(config_path.expanduser().absolute()), cluster, ref, node or ""])
        return cls(cache_dir(env) / FILE_NAME, key)

    def recall(self, now: float | None = None) -> TaskHint | None:
        """The hint for this target, or None (none, too old, or a file not to be trusted)."""
        hint = TaskHint.from_json(self._read().get(self.key))
        now = time.time() if now is None else now
        if hint is None or not 0 <= now - hint.saved_at <= MAX_AGE:
            return None
        return hint

    def remember(self, hint: TaskHint) -> None:
        """Keep HINT for this target (best effort: a cache that cannot be written is none)."""
        hints = self._read()
        hints.pop(self.key, None)
        hints[self.key] = asdict(hint)
        for key in list(hints)[:-MAX_HINTS]:
            del hints[key]
        self._write(hints)

    def forget(self) -> None:
        hints = self._read()
        if hints.pop(self.key, None) is not None:
            self._write(hints)

    def _read(self) -> dict[str, Any]:
        """The file's hints; nothing when it is missing, damaged, not a regular file, or
        readable or writable by anyone but its owner, this user."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return {}
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() \
                    or st.st_mode & 0o077:
                return {}
            with os.fdopen(fd, "rb", closefd=False) as fh:
                data = json.loads(fh.read(1 << 20))
        except (OSError, ValueError):
            return {}
        finally:
            os.close(fd)
        return data if isinstance(data, dict) else {}

    def _write(self, hints: dict[str, Any]) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            try:
                os.write(fd, json.dumps(hints).encode())
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        with contextlib.suppress(OSError):
            tmp.unlink()
