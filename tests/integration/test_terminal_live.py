"""The real `swarmdeck` at a real (pseudo-)terminal against the lab: Ctrl-C at a confirmation
cancels at once and changes nothing; a secret typed at the terminal is hidden, asked twice
and stored without the Enter. Checked with the docker CLI on the lab and in the audit log."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path

from terminal import Terminal

from swarmdeck.core.errors import LabError

NODE = "staging-m1"


def audit_lines() -> list[dict]:
    path = Path(os.environ["XDG_STATE_HOME"]) / "swarmdeck" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() \
        else []


def at_terminal(lab, *args: str) -> Terminal:
    return Terminal([sys.executable, "-m", "swarmdeck", "--config", str(lab.config_file),
                     *args])


def replicas(lab, service: str) -> int:
    out = lab.docker_on("prod-m1", "service", "inspect", service,
                        "--format", "{{.Spec.Mode.Replicated.Replicas}}")
    return int(out.strip())


def test_ctrl_c_at_a_confirmation_changes_nothing(lab):
    before, audited = replicas(lab, "shop_worker"), len(audit_lines())
    with at_terminal(lab, "scale", "-c", "prod", f"shop_worker={before + 2}") as term:
        term.expect("[y/N] ", timeout=30)
        term.send("\x03")
        sent = time.monotonic()
        assert term.wait(timeout=2.0) == 130
        assert time.monotonic() - sent < 2.0
        assert "swarmdeck: cancelled, nothing changed" in term.text
    assert replicas(lab, "shop_worker") == before
    # an attempt all the same: one line, and it says nothing was made
    assert [e["result"] for e in audit_lines()[audited:]] == ["cancelled"]

    with at_terminal(lab, "rm", "-c", "prod", "service", "shop_worker") as term:
        term.expect("Type 'shop_worker' to confirm: ", timeout=30)
        term.send("shop_")
        term.send("\x03")
        assert term.wait(timeout=2.0) == 130
    assert replicas(lab, "shop_worker") == before
    assert [e["result"] for e in audit_lines()[audited:]] == ["cancelled", "cancelled"]


def test_a_secret_typed_at_the_terminal(lab):
    typed = "rt-tty-" + "s3cr3t"
    try:
        with at_terminal(lab, "secret", "create", "rt-tty-secret", "-", "-c", "staging") \
                as term:
            term.expect("secret data (input hidden): ")
            term.send(typed + "\r")
            term.expect("secret data again, to confirm: ")
            term.send(typed + "\r")
            term.expect(f"Create secret rt-tty-secret ({len(typed)} bytes) on staging? [y/N] ",
                        timeout=30)
            term.send("y\r")
            assert term.wait(timeout=30) == 0
            assert (f"secret data read from the terminal: {len(typed)} bytes, no trailing "
                    "newline") in term.text
            assert f"created secret rt-tty-secret on staging ({len(typed)} bytes)" in term.text
            assert typed not in term.text  # never echoed
        assert "rt-tty-secret" in lab.docker_on(NODE, "secret", "ls", "--format",
                                                "{{.Name}}").split()
        created = [e for e in audit_lines() if e["target"] == "rt-tty-secret"][-1]
        assert created["params"] == {"bytes": len(typed)} and created["result"] == "ok"
    finally:
        with contextlib.suppress(LabError):
            lab.docker_on(NODE, "secret", "rm", "rt-tty-secret")
