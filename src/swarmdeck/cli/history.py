"""`swarmdeck history PROJECT [--env E] [--json]`: the environment's deploys as the cluster
keeps them (core.ops.history), newest last."""

from __future__ import annotations

import argparse
import asyncio
import json

from swarmdeck.cli import render
from swarmdeck.cli.render import load_config


def run_history(args: argparse.Namespace) -> int:
    from swarmdeck.core.ops import environments

    config = load_config(args.config)
    env, env_config = environments.prepare_revision(config, args.project, args.env)
    return asyncio.run(_run(config, args, env, env_config))


async def _run(config, args, env: str, env_config) -> int:
    from swarmdeck.core.fleet import open_ops
    from swarmdeck.core.ops import history

    ops = await open_ops(config, env_config.cluster, read_only_flag=True)
    try:
        found = [kept.revision for kept in await history.stored(ops, env_config.stack)]
    finally:
        await ops.session.close()
    if args.json:
        print(json.dumps([{k: v for k, v in r.row().items()
                           if k in ("revision", "time", "user", "commit", "images")}
                          for r in found], indent=2))
        return 0
    if not found:
        print(f"no deploy of {args.project}/{env} recorded on cluster {env_config.cluster} "
              f"(stack {env_config.stack})")
        return 0
    print(render.table(["REVISION", "TIME", "USER", "COMMIT", "IMAGES"],
                       [[r.revision, r.time, r.user, r.commit or "-",
                         history.images_text(r.images)]
                        for r in found], right=(0,), wide=(4,)))
    return 0

