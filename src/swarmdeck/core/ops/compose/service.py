"""One service of a compose file, read into a `ServiceDef` whose nested parts (ports,
mounts, healthcheck, capabilities, ulimits...) are already in the Engine API's shape; its
`deploy:` section is read in deploy_section.py."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from swarmdeck.core.ops.compose.checks import Reader, ignored_service_key, shown
from swarmdeck.core.ops.compose.deploy_section import read_deploy, restart_policy_of
from swarmdeck.core.ops.compose.model import KeyPath, ServiceDef
from swarmdeck.core.ops.compose.values import go_string, parse_port, port_host_ip

_SERVICE = {
    "image", "command", "entrypoint", "environment", "env_file", "labels", "ports", "networks",
    "volumes", "configs", "secrets", "healthcheck", "stop_grace_period", "stop_signal",
    "hostname", "user", "working_dir", "deploy", "logging", "extra_hosts", "init", "read_only",
    "cap_add", "cap_drop", "tty", "stdin_open", "dns", "dns_search", "sysctls", "ulimits",
    "restart", "isolation", "oom_score_adj",
}
# the shape compose format 3.13 gives the keys the CLI reads but ignores: checked all the same
_IGNORED_SHAPES = {"build": "string or mapping", "depends_on": "strings", "devices": "strings",
                   "security_opt": "strings", "links": "strings", "external_links": "strings",
                   "expose": "ports", "tmpfs": "string or strings", "privileged": "boolean",
                   "pid": "string or null"}  # shm_size: a number passes the schema, not Go
_PROPAGATIONS = {"rprivate", "private", "rshared", "shared", "rslave", "slave"}


def read_service(r: Reader, name: str, value: Any, p: KeyPath, workdir: Path,
                 env: Mapping[str, str]) -> ServiceDef:
    v = r.mapping(value, p)
    ignored = {key: why for key in v if (why := ignored_service_key(key))}
    r.keys(v, p, _SERVICE | set(ignored), extensions=True)
    for key, why in ignored.items():
        _check_ignored(r, key, v[key], (*p, key))
        r.warn((*p, key), why)
    s = ServiceDef(name)
    s.image = r.string(v.get("image"), (*p, "image"))
    if not s.image:  # said by what the service has instead (each is reported on its own too)
        if "build" in v:
            says = "; `build` is ignored by swarm stacks: build and push the image, then " \
                   "name it in `image:`"
        elif "extends" in v:
            says = "; `extends` is not supported by docker stack deploy: copy the image and " \
                   "settings into this service"
        else:
            says = ""
        r.problem((*p, "image"), "missing: swarm services need an image" + says)
    s.command = r.command(v.get("command"), (*p, "command"))
    s.entrypoint = r.command(v.get("entrypoint"), (*p, "entrypoint"))
    s.environment = _environment(r, v, p, workdir, env)
    s.labels = r.labels(v.get("labels"), (*p, "labels"))
    s.ports = _ports(r, v.get("ports"), (*p, "ports"))
    s.networks, s.network_driver_opts = _service_networks(r, v.get("networks"),
                                                          (*p, "networks"))
    s.volumes = [_mount(r, item, (*p, "volumes", i), workdir, env)
                 for i, item in enumerate(r.sequence(v.get("volumes"), (*p, "volumes")))]
    s.configs = [_file_ref(r, item, (*p, "configs", i))
                 for i, item in enumerate(r.sequence(v.get("configs"), (*p, "configs")))]
    s.secrets = [_file_ref(r, item, (*p, "secrets", i))
                 for i, item in enumerate(r.sequence(v.get("secrets"), (*p, "secrets")))]
    s.healthcheck = _healthcheck(r, v.get("healthcheck"), (*p, "healthcheck"))
    s.stop_grace_period = r.duration(v.get("stop_grace_period"), (*p, "stop_grace_period"))
    s.stop_signal = r.string(v.get("stop_signal"), (*p, "stop_signal"))
    s.hostname = r.string(v.get("hostname"), (*p, "hostname"))
    s.user = r.string(v.get("user"), (*p, "user"))  # `user: 1000` too: quote it, as for docker
    s.working_dir = r.string(v.get("working_dir"), (*p, "working_dir"))
    s.init = r.boolean(v.get("init"), (*p, "init"))
    s.read_only = bool(r.boolean(v.get("read_only"), (*p, "read_only")))
    s.extra_hosts = _extra_hosts(r, v.get("extra_hosts"), (*p, "extra_hosts"))
    if "logging" in v:
        log = r.mapping(v["logging"], (*p, "logging"))
        r.keys(log, (*p, "logging"), {"driver", "options"})
        s.logging = {"Name": r.string(log.get("driver"), (*p, "logging", "driver"))}
        options = r.labels(log.get("options"), (*p, "logging", "options"))
        if options:
            s.logging["Options"] = options
    cap_add = r.strings(v.get("cap_add"), (*p, "cap_add"))
    cap_drop = r.strings(v.get("cap_drop"), (*p, "cap_drop"))
    s.cap_add, s.cap_drop = effective_capabilities(cap_add, cap_drop)
    s.tty = bool(r.boolean(v.get("tty"), (*p, "tty")))
    s.stdin_open = bool(r.boolean(v.get("stdin_open"), (*p, "stdin_open")))
    for key in ("dns", "dns_search"):
        if key in v:
            setattr(s, key, r.strings(v[key], (*p, key), one_allowed=True))
    s.sysctls = r.labels(v.get("sysctls"), (*p, "sysctls"))
    s.ulimits = _ulimits(r, v.get("ulimits"), (*p, "ulimits"))
    s.isolation = r.string(v.get("isolation"), (*p, "isolation"))
    s.oom_score_adj = r.integer(v.get("oom_score_adj"), (*p, "oom_score_adj"),
                                minimum=-(2**63)) or 0  # its range: the engine's to check
    deploy = r.mapping(v.get("deploy"), (*p, "deploy"))
    read_deploy(r, s, deploy, (*p, "deploy"))
    if "restart" in v:
        restart = restart_policy_of(r, v["restart"], (*p, "restart"))
        if "restart_policy" in deploy:
            r.warn((*p, "restart"), "ignored: deploy.restart_policy is set and wins (as with "
                                    "docker stack deploy)")
        else:
            s.restart_policy = restart
    return s


def _check_ignored(r: Reader, key: str, value: Any, p: KeyPath) -> None:
    shape = _IGNORED_SHAPES.get(key, "string")
    if shape == "strings" or (shape == "string or strings" and not isinstance(value, str)):
        r.strings(value, p)
    elif shape == "boolean":
        r.boolean(value, p)
    elif shape == "ports":
        for i, item in enumerate(r.sequence(value, p)):
            if isinstance(item, bool) or not isinstance(item, str | int):
                r.problem((*p, i), f"expected a port (a number or text), got {shown(item)}")
    elif shape == "string or mapping":
        if not isinstance(value, str | dict):
            r.problem(p, f"expected a path or a mapping, got {shown(value)}")
    elif shape == "string" or (shape == "string or null" and value is not None):
        r.string(value, p)


def effective_capabilities(add: list[str], drop: list[str]) -> tuple[list[str], list[str]]:
    """opts.EffectiveCapAddCapDrop: names upper-cased with CAP_ in front, ALL wins over the
    rest of its list, a capability both added and dropped is added; both sorted."""
    def normal(cap: str) -> str:
        cap = cap.strip().upper()
        return cap if cap in ("ALL", "RESET") or cap.startswith("CAP_") else f"CAP_{cap}"

    adds, drops = {normal(c) for c in add}, {normal(c) for c in drop}
    adds = {"ALL"} if "ALL" in adds else adds
    drops = {"ALL"} if "ALL" in drops else drops
    return (sorted(adds - {"RESET"}), sorted(c for c in drops - {"RESET"} if c not in adds))


def _ulimits(r: Reader, value: Any, p: KeyPath) -> list[dict[str, Any]]:
    out = []
    for name, item in sorted(r.mapping(value, p).items()):
        if isinstance(item, dict):
            r.keys(item, (*p, name), {"soft", "hard"})
            soft = r.integer(item.get("soft"), (*p, name, "soft"), minimum=-1)
            hard = r.integer(item.get("hard"), (*p, name, "hard"), minimum=-1)
            if "soft" not in item or "hard" not in item:
                r.problem((*p, name), "needs both `soft:` and `hard:` (or one number)")
        else:
            soft = hard = r.integer(item, (*p, name), minimum=-1)
        out.append({"Name": name, "Soft": soft or 0, "Hard": hard or 0})
    return out




def _environment(r: Reader, v: dict[str, Any], p: KeyPath, workdir: Path,
                 env: Mapping[str, str]) -> dict[str, str | None]:
    """env_file entries, then `environment` over them; a key without a value (or with an
    empty one) takes the value from ENV when it is set there, as the CLI does."""
    result: dict[str, str | None] = {}

    def merge(values: Mapping[str, str | None]) -> None:
        for key, value in values.items():
            result[key] = env[key] if (value is None or value == "") and key in env else value

    for i, name in enumerate(r.strings(v.get("env_file"), (*p, "env_file"), one_allowed=True)):
        where = (*p, "env_file", i) if isinstance(v.get("env_file"), list) else (*p, "env_file")
        try:
            merge(_read_env_file(workdir / name, env))
        except (OSError, ValueError) as exc:
            r.problem(where, str(exc) if isinstance(exc, ValueError)
                      else f"cannot read {workdir / name}: {exc.strerror or exc}")
    merge(r.key_values(v.get("environment"), (*p, "environment"), allow_nil=True))
    return result


def _read_env_file(path: Path, env: Mapping[str, str]) -> dict[str, str | None]:
    """opts.ParseEnvFile: `KEY=value` lines taken literally, `KEY` alone from ENV (or dropped),
    blank lines and `#` comments skipped."""
    out: dict[str, str | None] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        key, has_value, value = line.partition("=")
        key = key.lstrip()
        if not key or any(c.isspace() for c in key):
            raise ValueError(f"{path}:{number}: bad variable name {key!r}")
        if has_value:
            out[key] = value
        elif key in env:
            out[key] = env[key]
    return out


def _ports(r: Reader, value: Any, p: KeyPath) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, item in enumerate(r.sequence(value, p)):
        where = (*p, i)
        if isinstance(item, int | str) and not isinstance(item, bool):
            try:
                ports = parse_port(str(item))
                host_ip = port_host_ip(str(item))
            except ValueError:
                r.problem(where, f"expected a port like 80, 8080:80 or 8080:80/udp, "
                                 f"got {shown(item)}")
                continue
            out += ports
            if host_ip and not ipaddress.ip_address(host_ip).is_unspecified:
                shown_ports = ", ".join(f"{x['PublishedPort']}/{x['Protocol']}" for x in ports)
                r.warn(where, f"host IP {host_ip} ignored: swarm publishes {shown_ports} on "
                              "EVERY address of every node (0.0.0.0), not only on "
                              f"{host_ip} (docker stack deploy ignores it too); bind to one "
                              "address with a firewall rule, or publish in host mode and "
                              "pin the service")
        elif isinstance(item, dict):
            r.keys(item, where, {"target", "published", "protocol", "mode"})
            target = r.integer(item.get("target"), (*where, "target"))
            if "target" not in item:
                r.warn(where, "no `target:`: the engine publishes it to port 0 of the "
                              "container (as with docker stack deploy); add the container's "
                              "port")
            published = r.integer(item.get("published"), (*where, "published"))
            port = {"Protocol": _engine_word(r, item, "protocol", where, ("tcp", "udp", "sctp")),
                    "TargetPort": target or 0, "PublishedPort": published or 0,
                    "PublishMode": _engine_word(r, item, "mode", where, ("ingress", "host"))}
            out.append(port)
        else:
            r.problem(where, f"expected a port (80, \"8080:80\" or a mapping with target, "
                             f"published, protocol, mode), got {shown(item)}")
    return out


def _engine_word(r: Reader, item: dict[str, Any], key: str, where: KeyPath,
                 known: tuple[str, ...]) -> str:
    """A port's protocol or mode as the engine reads it: any case; a word it does not know
    becomes its first (tcp, ingress) without a word from it, so with a warning here."""
    word = r.string(item.get(key), (*where, key))
    if word and word.lower() not in known:
        r.warn((*where, key), f"{word!r} is not {' or '.join(known)}: the engine makes it "
                              f"{known[0]} (as with docker stack deploy)")
        return known[0]
    return word.lower()


def _service_networks(r: Reader, value: Any, p: KeyPath
                      ) -> tuple[dict[str, list[str]], dict[str, dict[str, str]]]:
    """Each network's aliases, and the driver options of those that have some."""
    if value is None:
        return {}, {}
    if isinstance(value, list):
        return {name: [] for name in r.strings(value, p)}, {}
    out, options = {}, {}
    for name, item in r.mapping(value, p).items():
        spec = r.mapping(item, (*p, name))
        r.keys(spec, (*p, name), {"aliases", "driver_opts", "ipv4_address", "ipv6_address"})
        out[name] = r.strings(spec.get("aliases"), (*p, name, "aliases"))
        opts = r.labels(spec.get("driver_opts"), (*p, name, "driver_opts"))
        if opts:
            options[name] = opts
        for key in ("ipv4_address", "ipv6_address"):
            if key in spec:
                r.string(spec[key], (*p, name, key))
                r.warn((*p, name, key), "ignored: swarm gives each task its own address on "
                                        "the network (docker stack deploy drops it silently)")
    return out, options


