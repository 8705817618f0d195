"""`stack_plan`: the service, network, config and secret specs the docker CLI
(cli/compose/convert) builds from a compose file, field by field, so a stack deployed from
here and one deployed with `docker stack deploy` are alike."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from swarmdeck.core.models import STACK_LABEL
from swarmdeck.core.ops.compose.model import (
    DEFAULT_NETWORK,
    ComposeError,
    ComposeProject,
    FileObject,
    NetworkDef,
    ServiceDef,
)

IMAGE_LABEL = "com.docker.stack.image"
_NAME = re.compile(r"[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*")
_OBJECT_NAME = re.compile(r"[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?")


@dataclass(frozen=True)
class StackPlan:
    """What `docker stack deploy` would send. Service specs name their configs and secrets;
    the IDs are filled in at deploy time, once those exist."""

    stack: str
    services: dict[str, dict[str, Any]]  # compose name -> ServiceSpec
    networks: dict[str, dict[str, Any]]  # network name -> NetworkCreate body
    configs: dict[str, dict[str, Any]]  # config name -> ConfigSpec
    secrets: dict[str, dict[str, Any]]  # secret name -> SecretSpec
    external_networks: list[str] = field(default_factory=list)
    external_configs: list[str] = field(default_factory=list)
    external_secrets: list[str] = field(default_factory=list)
    warnings: tuple[str, ...] = ()  # what the file says that is ignored or changed on the way

    def service_name(self, name: str) -> str:
        return f"{self.stack}_{name}"


def stack_plan(project: ComposeProject, stack: str) -> StackPlan:
    """The specs `docker stack deploy -c FILE STACK` sends, minus what needs the cluster
    (config and secret IDs, image digests): those are added when deploying."""
    problems = []
    if not _NAME.fullmatch(stack):
        problems.append(f"stack name {stack!r}: use letters, digits, - and _ (starting with a "
                        "letter or digit)")
    for name in project.services:
        scoped = f"{stack}_{name}"
        if not _NAME.fullmatch(scoped) or len(scoped) > 63:
            problems.append(f"service {name!r}: {scoped!r} is not a valid swarm service name "
                            "(letters, digits, - and _; at most 63 characters)")

    def scope(name: str) -> str:
        return f"{stack}_{name}"

    def labels(extra: Mapping[str, str]) -> dict[str, str]:
        return {**extra, STACK_LABEL: stack}

    used = {net for s in project.services.values() for net in (s.networks or [DEFAULT_NETWORK])}
    networks, external_networks = {}, []
    for key in sorted(used):
        net = project.networks.get(key) or NetworkDef(None, False)
        if net.external:
            external_networks.append(net.name or key)
            continue
        body: dict[str, Any] = {"Name": net.name or scope(key),
                                "Driver": net.driver or "overlay",
                                "Labels": labels(net.labels)}
        if net.driver_opts:
            body["Options"] = dict(net.driver_opts)
        body["Internal"] = net.internal
        body["Attachable"] = net.attachable
        if net.has_ipam:
            body["IPAM"] = {"Driver": net.ipam_driver,
                            "Config": [{"Subnet": s} if s else {} for s in net.subnets]}
        networks[body["Name"]] = body

    def objects(defined: Mapping[str, FileObject], kind: str
                ) -> tuple[dict[str, dict[str, Any]], list[str]]:
        specs, external = {}, []
        for key, obj in sorted(defined.items()):
            name = obj.name or scope(key)
            if obj.external:
                external.append(name)
                continue
            if not _OBJECT_NAME.fullmatch(name) or len(name) > 64:
                problems.append(f"{kind} {key!r}: {name!r} is not a valid {kind} name")
            specs[name] = {"Name": name, "Labels": labels(obj.labels),
                           "Data": base64.b64encode(obj.data).decode()}
        return specs, external

    configs, external_configs = objects(project.configs, "config")
    secrets, external_secrets = objects(project.secrets, "secret")
    if problems:
        raise ComposeError(f"cannot deploy {project.path} as stack {stack!r}: "
                           + "; ".join(problems), problems=problems)
    services = {name: _service_spec(project, s, stack) for name, s in project.services.items()}
    return StackPlan(stack, services, networks, configs, secrets, external_networks,
                     external_configs, external_secrets, tuple(project.warnings))


def _service_spec(project: ComposeProject, s: ServiceDef, stack: str) -> dict[str, Any]:
    def scope(name: str) -> str:
        return f"{stack}_{name}"

    container: dict[str, Any] = {"Image": s.image, "Labels": {**s.labels, STACK_LABEL: stack}}
    if s.entrypoint:
        container["Command"] = s.entrypoint
    if s.command:
        container["Args"] = s.command
    if s.hostname:
        container["Hostname"] = s.hostname
    if s.extra_hosts:
        container["Hosts"] = s.extra_hosts
    if s.healthcheck is not None:
        container["Healthcheck"] = s.healthcheck
    env = sorted(k if v is None else f"{k}={v}" for k, v in s.environment.items())
    if env:
        container["Env"] = env
    if s.working_dir:
        container["Dir"] = s.working_dir
    if s.user:
        container["User"] = s.user
    mounts = [_mount_spec(project, m, stack) for m in s.volumes]
    if mounts:
        container["Mounts"] = mounts
    if s.stop_grace_period is not None:
        container["StopGracePeriod"] = s.stop_grace_period
    if s.stop_signal:
        container["StopSignal"] = s.stop_signal
    if s.read_only:
        container["ReadOnly"] = True
    if s.tty:
        container["TTY"] = True
    if s.stdin_open:
        container["OpenStdin"] = True
    if s.dns is not None or s.dns_search is not None:
        container["DNSConfig"] = {"Nameservers": s.dns, "Search": s.dns_search}
    if s.sysctls:
        container["Sysctls"] = dict(s.sysctls)
    if s.cap_add:
        container["CapabilityAdd"] = list(s.cap_add)
    if s.cap_drop:
        container["CapabilityDrop"] = list(s.cap_drop)
    if s.ulimits:
        container["Ulimits"] = [dict(u) for u in s.ulimits]
    if s.isolation:
        container["Isolation"] = s.isolation
    if s.oom_score_adj:
        container["OomScoreAdj"] = s.oom_score_adj
    for kind, defined, key in (("Secrets", project.secrets, "SecretName"),
                               ("Configs", project.configs, "ConfigName")):
        refs = []
        for ref in getattr(s, kind.lower()):
            obj = defined[ref["source"]]
            refs.append({"File": {"Name": ref["target"], "UID": ref["uid"], "GID": ref["gid"],
                                  "Mode": ref["mode"]},
                         key: obj.name or scope(ref["source"])})
        if refs:
            container[kind] = sorted(refs, key=lambda x: x[key])
    container["Privileges"] = {"CredentialSpec": None, "SELinuxContext": None}
    if s.init is not None:
        container["Init"] = s.init

    task: dict[str, Any] = {"ContainerSpec": container, "Resources": s.resources}
    if s.restart_policy is not None:
        task["RestartPolicy"] = s.restart_policy
    task["Placement"] = dict(s.placement)
    if s.logging is not None:
        task["LogDriver"] = s.logging
    attachments = []
    for net_key, aliases in (s.networks or {DEFAULT_NETWORK: []}).items():
        net = project.networks.get(net_key)
        target = (net.name if net and net.name else None) or scope(net_key)
        attachment: dict[str, Any] = {"Target": target}
        if target not in ("host", "bridge", "none", "default"):
            attachment["Aliases"] = [*aliases, s.name]
        elif aliases:
            attachment["Aliases"] = aliases
        if s.network_driver_opts.get(net_key):
            attachment["DriverOpts"] = dict(s.network_driver_opts[net_key])
        attachments.append(attachment)
    task["Networks"] = sorted(attachments, key=lambda a: a["Target"])

    endpoint: dict[str, Any] = {}
    if s.endpoint_mode:
        endpoint["Mode"] = s.endpoint_mode
    if s.ports:
        endpoint["Ports"] = sorted(s.ports, key=lambda x: (x["PublishedPort"], x["TargetPort"]))
    if s.mode == "global":
        mode: dict[str, Any] = {"Global": {}}
    elif s.mode == "global-job":
        mode = {"GlobalJob": {}}
    elif s.mode == "replicated-job":
        mode = {"ReplicatedJob": {} if s.replicas is None else
                {"MaxConcurrent": s.replicas, "TotalCompletions": s.replicas}}
    else:
        mode = {"Replicated": {} if s.replicas is None else {"Replicas": s.replicas}}
    spec: dict[str, Any] = {
        "Name": scope(s.name),
        "Labels": {**s.deploy_labels, STACK_LABEL: stack, IMAGE_LABEL: s.image},
        "TaskTemplate": task, "Mode": mode, "EndpointSpec": endpoint,
    }
    if s.update_config is not None:
        spec["UpdateConfig"] = s.update_config
    if s.rollback_config is not None:
        spec["RollbackConfig"] = s.rollback_config
    return spec


def _mount_spec(project: ComposeProject, m: dict[str, Any], stack: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"Type": m["type"]}
    if m["type"] == "volume" and m["source"]:
        volume = project.volumes[m["source"]]
        spec["Source"] = volume.name or f"{stack}_{m['source']}"
    elif m["source"]:
        spec["Source"] = m["source"]
    spec["Target"] = m["target"]
    if m["read_only"]:
        spec["ReadOnly"] = True
    if m.get("consistency"):
        spec["Consistency"] = m["consistency"]
    if m["type"] == "bind" and m.get("propagation"):
        spec["BindOptions"] = {"Propagation": m["propagation"]}
    if m["type"] == "volume" and m["source"]:
        volume = project.volumes[m["source"]]
        options: dict[str, Any] = {}
        if m.get("nocopy"):
            options["NoCopy"] = True
        if not volume.external:
            options["Labels"] = {**volume.labels, STACK_LABEL: stack}
            if volume.driver or volume.driver_opts is not None:
                options["DriverConfig"] = {"Name": volume.driver,
                                           **({"Options": volume.driver_opts}
                                              if volume.driver_opts else {})}
        spec["VolumeOptions"] = options
    if m["type"] == "tmpfs" and m.get("size"):
        spec["TmpfsOptions"] = {"SizeBytes": m["size"]}
    return spec
