"""`swarmdeck doctor`: what is broken or fragile in each cluster, why, and what to do.

Exit code 0 when no cluster has an error (warnings alone do not fail), 1 when one has.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import textwrap
import time
from dataclasses import asdict, dataclass

from swarmdeck.cli.ls import chosen_clusters
from swarmdeck.core.config import Config
from swarmdeck.core.doctor import Finding, counts, diagnose, gather_facts
from swarmdeck.core.errors import SwarmdeckError
from swarmdeck.core.fleet import Fleet
from swarmdeck.core.inventory import ClusterState
from swarmdeck.core.sanitize import clean

LABELS = {"error": "ERROR", "warning": "WARNING", "info": "INFO"}
INDENT = 11  # the width of "  WARNING  ": continuation lines align under the text


@dataclass
class Report:
    cluster: str
    findings: list[Finding]
    nodes: int = 0
    managers: int = 0
    services: int = 0

    @property
    def has_errors(self) -> bool:
        return any(f.severity == "error" for f in self.findings)

    def as_json(self) -> dict:
        return {"cluster": self.cluster, "ok": not self.has_errors,
                **{f"{k}s": v for k, v in counts(self.findings).items()},
                "findings": [asdict(f) for f in self.findings]}


def run_doctor(args: argparse.Namespace) -> int:
    config, names = chosen_clusters(args)
    reports = asyncio.run(examine(config, names))
    if args.json:
        print(json.dumps([r.as_json() for r in reports], indent=2, default=str))
    else:
        print(format_reports(reports, width=_width()))
    return 1 if any(r.has_errors for r in reports) else 0


async def examine(config: Config, names: list[str]) -> list[Report]:
    """Load the clusters at once, fetch each one's extra facts, diagnose."""
    fleet = Fleet(config)
    try:
        results = await fleet.load(names)

        async def one(name: str) -> Report:
            result = results[name]
            if isinstance(result, SwarmdeckError):
                return Report(name, diagnose(ClusterState(name, error=result),
                                             now=time.time()))
            session = fleet.inventory(name).session
            facts = await gather_facts(session.docker, result) if session else None
            return Report(name, diagnose(result, now=time.time(), facts=facts),
                          nodes=len(result.nodes), services=len(result.services),
                          managers=sum(n.role == "manager" for n in result.nodes.values()))

        return list(await asyncio.gather(*(one(n) for n in names)))
    finally:
        await fleet.close()


def _width() -> int:
    return max(60, min(100, shutil.get_terminal_size((100, 24)).columns))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def format_reports(reports: list[Report], *, width: int = 100) -> str:
    return "\n\n".join(format_report(r, width=width) for r in reports)


def format_report(report: Report, *, width: int = 100) -> str:
    """A heading per cluster, then one block per finding: severity, what, why, fix."""
    c = counts(report.findings)
    tally = ", ".join(_plural(c[k], k) for k in ("error", "warning") if c[k])
    tally = tally or "no problems found"
    if c["info"]:
        tally += f" ({c['info']} note{'s' if c['info'] > 1 else ''})"
    sizes = (f"{_plural(report.nodes, 'node')}, {_plural(report.managers, 'manager')}, "
             f"{_plural(report.services, 'service')}: " if report.nodes else "")
    lines = [f"{clean(report.cluster)} · {sizes}{tally}"]
    pad = " " * INDENT
    for f in report.findings:
        lines.append("")
        lines.append(textwrap.fill(clean(f.what), width, break_on_hyphens=False,
                                   initial_indent=f"  {LABELS[f.severity]:<{INDENT - 2}}",
                                   subsequent_indent=pad))
        for label, text in (("why", f.why), ("fix", f.fix)):
            lines.append(textwrap.fill(clean(text), width, initial_indent=f"{pad}{label}: ",
                                       subsequent_indent=pad + "     ",
                                       break_on_hyphens=False))
    return "\n".join(lines)
