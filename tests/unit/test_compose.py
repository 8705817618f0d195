"""Compose files read as `docker stack deploy` reads them, and the specs it would send (the
deploy itself, against a fake engine, is in test_deploy.py; the real comparison with the
docker CLI is in tests/integration/test_deploy_parity.py)."""

from __future__ import annotations

import base64
from pathlib import Path
from unittest import mock

import pytest

from swarmdeck.cli.main import main
from swarmdeck.core.errors import UsageError
from swarmdeck.core.ops.compose import (
    ComposeError,
    go_string,
    load_compose,
    parse_bytes,
    parse_cpus,
    parse_duration,
    parse_port,
    stack_plan,
    substitute,
)


def compose(tmp_path: Path, text: str, env: dict[str, str] | None = None, **files: str):
    for name, content in files.items():
        (tmp_path / name.replace("__", ".")).write_text(content)
    path = tmp_path / "stack.yml"
    path.write_text(text)
    return load_compose(path, env=env or {})


def problems(tmp_path: Path, text: str, **files: str) -> list[str]:
    with pytest.raises(ComposeError) as error:
        compose(tmp_path, text, **files)
    return error.value.problems


# ---- values ------------------------------------------------------------------------------
def test_durations_sizes_cpus_like_go():
    assert parse_duration("1m30s") == 90_000_000_000
    assert parse_duration("1.5s") == 1_500_000_000
    assert parse_duration("300ms") == 300_000_000
    assert parse_duration("0") == 0
    for bad in ("10", "1x", "", "s"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    assert parse_bytes("64M") == 64 * 1024**2
    assert parse_bytes("1.5g") == int(1.5 * 1024**3)
    assert parse_bytes("512MiB") == 512 * 1024**2
    assert parse_bytes(1000) == 1000
    assert parse_cpus("0.25") == 250_000_000
    assert parse_cpus(0.5) == 500_000_000
    assert parse_cpus("1/4") == 250_000_000
    with pytest.raises(ValueError):
        parse_cpus("0.0000000001")  # finer than a nano CPU


def test_yaml_scalars_become_strings_the_way_go_prints_them():
    assert [go_string(v) for v in (True, 1, 1.0, 2.5, 1e21, 0.0001)] == [
        "true", "1", "1", "2.5", "1e+21", "0.0001"]


def test_short_port_syntax():
    assert parse_port("8080:80") == [
        {"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080, "PublishMode": "ingress"}]
    assert [p["PublishedPort"] for p in parse_port("9000-9001:90-91/udp")] == [9000, 9001]
    assert parse_port("53/udp")[0] | {} == {"Protocol": "udp", "TargetPort": 53,
                                            "PublishedPort": 0, "PublishMode": "ingress"}
    for bad in ("http", "80/xtp", "1-3:4-5", "8080:"):
        with pytest.raises(ValueError):
            parse_port(bad)


def test_interpolation_like_the_cli():
    env = {"SET": "x", "EMPTY": ""}
    assert substitute("${SET} $SET ${UNSET}", env) == "x x "
    assert substitute("${EMPTY:-d} ${EMPTY-d} ${UNSET-d}", env) == "d  d"
    assert substitute("cost $$5", env) == "cost $5"
    with pytest.raises(ValueError, match="required variable UNSET is missing a value: say"):
        substitute("${UNSET:?say}", env)
    with pytest.raises(ValueError, match="invalid variable"):
        substitute("5$", env)


# ---- loading -----------------------------------------------------------------------------
def test_loads_interpolates_and_casts_variables(tmp_path):
    project = compose(tmp_path, """\
version: "3.9"
services:
  web:
    image: ${REGISTRY:-docker.io}/web:${TAG}
    command: httpd -f -p "8 0"
    environment: [PLAIN=1, FROM_ENV, "PRICE=$$5"]
    env_file: [web.env]
    deploy:
      replicas: ${REPLICAS}
""", env={"TAG": "2", "REPLICAS": "3", "FROM_ENV": "shell", "OVERRIDE": "env"},
        web__env="# comment\nFILE=1\nOVERRIDE=\nPLAIN=file\n")
    web = project.services["web"]
    assert web.image == "docker.io/web:2"
    assert web.command == ["httpd", "-f", "-p", "8 0"]
    assert web.replicas == 3
    # env_file first, `environment` over it; empty values are taken from the environment
    assert web.environment == {"FILE": "1", "OVERRIDE": "env", "PLAIN": "1",
                               "FROM_ENV": "shell", "PRICE": "$5"}


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    with pytest.raises(ComposeError) as error:
        compose(tmp_path, "services:\n  web:\n    image: a\n   bad: [\n")
    assert error.value.exit_code == 2
    assert isinstance(error.value, UsageError)
    assert str(error.value).startswith(f"{tmp_path / 'stack.yml'}: line 4, column 4: YAML")


def test_raw_control_characters_are_problems_with_their_line_and_column(tmp_path):
    """YAML allows none (the reader raised a ReaderError: a traceback); each is listed like
    the other problems, and the message shows it as a placeholder, never raw."""
    with pytest.raises(ComposeError) as error:
        compose(tmp_path, "services:\n  web:\n    image: busybox\n    environment:\n"
                          "      A: \"x\x07y\"\n    command: echo \x1b[2J ok\x7f\n")
    assert error.value.exit_code == 2
    assert error.value.problems == [
        "line 5, column 12: a raw control character U+0007 (<BEL>): YAML allows none; write "
        "it escaped in a double-quoted string (\"\\x07\") or remove it",
        "line 6, column 19: a raw control character U+001B (<ESC>): YAML allows none; write "
        "it escaped in a double-quoted string (\"\\x1b\") or remove it",
        "line 6, column 26: a raw control character U+007F (<DEL>): YAML allows none; write "
        "it escaped in a double-quoted string (\"\\x7f\") or remove it",
    ]
    message = str(error.value)
    assert message.startswith(f"{tmp_path / 'stack.yml'}: 3 problems: line 5, column 12: ")
    assert not {"\x07", "\x1b", "\x7f"} & set(message)


def test_thousands_of_control_characters_are_listed_up_to_a_point(tmp_path):
    with pytest.raises(ComposeError) as error:
        compose(tmp_path, "services:\n  web:\n    image: a\n" + "# \x01\x02\n" * 5000)
    found = error.value.problems
    assert len(found) == 21 and found[-1] == "… and 9980 more raw control characters"
    assert found[0].startswith("line 4, column 3: a raw control character U+0001")
    assert str(error.value).split(": ")[1] == "10000 problems"


def test_duplicate_keys_are_an_error_not_a_silent_overwrite(tmp_path):
    with pytest.raises(ComposeError, match="line 4: services.web.image is defined twice"):
        compose(tmp_path, "services:\n  web:\n    image: a\n    image: b\n")


def test_keys_docker_refuses_are_refused_by_path_and_line(tmp_path):
    found = problems(tmp_path, """\
services:
  web:
    image: a
    extends: {file: base.yml, service: web}
    mem_limit: 1g
    platform: linux/amd64
    bogus: 1
    credential_spec: {file: x.json}
networks:
  n: {ipam: {options: {}}}
volumes:
  v: {x-cluster-spec: {group: g}}
name: shop
x-anchors: {}
""")
    assert found == [
        "line 4: services.web.extends: not supported by swarm stacks: `extends` is not "
        "supported by docker stack deploy",
        "line 5: services.web.mem_limit: not supported by swarm stacks: set limits under "
        "deploy.resources instead",
        "line 6: services.web.platform: not a compose file format 3 key (docker stack deploy "
        "refuses it too)",
        "line 7: services.web.bogus: unknown key",
        "line 8: services.web.credential_spec: not supported by swarmdeck (deploy this file "
        "with `docker stack deploy`)",
        "line 10: networks.n.ipam.options: unknown key",
        "line 12: volumes.v.x-cluster-spec: cluster volumes are not supported by swarmdeck "
        "(deploy this file with `docker stack deploy`)",
        "line 13: name: not a compose file format 3 key (docker stack deploy refuses it too)",
    ]


def test_keys_docker_ignores_are_deployed_with_a_warning_naming_key_and_line(tmp_path):
    project = compose(tmp_path, """\
services:
  web:
    image: a
    build: .
    container_name: web1
    expose: [80, "443"]
    security_opt: [label=disable]
    depends_on: [db]
    privileged: true
    tmpfs: /run
    networks:
      back: {ipv4_address: 10.250.7.9, aliases: [w]}
  db:
    image: b
networks:
  back: {}
""")
    assert project.warnings == [
        "line 4: services.web.build: ignored: not supported by swarm services (docker stack "
        "deploy ignores it too)",
        "line 5: services.web.container_name: ignored: setting the container name is not "
        "supported (docker stack deploy ignores it too)",
        "line 6: services.web.expose: ignored: exposing ports is unnecessary: services on the "
        "same network reach each other's containers on any port (docker stack deploy ignores "
        "it too)",
        "line 7: services.web.security_opt: ignored: not supported by swarm services (docker "
        "stack deploy ignores it too)",
        "line 8: services.web.depends_on: ignored: swarm services have no such setting "
        "(docker stack deploy drops it silently)",
        "line 9: services.web.privileged: ignored: not supported by swarm services (docker "
        "stack deploy ignores it too)",
        "line 10: services.web.tmpfs: ignored: swarm services have no such setting (docker "
        "stack deploy drops it silently)",
        "line 12: services.web.networks.back.ipv4_address: ignored: swarm gives each task its "
        "own address on the network (docker stack deploy drops it silently)",
    ]
    plan = stack_plan(project, "shop")
    assert plan.warnings == tuple(project.warnings)
    web = plan.services["web"]
    assert web["TaskTemplate"]["Networks"] == [{"Target": "shop_back", "Aliases": ["w", "web"]}]
    container = web["TaskTemplate"]["ContainerSpec"]
    assert not {"Hostname", "Mounts", "Privileges"} & set(container) - {"Privileges"}
    assert container["Privileges"] == {"CredentialSpec": None, "SELinuxContext": None}


def test_ignored_keys_are_still_checked_as_docker_checks_them(tmp_path):
    assert problems(tmp_path, """\
services:
  web:
    image: a
    depends_on: {db: {condition: service_healthy}}
    privileged: "yes"
    build: [.]
""") == [
        "line 4: services.web.depends_on: expected a list of strings, got a mapping",
        "line 5: services.web.privileged: expected true or false, got text 'yes'",
        "line 6: services.web.build: expected a path or a mapping, got a list",
    ]


def test_converted_keys_become_the_specs_the_cli_sends(tmp_path):
    plan = stack_plan(compose(tmp_path, """\
services:
  web:
    image: a
    cap_add: [net_admin, CAP_SYS_TIME, chown]
    cap_drop: [ALL, chown]
    tty: true
    stdin_open: ${OPEN}
    dns: 10.0.0.2
    dns_search: [example.org]
    sysctls: [net.core.somaxconn=1024]
    ulimits:
      nproc: 65535
      nofile:
        soft: ${SOFT}
        hard: 40000
    volumes: [{type: volume, target: /cache, consistency: cached}]
    isolation: default
    oom_score_adj: -500
    healthcheck: {test: [CMD, "true"], start_interval: 2s}
    networks:
      back: {driver_opts: {com.example.mtu: 1400}}
    deploy:
      resources:
        reservations:
          generic_resources: [{discrete_resource_spec: {kind: gpu, value: 2}}]
  plain:
    image: b
    dns_search: example.org
networks:
  back:
    ipam: {config: [{subnet: 10.250.7.0/24}]}
""", env={"OPEN": "yes", "SOFT": "20000"}), "shop")
    web = plan.services["web"]
    container = web["TaskTemplate"]["ContainerSpec"]
    assert container["CapabilityAdd"] == ["CAP_CHOWN", "CAP_NET_ADMIN", "CAP_SYS_TIME"]
    assert container["CapabilityDrop"] == ["ALL"]
    assert (container["TTY"], container["OpenStdin"]) == (True, True)
    assert container["DNSConfig"] == {"Nameservers": ["10.0.0.2"], "Search": ["example.org"]}
    assert container["Sysctls"] == {"net.core.somaxconn": "1024"}
    assert container["Ulimits"] == [{"Name": "nofile", "Soft": 20000, "Hard": 40000},
                                    {"Name": "nproc", "Soft": 65535, "Hard": 65535}]
    assert container["Mounts"] == [{"Type": "volume", "Target": "/cache",
                                    "Consistency": "cached"}]
    assert (container["Isolation"], container["OomScoreAdj"]) == ("default", -500)
    assert container["Healthcheck"] == {"Test": ["CMD", "true"],
                                        "StartInterval": 2_000_000_000}
    assert web["TaskTemplate"]["Networks"] == [{"Target": "shop_back", "Aliases": ["web"],
                                               "DriverOpts": {"com.example.mtu": "1400"}}]
    assert web["TaskTemplate"]["Resources"] == {"Reservations": {"GenericResources": [
        {"DiscreteResourceSpec": {"Kind": "gpu", "Value": 2}}]}}
    assert plan.services["plain"]["TaskTemplate"]["ContainerSpec"]["DNSConfig"] == {
        "Nameservers": None, "Search": ["example.org"]}
    assert plan.networks["shop_back"]["IPAM"] == {"Driver": "",
                                                  "Config": [{"Subnet": "10.250.7.0/24"}]}
    assert "IPAM" not in plan.networks["shop_default"]
    assert plan.warnings == ()


@pytest.mark.parametrize("restart, policy", [
    ("on-failure:5", {"Condition": "on-failure", "MaxAttempts": 5}),
    ("on-failure", {"Condition": "on-failure", "MaxAttempts": 0}),
    ("always", {"Condition": "any"}),
    ("unless-stopped", {"Condition": "any"}),
    ("no", None),
    ('"no"', None),
])
def test_restart_is_converted_when_deploy_has_no_restart_policy(tmp_path, restart, policy):
    plan = stack_plan(compose(tmp_path, f"services:\n  web:\n    image: a\n"
                                        f"    restart: {restart}\n"), "shop")
    assert plan.services["web"]["TaskTemplate"].get("RestartPolicy") == policy
    assert plan.warnings == ()


def test_restart_beside_a_restart_policy_is_ignored_with_a_warning(tmp_path):
    project = compose(tmp_path, "services:\n  web:\n    image: a\n    restart: always\n"
                                "    deploy: {restart_policy: {condition: none}}\n")
    assert project.services["web"].restart_policy == {"Condition": "none"}
    assert project.warnings == ["line 4: services.web.restart: ignored: "
                                "deploy.restart_policy is set and wins (as with docker stack "
                                "deploy)"]
    assert problems(tmp_path, "services:\n  web:\n    image: a\n    restart: sometimes\n") == [
        "line 4: services.web.restart: expected no, always, unless-stopped or on-failure[:N], "
        "got 'sometimes'"]


def test_a_host_ip_on_a_published_port_is_a_loud_warning(tmp_path):
    project = compose(tmp_path, """\
services:
  dns:
    image: a
    ports: ["127.0.0.1:5353:53/udp", "0.0.0.0:8080:80", "[::1]:9090:90"]
""")
    assert project.services["dns"].ports[0] == {"Protocol": "udp", "TargetPort": 53,
                                                "PublishedPort": 5353, "PublishMode": "ingress"}
    assert project.warnings == [
        f"line 4: services.dns.ports[{i}]: host IP {ip} ignored: swarm publishes {port} on "
        f"EVERY address of every node (0.0.0.0), not only on {ip} (docker stack deploy ignores "
        "it too); bind to one address with a firewall rule, or publish in host mode and pin "
        "the service" for i, ip, port in ((0, "127.0.0.1", "5353/udp"), (2, "::1", "9090/tcp"))]
    assert problems(tmp_path, 'services:\n  dns:\n    image: a\n    ports: ["1.2.3:80:80"]\n'
                    ) == ["line 4: services.dns.ports[0]: expected a port like 80, 8080:80 or "
                          "8080:80/udp, got text '1.2.3:80:80'"]


def test_scalars_are_read_as_the_cli_reads_yaml(tmp_path):
    """yes/no/on/off are text for the CLI (YAML 1.2), and so is 22:22 (no base 60)."""
    web = compose(tmp_path, """\
services:
  web:
    image: a
    environment: {A: yes, B: "on", C: 0755, D: 1e3, E: 1_000}
    ports: [22:22]
""").services["web"]
    assert web.environment == {"A": "yes", "B": "on", "C": "493", "D": "1000", "E": "1000"}
    assert web.ports == [{"Protocol": "tcp", "TargetPort": 22, "PublishedPort": 22,
                          "PublishMode": "ingress"}]


def test_values_the_engine_changes_on_the_way_are_kept_as_it_keeps_them_with_a_warning(
        tmp_path):
    """Seen on the lab (engine 20.10, docker stack deploy): an unknown protocol is stored
    as tcp, an unknown mode as ingress, a port without target as target 0, retries 2.5 as 2."""
    project = compose(tmp_path, """\
services:
  web:
    image: a
    ports: [{target: 80, protocol: icmp, mode: weird}, {target: 81, protocol: UDP}, {published: 9}]
    healthcheck: {test: [CMD, "true"], retries: 2.5}
""")
    assert project.services["web"].ports == [
        {"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 0, "PublishMode": "ingress"},
        {"Protocol": "udp", "TargetPort": 81, "PublishedPort": 0, "PublishMode": ""},
        {"Protocol": "", "TargetPort": 0, "PublishedPort": 9, "PublishMode": ""}]
    assert project.services["web"].healthcheck == {"Test": ["CMD", "true"], "Retries": 2}
    assert project.warnings == [
        "line 4: services.web.ports[0].protocol: 'icmp' is not tcp or udp or sctp: the engine "
        "makes it tcp (as with docker stack deploy)",
        "line 4: services.web.ports[0].mode: 'weird' is not ingress or host: the engine makes "
        "it ingress (as with docker stack deploy)",
        "line 4: services.web.ports[2]: no `target:`: the engine publishes it to port 0 of the "
        "container (as with docker stack deploy); add the container's port",
        "line 5: services.web.healthcheck.retries: 2.5 becomes 2 (as with docker stack "
        "deploy)",
    ]


def test_what_the_format_wants_as_text_or_without_repeats_is_refused_as_docker_does(
        tmp_path):
    assert problems(tmp_path, """\
services:
  web:
    image: a
    user: 1000
    dns: [1.1.1.1, 1.1.1.1]
    ports: ["80:80", "80:80"]
    configs: [{source: c, uid: 100}]
    volumes: [{type: tmpfs, target: /t, tmpfs: {size: 64m}}]
    extra_hosts: ["a=10.0.0.1", "b:[::1]", "nohost"]
    deploy:
      resources: {limits: {cpus: 0.5, memory: "64M"}}
configs:
  c: {file: c.txt}
""", c__txt="x") == [
        "line 4: services.web.user: expected a string, got int 1000",
        "line 5: services.web.dns[1]: text '1.1.1.1' is listed twice (docker stack deploy "
        "refuses repeats too)",
        "line 6: services.web.ports[1]: text '80:80' is listed twice (docker stack deploy "
        "refuses repeats too)",
        "line 7: services.web.configs[0].uid: expected a string, got int 100",
        "line 8: services.web.volumes[0].tmpfs.size: expected a whole number, got text '64m'",
        "line 11: services.web.deploy.resources.limits.cpus: expected text, got a number: "
        'quote it (cpus: "0.5")',
    ]
    web = compose(tmp_path, """\
services:
  web:
    image: a
    extra_hosts: ["a=10.0.0.1", "b:[::1]", "nohost"]
""")
    assert web.services["web"].extra_hosts == ["10.0.0.1 a", "::1 b"]
    assert web.warnings == ["line 4: services.web.extra_hosts[2]: ignored: 'nohost' is not "
                            "HOST:IP or HOST=IP (docker stack deploy drops it silently)"]


def test_a_boolean_where_the_format_wants_text_is_refused_as_docker_does(tmp_path):
    assert problems(tmp_path, """\
services:
  web:
    image: a
    environment: {DEBUG: true}
    labels: {public: false}
""") == [
        "line 4: services.web.environment.DEBUG: expected a string or a number, got bool True "
        '(quote it: "true")',
        "line 5: services.web.labels.public: expected a string or a number, got bool False "
        '(quote it: "false")',
    ]


@pytest.mark.parametrize("key, says", [
    ("extends: {file: base.yml, service: web}", "`extends` is not supported by docker stack "
                                                "deploy: copy the image"),
    ("build: .", "`build` is ignored by swarm stacks: build and push the image"),
    ("command: [sh]", "swarm services need an image"),
])
def test_a_service_without_an_image_is_told_why_by_what_it_has(tmp_path, key, says):
    found = problems(tmp_path, f"services:\n  web:\n    {key}\n")
    missing = next(p for p in found if "services.web.image" in p)
    assert says in missing
    if "build" not in key:
        assert "build" not in missing


def test_wrong_types_name_the_key_and_what_is_expected(tmp_path):
    found = problems(tmp_path, """\
services:
  web:
    image: a
    ports: ["eighty", {target: "80"}]
    stop_grace_period: 10
    healthcheck: {interval: soon}
    deploy:
      replicas: two
      mode: everywhere
      resources: {limits: {memory: lots}}
      update_config: {order: random}
""")
    assert found == [
        "line 4: services.web.ports[0]: expected a port like 80, 8080:80 or 8080:80/udp, "
        "got text 'eighty'",
        "line 4: services.web.ports[1].target: expected a whole number, got text '80'",
        "line 5: services.web.stop_grace_period: expected a duration like 10s, 1m30s or 500ms, "
        "got int 10",
        "line 6: services.web.healthcheck.interval: expected a duration like 10s, 1m30s or "
        "500ms, got text 'soon'",
        "line 8: services.web.deploy.replicas: expected a whole number, got text 'two'",
        "line 9: services.web.deploy.mode: expected one of replicated, global, "
        "replicated-job, global-job, got 'everywhere'",
        "line 10: services.web.deploy.resources.limits.memory: expected a size like 512M or "
        "1G, got text 'lots'",
        "line 11: services.web.deploy.update_config.order: expected one of start-first, "
        "stop-first, got 'random'",
    ]


def test_replicas_from_a_variable_that_is_not_a_number(tmp_path):
    with pytest.raises(ComposeError) as error:
        compose(tmp_path, "services:\n  web:\n    image: a\n    deploy:\n      replicas: $N\n",
                env={"N": "two"})
    assert error.value.problems == [
        "line 5: services.web.deploy.replicas: expected a whole number, got text 'two'"]
    assert "1 problem: " in str(error.value)


def test_references_must_be_declared(tmp_path):
    assert problems(tmp_path, """\
services:
  web:
    image: a
    networks: [front]
    volumes: [data:/data]
    configs: [conf]
    secrets: [pw]
""") == [
        "line 4: services.web.networks.front: undefined network 'front' (declare it under "
        "the top-level networks:)",
        "line 5: services.web.volumes[0]: undefined volume 'data' (declare it under the "
        "top-level volumes:)",
        "line 6: services.web.configs[0]: undefined config 'conf' (declare it under the "
        "top-level configs:)",
        "line 7: services.web.secrets[0]: undefined secret 'pw' (declare it under the "
        "top-level secrets:)",
    ]


def test_missing_files_and_images_are_reported(tmp_path):
    found = problems(tmp_path, """\
services:
  web:
    env_file: missing.env
configs:
  conf: {file: nope.txt}
""")
    assert found[0].startswith("line 2: services.web.image: missing")
    assert found[1].startswith("line 3: services.web.env_file: cannot read ")
    assert found[2].startswith("line 5: configs.conf.file: cannot read ")


def test_unreadable_or_wrong_version_file(tmp_path):
    with pytest.raises(ComposeError, match="cannot read compose file"):
        load_compose(tmp_path / "absent.yml", env={})
    assert problems(tmp_path, 'version: "2.4"\nservices:\n  web: {image: a}\n') == [
        "line 1: version: swarm stacks need a version 3 compose file, got '2.4'"]
    assert problems(tmp_path, 'version: "3.14"\nservices:\n  web: {image: a}\n') == [
        "line 1: version: unsupported compose file version '3.14': docker stack deploy reads "
        "3.0 to 3.13"]


def test_keys_newer_than_the_files_version_are_refused_as_docker_does(tmp_path):
    text = """\
version: "{version}"
services:
  web:
    image: a
    init: true
    oom_score_adj: 100
    healthcheck: {{test: [CMD, "true"], start_interval: 1s}}
    ports: [{{target: 80}}, "8080:80"]
    deploy:
      resources: {{limits: {{pids: 10}}}}
"""
    assert problems(tmp_path, text.format(version="3.1")) == [
        "line 5: services.web.init: needs compose file version 3.7 or later (the file says "
        "version 3.1; docker stack deploy refuses it too)",
        "line 6: services.web.oom_score_adj: needs compose file version 3.13 or later (the "
        "file says version 3.1; docker stack deploy refuses it too)",
        "line 7: services.web.healthcheck.start_interval: needs compose file version 3.12 or "
        "later (the file says version 3.1; docker stack deploy refuses it too)",
        "line 8: services.web.ports[0]: needs compose file version 3.2 or later (the file "
        "says version 3.1; docker stack deploy refuses it too)",
        "line 10: services.web.deploy.resources.limits.pids: needs compose file version 3.9 "
        "or later (the file says version 3.1; docker stack deploy refuses it too)",
    ]
    assert [p.split(": ")[1] for p in problems(tmp_path, text.format(version="3.9"))] == [
        "services.web.oom_score_adj", "services.web.healthcheck.start_interval"]
    assert compose(tmp_path, text.format(version="3.13")).version == "3.13"
    assert compose(tmp_path, text.format(version="3").replace('"3"', "3")).version == "3.13"


@pytest.mark.parametrize("version, read_as", [
    ("", "3.13"), ('version: "3"\n', "3.13"), ("version: 3.8\n", "3.8"),
    ("version: 3.10\n", "3.1")])  # a YAML number: 3.10 is 3.1, for the CLI too
def test_a_file_without_a_version_is_read_as_3_13_as_the_cli_28_does(tmp_path, version,
                                                                      read_as):
    project = compose(tmp_path, f"{version}services:\n  web: {{image: a}}\n")
    assert project.version == read_as


# ---- the specs ---------------------------------------------------------------------------
FULL = """\
version: "3.9"
x-base: &base
  stop_grace_period: 2s
services:
  web:
    <<: *base
    image: registry:5000/web:1
    entrypoint: ["/bin/sh", "-c"]
    command: echo hi
    environment: {B: 2, A: "1", NOVALUE: }
    labels: [tier=front]
    ports:
      - "8080:80"
      - {target: 443, published: 8443, mode: host}
    networks:
      front: {aliases: [www]}
    volumes:
      - data:/data:ro
      - ./site:/site
      - {type: tmpfs, target: /tmp, tmpfs: {size: 1048576}}
    configs:
      - {source: conf, target: /etc/app.conf, mode: 0440, uid: "100"}
    secrets: [pw]
    healthcheck: {test: "curl -f localhost", interval: 5s, retries: 2}
    hostname: web
    user: app
    working_dir: /site
    deploy:
      replicas: 2
      endpoint_mode: DNSRR
      labels: {owner: ops}
      placement:
        constraints: [node.role==worker]
        preferences: [{spread: node.labels.zone}]
        max_replicas_per_node: 1
      resources:
        limits: {cpus: "0.5", memory: 128M, pids: 50}
        reservations: {memory: 32M}
      restart_policy: {condition: on-failure, max_attempts: 3}
      update_config: {delay: 10s, failure_action: rollback}
  agent:
    image: busybox
    deploy: {mode: global}
networks:
  front: {attachable: true, labels: {n: "1"}}
volumes:
  data: {driver_opts: {type: tmpfs}, labels: {v: "1"}}
configs:
  conf: {file: app.conf}
secrets:
  pw: {file: pw.txt, name: shared_pw}
"""


@pytest.fixture
def plan(tmp_path):
    return stack_plan(compose(tmp_path, FULL, app__conf="listen 80\n", pw__txt="hunter2"),
                      "shop")


def test_service_spec_as_the_cli_builds_it(plan, tmp_path):
    web = plan.services["web"]
    container = web["TaskTemplate"]["ContainerSpec"]
    assert web["Name"] == "shop_web"
    assert web["Labels"] == {"owner": "ops", "com.docker.stack.namespace": "shop",
                             "com.docker.stack.image": "registry:5000/web:1"}
    assert container["Labels"] == {"tier": "front", "com.docker.stack.namespace": "shop"}
    assert container["Command"] == ["/bin/sh", "-c"]
    assert container["Args"] == ["echo", "hi"]
    assert container["Env"] == ["A=1", "B=2", "NOVALUE"]  # sorted, as the CLI does
    assert container["Healthcheck"] == {"Test": ["CMD-SHELL", "curl -f localhost"],
                                        "Interval": 5_000_000_000, "Retries": 2}
    assert container["StopGracePeriod"] == 2_000_000_000
    assert container["Mounts"] == [
        {"Type": "volume", "Source": "shop_data", "Target": "/data", "ReadOnly": True,
         "VolumeOptions": {"Labels": {"v": "1", "com.docker.stack.namespace": "shop"},
                           "DriverConfig": {"Name": "", "Options": {"type": "tmpfs"}}}},
        {"Type": "bind", "Source": str(tmp_path / "site"), "Target": "/site"},
        {"Type": "tmpfs", "Target": "/tmp", "TmpfsOptions": {"SizeBytes": 1024**2}},
    ]
    assert container["Configs"] == [{"File": {"Name": "/etc/app.conf", "UID": "100",
                                              "GID": "0", "Mode": 0o440},
                                     "ConfigName": "shop_conf"}]
    assert container["Secrets"] == [{"File": {"Name": "pw", "UID": "0", "GID": "0",
                                              "Mode": 0o444}, "SecretName": "shared_pw"}]
    assert (container["Hostname"], container["User"], container["Dir"]) == ("web", "app",
                                                                             "/site")
    task = web["TaskTemplate"]
    assert task["Networks"] == [{"Target": "shop_front", "Aliases": ["www", "web"]}]
    assert task["Placement"] == {"Constraints": ["node.role==worker"],
                                 "Preferences": [{"Spread": {"SpreadDescriptor":
                                                             "node.labels.zone"}}],
                                 "MaxReplicas": 1}
    assert task["Resources"] == {"Limits": {"NanoCPUs": 500_000_000, "MemoryBytes": 128 * 2**20,
                                            "Pids": 50},
                                 "Reservations": {"MemoryBytes": 32 * 2**20}}
    assert task["RestartPolicy"] == {"Condition": "on-failure", "MaxAttempts": 3}
    assert web["Mode"] == {"Replicated": {"Replicas": 2}}
    assert web["EndpointSpec"] == {"Mode": "dnsrr", "Ports": [
        {"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080, "PublishMode": "ingress"},
        {"Protocol": "", "TargetPort": 443, "PublishedPort": 8443, "PublishMode": "host"}]}
    # parallelism defaults to 1 once update_config is there; no rollback_config: none sent
    assert web["UpdateConfig"] == {"Parallelism": 1, "Delay": 10_000_000_000,
                                   "FailureAction": "rollback", "MaxFailureRatio": 0,
                                   "Order": ""}
    assert "RollbackConfig" not in web


def test_defaults_the_cli_leaves_unset(plan):
    agent = plan.services["agent"]
    assert agent["Mode"] == {"Global": {}}
    assert agent["EndpointSpec"] == {}
    assert agent["TaskTemplate"]["Resources"] == {}
    assert agent["TaskTemplate"]["Placement"] == {}
    assert "RestartPolicy" not in agent["TaskTemplate"]
    assert "UpdateConfig" not in agent
    assert agent["TaskTemplate"]["Networks"] == [{"Target": "shop_default",
                                                  "Aliases": ["agent"]}]
    assert agent["TaskTemplate"]["ContainerSpec"]["Privileges"] == {
        "CredentialSpec": None, "SELinuxContext": None}


def test_networks_configs_and_secrets(plan):
    assert plan.networks == {
        "shop_default": {"Name": "shop_default", "Driver": "overlay",
                         "Labels": {"com.docker.stack.namespace": "shop"},
                         "Internal": False, "Attachable": False},
        "shop_front": {"Name": "shop_front", "Driver": "overlay",
                       "Labels": {"n": "1", "com.docker.stack.namespace": "shop"},
                       "Internal": False, "Attachable": True},
    }
    assert plan.configs == {"shop_conf": {
        "Name": "shop_conf", "Labels": {"com.docker.stack.namespace": "shop"},
        "Data": base64.b64encode(b"listen 80\n").decode()}}
    assert list(plan.secrets) == ["shared_pw"]


def test_stack_and_service_names_are_checked(tmp_path):
    project = compose(tmp_path, "services:\n  web.v2: {image: a}\n")
    with pytest.raises(ComposeError) as error:
        stack_plan(project, "bad name")
    assert error.value.problems == [
        "stack name 'bad name': use letters, digits, - and _ (starting with a letter or digit)",
        "service 'web.v2': 'bad name_web.v2' is not a valid swarm service name (letters, "
        "digits, - and _; at most 63 characters)",
    ]


def test_deploy_lists_them_and_exits_2_before_connecting(tmp_path, capsys):
    (tmp_path / "shop.yml").write_text("services:\n  web:\n    image: busybox\n"
                                       "    environment: {A: \"x\x07y\"}\n")
    config = tmp_path / "config.toml"
    config.write_text('[clusters.prod]\nmanagers = ["ops@127.0.0.1:1"]\n'
                      '[projects.shop.environments.prod]\ncluster = "prod"\nstack = "shop"\n'
                      'compose = "shop.yml"\n')
    config.chmod(0o600)
    with mock.patch("swarmdeck.cli.session.open_ops") as connect:
        for flags in ([], ["--dry-run"]):
            assert main(["--config", str(config), "deploy", "shop", "--yes", *flags]) == 2
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and "Traceback" not in err
            assert "shop.yml: 1 problem: line 4, column 24: a raw control character U+0007 " \
                   "(<BEL>)" in err
    connect.assert_not_called()


def test_settings_on_an_external_network_are_ignored_with_a_warning(tmp_path):
    project = compose(tmp_path, """\
services:
  web: {image: a, networks: [edge]}
networks:
  edge: {external: true, name: traefik, driver: overlay, attachable: true}
""")
    plan = stack_plan(project, "shop")
    assert plan.external_networks == ["traefik"] and plan.networks == {}
    assert project.warnings == [
        f"line 4: networks.edge.{key}: ignored: an external network is used as it is (docker "
        "stack deploy ignores it too)" for key in ("driver", "attachable")]
