"""An object as docker holds it (`docker inspect`): read from the manager's API, as YAML or
JSON. The inventory keeps typed models, not the API's dicts, so the object is read afresh.

Secrets and configs are shown without their data: docker never gives a secret's back, and
a config's (in the console: Enter on it) is not metadata. Everything here is untrusted
text: renderers pass it through sanitize.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import yaml

from swarmdeck.core.errors import UsageError

Format = Literal["yaml", "json"]
PATHS = {"service": "/services/{}", "node": "/nodes/{}", "task": "/tasks/{}",
         "network": "/networks/{}", "secret": "/secrets/{}", "config": "/configs/{}"}
KINDS = tuple(PATHS)
LEFT_OUT = "<left out: {} data is not shown here>"


async def fetch(docker: Any, kind: str, ident: str) -> dict[str, Any]:
    """GET the object (by ID) from the manager's Docker API; data of secrets and configs left
    out."""
    if kind not in PATHS:
        raise UsageError(f"cannot inspect a {kind!r}: one of {', '.join(KINDS)}")
    if not ident or any(c in ident for c in "/?#% \t\n"):
        raise UsageError(f"{ident!r} is not a {kind} ID")
    found = await docker.get(PATHS[kind].format(ident))
    return metadata(kind, found)


def metadata(kind: str, found: dict[str, Any]) -> dict[str, Any]:
    """FOUND without the data of a secret or config (a copy: FOUND is left as it is)."""
    if kind not in ("secret", "config"):
        return found
    spec = dict(found.get("Spec") or {})
    if "Data" in spec:
        spec["Data"] = LEFT_OUT.format(kind)
    return {**found, "Spec": spec}


def render(found: dict[str, Any], fmt: Format = "yaml") -> str:
    """FOUND as text: YAML as `docker inspect` users read it (keys in docker's order), or
    JSON as the API sends it (indented)."""
    if fmt == "json":
        return json.dumps(found, indent=2, ensure_ascii=False)
    return yaml.safe_dump(found, sort_keys=False, allow_unicode=True, width=1 << 16,
                          default_flow_style=False).rstrip("\n")
