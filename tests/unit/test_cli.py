"""The command line's contract: versions, help, exit codes and messages without tracebacks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from swarmdeck import __version__
from swarmdeck.cli.main import main


def test_version_from_the_installed_console_script():
    exe = shutil.which("swarmdeck") or f"{sys.prefix}/bin/swarmdeck"
    proc = subprocess.run([exe, "--version"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"swarmdeck {__version__}"


@pytest.mark.parametrize("argv", [[], ["ls"], ["lab"]])
def test_help_on_every_command(argv, capsys):
    with pytest.raises(SystemExit) as done:
        main([*argv, "--help"])
    assert done.value.code == 0
    assert "usage: swarmdeck" in capsys.readouterr().out


def test_bad_arguments_exit_2(capsys):
    with pytest.raises(SystemExit) as done:
        main(["ls", "pods"])
    assert done.value.code == 2
    assert "invalid choice: 'pods'" in capsys.readouterr().err


def test_no_config_says_how_to_make_one(capsys):
    assert main(["ls", "nodes"]) == 2
    err = capsys.readouterr().err
    assert "no clusters configured" in err and "config.example.toml" in err
    assert "Traceback" not in err


def test_no_config_offers_ssh_docker_contexts(isolated_env, capsys):
    meta = isolated_env / ".docker" / "contexts" / "meta" / "x"
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps(
        {"Name": "edge", "Endpoints": {"docker": {"Host": "ssh://ops@edge:22"}}}))
    assert main(["ls"]) == 2
    err = capsys.readouterr().err
    assert '[clusters.edge] context = "edge"' in err


def test_config_error_exit_2_one_line(tmp_path, capsys):
    path = tmp_path / "c.toml"
    path.write_text("[clusters.prod]\nmanager = ['a']\n")
    assert main(["--config", str(path), "ls"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "did you mean 'managers'" in err


def test_env_var_config_is_used(tmp_path, monkeypatch, capsys):
    path = tmp_path / "c.toml"
    path.write_text("[clusters.prod]\nmanagers = ['a']\n")
    path.chmod(0o600)
    monkeypatch.setenv("SWARMDECK_CONFIG", str(path))
    assert main(["ls", "--cluster", "stage"]) == 2
    assert "unknown cluster 'stage'" in capsys.readouterr().err


def test_lab_spec_options_are_checked(capsys):
    assert main(["lab", "up", "--cluster", "prod:0:1"]) == 2
    assert "managers must be 1-7" in capsys.readouterr().err
    assert main(["lab", "up", "--cluster", "prod"]) == 2
    assert "expected NAME:MANAGERS:WORKERS" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["ls", "--cluster", "stage"],
                                  ["logs", "--cluster", "stage", "web"],
                                  ["events", "--cluster", "stage"],
                                  ["scale", "--cluster", "stage", "web=2"]])
def test_every_command_says_what_is_wrong_but_usable_in_the_config(argv, tmp_path, capsys):
    """A config others can read is used, and each command says how to fix it (before
    failing here on an unknown cluster, without connecting anywhere)."""
    path = tmp_path / "c.toml"
    path.write_text("[clusters.prod]\nmanagers = ['a']\n")
    path.chmod(0o644)
    assert main(["--config", str(path), *argv]) == 2
    err = capsys.readouterr().err
    assert f"swarmdeck: warning: {path} can be read or written by other users" in err
    assert f"chmod 600 {path}" in err and "unknown cluster 'stage'" in err


def test_deploy_pull_with_a_revision_is_refused_before_connecting(tmp_path, capsys):
    path = tmp_path / "c.toml"
    path.write_text('[clusters.prod]\nmanagers = ["nowhere.invalid"]\n'
                    '[projects.shop.environments.prod]\ncluster = "prod"\nstack = "shop"\n'
                    f'compose = "{tmp_path / "stack.yml"}"\n')
    path.chmod(0o600)
    assert main(["--config", str(path), "deploy", "shop", "--revision", "1", "--pull"]) == 2
    err = capsys.readouterr().err
    assert "--pull and --revision: a revision runs the image digests it ran" in err
    assert "Traceback" not in err
