"""Checks on a `swarmdeck` command's result, shared by the live CLI tests."""

from __future__ import annotations


def ok(result) -> str:
    assert result.returncode == 0, result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    return result.stdout


def refused(result, code: int, says: str) -> None:
    assert result.returncode == code, result.stderr + result.stdout
    assert says in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
