"""Every path that puts cluster text on a terminal, fed arbitrary text and bytes: no control
character survives (C0 but tab, DEL, C1 incl. the one-byte CSI, ESC, CR), nor a bidi control
or a zero-width character, and nothing crashes. The CLI commands run whole (main()) over the
lab's recorded clusters with hostile text in every name, label, image and error."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest
from hostile import ALL, hostile, inert, nasty, raw_found, recorded, tainted
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rich.console import Console

from swarmdeck.cli import ops as cli_ops
from swarmdeck.cli import resources as cli_resources
from swarmdeck.cli.commands import LS_WHAT
from swarmdeck.cli.doctor import Report
from swarmdeck.cli.events import as_json, line, row
from swarmdeck.cli.logs import format_line
from swarmdeck.cli.main import main
from swarmdeck.cli.placement import nodes_table
from swarmdeck.cli.render import json_text, table
from swarmdeck.core.doctor import diagnose
from swarmdeck.core.errors import TransportError
from swarmdeck.core.events import ClusterEvent
from swarmdeck.core.inventory import ClusterState
from swarmdeck.core.logs import Demuxer, LogLine, parse_line
from swarmdeck.core.ops import resources
from swarmdeck.core.ops.compose import load_compose, stack_plan
from swarmdeck.core.ops.deploy_preview import StackState, build_preview
from swarmdeck.core.ops.services import Started
from swarmdeck.core.placement import place
from swarmdeck.core.sanitize import clean_lines
from swarmdeck.core.views import ClusterHealth
from swarmdeck.ui.widgets.health import health_text
from swarmdeck.ui.widgets.table import plain_of, safe

FIXTURES = Path(__file__).parents[1] / "fixtures"
LAB_STACKS = Path(__file__).parents[2] / "src" / "swarmdeck" / "lab" / "stacks"
# a config file is written once per test; the examples only read it
ONCE = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def assert_inert(text: str, allowed: set[str] = frozenset()) -> None:
    assert inert(text, allowed), raw_found(text, allowed)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text('[clusters.prod]\nmanagers = ["prod-m1"]\n'
                    '[clusters.staging]\nmanagers = ["staging-m1"]\n'
                    '[clusters.broken]\nmanagers = ["broken-m1"]\n'
                    '[projects.shop.environments.production]\ncluster = "prod"\n'
                    'stack = "shop"\ncompose = "shop.yml"\n')
    path.chmod(0o600)
    return path


# ---- logs --------------------------------------------------------------------------------
@given(st.binary(max_size=2000))
def test_log_bytes_to_cli_lines(data):
    demux = Demuxer()
    lines = demux.feed(data) + demux.flush()
    for stream, raw in lines:
        line = parse_line(raw, stream)
        out = format_line(line, "svc.1", "node-1", timestamps=True)
        assert inert(out[:-1]) and out.endswith("\n")


@given(nasty, nasty, nasty)
def test_log_line_tags_and_text(text, replica, node):
    line = LogLine(datetime.now(UTC), "stdout", text)
    out = format_line(line, replica, node)
    assert_inert(out[:-1])


# ---- the CLI's tables and JSON -----------------------------------------------------------
@given(st.lists(st.lists(nasty, min_size=3, max_size=3), max_size=4))
def test_cli_tables_and_json(rows):
    assert_inert(table(["A", "B", "C"], rows), {"\n"})
    out = json_text(rows)
    assert inert(out, {"\n"}) and json.loads(out) == rows


@ONCE
@given(hostile)
@example(ALL)
def test_ls_every_listing_over_hostile_clusters(config, text):
    """`ls clusters|nodes|services|stacks|tasks`, as tables and as JSON, with a cluster that
    fails with hostile text in its error."""
    states = {"prod": tainted(recorded("prod"), text),
              "staging": tainted(recorded("staging"), text),
              "broken": TransportError(f"ssh to broken-m1: {text}")}

    async def load(_config, _names):
        return states

    with mock.patch("swarmdeck.cli.ls._load", load):
        for what in (w for w in LS_WHAT if w != "containers"):  # read from the nodes, below
            for extra in ([], ["--json"]):
                code, out, err = run_cli(["--config", str(config), "ls", what, *extra])
                assert code == 1  # the broken cluster
                assert_inert(out, {"\n"})
                assert_inert(err, {"\n"})
                if extra:
                    json.loads(out)


@ONCE
@given(hostile)
@example(ALL)
def test_doctor_text_and_json_over_hostile_clusters(config, text):
    broken = ClusterState("broken", error=TransportError(f"ssh to broken-m1: {text}"))
    reports = [Report(name, diagnose(tainted(recorded(name), text), now=1795934700.0))
               for name in ("prod", "staging")]
    reports.append(Report("broken", diagnose(broken, now=1795934700.0)))

    async def examine(_config, _names):
        return reports

    with mock.patch("swarmdeck.cli.doctor.examine", examine):
        for extra in ([], ["--json"]):
            _code, out, err = run_cli(["--config", str(config), "doctor", *extra])
            assert_inert(out, {"\n"})
            assert_inert(err, {"\n"})


@given(nasty, nasty, nasty, nasty)
def test_events_lines_table_and_json(kind, action, name, value):
    event = ClusterEvent.from_api({
        "Type": "service", "Action": action or "update", "timeNano": 1795934700 * 10**9,
        "Actor": {"ID": "abc", "Attributes": {"name": name, "replicas.old": value,
                                              "replicas.new": kind, "image.new": value}}})
    if event is None:
        return
    assert_inert(line(event))
    assert_inert(table(["TIME", "AGE", "TYPE", "ACTION", "NAME", "DETAILS"],
                       [row(event, 1795934800.0)]), {"\n"})
    assert_inert(json_text(as_json(event)), {"\n"})


@given(hostile)
@example(ALL)
def test_placement_table_and_verdict(text):
    nodes = list(tainted(recorded("prod"), text).nodes.values())
    placed = place([f"node.labels.zone{text}=={text}", "node.role==manager"], nodes)
    assert_inert(nodes_table(placed), {"\n"})
    assert_inert(clean_lines([placed.verdict(), placed.shortfall]), {"\n"})


def _resource_rows(text: str) -> resources.Resources:
    prod = json.loads((FIXTURES / "lab_prod" / "networks.json").read_text())
    networks = [{**n, "Name": f"{n['Name']}{text}",
                 "Labels": {**(n.get("Labels") or {}), "x": text}} for n in prod]
    services = [{"ID": "s1", "Spec": {"Name": f"web{text}",
                                      "TaskTemplate": {"Networks": [{"Target": n["Id"]}
                                                                    for n in prod]}}}]
    secret = {"ID": "c1", "Spec": {"Name": f"conf{text}", "Labels": {f"k{text}": text},
                                   "Data": ""}}
    return resources.Resources(resources.network_rows(networks, services),
                               resources.secret_rows("secret", [secret], services),
                               resources.secret_rows("config", [secret], services))


@given(hostile)
@example(ALL)
def test_network_secret_config_listings_and_config_inspect(text):
    found = _resource_rows(text)
    ops = SimpleNamespace(cluster="prod")

    async def fetch(_ops, _kinds):
        return found

    async def config_data(_ops, _ref):
        return found.configs[0], f"port=80\n{text}\nmode=prod{text}\n".encode()

    with mock.patch.object(resources, "fetch", fetch), \
            mock.patch.object(resources, "config_data", config_data):
        for kind in ("network", "secret", "config"):
            for as_json_flag in (False, True):
                out = io.StringIO()
                with contextlib.redirect_stdout(out):
                    asyncio.run(cli_resources._ls(ops, kind, as_json_flag))
                assert_inert(out.getvalue(), {"\n"})
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            asyncio.run(cli_resources._inspect(ops, "conf"))
        assert_inert(out.getvalue(), {"\n"})
        assert out.getvalue().startswith("port=80\n")


@given(hostile)
@example(ALL)
def test_deploy_preview_as_the_cli_prints_it(text):
    """Hostile values in the compose file (through interpolation) and in what the cluster
    holds: the preview's lines stay lines, every one inert."""
    compose = (LAB_STACKS / "shop.yml").read_text().replace(
        "QUEUE: orders", "QUEUE: ${Q}\n      EXTRA: ${Q}").replace(
        "swarmdeck.demo.tier: frontend", "swarmdeck.demo.tier: ${Q}")
    path = Path("/nonexistent") / "shop.yml"
    with mock.patch.object(Path, "read_text", lambda self, **_kw: compose):
        plan = stack_plan(load_compose(path, env={"Q": text}), "shop")
    services = json.loads((FIXTURES / "lab_staging" / "services.json").read_text())
    for s in services:
        s["Spec"]["Labels"] = {**s["Spec"].get("Labels", {}), "note": text}
    state = StackState({s["Spec"]["Name"]: s for s in services},
                       json.loads((FIXTURES / "lab_staging" / "networks.json").read_text()),
                       {}, {})
    preview = build_preview(f"staging{text}", plan, state, True)
    shown = clean_lines(preview.lines())
    assert_inert(shown, {"\n"})
    assert shown.count("\n") == len(preview.lines()) - 1


