"""`load_compose`: a compose file read as `docker stack deploy -c` reads it, every problem
collected and reported by key path and line, what is ignored said as a warning."""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from swarmdeck.core.ops.compose.checks import Reader, shown
from swarmdeck.core.ops.compose.interpolation import interpolate
from swarmdeck.core.ops.compose.model import (
    DEFAULT_NETWORK,
    ComposeError,
    ComposeProject,
    FileObject,
    KeyPath,
    NetworkDef,
    VolumeDef,
)
from swarmdeck.core.ops.compose.service import read_service
from swarmdeck.core.ops.compose.values import go_string
from swarmdeck.core.ops.compose.yaml_lines import parse_yaml

_TOP = {"version", "services", "networks", "volumes", "configs", "secrets"}
# the compose file formats docker stack deploy reads (CLI 28.x); none or "3" means 3.13
VERSIONS = {f"3.{minor}" for minor in range(14)}
# service lists the format wants without repeats (the schema's uniqueItems)
_UNIQUE = ("cap_add", "cap_drop", "depends_on", "devices", "dns", "dns_search", "env_file",
           "environment", "expose", "external_links", "extra_hosts", "labels", "links",
           "networks", "ports", "security_opt", "sysctls", "tmpfs")
# keys a format 3.N file may not have before N (the CLI checks the file against the schema of
# the version it names): "*" any name, "[]" any list item, "{}" a list item in long syntax
_SINCE: list[tuple[tuple[str, ...], int]] = [
    (("secrets",), 1), (("services", "*", "secrets"), 1), (("configs",), 3),
    (("services", "*", "configs"), 3), (("services", "*", "deploy", "endpoint_mode"), 2),
    (("services", "*", "ports", "{}"), 2), (("services", "*", "volumes", "{}"), 2),
    (("networks", "*", "attachable"), 2),
    (("services", "*", "deploy", "placement", "preferences"), 3),
    (("services", "*", "deploy", "update_config", "order"), 4),
    (("services", "*", "deploy", "rollback_config", "order"), 4),
    (("services", "*", "healthcheck", "start_period"), 4), (("volumes", "*", "name"), 4),
    (("networks", "*", "name"), 5), (("configs", "*", "name"), 5), (("secrets", "*", "name"), 5),
    (("services", "*", "isolation"), 5),
    (("services", "*", "deploy", "resources", "reservations", "generic_resources"), 5),
    (("services", "*", "volumes", "{}", "tmpfs"), 6),
    (("services", "*", "deploy", "rollback_config"), 7), (("services", "*", "init"), 7),
    (("services", "*", "deploy", "placement", "max_replicas_per_node"), 8),
    (("services", "*", "deploy", "resources", "limits", "pids"), 9),
    (("services", "*", "cgroupns_mode"), 9),
    (("services", "*", "healthcheck", "start_interval"), 12),
    (("services", "*", "oom_score_adj"), 13),
    (("services", "*", "networks", "*", "driver_opts"), 13),
]


