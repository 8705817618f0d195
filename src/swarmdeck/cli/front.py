"""How a change action (core.actions) meets the operator on the terminal, for every command
that changes the cluster (cli.ops, cli.placement)."""

from __future__ import annotations

import argparse

from swarmdeck.cli.prompt import confirm
from swarmdeck.cli.session import follow
from swarmdeck.core import actions
from swarmdeck.core.ops.base import ClusterOps
from swarmdeck.core.ops.services import Started
from swarmdeck.core.sanitize import clean


class TerminalFront:
    """How a change action (core.actions) meets the operator on the terminal: the plan
    printed, the question asked (or --yes), the change followed (unless --detach)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args

    def _details(self, heading: str | None, lines: list[str]) -> None:
        if heading:
            print(clean(heading))
        for line in lines:
            print(clean(f"  {line}" if heading else line))

    def tell(self, nothing: actions.Nothing) -> None:
        self._details(nothing.heading, nothing.details)
        print(clean(nothing.text))

    async def ask(self, plan: actions.Plan) -> bool:
        self._details(plan.heading, plan.details)
        confirm(plan.question, yes=self.args.yes, typed=plan.typed)  # raises when not
        return True

    async def carry_out(self, ops: ClusterOps, plan: actions.Plan) -> int:
        result = await plan.change(ops, lambda m: print(f"  {clean(m)}", flush=True))
        if isinstance(result, Started):
            return await follow(ops, result, self.args, good=plan.good)
        print(clean(result))
        return 0


async def act(ops: ClusterOps, action: actions.Action, args: argparse.Namespace) -> int:
    return await actions.run_action(ops, action, TerminalFront(args)) or 0