def test_follow_prints_a_summary_as_lines_each_inert():
    summary = "created network shop_default\nupdated service shop_web\x1b[2J\u202e"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        asyncio.run(cli_ops.follow(None, Started({}, summary),
                                   argparse.Namespace(detach=True)))
    assert out.getvalue() == ("created network shop_default\n"
                              "updated service shop_web<ESC>[2J<U+202E>\n")


@given(hostile)
@example(ALL)
def test_questions_and_tokens_from_the_cluster(text):
    asked: list[str] = []
    with mock.patch("sys.stdin", SimpleNamespace(isatty=lambda: True)), \
            mock.patch("swarmdeck.cli.prompt.ask", lambda prompt: asked.append(prompt) or "no"):
        with contextlib.suppress(Exception):
            cli_ops.confirm(f"Remove node prod-w1{text} from prod?", yes=False,
                            typed=f"prod-w1{text}")
        with contextlib.suppress(Exception):
            cli_ops.confirm(f"Update web from busybox{text} to busybox:2?", yes=False)
    assert len(asked) == 2
    for prompt in asked:
        assert_inert(prompt)

    async def show(_ops, _role, *, reveal=False):
        return f"SWMTKN-1-{text}"

    out = io.StringIO()
    with mock.patch("swarmdeck.core.ops.tokens.show", show), contextlib.redirect_stdout(out):
        asyncio.run(cli_ops._token(SimpleNamespace(cluster="prod"),
                                   argparse.Namespace(token_action="show", role="worker",
                                                      reveal=True)))
    assert_inert(out.getvalue(), {"\n"})