def _mount(r: Reader, item: Any, p: KeyPath, workdir: Path,
           env: Mapping[str, str]) -> dict[str, Any]:
    if isinstance(item, str):
        mount = _parse_volume(item)
        if mount is None:
            r.problem(p, f"expected SOURCE:TARGET[:ro], got {item!r}")
            return {}
    elif isinstance(item, dict):
        r.keys(item, p, {"type", "source", "target", "read_only", "volume", "bind", "tmpfs",
                         "consistency"})
        mount = {"type": r.choice(item.get("type"), (*p, "type"), ("volume", "bind", "tmpfs"))
                 or ("volume" if "type" not in item else ""),
                 "source": r.string(item.get("source"), (*p, "source")),
                 "target": r.string(item.get("target"), (*p, "target")),
                 "read_only": bool(r.boolean(item.get("read_only"), (*p, "read_only"))),
                 "consistency": r.string(item.get("consistency"), (*p, "consistency"))}
        if "type" not in item:
            r.problem(p, "needs `type:` (volume, bind or tmpfs)")
        for kind, keys in (("volume", {"nocopy"}), ("bind", {"propagation"}),
                           ("tmpfs", {"size"})):
            if kind in item:
                options = r.mapping(item[kind], (*p, kind))
                r.keys(options, (*p, kind), keys)
                if kind != mount["type"]:
                    r.problem((*p, kind), f"{kind} options do not apply to a "
                                          f"{mount['type']} mount")
                elif kind == "volume":
                    mount["nocopy"] = bool(r.boolean(options.get("nocopy"),
                                                     (*p, kind, "nocopy")))
                elif kind == "bind":
                    mount["propagation"] = r.choice(options.get("propagation"),
                                                    (*p, kind, "propagation"),
                                                    tuple(sorted(_PROPAGATIONS)))
                else:
                    mount["size"] = r.integer(options.get("size"), (*p, kind, "size"))
    else:
        r.problem(p, f"expected SOURCE:TARGET or a mapping, got {shown(item)}")
        return {}
    if not mount.get("target"):
        r.problem(p, "needs a target path inside the container")
    if mount["type"] == "bind":
        if not mount["source"]:
            r.problem(p, "a bind mount needs a source path")
        else:
            source = mount["source"]
            if source.startswith("~") and "HOME" in env:
                source = source.replace("~", env["HOME"], 1)
            if not source.startswith("/"):
                source = os.path.normpath(os.path.join(workdir, source))  # as filepath.Join
            mount["source"] = source
    if mount["type"] == "tmpfs" and mount.get("source"):
        r.problem((*p, "source"), "a tmpfs mount has no source")
    return mount


