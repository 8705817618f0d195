"""A compose file is refused by swarmdeck exactly when the docker CLI 28.x refuses it: each
case is one service key, read by `docker stack config` (the CLI's own loader, no engine
needed) and by load_compose. The few files the CLI's loader passes but its deploy then fails
on are refused here before anything is written, and listed as such: its conversion refuses
an unknown mode, restart policy, network or secret and a disabled healthcheck with a test
(cli/compose/convert), the engine an unknown endpoint mode, restart condition, failure action
or propagation (seen on the lab's 20.10)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from swarmdeck.core.ops.compose import ComposeError, load_compose, stack_plan

CASES = """\
user: 1000
user: "1000"
entrypoint: [5]
stop_grace_period: 10
healthcheck: {test: [CMD, "true"], retries: 2.5}
configs: [{source: c, mode: "0440"}]
configs: [{source: c, uid: 100}]
configs: [{source: c, uid: "100"}]
sysctls: {a: true}
sysctls: {net.core.somaxconn: 1024}
ulimits: {nofile: "10"}
ulimits: {NOFILE: 10}
labels: {a: 1}
labels: [a=1, a=1]
dns: 8.8.8.8
dns: [8.8.8.8, 8.8.8.8]
cap_add: NET_ADMIN
cap_add: [NET_ADMIN]
logging: {options: {max-size: 10}}
logging: {driver: json-file, foo: 1}
extra_hosts: ["h1=1.2.3.4", "h2:[::1]", "h3"]
deploy: {resources: {limits: {cpus: 0.5}}}
deploy: {resources: {limits: {cpus: "0.5", memory: 512}}}
deploy: {resources: {limits: {memory: "512"}}}
deploy: {replicas: "2"}
deploy: {endpoint_mode: DNSRR}
deploy: {labels: {a: true}}
deploy: {x-foo: 1}
ports: ["80:80", "80:80"]
ports: [{target: "80"}]
ports: [{target: 80, protocol: icmp, mode: weird}]
ports: [{published: 80}]
ports: ["127.0.0.1:5353:53/udp"]
ports: [22:22]
volumes: [{type: tmpfs, target: /b, tmpfs: {size: 64m}}]
volumes: [{type: tmpfs, target: /b, tmpfs: {size: 1000}}]
volumes: [{type: volume, target: /b, volume: {nocopy: "yes"}}]
networks: [n, n]
environment: [A=1, A=1]
environment: {A: true}
environment: {A: yes, B: 0755, C: 1e3}
tty: "true"
tty: true
restart: no
restart: on-failure:5
x-foo: 1
oom_score_adj: 5
oom_score_adj: "5"
depends_on: {a: {condition: service_started}}
depends_on: [a]
build: {context: ., bogus: 1}
container_name: 5
container_name: app
expose: ["80", 81]
security_opt: [label=disable]
tmpfs: [/run, /tmp]
privileged: "true"
shm_size: 67108864
shm_size: 64M
shm_size: [1]
pid: host
pid: null
oom_score_adj: -2000
extends: {service: x}
mem_limit: 64m
platform: linux/amd64
runtime: runc
healthcheck: {test: [CMD, "true"], interval: 10}
healthcheck: {test: [CMD, "true"], start_interval: 1s}
"""
# The CLI's loader passes these; its deploy then fails
REFUSED_AT_DEPLOY = """\
deploy: {mode: everywhere}
deploy: {endpoint_mode: bogus}
deploy: {restart_policy: {condition: always}}
deploy: {update_config: {failure_action: nothing}}
volumes: [{type: bind, source: /a, target: /b, bind: {propagation: weird}}]
networks: [nope]
secrets: [nope]
restart: bogus
healthcheck: {disable: true, test: [CMD, x]}
"""
FILE = """\
version: "3.13"
services:
  web:
    image: a
    {case}
configs:
  c: {{file: ./c.txt}}
networks:
  n: {{}}