# ---- the console's pieces (the whole console: tests/ui/test_inert_console.py) -------------
@given(nasty, nasty, nasty, nasty)
@settings(max_examples=50)
def test_console_header(cluster, error, leader, manager):
    health = ClusterHealth(cluster, "stale", error, manager, leader, 1, 3, 2, 5, 4, 9, 2,
                           age=3.0)
    plain = health_text(health).plain
    assert_inert(plain)
    console = Console(width=400, color_system=None, legacy_windows=False)
    with console.capture() as capture:
        console.print(health_text(health), end="")
    assert_inert(capture.get(), {"\n"})  # what is written, wrapped lines apart


@given(nasty)
def test_table_cells(value):
    assert_inert(plain_of(safe(value)))


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hostile)
@example(ALL)
def test_containers_and_volumes_tables_are_inert(text):
    """`ls containers` and `volume ls` rows built from a node's hostile container names,
    labels, images and volume names: the tables show them inert."""
    from swarmdeck.core import node_objects

    found = [{"Id": "a" * 64, "Names": [f"/{text}"], "Image": text, "State": text,
              "Status": text, "Created": 0, "Mounts": [{"Type": "volume", "Name": text}],
              "Labels": {node_objects.SERVICE_LABEL: text,
                         node_objects.TASK_LABEL: f"{text}.1.x"}}]
    containers = node_objects.container_rows("prod", text, found)
    volumes = node_objects.volume_rows("prod", text, [{"Name": text, "Driver": text,
                                                      "Mountpoint": text}], found)
    out = table(["A"] * 8, [[r.cluster, r.node, r.id, r.name, r.task, r.state, r.status,
                             r.image] for r in containers])
    out += table(["A"] * 5, [[r.node, r.name, r.driver, ", ".join(r.used_by), r.mountpoint]
                             for r in volumes])
    assert_inert(out, {"\n"})
