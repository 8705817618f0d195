"""`swarmdeck ... | head -1`: the reader goes away after one line; the command stops
quietly with the shell's SIGPIPE status, not a crash report (exit 70) as it did."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path):
    state = tmp_path / "state" / "swarmdeck"
    state.mkdir(parents=True)
    entry = {"time": "2026-12-05T03:39:33.553+00:00", "user": "root", "cluster": "prod",
             "manager": None, "action": "scale", "params": {}, "result": "ok"}
    (state / "audit.jsonl").write_text("".join(
        json.dumps({**entry, "target": f"svc{i}"}) + "\n" for i in range(20000)))
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    proc = subprocess.Popen([sys.executable, "-m", "swarmdeck", "audit", "-n", "20000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # as `head -1` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141, err
    assert first.startswith(b"TIME") and err == ""
    assert not list(state.glob("crash-*"))
