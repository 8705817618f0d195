"""Config: where it is found, what it accepts, and one clear line for every mistake."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import tomlkit

from swarmdeck.core.config import config_path, docker_contexts, load, load_config, state_dir
from swarmdeck.core.destinations import Destination
from swarmdeck.core.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
GOOD = """\
# my clusters
[clusters.prod]
managers = ["prod-m1", "ops@10.0.0.2:2222"]  # two ways in

[projects.shop.environments.production]
cluster = "prod"
stack = "shop"
compose = "stacks/shop.yml"
"""


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    path.chmod(0o600)
    return path


def error_of(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.exit_code == 2
    message = str(err.value)
    assert "\n" not in message
    assert str(path) in message
    return message


def test_example_config_loads_and_documents_every_key():
    config = load_config(REPO / "config.example.toml")
    assert set(config.clusters) == {"prod", "staging"}
    text = (REPO / "config.example.toml").read_text()
    for key in ["config", "connect_timeout", "keepalive_interval", "keepalive_count_max",
                "task_refresh", "managers", "context", "read_only", "ssh_config", "cluster",
                "stack", "compose"]:
        assert f"{key} =" in text, key


def test_path_precedence(tmp_path):
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    assert config_path(None, env) == tmp_path / "xdg" / "swarmdeck" / "config.toml"
    env["SWARMDECK_CONFIG"] = str(tmp_path / "env.toml")
    assert config_path(None, env) == tmp_path / "env.toml"
    assert config_path(tmp_path / "arg.toml", env) == tmp_path / "arg.toml"
    assert config_path(None, {"HOME": str(tmp_path)}) == \
        tmp_path / ".config" / "swarmdeck" / "config.toml"
    assert state_dir({"HOME": str(tmp_path)}) == tmp_path / ".local" / "state" / "swarmdeck"


def test_missing_default_file_is_an_empty_config(tmp_path):
    config = load(env={"HOME": str(tmp_path)})
    assert config.clusters == {} and not config.exists
    assert config.path == tmp_path / ".config" / "swarmdeck" / "config.toml"


def test_missing_explicit_or_env_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load(tmp_path / "nope.toml", env={"HOME": str(tmp_path)})
    with pytest.raises(ConfigError, match="does not exist"):
        load(env={"HOME": str(tmp_path), "SWARMDECK_CONFIG": str(tmp_path / "gone.toml")})


def test_unreadable_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)
    if os.geteuid() != 0:  # root reads anything
        path = write(tmp_path, GOOD)
        path.chmod(0)
        with pytest.raises(ConfigError, match="permission denied"):
            load_config(path)


def test_good_config_resolves_paths_and_keeps_comments(tmp_path):
    config = load_config(write(tmp_path, GOOD))
    assert config.cluster("prod").manager_destinations() == [
        Destination(None, "prod-m1", None), Destination("ops", "10.0.0.2", 2222)]
    [(project, env, environment)] = list(config.environments())
    assert (project, env) == ("shop", "production")
    assert environment.compose == str(tmp_path / "stacks" / "shop.yml")
    assert tomlkit.dumps(config.document) == GOOD
    assert config.warnings == []


def test_syntax_error_names_the_line(tmp_path):
    message = error_of(tmp_path, '[clusters.prod]\nmanagers = ["a"\nread_only = true\n')
    assert "TOML syntax error at line" in message


@pytest.mark.parametrize(("text", "expected"), [
    ("clustres = {}\n", "unknown key 'clustres' in the top level"),
    ("[clusters.prod]\nmanager = ['a']\n", "unknown key 'manager' in [clusters.prod]"),
    ("[clusters.prod]\nmanagers = ['a']\n[projects.p.environments.e]\ncluster = 'prod'\n"
     "stak = 's'\ncompose = 'c'\n", "unknown key 'stak' in [projects.p.environments.e]"),
    ("[ssh]\ntimeout = 3\n", "unknown key 'timeout' in [ssh]"),
])
def test_unknown_keys_suggest_the_right_one(tmp_path, text, expected):
    message = error_of(tmp_path, text)
    assert expected in message and "did you mean" in message


@pytest.mark.parametrize(("text", "expected"), [
    ("[clusters.prod]\nmanagers = ['a']\nread_only = 'yes'\n",
     'clusters.prod.read_only in {p}: expected true or false, got "yes"'),
    ("[ssh]\nconnect_timeout = 'ten'\n", "ssh.connect_timeout in {p}: expected a number"),
    ("[ssh]\nconnect_timeout = -1\n", "ssh.connect_timeout in {p}: must be greater than 0"),
    ("[ssh]\nkeepalive_count_max = 1.5\n", "ssh.keepalive_count_max in {p}: expected a whole"),
    ("clusters = 3\n", "clusters in {p}: expected a table, got 3"),
    ("[clusters.prod]\nmanagers = 'a'\n", "clusters.prod.managers in {p}: expected a list"),
    ("[clusters.prod]\nmanagers = []\n", "clusters.prod.managers in {p}: must not be empty"),
    ("[clusters.prod]\nmanagers = ['a', 'b:abc']\n", "clusters.prod.managers[1] in {p}: "
     "destination 'b:abc': port 'abc'"),
    ("[clusters.prod]\nmanagers = ['a']\ncontext = 'c'\n", "set exactly one of managers"),
    ("[clusters.prod]\nread_only = true\n", "set exactly one of managers"),
    ("[clusters.'bad name']\nmanagers = ['a']\n", "bad name"),
    ("[clusters.prod]\nmanagers = ['a']\n[projects.p.environments.e]\ncluster = 'prod'\n",
     "projects.p.environments.e.stack in {p}: missing required key"),
    ("[clusters.prod]\nmanagers = ['a']\n[projects.p.environments.e]\ncluster = 'prd'\n"
     "stack = 's'\ncompose = 'c'\n", "unknown cluster 'prd': did you mean 'prod'?"),
    ("[clusters.prod]\nmanagers = ['a']\n[projects.p.environments.e]\ncluster = 'prod'\n"
     "stack = 'bad stack'\ncompose = 'c'\n", "projects.p.environments.e.stack in {p}: use"),
])
def test_wrong_values_name_key_and_expectation(tmp_path, text, expected):
    message = error_of(tmp_path, text)
    assert expected.format(p=tmp_path / "config.toml") in message


def test_several_problems_are_counted(tmp_path):
    message = error_of(tmp_path, "[ssh]\nconnect_timeout = 'x'\nkeepalive_interval = 'y'\n")
    assert "(and 1 more problem)" in message


def test_permission_warning(tmp_path):
    path = write(tmp_path, GOOD)
    path.chmod(0o644)
    [warning] = load_config(path).warnings
    assert "chmod 600" in warning and str(path) in warning


def test_unknown_cluster_lookup_suggests(tmp_path):
    config = load_config(write(tmp_path, GOOD))
    with pytest.raises(ConfigError, match="did you mean 'prod'"):
        config.cluster("prd")


def make_context(docker_dir: Path, name: str, host: object) -> None:
    meta = docker_dir / "contexts" / "meta" / f"id-{name}"
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps(
        {"Name": name, "Endpoints": {"docker": {"Host": host}}}))


def test_docker_contexts(tmp_path):
    docker = tmp_path / "docker"
    make_context(docker, "edge", "ssh://ops@edge.example:2200")
    make_context(docker, "local", "unix:///var/run/docker.sock")
    garbled = docker / "contexts" / "meta" / "broken"
    garbled.mkdir()
    (garbled / "meta.json").write_text("{not json")
    env = {"DOCKER_CONFIG": str(docker), "HOME": str(tmp_path)}
    contexts = {c.name: c for c in docker_contexts(env)}
    assert set(contexts) == {"edge", "local"}
    assert contexts["edge"].ssh_destination == Destination("ops", "edge.example", 2200)
    assert contexts["local"].ssh_destination is None

    config = load_config(write(tmp_path, "[clusters.edge]\ncontext = 'edge'\n"
                                          "[clusters.loc]\ncontext = 'local'\n"
                                          "[clusters.gone]\ncontext = 'nope'\n"))
    assert config.cluster("edge").manager_destinations(env) == [
        Destination("ops", "edge.example", 2200)]
    with pytest.raises(ConfigError, match="not an ssh:// host.*edge"):
        config.cluster("loc").manager_destinations(env)
    with pytest.raises(ConfigError, match="'nope' does not exist.*edge"):
        config.cluster("gone").manager_destinations(env)
