"""The one policy of custom commands (core.custom_commands.perform), which `swarmdeck run`
and the console's keys both run: a dangerous command is refused read-only and asked, one
marked confirm is asked, a "no" and every run are on record with the command line (never
the output), with the exit status or the error. The lab test runs them on real nodes."""

from __future__ import annotations

import pytest

from swarmdeck.core.audit import AuditLog
from swarmdeck.core.config import CommandConfig
from swarmdeck.core.custom_commands import Result, Target, perform
from swarmdeck.core.errors import NotConfirmed, ReadOnly, SwarmdeckError

WHERE = Target("prod", {"cluster": "prod", "node": "prod-w1", "node_address": "10.0.0.1"},
               "n1")


def command(**flags) -> CommandConfig:
    return CommandConfig(name="wipe", scope="node", run=["echo", "wiped", "{node}"], **flags)


def lines(audit: AuditLog) -> list[tuple]:
    return [(e["action"], e["target"], e["result"], e["params"].get("exit_status"),
             e.get("error")) for e in audit.read()]


class Runs:
    def __init__(self, answer: bool = True, status: int = 0) -> None:
        self.answer, self.status = answer, status
        self.asked: list[tuple[str, bool]] = []
        self.ran = 0

    async def ask(self, question: str, dangerous: bool) -> bool:
        self.asked.append((question, dangerous))
        return self.answer

    async def execute(self) -> Result:
        self.ran += 1
        return Result(self.status, b"secret output", b"")


async def go(cmd: CommandConfig, runs: Runs, audit: AuditLog, read_only: str | None = None):
    return await perform(cmd, WHERE, ["echo", "wiped", "prod-w1"], audit=audit,
                         read_only=read_only, ask=runs.ask, execute=runs.execute)


async def test_a_plain_command_runs_unasked_and_is_on_record(tmp_path):
    audit, runs = AuditLog(tmp_path / "a.jsonl"), Runs(status=3)
    result = await go(command(), runs, audit, read_only="--read-only")  # not a change
    assert isinstance(result, Result) and result.status == 3
    assert runs.asked == [] and runs.ran == 1
    assert lines(audit) == [("command wipe", "prod-w1", "ok", 3, None)]
    assert "secret output" not in (tmp_path / "a.jsonl").read_text()


async def test_a_dangerous_command_is_refused_read_only_before_asking(tmp_path):
    audit, runs = AuditLog(tmp_path / "a.jsonl"), Runs()
    with pytest.raises(ReadOnly, match="command wipe refused: cluster prod is read-only"):
        await go(command(dangerous=True), runs, audit, read_only="--read-only")
    assert runs.asked == [] and runs.ran == 0
    assert lines(audit) == [("command wipe", "prod-w1", "refused", None, "read-only")]


@pytest.mark.parametrize("flags", [{"dangerous": True}, {"confirm": True}])
async def test_no_is_on_record_and_nothing_runs(tmp_path, flags):
    audit, runs = AuditLog(tmp_path / "a.jsonl"), Runs(answer=False)
    with pytest.raises(NotConfirmed):
        await go(command(**flags), runs, audit)
    assert runs.asked == [("Run wipe for prod-w1 on this machine: echo wiped prod-w1?",
                           flags.get("dangerous", False))]
    assert runs.ran == 0
    assert lines(audit) == [("command wipe", "prod-w1", "cancelled", None, "not confirmed")]


async def test_a_failed_run_is_on_record_with_its_error(tmp_path):
    audit = AuditLog(tmp_path / "a.jsonl")

    async def fails() -> Result:
        raise SwarmdeckError("prod-w1 did not answer")

    with pytest.raises(SwarmdeckError):
        await perform(command(), WHERE, ["x"], audit=audit, read_only=None,
                      ask=Runs().ask, execute=fails)
    assert lines(audit) == [("command wipe", "prod-w1", "error", None,
                             "prod-w1 did not answer")]