def load_compose(path: Path, env: Mapping[str, str] | None = None) -> ComposeProject:
    """Read PATH as `docker stack deploy -c PATH` would, with ENV (default: this process's
    environment) for interpolation and for `environment` entries without a value."""
    env = dict(os.environ if env is None else env)
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ComposeError(f"cannot read compose file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ComposeError(f"{path} is not a UTF-8 text file") from None
    data, lines = parse_yaml(text, path)
    r = Reader(path, lines)
    if not isinstance(data, dict):
        raise ComposeError(f"{path}: the top level must be a mapping (services: ...), "
                           f"got {shown(data)}")
    data = interpolate(data, (), env, r)
    r.keys(data, (), _TOP, extensions=True)
    _check_unique(r, data)
    version = go_string(data["version"]) if "version" in data else ""
    version = "3.13" if version in ("", "3") else version
    if not version.startswith("3"):
        r.problem(("version",), f"swarm stacks need a version 3 compose file, got {version!r}")
    elif version not in VERSIONS:
        r.problem(("version",), f"unsupported compose file version {version!r}: docker stack "
                                "deploy reads 3.0 to 3.13")
    else:
        _check_since(r, data, version)
    workdir = Path(os.path.abspath(path)).parent
    networks = _load_named(r, data, "networks", _network)
    volumes = _load_named(r, data, "volumes", _volume)
    configs = _load_named(r, data, "configs", lambda r, v, p: _file_object(r, v, p, workdir))
    secrets = _load_named(r, data, "secrets", lambda r, v, p: _file_object(r, v, p, workdir))
    services = {}
    for name, value in r.mapping(data.get("services"), ("services",)).items():
        services[name] = read_service(r, name, value, ("services", name), workdir, env)
    if not services and "services" not in data:
        r.problem(("services",), "missing: a stack needs at least one service")
    project = ComposeProject(path, version, services, networks, volumes, configs, secrets,
                             r.warnings)
    _check_references(r, project)
    if r.found:
        found = r.problems
        count = len(found)
        raise ComposeError(f"{path}: {count} problem{'s' if count > 1 else ''}: "
                           + "; ".join(found), problems=found)
    return project


def _check_unique(r: Reader, data: dict[str, Any]) -> None:
    """Lists the format wants without repeats (the schema's uniqueItems)."""
    lists: list[tuple[KeyPath, Any]] = [
        (("services", name, key), value.get(key))
        for name, value in (data.get("services") or {}).items() if isinstance(value, dict)
        for key in _UNIQUE]
    lists += [(("services", name, "deploy", "labels"),
               ((value.get("deploy") or {}) if isinstance(value, dict) else {}).get("labels"))
              for name, value in (data.get("services") or {}).items()]
    lists += [((section, name, "labels"), value.get("labels"))
              for section in ("networks", "volumes", "configs", "secrets")
              for name, value in (data.get(section) or {}).items() if isinstance(value, dict)]
    for path, items in lists:
        if not isinstance(items, list):
            continue
        seen: set[str] = set()
        for i, item in enumerate(items):
            key = json.dumps(item, sort_keys=True, default=str)
            if key in seen:
                r.problem((*path, i), f"{shown(item)} is listed twice (docker stack deploy "
                                      "refuses repeats too)")
            seen.add(key)


def _check_since(r: Reader, data: dict[str, Any], version: str) -> None:
    minor = int(version.split(".")[1])
    for pattern, since in _SINCE:
        if minor < since:
            for path in _matching(data, pattern, ()):
                r.problem(path, f"needs compose file version 3.{since} or later (the file says "
                                f"version {version}; docker stack deploy refuses it too)")


def _matching(value: Any, pattern: tuple[str, ...], path: KeyPath) -> list[KeyPath]:
    if not pattern:
        return [path]
    head, rest = pattern[0], pattern[1:]
    if head in ("[]", "{}"):
        items = enumerate(value) if isinstance(value, list) else ()
        return [found for i, item in items if head == "[]" or isinstance(item, dict)
                for found in _matching(item, rest, (*path, i))]
    if not isinstance(value, dict):
        return []
    keys = [k for k in value if not k.startswith("x-")] if head == "*" else \
        [head] if head in value else []
    return [found for key in keys for found in _matching(value[key], rest, (*path, key))]


def _load_named(r: Reader, data: dict[str, Any], section: str,
                load: Callable[[Reader, dict[str, Any], KeyPath], Any]) -> dict[str, Any]:
    out = {}
    for name, value in r.mapping(data.get(section), (section,)).items():
        out[name] = load(r, r.mapping(value, (section, name)), (section, name))
    return out


def _network(r: Reader, v: dict[str, Any], p: KeyPath) -> NetworkDef:
    r.keys(v, p, {"driver", "driver_opts", "attachable", "internal", "external", "labels",
                  "name", "ipam"}, extensions=True)
    external, old_name = r.external(v.get("external"), (*p, "external"))
    name = r.string(v.get("name"), (*p, "name")) or old_name
    if external:
        for key in ("driver", "driver_opts", "labels", "attachable", "internal", "ipam"):
            if key in v:  # the CLI takes an external network as it is, without a word
                r.warn((*p, key), "ignored: an external network is used as it is (docker "
                                  "stack deploy ignores it too)")
        return NetworkDef(name or str(p[-1]), True)
    ipam = r.mapping(v.get("ipam"), (*p, "ipam"))
    r.keys(ipam, (*p, "ipam"), {"driver", "config"})
    subnets = []
    config = ipam.get("config")
    if config is not None and not isinstance(config, list):
        r.problem((*p, "ipam", "config"), f"expected a list, got {shown(config)}")
        config = []
    for i, item in enumerate(config or []):
        where = (*p, "ipam", "config", i)
        item = r.mapping(item, where)
        r.keys(item, where, {"subnet"})
        subnet = r.string(item.get("subnet"), (*where, "subnet"))
        try:
            if subnet:
                ipaddress.ip_network(subnet)
        except ValueError:
            r.problem((*where, "subnet"), f"expected a subnet like 10.0.9.0/24, got {subnet!r}")
        subnets.append(subnet)
    ipam_driver = r.string(ipam.get("driver"), (*p, "ipam", "driver"))
    return NetworkDef(name, False, r.string(v.get("driver"), (*p, "driver")),
                      {k: x or "" for k, x in r.key_values(v.get("driver_opts"),
                                                           (*p, "driver_opts"),
                                                           allow_nil=False).items()},
                      bool(r.boolean(v.get("attachable"), (*p, "attachable"))),
                      bool(r.boolean(v.get("internal"), (*p, "internal"))),
                      r.labels(v.get("labels"), (*p, "labels")),
                      ipam_driver, subnets, bool(ipam_driver or subnets))


def _volume(r: Reader, v: dict[str, Any], p: KeyPath) -> VolumeDef:
    r.keys(v, p, {"driver", "driver_opts", "external", "labels", "name"}, extensions=True)
    if "x-cluster-spec" in v:  # a cluster (CSI) volume: the CLI reads this extension
        r.problem((*p, "x-cluster-spec"), "cluster volumes are not supported by swarmdeck "
                                          "(deploy this file with `docker stack deploy`)")
    external, old_name = r.external(v.get("external"), (*p, "external"))
    name = r.string(v.get("name"), (*p, "name")) or old_name
    if external:
        for key in ("driver", "driver_opts", "labels"):
            if key in v:
                r.problem((*p, key), "cannot be set on an external volume")
        return VolumeDef(name or str(p[-1]), True)
    opts = v.get("driver_opts")
    return VolumeDef(name, False, r.string(v.get("driver"), (*p, "driver")),
                     None if opts is None else {
                         k: x or "" for k, x in r.key_values(opts, (*p, "driver_opts"),
                                                             allow_nil=False).items()},
                     r.labels(v.get("labels"), (*p, "labels")))


def _file_object(r: Reader, v: dict[str, Any], p: KeyPath, workdir: Path) -> FileObject:
    r.keys(v, p, {"file", "external", "labels", "name"}, extensions=True)
    external, old_name = r.external(v.get("external"), (*p, "external"))
    name = r.string(v.get("name"), (*p, "name")) or old_name
    labels = r.labels(v.get("labels"), (*p, "labels"))
    if external:
        if "file" in v:
            r.problem((*p, "file"), f"cannot be set on an external {str(p[0])[:-1]}")
        return FileObject(name or str(p[-1]), True, labels)
    file = r.string(v.get("file"), (*p, "file"))
    if not file:
        r.problem(p, "needs `file:` (or `external: true`)")
        return FileObject(name, False, labels)
    source = workdir / file
    try:
        data = source.read_bytes()
    except OSError as exc:
        r.problem((*p, "file"), f"cannot read {source}: {exc.strerror or exc}")
        data = b""
    return FileObject(name, False, labels, data)


def _check_references(r: Reader, project: ComposeProject) -> None:
    for name, s in project.services.items():
        base = ("services", name)
        for net in s.networks:
            if net != DEFAULT_NETWORK and net not in project.networks:
                r.problem((*base, "networks", net), f"undefined network {net!r} (declare it "
                                                    "under the top-level networks:)")
        for i, mount in enumerate(s.volumes):
            if mount.get("type") == "volume" and mount.get("source") \
                    and mount["source"] not in project.volumes:
                r.problem((*base, "volumes", i), f"undefined volume {mount['source']!r} "
                                                 "(declare it under the top-level volumes:)")
        for kind, defined in (("configs", project.configs), ("secrets", project.secrets)):
            targets: set[str] = set()
            for i, ref in enumerate(getattr(s, kind)):
                if ref["source"] and ref["source"] not in defined:
                    r.problem((*base, kind, i), f"undefined {kind[:-1]} {ref['source']!r} "
                                                f"(declare it under the top-level {kind}:)")
                if ref["target"] in targets:
                    r.problem((*base, kind, i), f"target {ref['target']!r} is used twice")
                targets.add(ref["target"])