"""
# top-level sections: a service uses each object so every one is read
TOP_CASES = """\
secrets: {s: {file: ./c.txt, driver: vault}}
networks: {n: {ipam: {driver: default, config: [{subnet: 10.250.7.0/24}]}}}
networks: {n: {ipam: {config: [{subnet: 10.250.7.0/24, gateway: 10.250.7.1}]}}}
networks: {n: {ipam: {options: {a: b}}}}
networks: {n: {driver_opts: {mtu: 1400}}}
networks: {n: {driver_opts: {encrypted: true}}}
networks: {n: {labels: [a=1, a=1]}}
networks: {n: {external: true, driver: overlay}}
networks: {n: {enable_ipv6: true}}
networks: {n: {attachable: "yes"}}
volumes: {v: {driver_opts: {type: tmpfs}}}
volumes: {v: {external: true, labels: {a: b}}}
volumes: {v: {x-cluster-spec: {group: g}}}
configs: {c: {file: ./c.txt, template_driver: golang}}
secrets: {s: {file: ./c.txt, labels: {a: "1"}}}
secrets: {s: {driver: vault}}
"""
TOP_FILE = """\
version: "3.13"
services:
  web:
    image: a
    networks: [n]
    volumes: ["v:/v"]
    configs: [c]
    secrets: [s]
networks:
  n: {}
volumes:
  v: {}
configs:
  c: {file: ./c.txt}
secrets:
  s: {file: ./c.txt}
"""
# what the CLI accepts and swarmdeck does not do yet (said so: use docker stack deploy)
NOT_YET = {"volumes: {v: {x-cluster-spec: {group: g}}}",
           "configs: {c: {file: ./c.txt, template_driver: golang}}",
           "secrets: {s: {driver: vault}}"}


@pytest.fixture(scope="module")
def docker_cli() -> str:
    version = subprocess.run(["docker", "version", "--format", "{{.Client.Version}}"],
                             capture_output=True, text=True).stdout.strip()
    assert version.startswith("28."), f"these cases are the docker CLI 28.x's; found {version!r}"
    return version


def top_level(case: str) -> str:
    """TOP_FILE with CASE's section object in place of its default one."""
    section, _, rest = case.partition(": ")
    name = rest[1]
    text = TOP_FILE.replace(f"{section}:\n  {name}: {{}}\n", "")
    text = text.replace(f"{section}:\n  {name}: {{file: ./c.txt}}\n", "")
    assert text.count(f"\n{section}:") == 0, text
    return text + f"{section}: {rest}\n"


def both(tmp_path: Path, case: str, text: str | None = None) -> tuple[str | None, str | None]:
    """(docker's refusal, ours): None when the file is accepted."""
    (tmp_path / "c.txt").write_text("x")
    path = tmp_path / "stack.yml"
    path.write_text(text or FILE.format(case=case))
    docker = subprocess.run(["docker", "stack", "config", "-c", str(path)],
                            capture_output=True, text=True, timeout=30)
    theirs = None if docker.returncode == 0 else docker.stderr.strip() or docker.stdout
    try:
        stack_plan(load_compose(path, env={}), "st")
        ours = None
    except ComposeError as exc:
        ours = "; ".join(exc.problems) or str(exc)
    return theirs, ours


@pytest.mark.parametrize("case", CASES.splitlines())
def test_refused_exactly_when_the_docker_cli_refuses(docker_cli, tmp_path, case):
    theirs, ours = both(tmp_path, case)
    assert (theirs is None) == (ours is None), f"docker: {theirs}; swarmdeck: {ours}"


@pytest.mark.parametrize("case", REFUSED_AT_DEPLOY.splitlines())
def test_what_the_cli_refuses_only_at_deploy_is_refused_before_any_write(docker_cli, tmp_path,
                                                                          case):
    theirs, ours = both(tmp_path, case)
    assert theirs is None and ours is not None, f"docker: {theirs}; swarmdeck: {ours}"


@pytest.mark.parametrize("case", TOP_CASES.splitlines())
def test_top_level_sections_refused_exactly_when_the_docker_cli_refuses(docker_cli, tmp_path,
                                                                        case):
    theirs, ours = both(tmp_path, case, top_level(case))
    if case in NOT_YET:
        assert theirs is None and ours is not None and "not supported by swarmdeck" in ours
    else:
        assert (theirs is None) == (ours is None), f"docker: {theirs}; swarmdeck: {ours}"
