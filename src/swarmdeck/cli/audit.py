"""`swarmdeck audit`: the changes made from this account, read from the local audit log.

It reads one local file and connects nowhere, so it loads none of the SSH stack.
"""

from __future__ import annotations

import argparse
from typing import Any

from swarmdeck.cli import render
from swarmdeck.core.audit import AuditLog


def run_audit(args: argparse.Namespace) -> int:
    entries = AuditLog.default().read(args.n)
    if args.json:
        for entry in entries:
            print(render.json_text(entry, indent=None))
        return 0
    rows = [[e.get("time", "")[:19].replace("T", " "), e.get("user", ""), e.get("cluster", ""),
             e.get("action", ""), e.get("target", ""), _params(e.get("params")),
             e.get("result", "") + (f": {e['error']}" if e.get("error") else "")]
            for e in entries]
    print(render.table(["TIME (UTC)", "USER", "CLUSTER", "ACTION", "TARGET", "PARAMS",
                        "RESULT"], rows))
    return 0


def _params(params: Any) -> str:
    if not isinstance(params, dict) or not params:
        return ""
    return " ".join(f"{k}={v}" for k, v in params.items())