def _parse_volume(spec: str) -> dict[str, Any] | None:
    """Short volume syntax, as loader.ParseVolume (unix paths)."""
    if len(spec) <= 2:
        return {"type": "volume", "source": "", "target": spec, "read_only": False}
    parts = spec.split(":")
    if any(not part for part in parts) or len(parts) > 3:
        return None
    mount: dict[str, Any] = {"source": "", "target": parts[0], "read_only": False}
    if len(parts) >= 2:
        mount["source"], mount["target"] = parts[0], parts[1]
    for option in (parts[2].split(",") if len(parts) == 3 else []):
        if option in ("ro", "rw"):
            mount["read_only"] = option == "ro"
        elif option == "nocopy":
            mount["nocopy"] = True
        elif option in _PROPAGATIONS:
            mount["propagation"] = option
    source = mount["source"]
    mount["type"] = "bind" if source and source[0] in "./~" else "volume"
    return mount


def _file_ref(r: Reader, item: Any, p: KeyPath) -> dict[str, Any]:
    if isinstance(item, str):
        return {"source": item, "target": item, "uid": "0", "gid": "0", "mode": 0o444}
    v = r.mapping(item, p)
    r.keys(v, p, {"source", "target", "uid", "gid", "mode"})
    source = r.string(v.get("source"), (*p, "source"))
    if not source:
        r.problem(p, "needs `source:`")
    ids = {key: r.string(v.get(key), (*p, key)) or "0" for key in ("uid", "gid")}
    mode = r.integer(v.get("mode"), (*p, "mode"))
    return {"source": source, "target": r.string(v.get("target"), (*p, "target")) or source,
            **ids, "mode": 0o444 if mode is None else mode}


