"""The CLI's plain-text tables: aligned columns, a huge cell cut so the others stay in view."""

from __future__ import annotations

import json
from unittest import mock

from hostile import recorded

from swarmdeck.cli.main import main
from swarmdeck.cli.render import WIDEST, table


def test_columns_are_padded_to_the_widest_cell():
    assert table(["A", "BB"], [["xyz", 1], ["x", 22]], right=(1,)).splitlines() == [
        "A    BB", "xyz   1", "x    22"]


def test_a_huge_cell_is_cut_with_an_ellipsis():
    huge = "n" * 10_000
    lines = table(["NAME", "MODE", "IMAGE"], [[huge, "replicated", "busybox"]]).splitlines()
    assert all(len(line) < 2 * WIDEST for line in lines)
    assert lines[1].endswith("…  replicated  busybox")
    assert lines[1].startswith("n" * (WIDEST - 1) + "…")


def test_free_text_columns_may_be_wider():
    text = "e" * 300
    line = table(["ID", "ERROR"], [["t1", text]], wide=(1,)).splitlines()[1]
    assert WIDEST < len(line) < 300 and line.endswith("…")


def test_ls_cuts_a_huge_stack_name_and_json_keeps_it(tmp_path, capsys):
    path = tmp_path / "config.toml"
    path.write_text('[clusters.prod]\nmanagers = ["prod-m1"]\n')
    path.chmod(0o600)
    state = recorded("prod")
    huge = "shop" + "x" * 10_000
    state.services = {k: s.model_copy(update={"stack": huge, "name": f"{huge}_{s.name}"})
                      for k, s in state.services.items()}

    async def load(_config, _names):
        return {"prod": state}

    with mock.patch("swarmdeck.cli.ls._load", load):
        for what in ("stacks", "services", "tasks"):
            assert main(["--config", str(path), "ls", what]) == 0
            out = capsys.readouterr().out
            assert max(map(len, out.splitlines())) < 400, what
            assert "…" in out
        assert main(["--config", str(path), "ls", "stacks", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)[0]["name"] == huge


def test_ls_names_a_failed_cluster_once(tmp_path, capsys):
    """NoManagerReachable says `cluster prod: no manager reachable: ...` itself: ls printed
    `cluster prod: cluster prod: ...`."""
    from swarmdeck.core.errors import HostUnreachable, NoManagerReachable

    path = tmp_path / "config.toml"
    path.write_text('[clusters.prod]\nmanagers = ["m1", "m2"]\n'
                    '[clusters.staging]\nmanagers = ["s1"]\n')
    path.chmod(0o600)
    errors = [HostUnreachable("ssh to m1: connection refused"),
              HostUnreachable("ssh to m2: connection refused")]

    async def load(_config, _names):
        return {"prod": NoManagerReachable("cluster prod: no manager reachable: "
                                           + "; ".join(map(str, errors)), errors),
                "staging": HostUnreachable("ssh to s1: connection refused")}

    with mock.patch("swarmdeck.cli.ls._load", load):
        assert main(["--config", str(path), "ls"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "swarmdeck: cluster prod: no manager reachable: ssh to m1: connection refused; "
        "ssh to m2: connection refused",
        "swarmdeck: cluster staging: ssh to s1: connection refused",
    ]
