"""Compose files as `docker stack deploy` reads them, and the Engine API bodies it sends.

`load_compose` reads the YAML, interpolates variables, checks every key and value and reads
the env, config and secret files it names, as the docker CLI 28.x does: what it refuses is
refused (every problem collected and reported by key path and line), what it ignores or
changes on the way is done the same, with a warning by key path and line, never silently.
`stack_plan` turns the result into the service,
network, config and secret specs the docker CLI (cli/compose/convert) would build, field by
field, so a stack deployed from here and one deployed with `docker stack deploy` are alike.

Where each part lives:
  load.py           load_compose: the file, its top-level sections, references between them
  yaml_lines.py     the YAML, with the line of every key
  interpolation.py  ${VAR} substitution, as cli/compose/template
  checks.py         Reader: each value checked by key path; refused and ignored keys, why
  values.py         durations, sizes, CPUs, short port syntax, Go's way of printing scalars
  service.py        one service, into a ServiceDef in the Engine API's shape
  deploy_section.py its deploy: section and restart:
  model.py          ComposeProject and its parts, ComposeError
  specs.py          stack_plan: StackPlan and the bodies `docker stack deploy` sends
"""

from swarmdeck.core.ops.compose.interpolation import substitute
from swarmdeck.core.ops.compose.load import load_compose
from swarmdeck.core.ops.compose.model import (
    DEFAULT_NETWORK,
    ComposeError,
    ComposeProject,
    FileObject,
    KeyPath,
    NetworkDef,
    ServiceDef,
    VolumeDef,
)
from swarmdeck.core.ops.compose.specs import IMAGE_LABEL, StackPlan, stack_plan
from swarmdeck.core.ops.compose.values import (
    go_string,
    parse_bytes,
    parse_cpus,
    parse_duration,
    parse_port,
)

__all__ = [
    "DEFAULT_NETWORK",
    "IMAGE_LABEL",
    "ComposeError",
    "ComposeProject",
    "FileObject",
    "KeyPath",
    "NetworkDef",
    "ServiceDef",
    "StackPlan",
    "VolumeDef",
    "go_string",
    "load_compose",
    "parse_bytes",
    "parse_cpus",
    "parse_duration",
    "parse_port",
    "stack_plan",
    "substitute",
]
