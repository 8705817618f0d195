"""One exception hierarchy for the whole core.

Every message is written for an operator: what failed, where, and what to do.
The CLI prints `str(error)` on one line; the console shows the same text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from swarmdeck.core.host_key_offer import OfferedKey


class SwarmdeckError(Exception):
    """Base of every error the core raises on purpose."""

    #: process exit code the CLI uses for this kind of error
    exit_code: int = 1
    #: the Docker engine's own words, when the error is its answer (transport.docker)
    raw: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class ConfigError(SwarmdeckError):
    """The configuration file or a command-line argument is wrong."""

    exit_code = 2


class UsageError(SwarmdeckError):
    """The command line asks for something that cannot be done as written."""

    exit_code = 2


class TransportError(SwarmdeckError):
    """Reaching a manager failed (SSH or the Docker socket behind it)."""


class HostUnreachable(TransportError):
    """TCP connection to the SSH server could not be made."""


class HostKeyError(TransportError):
    """The SSH host key is unknown or does not match known_hosts. KEY: what the server
    offered (type, fingerprint, the key itself, where it would be trusted), so that a UI can
    offer to trust an unknown key without scanning the host again."""

    def __init__(
        self, message: str, *, host: str, fingerprint: str | None, changed: bool,
        hint: str | None = None, key: OfferedKey | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.host = host
        self.fingerprint = fingerprint
        self.changed = changed
        self.key = key


class AuthenticationFailed(TransportError):
    """The SSH server refused every key we offered."""


class DockerUnavailable(TransportError):
    """SSH works but the Docker daemon behind it cannot be used."""


class NoManagerReachable(TransportError):
    """Every manager of a cluster failed; ERRORS: each one's own error."""

    def __init__(self, message: str, errors: list[SwarmdeckError]) -> None:
        super().__init__(message)
        self.errors = errors


class EngineTooOld(DockerUnavailable):
    """The Docker engine answers with an API version older than swarmdeck needs."""


class NotAManager(TransportError):
    """The node answers but is not a manager of a swarm."""


class ConnectionLost(TransportError):
    """An established connection died (link cut, sshd or dockerd gone)."""


class WriteInterrupted(ConnectionLost):
    """The connection broke while a change was being sent or answered: the change may or
    may not have been made. Never sent again blindly; the cluster is asked what happened."""

    def __init__(self, message: str, *, method: str = "", path: str = "") -> None:
        super().__init__(message)
        self.method = method
        self.path = path


class DockerAPIError(SwarmdeckError):
    """The Docker API answered with an error status."""

    def __init__(self, status: int, message: str, *, method: str = "", path: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.method = method
        self.path = path


class NoLeader(DockerAPIError):
    """The managers have no leader (quorum lost, or an election in progress). Once the
    managers have been counted: how many answered of how many the swarm has."""

    reachable: int | None = None
    total: int | None = None


class NotFound(DockerAPIError):
    """The object asked for does not exist (HTTP 404)."""


class NotConfirmed(UsageError):
    """The operator did not confirm a change (answered no, typed another name, Ctrl-C)."""


class AuditUnavailable(SwarmdeckError):
    """The audit log cannot be written: changes are refused until it can (fail closed)."""


class ReadOnly(SwarmdeckError):
    """A change was asked of a cluster that is read-only (--read-only or the config)."""


class Refused(SwarmdeckError):
    """A change that would do harm was not made (last manager, quorum, no confirmation)."""


class Cancelled(NotConfirmed):
    """The operator cancelled (Ctrl-C at a question) before anything was changed."""

    exit_code = 130  # as for any command a SIGINT ends


class OperationFailed(SwarmdeckError):
    """A change was made but did not end well (did not converge, rolled back, timed out)."""


class FollowLost(SwarmdeckError):
    """A change was made, but reading how it goes kept failing: not a failure of the change."""


class NotApplied(OperationFailed):
    """A change whose connection broke, and the cluster shows it was not made."""


class OutcomeUnknown(OperationFailed):
    """A change whose connection broke, and the cluster could not say whether it landed:
    the message says what to check."""


class LabError(SwarmdeckError):
    """The demo/test lab could not be brought up or down."""


class ExecFailed(SwarmdeckError):
    """A shell or command could not be run in a task (it is not running, its image has no
    shell, its exec could not be started)."""
