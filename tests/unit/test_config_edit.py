"""The config written back as the user wrote it: `cluster add|rm` and `init` keep every
comment, blank line and the order of what was there (the text is compared, not only the
values), refuse what cannot be done with a message saying what to fix, and write the file
atomically, private."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from swarmdeck.cli.main import main
from swarmdeck.core import config_edit
from swarmdeck.core.audit import AuditLog
from swarmdeck.core.config import load_config
from swarmdeck.core.config_edit import ClusterEntry, add_cluster, new_config, remove_cluster
from swarmdeck.core.errors import ConfigError, UsageError

# comments above and beside keys, blank lines, sections in an odd order, a cluster with a
# sub-table, a cluster after an unrelated section
HAND = """\
# my swarms -- edited by hand, keep this
# (second line of the header)

[ssh]
connect_timeout = 5.0   # the VPN is slow

# the production swarm: three managers
[clusters.prod]
# the leader first
managers = ["prod-m1", "prod-m2"]  # m3 is being rebuilt

read_only = false

[clusters.prod.registries."10.0.0.5:5000"]
credentials = "docker"  # docker login 10.0.0.5:5000

# staging is shared with the QA team
[clusters.staging]
managers = ["deploy@staging-m1:22"]
read_only = true

# console keys come before the last cluster
[keys]
filter = "f"  # muscle memory

[clusters.edge]
context = "edge"
# end of edge
"""

ADDED = '\n[clusters.lab]\nmanagers = ["ops@10.213.0.16:22", "lab-m2"]\n'


@pytest.fixture
def hand(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(HAND)
    path.chmod(0o600)
    return path


def comments(text: str) -> list[str]:
    return [line[line.index("#"):] for line in text.splitlines() if "#" in line]


def entries(path: Path) -> list[dict]:
    return AuditLog.default().read()


def test_add_appends_after_the_last_cluster_keeping_every_comment(hand: Path) -> None:
    edit = add_cluster(hand, "lab", ClusterEntry(managers=("ops@10.213.0.16:22", "lab-m2")))
    assert hand.read_text() == HAND  # nothing is written before write()
    edit.write()
    assert hand.read_text() == HAND + ADDED
    assert comments(hand.read_text()) == comments(HAND)
    assert load_config(hand).clusters["lab"].managers == ["ops@10.213.0.16:22", "lab-m2"]


def test_add_goes_right_after_the_last_cluster_table_not_at_the_end(tmp_path: Path) -> None:
    text = ('[clusters.a]\nmanagers = ["a1"]  # a\n\n# about the project\n'
            '[projects.p.environments.e]\ncluster = "a"\nstack = "s"\ncompose = "c.yml"\n')
    path = tmp_path / "c.toml"
    path.write_text(text)
    add_cluster(path, "b", ClusterEntry(context="bctx", read_only=True)).write()
    assert path.read_text() == (
        '[clusters.a]\nmanagers = ["a1"]  # a\n\n[clusters.b]\ncontext = "bctx"\n'
        'read_only = true\n\n# about the project\n[projects.p.environments.e]\n'
        'cluster = "a"\nstack = "s"\ncompose = "c.yml"\n')


def test_rm_takes_the_cluster_its_sub_tables_and_the_comments_over_it(hand: Path) -> None:
    edit = remove_cluster(hand, "prod")
    assert edit.removed.strip() == (
        '# the production swarm: three managers\n[clusters.prod]\n# the leader first\n'
        'managers = ["prod-m1", "prod-m2"]  # m3 is being rebuilt\n\nread_only = false\n\n'
        '[clusters.prod.registries."10.0.0.5:5000"]\n'
        'credentials = "docker"  # docker login 10.0.0.5:5000')
    edit.write()
    assert hand.read_text() == HAND.replace(edit.removed, "")
    assert hand.read_text().startswith(
        '# my swarms -- edited by hand, keep this\n# (second line of the header)\n\n[ssh]\n'
        'connect_timeout = 5.0   # the VPN is slow\n\n# staging is shared with the QA team\n'
        '[clusters.staging]\n')
    assert set(load_config(hand).clusters) == {"staging", "edge"}


def test_rm_of_the_last_table_leaves_no_trailing_gap(hand: Path) -> None:
    remove_cluster(hand, "edge").write()
    assert hand.read_text() == HAND.split("\n[clusters.edge]")[0]
    assert hand.read_text().endswith('filter = "f"  # muscle memory\n')


def test_add_then_rm_gives_back_the_same_text(hand: Path) -> None:
    add_cluster(hand, "lab", ClusterEntry(managers=("lab-m1",))).write()
    remove_cluster(hand, "lab").write()
    assert hand.read_text() == HAND
    for name in ("staging", "prod", "edge"):
        remove_cluster(hand, name).write()
    assert hand.read_text() == ('# my swarms -- edited by hand, keep this\n'
                                '# (second line of the header)\n\n[ssh]\n'
                                'connect_timeout = 5.0   # the VPN is slow\n\n'
                                '# console keys come before the last cluster\n[keys]\n'
                                'filter = "f"  # muscle memory\n')


def test_force_replaces_in_place_under_the_same_comments(hand: Path) -> None:
    add_cluster(hand, "prod", ClusterEntry(managers=("prod-m3",)), replace=True).write()
    text = hand.read_text()
    assert text == HAND.replace(
        '[clusters.prod]\n# the leader first\n'
        'managers = ["prod-m1", "prod-m2"]  # m3 is being rebuilt\n\nread_only = false\n\n'
        '[clusters.prod.registries."10.0.0.5:5000"]\n'
        'credentials = "docker"  # docker login 10.0.0.5:5000\n',
        '[clusters.prod]\nmanagers = ["prod-m3"]\n')
    assert "# the production swarm: three managers\n[clusters.prod]" in text


def test_clusters_written_as_inline_tables_are_edited_too(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    text = '[clusters]\n# a comment\na = { managers = ["a1"] }  # inline\n'
    path.write_text(text)
    add_cluster(path, "b", ClusterEntry(managers=("b1",))).write()
    assert "# a comment" in path.read_text() and "# inline" in path.read_text()
    assert set(load_config(path).clusters) == {"a", "b"}
    remove_cluster(path, "b").write()
    assert path.read_text() == text


def test_a_name_with_dots_is_quoted(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(HAND)
    add_cluster(path, "eu.prod", ClusterEntry(managers=("m1",))).write()
    assert '[clusters."eu.prod"]' in path.read_text()
    remove_cluster(path, "eu.prod").write()
    assert path.read_text() == HAND


def test_a_header_inside_a_multiline_string_is_not_a_table(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    text = ('[[commands]]\nname = "x"\nscope = "cluster"\nrun = ["sh", "-c", """\n'
            '[clusters.fake]\necho hi"""]\n\n[clusters.a]\nmanagers = ["a1"]\n')
    path.write_text(text)
    remove_cluster(path, "a").write()
    assert path.read_text() == text.split("\n[clusters.a]")[0]