def _extra_hosts(r: Reader, value: Any, p: KeyPath) -> list[str]:
    if isinstance(value, dict):
        entries = sorted(f"{host}:{ip}" for host, ip in r.labels(value, p).items())
    else:
        entries = r.strings(value, p)
    out = []
    for i, entry in enumerate(entries):  # as transformHostsList: HOST=IP or HOST:IP
        sep = "=" if "=" in entry else ":"
        host, found, ip = entry.partition(sep)
        if not found:
            r.warn((*p, i), f"ignored: {entry!r} is not HOST:IP or HOST=IP (docker stack "
                            "deploy drops it silently)")
            continue
        if len(ip) > 2 and ip[0] == "[" and ip[-1] == "]":
            ip = ip[1:-1]
        out.append(f"{ip} {host}")
    return out


def _healthcheck(r: Reader, value: Any, p: KeyPath) -> dict[str, Any] | None:
    if value is None:
        return None
    v = r.mapping(value, p)
    r.keys(v, p, {"test", "interval", "timeout", "retries", "start_period", "start_interval",
                  "disable"})
    if r.boolean(v.get("disable"), (*p, "disable")):
        if v.get("test"):
            r.problem((*p, "test"), "cannot be set together with disable: true")
        return {"Test": ["NONE"]}
    test = v.get("test")
    health: dict[str, Any] = {}
    if isinstance(test, str):
        health["Test"] = ["CMD-SHELL", test]
    elif test:
        health["Test"] = r.strings(test, (*p, "test"))
    for key, api in (("interval", "Interval"), ("timeout", "Timeout"),
                     ("start_period", "StartPeriod"), ("start_interval", "StartInterval")):
        nanos = r.duration(v.get(key), (*p, key))
        if nanos:
            health[api] = nanos
    retries = v.get("retries")
    if isinstance(retries, float) and retries >= 0:  # a number for the format, whole for Go
        if retries != int(retries):
            r.warn((*p, "retries"), f"{go_string(retries)} becomes {int(retries)} (as with "
                                    "docker stack deploy)")
        retries = int(retries)
    retries = r.integer(retries, (*p, "retries"))
    if retries:
        health["Retries"] = retries
    return health
