"""Deploy history kept on the cluster: two deploys are two revisions (listed from a jump host
with an empty state directory: the history is on the cluster), `deploy --revision 1` puts the
first back (checked on the service's spec), a revision that does not exist changes nothing."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

from swarmdeck.core.errors import LabError

IMAGE = "10.213.0.1:5000/swarmdeck/demo:1.0"
NODE = "staging-m1"


def compose(version: str, replicas: int) -> str:
    return (f'version: "3.8"\nservices:\n  app:\n    image: {IMAGE}\n'
            f'    command: ["sleep", "3600"]\n    environment:\n      VERSION: "{version}"\n'
            '    stop_grace_period: 1s\n'  # sleep ignores SIGTERM: each update waits this
            f'    deploy:\n      replicas: {replicas}\n')


def run(config: Path, *args: str, state: Path, timeout: float = 180
        ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_STATE_HOME": str(state)}
    return subprocess.run([sys.executable, "-m", "swarmdeck", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=timeout, env=env)


def service(lab) -> tuple[list[str], int]:
    out = lab.docker_on(NODE, "service", "inspect", "hist_app", "--format",
                        "{{json .Spec.TaskTemplate.ContainerSpec.Env}} "
                        "{{.Spec.Mode.Replicated.Replicas}}").strip()
    env, replicas = out.rsplit(" ", 1)
    return json.loads(env), int(replicas)


def test_two_deploys_then_the_first_again(lab, tmp_path):
    work = tmp_path / "repo"
    work.mkdir()
    file = work / "stack.yml"
    file.write_text(compose("one", 1))
    git = ["git", "-C", str(work), "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "stack.yml"], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    config = tmp_path / "config.toml"
    config.write_text(lab.config_file.read_text() + "\n[projects.hist.environments.lab]\n"
                      f'cluster = "staging"\nstack = "hist"\ncompose = "{file}"\n')
    config.chmod(0o600)
    state = tmp_path / "state"
    try:
        done = run(config, "deploy", "hist", "--yes", state=state)
        assert done.returncode == 0, done.stderr
        assert "recorded as revision 1 of hist" in done.stdout
        file.write_text(compose("two", 2))  # not committed: the revision says +dirty
        done = run(config, "deploy", "hist", "--yes", state=state)
        assert done.returncode == 0, done.stderr
        assert "recorded as revision 2 of hist" in done.stdout
        assert service(lab) == (["VERSION=two"], 2)

        # another jump host: nothing local, the cluster has it all
        done = run(config, "history", "hist", "--json", state=tmp_path / "elsewhere")
        assert done.returncode == 0, done.stderr
        rows = json.loads(done.stdout)
        assert [r["revision"] for r in rows] == [1, 2]
        assert rows[0]["commit"] == head[:12] and rows[1]["commit"] == head[:12] + "+dirty"
        assert all(r["user"] and r["time"].endswith("Z") for r in rows)
        assert rows[0]["images"]["app"].startswith(IMAGE + "@sha256:")
        assert set(rows[0]) == {"revision", "time", "user", "commit", "images"}

        done = run(config, "deploy", "hist", "--revision", "1", "--yes", state=state)
        assert done.returncode == 0, done.stderr
        assert "recorded as revision 3 of hist (again revision 1)" in done.stdout
        assert service(lab) == (["VERSION=one"], 1)

        before = service(lab)
        done = run(config, "deploy", "hist", "--revision", "9", "--yes", state=state)
        assert done.returncode == 2 and "stack hist has no revision 9" in done.stderr
        assert "revisions kept: 1, 2, 3" in done.stderr and "Traceback" not in done.stderr
        assert service(lab) == before
        done = run(config, "history", "hist", state=state)
        assert done.returncode == 0 and done.stdout.count("\n") == 4  # header + 3 rows
    finally:
        with contextlib.suppress(LabError):
            lab.docker_on(NODE, "stack", "rm", "hist")
        names = lab.docker_on(NODE, "config", "ls", "-q", "--filter",
                              "label=swarmdeck.history.stack=hist").split()
        if names:
            with contextlib.suppress(LabError):
                lab.docker_on(NODE, "config", "rm", *names)