# ---- refusals: what to fix, exit 2, nothing written ----------------------------------------

def test_refusals_say_what_to_fix(hand: Path) -> None:
    with pytest.raises(UsageError, match=r"cluster 'prod' is already in .* --force") as info:
        add_cluster(hand, "prod", ClusterEntry(managers=("x",)))
    assert info.value.exit_code == 2
    with pytest.raises(UsageError, match=r"unknown cluster 'stagin': did you mean 'staging'"):
        remove_cluster(hand, "stagin")
    with pytest.raises(ConfigError, match=r"destination 'a b': it contains spaces"):
        ClusterEntry(managers=("a b",))
    with pytest.raises(UsageError, match="--manager DEST"):
        ClusterEntry()
    with pytest.raises(UsageError, match="bad cluster name '-x'"):
        add_cluster(hand, "-x", ClusterEntry(managers=("m",)))
    assert hand.read_text() == HAND


def test_a_config_that_does_not_load_is_not_edited(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[clusters.a]\nmanagers = ["a1"\n')
    with pytest.raises(ConfigError, match="TOML syntax error at line"):
        add_cluster(path, "b", ClusterEntry(managers=("b1",)))
    path.write_text('[clusters.a]\nmanager = ["a1"]\n')
    with pytest.raises(ConfigError, match="did you mean 'managers'"):
        remove_cluster(path, "a")


def test_rm_refuses_a_cluster_a_project_uses(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[clusters.a]\nmanagers = ["a1"]\n[projects.shop.environments.prod]\n'
                    'cluster = "a"\nstack = "s"\ncompose = "c.yml"\n')
    with pytest.raises(UsageError, match=r"used by the project environment shop.prod"):
        remove_cluster(path, "a")


def test_an_edit_made_meanwhile_is_not_overwritten(hand: Path) -> None:
    edit = add_cluster(hand, "lab", ClusterEntry(managers=("lab-m1",)))
    hand.write_text(HAND + "# typed meanwhile\n")
    with pytest.raises(ConfigError, match="changed while it was being edited"):
        edit.write()
    assert hand.read_text().endswith("# typed meanwhile\n")


def test_an_edit_that_would_move_other_keys_is_refused(hand: Path, monkeypatch) -> None:
    monkeypatch.setattr(config_edit, "_table_text",
                        lambda name, entry: '[ssh]\nconnect_timeout = 1.0\n')
    with pytest.raises(ConfigError, match="without disturbing the rest"):
        add_cluster(hand, "lab", ClusterEntry(managers=("lab-m1",)))


# ---- the file ------------------------------------------------------------------------------

@pytest.mark.parametrize(("before", "after"), [(0o644, 0o600), (0o600, 0o600), (0o400, 0o400),
                                               (0o640, 0o600)])
def test_mode_is_0600_or_stricter(hand: Path, before: int, after: int) -> None:
    hand.chmod(before)
    add_cluster(hand, "lab", ClusterEntry(managers=("lab-m1",))).write()
    assert stat.S_IMODE(hand.stat().st_mode) == after
    assert [p.name for p in hand.parent.iterdir()] == ["config.toml"]  # no temporary left


def test_a_symlinked_config_is_edited_where_it_lives(hand: Path, tmp_path: Path) -> None:
    link = tmp_path / "link.toml"
    link.symlink_to(hand)
    add_cluster(link, "lab", ClusterEntry(managers=("lab-m1",))).write()
    assert link.is_symlink() and "[clusters.lab]" in hand.read_text()


def test_new_config_is_private_and_refuses_an_existing_file(tmp_path: Path, hand: Path) -> None:
    path = tmp_path / "new" / "config.toml"
    edit = new_config(path, {"prod": ClusterEntry(managers=("prod-m1", "prod-m2")),
                             "edge": ClusterEntry(context="edge")},
                      ssh_config=["/etc/lab/ssh_config"])
    edit.write()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert text.startswith("# swarmdeck config, first written by swarmdeck")
    assert text.endswith('\n[ssh]\nconfig = ["/etc/lab/ssh_config"]\n\n[clusters.prod]\n'
                         'managers = ["prod-m1", "prod-m2"]\n\n[clusters.edge]\n'
                         'context = "edge"\n')
    config = load_config(path)
    assert list(config.clusters) == ["prod", "edge"]
    with pytest.raises(UsageError, match="exists already.*cluster add"):
        new_config(hand, {"x": ClusterEntry(managers=("m",))})
    # cluster add on a machine with no config yet: the same header, then the cluster
    fresh = tmp_path / "fresh.toml"
    add_cluster(fresh, "lab", ClusterEntry(managers=("lab-m1",))).write()
    assert fresh.read_text() == (config_edit.HEADER_COMMENT +
                                 '\n[clusters.lab]\nmanagers = ["lab-m1"]\n')
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600


def test_edits_are_audited(hand: Path) -> None:
    add_cluster(hand, "lab", ClusterEntry(managers=("lab-m1",), read_only=True)).write()
    remove_cluster(hand, "lab").write()
    log = [(e["action"], e["cluster"], e["target"], e["params"], e["result"])
           for e in entries(hand)]
    assert log == [
        ("config cluster add", "lab", str(hand), {"managers": ["lab-m1"], "read_only": True},
         "ok"),
        ("config cluster rm", "lab", str(hand), {}, "ok")]


def test_no_write_when_the_audit_log_cannot_be_written(hand: Path, monkeypatch,
                                                       tmp_path: Path) -> None:
    blocked = tmp_path / "state-file"
    blocked.write_text("")
    monkeypatch.setenv("XDG_STATE_HOME", str(blocked))  # a file where a directory must be
    with pytest.raises(Exception, match="audit log"):
        add_cluster(hand, "lab", ClusterEntry(managers=("lab-m1",))).write()
    assert hand.read_text() == HAND


# ---- the commands --------------------------------------------------------------------------

def test_cluster_add_and_rm_commands(hand: Path, capsys) -> None:
    assert main(["--config", str(hand), "cluster", "add", "lab", "--manager",
                 "ops@10.213.0.16:22", "-m", "lab-m2", "--no-check"]) == 0
    assert "added cluster lab (managers ops@10.213.0.16:22, lab-m2)" in capsys.readouterr().out
    assert hand.read_text() == HAND + ADDED
    assert main(["--config", str(hand), "cluster", "rm", "lab"]) == 2  # no terminal, no --yes
    assert "pass --yes" in capsys.readouterr().err
    assert main(["--config", str(hand), "cluster", "rm", "lab", "--yes"]) == 0
    out = capsys.readouterr().out
    assert '  [clusters.lab]\n  managers = ["ops@10.213.0.16:22", "lab-m2"]' in out
    assert "removed cluster lab from" in out
    assert hand.read_text() == HAND


def test_cluster_commands_refuse_with_exit_2(hand: Path, capsys) -> None:
    cases = [
        (["cluster", "add", "prod", "-m", "x", "--no-check"], "already in"),
        (["cluster", "add", "x", "-m", "h:0", "--no-check"], "port '0'"),
        (["cluster", "rm", "nope", "--yes"], "unknown cluster 'nope'"),
    ]
    for argv, said in cases:
        assert main(["--config", str(hand), *argv]) == 2, argv
        err = capsys.readouterr().err
        assert said in err and "Traceback" not in err
    assert hand.read_text() == HAND


def test_cluster_add_checks_the_manager_first(hand: Path, capsys) -> None:
    """Without --no-check, a manager that cannot be reached is not written."""
    assert main(["--config", str(hand), "cluster", "add", "lab", "-m", "nowhere.invalid",
                 "--timeout", "3"]) == 2
    err = capsys.readouterr().err
    assert "cluster lab not added" in err and "--no-check" in err
    assert hand.read_text() == HAND


def test_init_refuses_an_existing_config_and_an_empty_machine(hand: Path, capsys) -> None:
    assert main(["--config", str(hand), "init", "--yes"]) == 2
    assert "exists already" in capsys.readouterr().err
    fresh = hand.parent / "fresh.toml"
    assert main(["--config", str(fresh), "init", "--yes"]) == 2  # no context, no ssh config
    assert "found no docker context" in capsys.readouterr().err
    assert not fresh.exists()


@pytest.fixture
def reachable(isolated_env: Path, monkeypatch) -> None:
    """A machine with a docker context and three ssh Hosts; the probe is faked here (the lab
    test asks real managers): a-m1 and a-m2 are managers of one swarm, a-w1 a worker, gone
    does not answer."""
    from swarmdeck.core import discovery
    from swarmdeck.core.errors import HostUnreachable, NotAManager
    from swarmdeck.core.models import SwarmInfo

    ssh = isolated_env / ".ssh"
    ssh.mkdir()
    (ssh / "config").write_text("Host a-m1 a-m2\nHost a-w1\nHost gone *.lan\n")
    meta = isolated_env / ".docker" / "contexts" / "meta" / "x"
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps(
        {"Name": "edge", "Endpoints": {"docker": {"Host": "ssh://ops@edge:22"}}}))

    async def probe(dest, settings, *, socket_path=None, timeout=5.0):
        if dest.host == "a-w1":
            raise NotAManager("a-w1 is a worker, not a swarm manager")
        if dest.host == "gone":
            raise HostUnreachable("ssh to gone: connection refused")
        swarm = "edgeswarm" if dest.host == "edge" else "aswarm"
        return SwarmInfo(cluster_id=swarm, nodes=3, managers=2, local_state="active",
                         control_available=True)

    monkeypatch.setattr(discovery, "probe", probe)


def test_init_writes_only_the_swarms_that_answer(tmp_path: Path, reachable, capsys) -> None:
    path = tmp_path / "conf" / "config.toml"
    assert main(["--config", str(path), "init", "--yes"]) == 0
    out, err = capsys.readouterr()
    assert "a-w1 is a worker" in err and "connection refused" in err
    assert "1. edge: manager of swarm edgeswarm" in out and "2. a: manager of swarm" in out
    config = load_config(path)
    assert config.clusters["edge"].context == "edge"
    assert config.clusters["a"].managers == ["a-m1", "a-m2"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


@pytest.mark.parametrize(("answer", "kept"), [("2", ["a"]), ("", ["edge", "a"]),
                                              ("2 1", ["a", "edge"]), ("3", None),
                                              ("x", None)])
def test_init_asks_which_to_keep(tmp_path: Path, reachable, capsys, monkeypatch,
                                 answer: str, kept: list[str] | None) -> None:
    from swarmdeck.cli import clusters

    monkeypatch.setattr(clusters.sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr(clusters, "ask", lambda prompt: answer)
    path = tmp_path / "config.toml"
    code = main(["--config", str(path), "init"])
    if kept is None:
        assert code == 2 and "nothing written" in capsys.readouterr().err
        assert not path.exists()
    else:
        assert code == 0 and list(load_config(path).clusters) == kept


# ---- a cluster added to a running fleet (the console's :ctx add) -------------------------

def test_a_cluster_added_to_the_fleet_is_heard_by_every_listener(tmp_path: Path) -> None:
    from swarmdeck.core.config import ClusterConfig
    from swarmdeck.core.fleet import Fleet

    path = tmp_path / "c.toml"
    path.write_text('[clusters.prod]\nmanagers = ["m1"]\n[clusters.staging]\n'
                    'managers = ["s1"]\n[clusters.edge]\nmanagers = ["e1"]\n')
    fleet = Fleet(load_config(path), env={})
    heard: list[tuple[str, str]] = []
    stop = fleet.subscribe(lambda change: heard.append((change.cluster, change.kind)))
    fleet.add_cluster("lab", ClusterConfig(managers=["lab-m1"]))
    assert fleet.names == ["prod", "staging", "edge", "lab"]
    fleet.inventory("lab").notify("services")
    fleet.inventory("prod").notify("nodes")
    assert heard == [("lab", "services"), ("prod", "nodes")]
    stop()
    fleet.inventory("lab").notify("services")
    fleet.inventory("prod").notify("nodes")
    assert heard == [("lab", "services"), ("prod", "nodes")]
