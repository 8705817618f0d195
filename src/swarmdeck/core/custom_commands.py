"""Custom commands (`[[commands]]` in the config): an argument list with {placeholders} for
the target, run on this machine or over SSH on the target's node.

Placeholders become single arguments: on this machine the list is executed as is (no
shell), on a node it is sent quoted argument by argument (shlex.join), so a service or node
name can never be read as shell syntax.

perform() is the policy, once for the CLI (`swarmdeck run`) and the console (a key or
`:run`): a dangerous command is refused on a read-only cluster (on record) and asked; one
marked confirm is asked; every run is on record with its exit status, or its error (the
command line, never its output).
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from swarmdeck.core.audit import AuditLog
from swarmdeck.core.config import PLACEHOLDER, CommandConfig, Config
from swarmdeck.core.errors import ConfigError, NotConfirmed, ReadOnly, SwarmdeckError, UsageError
from swarmdeck.core.inventory import ClusterState
from swarmdeck.core.node_links import NodeAccess
from swarmdeck.core.task_exec import find_node, pick_task

OUTPUT_LIMIT = 1 << 20  # bytes of each stream kept for the view


@dataclass(frozen=True)
class Target:
    cluster: str
    values: dict[str, str]  # placeholder -> value
    node_id: str | None = None

    @property
    def label(self) -> str:
        v = self.values
        return v.get("task") or v.get("service") or v.get("node") or v["cluster"]


@dataclass(frozen=True)
class Result:
    status: int
    stdout: bytes
    stderr: bytes


def find(config: Config, name: str) -> CommandConfig:
    for command in config.commands:
        if command.name == name:
            return command
    names = ", ".join(c.name for c in config.commands) or "none configured ([[commands]])"
    raise UsageError(f"no custom command {name!r} in {config.path}", hint=f"commands: {names}")


def target(command: CommandConfig, state: ClusterState, ref: str | None) -> Target:
    """What REF names for COMMAND's scope: a service (its first running task), a task
    (SERVICE.SLOT), a node, or the cluster itself (no REF)."""
    cluster = state.name
    if command.scope == "cluster":
        if ref:
            raise UsageError(f"command {command.name!r} runs on the cluster: give no target")
        return Target(cluster, {"cluster": cluster})
    if not ref:
        raise UsageError(f"command {command.name!r} needs a {command.scope}: give its name")
    if command.scope == "node":
        node = find_node(state, ref)
        return Target(cluster, {"cluster": cluster, "node": node.hostname,
                                "node_address": node.address or ""}, node.id)
    picked = pick_task(state, ref)
    return Target(cluster, {
        "cluster": cluster, "service": picked.service.name, "task": picked.replica,
        "container": picked.container_id, "node": picked.node.hostname,
        "node_address": picked.node.address or ""}, picked.node.id)


def expand(command: CommandConfig, where: Target) -> list[str]:
    """RUN with each {placeholder} replaced inside its own argument (other braces, e.g. an
    awk program's, are left alone)."""
    def one(arg: str) -> str:
        return PLACEHOLDER.sub(lambda m: where.values.get(m[1], m[0]), arg)
    return [one(arg) for arg in command.run]


def question(command: CommandConfig, where: Target, argv: list[str]) -> str:
    """What a command marked confirm or dangerous asks before it runs."""
    place = f"on node {where.values['node']}" if command.where == "node" else "on this machine"
    return f"Run {command.name} for {where.label} {place}: {shlex.join(argv)}?"


async def run(fleet: NodeAccess, command: CommandConfig, where: Target, argv: list[str],
              *, timeout: float = 300) -> Result:
    if command.where == "local":
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE)
        except OSError as exc:
            raise not_runnable(command, argv, exc) from None
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise SwarmdeckError(f"command {command.name!r} did not finish within "
                                 f"{timeout:g}s; stopped") from None
        return Result(proc.returncode or 0, out[:OUTPUT_LIMIT], err[:OUTPUT_LIMIT])
    assert where.node_id is not None
    conn = await fleet.node_connection(where.cluster, where.node_id)
    try:
        done = await asyncio.wait_for(conn.run(shlex.join(argv), check=False,
                                               encoding=None, input=b""), timeout)
    except TimeoutError:
        raise SwarmdeckError(f"command {command.name!r} did not finish within {timeout:g}s "
                             f"on {where.values.get('node')}") from None
    status = done.exit_status if done.exit_status is not None else 255
    return Result(status, _raw(done.stdout)[:OUTPUT_LIMIT], _raw(done.stderr)[:OUTPUT_LIMIT])


async def perform(command: CommandConfig, where: Target, argv: list[str], *,
                  audit: AuditLog, read_only: str | None,
                  ask: Callable[[str, bool], Awaitable[bool]],
                  execute: Callable[[], Awaitable[Result | int]],
                  manager: str | None = None) -> Result | int:
    """Run a custom command under the one policy. READ_ONLY: why the cluster is read-only
    (None: it is not). ASK(question, dangerous): the operator's answer (a front may raise
    NotConfirmed itself). EXECUTE: the run (core run(), or the console's run in the
    terminal, which gives only the exit status). MANAGER: the connection the CLI opened, for
    the record. Raises ReadOnly or NotConfirmed (both on record), or the run's error."""
    action = f"command {command.name}"
    record: dict[str, Any] = dict(cluster=where.cluster, manager=manager, action=action,
                                  target=where.label)
    params: dict[str, object] = {"argv": argv, "where": command.where,
                                 **({"node": where.values["node"]}
                                    if "node" in where.values else {})}
    audit.check()  # fail closed: no run goes unrecorded
    if command.dangerous and read_only:
        audit.record(**record, params=params, result="refused", error="read-only")
        raise ReadOnly(f"{action} refused: cluster {where.cluster} is read-only ({read_only})")
    if command.confirm or command.dangerous:
        try:
            agreed = await ask(question(command, where, argv), command.dangerous)
        except NotConfirmed:
            agreed = False
        if not agreed:
            audit.record(**record, params=params, result="cancelled", error="not confirmed")
            raise NotConfirmed("not confirmed: nothing was run")
    try:
        result = await execute()
    except SwarmdeckError as exc:  # a run that failed (node out of reach, timeout, no program)
        audit.record(**record, params=params, result="error", error=str(exc))
        raise
    status = result if isinstance(result, int) else result.status
    audit.record(**record, params={**params, "exit_status": status}, result="ok")
    return result


def not_runnable(command: CommandConfig, argv: list[str], exc: OSError) -> ConfigError:
    """A local command whose program cannot be started (not found, not executable)."""
    return ConfigError(f"command {command.name!r}: cannot run {argv[0]!r} on this machine: "
                       f"{exc.strerror or exc}",
                       hint=f"fix `run` of [[commands]] name = {command.name!r} in the config "
                            "(a program on PATH or a full path), or set where = \"node\" to "
                            "run it on the node")


def _raw(data: bytes | str | None) -> bytes:
    """Output read with encoding=None: bytes (asyncssh types it as bytes or str)."""
    return data.encode() if isinstance(data, str) else bytes(data or b"")
