"""Networks, secrets and configs without a cluster: name and subnet rules, the rows built
from API answers, and the changes over a fake Docker API (what is sent, what is audited)."""

from __future__ import annotations

import asyncio
import base64
import json
from types import SimpleNamespace

import pytest

from swarmdeck.cli.main import main
from swarmdeck.core.audit import AuditLog
from swarmdeck.core.errors import DockerAPIError, ReadOnly, Refused, UsageError
from swarmdeck.core.ops import resources
from swarmdeck.core.ops.base import ClusterOps

STACK = "com.docker.stack.namespace"


# ---- names, subnets, data ----------------------------------------------------------------
@pytest.mark.parametrize("name", ["a", "rt-net", "db.password_v2", "0", "A" * 64])
def test_valid_names(name):
    assert resources.check_name("secret", name) == name


@pytest.mark.parametrize("name", ["", "-lead", ".hidden", "_x", "has space", "a/b", "é",
                                  "A" * 65, "semi;colon", "new\nline"])
def test_invalid_names_say_the_rule(name):
    with pytest.raises(UsageError, match="is not a valid config name") as err:
        resources.check_name("config", name)
    assert "1 to 64 characters" in str(err.value)
    assert err.value.exit_code == 2


@pytest.mark.parametrize("text, wanted", [("10.20.0.0/24", "10.20.0.0/24"),
                                          (" 172.30.0.0/16 ", "172.30.0.0/16"),
                                          ("fd00:1::/64", "fd00:1::/64"),
                                          ("10.0.0.0/30", "10.0.0.0/30")])
def test_valid_subnets_are_normalised(text, wanted):
    assert resources.check_subnet(text) == wanted


def test_subnet_with_host_bits_says_the_fix():
    with pytest.raises(UsageError, match="host bits set") as err:
        resources.check_subnet("10.20.0.5/24")
    assert "did you mean 10.20.0.0/24?" in str(err.value)


@pytest.mark.parametrize("text", ["bogus", "10.20.0.0", "10.20.0.0/33", "300.1.1.0/24",
                                  "10.20.0.0/", ""])
def test_invalid_subnets(text):
    with pytest.raises(UsageError, match="is not a subnet"):
        resources.check_subnet(text)


def test_too_small_a_subnet():
    with pytest.raises(UsageError, match="too small"):
        resources.check_subnet("10.0.0.0/31")


def test_data_size_limits():
    assert resources.check_data("secret", b"x") == b"x"
    with pytest.raises(UsageError, match="empty"):
        resources.check_data("secret", b"")
    resources.check_data("secret", b"x" * (500 * 1024 - 1))
    with pytest.raises(UsageError, match="too big"):
        resources.check_data("secret", b"x" * (500 * 1024))
    resources.check_data("config", b"x" * (500 * 1024))  # configs may be bigger


def test_read_file_errors(tmp_path):
    (tmp_path / "f").write_bytes(b"data")
    assert resources.read_file(str(tmp_path / "f")) == b"data"
    with pytest.raises(UsageError, match="no such file"):
        resources.read_file(str(tmp_path / "missing"))
    with pytest.raises(UsageError, match="is a directory"):
        resources.read_file(str(tmp_path))


def test_overlap_with_a_network_in_use():
    nets = [{"Name": "backend", "IPAM": {"Config": [{"Subnet": "10.1.0.0/16"}]}},
            {"Name": "weird", "IPAM": {"Config": [{"Subnet": "nonsense"}]}}]
    with pytest.raises(UsageError, match="overlaps 10.1.0.0/16 of network 'backend'"):
        resources.check_overlap("10.1.2.0/24", nets)
    resources.check_overlap("10.2.0.0/24", nets)
    resources.check_overlap("fd00::/64", nets)


# ---- rows --------------------------------------------------------------------------------
def service(name, *, networks=(), vips=(), secrets=(), configs=(), legacy_networks=()):
    spec = {"Name": name, "TaskTemplate": {
        "ContainerSpec": {"Secrets": list(secrets), "Configs": list(configs)},
        "Networks": [{"Target": t} for t in networks]}}
    if legacy_networks:
        spec["Networks"] = [{"Target": t} for t in legacy_networks]
        del spec["TaskTemplate"]["Networks"]
    return {"ID": f"id-{name}", "Spec": spec,
            "Endpoint": {"VirtualIPs": [{"NetworkID": v, "Addr": "10.0.0.2/24"}
                                        for v in vips]}}


NETWORKS = [
    {"Name": "bridge", "Id": "b1", "Scope": "local", "Driver": "bridge"},
    {"Name": "shop_default", "Id": "net1", "Scope": "swarm", "Driver": "overlay",
     "Options": {"encrypted": "", "com.docker.network.driver.overlay.vxlanid_list": "4097"},
     "Attachable": True, "Labels": {STACK: "shop"},
     "IPAM": {"Config": [{"Subnet": "10.0.1.0/24", "Gateway": "10.0.1.1"}]},
     "Created": "2026-11-29T09:53:28.929545224Z"},
    {"Name": "ingress", "Id": "ing", "Scope": "swarm", "Driver": "overlay", "Ingress": True,
     "IPAM": {"Config": [{"Subnet": "10.0.0.0/24"}]}},
    {"Name": "by-name", "Id": "net2", "Scope": "swarm", "Driver": "overlay", "Internal": True},
]
SERVICES = [
    service("web", networks=["net1"], vips=["ing"], secrets=[
        {"SecretID": "s1", "SecretName": "db_password", "File": {"Name": "db"}}]),
    service("worker", networks=["net1", "by-name"], configs=[
        {"ConfigID": "c1", "ConfigName": "app.conf"}]),
    service("old", legacy_networks=["net2"], secrets=[{"SecretName": "db_password"}]),
]


def test_network_rows():
    rows = {r.name: r for r in resources.network_rows(NETWORKS, SERVICES)}
    assert list(rows) == ["by-name", "ingress", "shop_default"]  # swarm scope, by name
    shop = rows["shop_default"]
    assert (shop.encrypted, shop.attachable, shop.internal, shop.ingress) == (
        True, True, False, False)
    assert shop.subnets == ["10.0.1.0/24"] and shop.stack == "shop"
    assert shop.services == ["web", "worker"]
    assert shop.created_at is not None and shop.created_at.year == 2026
    assert rows["ingress"].services == ["web"]  # from the endpoint's virtual IPs
    assert rows["by-name"].services == ["old", "worker"]  # target by name, legacy Networks
    assert rows["by-name"].internal and rows["by-name"].subnets == []


def test_secret_and_config_rows():
    secrets = [{"ID": "s1", "CreatedAt": "2026-11-29T09:00:00Z",
                "UpdatedAt": "2026-11-29T10:00:00.123456789Z",
                "Spec": {"Name": "db_password", "Labels": {STACK: "shop", "team": "a"}}},
               {"ID": "s2", "Spec": {"Name": "unused"}}]
    rows = resources.secret_rows("secret", secrets, SERVICES)
    assert [r.name for r in rows] == ["db_password", "unused"]
    assert rows[0].services == ["old", "web"]  # by ID and by name
    assert rows[0].stack == "shop" and rows[0].labels == {STACK: "shop", "team": "a"}
    assert rows[0].size is None and rows[1].services == []
    assert rows[0].updated_at.hour == 10

    configs = [{"ID": "c1", "Spec": {"Name": "app.conf",
                                     "Data": base64.b64encode(b"a=1\n").decode()}}]
    (row,) = resources.secret_rows("config", configs, SERVICES)
    assert (row.kind, row.size, row.services) == ("config", 4, ["worker"])


def test_find_by_name_id_or_prefix():
    rows = resources.network_rows(NETWORKS, SERVICES)
    assert resources.find(rows, "network", "shop_default", "c").id == "net1"
    assert resources.find(rows, "network", "net1", "c").name == "shop_default"
    assert resources.find(rows, "network", "in", "c").name == "ingress"  # unique prefix
    with pytest.raises(UsageError, match="no network 'net' in cluster c"):
        resources.find(rows, "network", "net", "c")  # ambiguous prefix
    with pytest.raises(UsageError, match="did you mean 'shop_default'"):
        resources.find(rows, "network", "shop_defualt", "c")


def test_in_use_and_ingress_are_not_removable():
    rows = {r.name: r for r in resources.network_rows(NETWORKS, SERVICES)}
    with pytest.raises(Refused, match="in use by 2 service.*: web, worker; nothing was "
                                      "removed"):
        resources.check_removable(rows["shop_default"], "network", "prod")
    with pytest.raises(Refused, match="routing-mesh"):
        resources.check_removable(rows["ingress"], "network", "prod")


# ---- changes over a fake Docker API ------------------------------------------------------
class FakeDocker:
    def __init__(self, networks=(), secrets=(), configs=(), services=()) -> None:
        self.objects = {"/networks": list(networks), "/secrets": list(secrets),
                        "/configs": list(configs), "/services": list(services)}
        self.calls: list[tuple[str, str, object]] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.endpoint_busy = 0  # DELETE /networks fails this many times first

    async def get(self, path, **params):
        self.calls.append(("GET", path, params or None))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        if path.startswith("/configs/"):
            return next(c for c in self.objects["/configs"] if c["ID"] == path.split("/")[2])
        return self.objects[path]

    async def request(self, method, path, *, params=None, body=None, headers=None):
        self.calls.append((method, path, body))
        if method == "DELETE" and path.startswith("/networks/") and self.endpoint_busy:
            self.endpoint_busy -= 1
            raise DockerAPIError(400, "rpc error: code = FailedPrecondition desc = network "
                                      "net2 is in use by task p99qac91yl6t")
        return {"Id": "new"} if method == "POST" else None

    def changes(self):
        return [c for c in self.calls if c[0] != "GET"]


def make_ops(tmp_path, docker, read_only=None) -> ClusterOps:
    session = SimpleNamespace(docker=docker, label="m1 (fake)")
    return ClusterOps("prod", session, audit=AuditLog(tmp_path / "audit.jsonl"),
                      read_only=read_only)


async def test_fetch_gets_each_kind_once_at_the_same_time(tmp_path):
    docker = FakeDocker(NETWORKS, services=SERVICES)
    found = await resources.fetch(make_ops(tmp_path, docker))
    assert sorted(c[1] for c in docker.calls) == ["/configs", "/networks", "/secrets",
                                                  "/services"]
    assert docker.most_in_flight == 4
    assert [r.name for r in found.networks] == ["by-name", "ingress", "shop_default"]
    docker.calls.clear()
    await resources.fetch(make_ops(tmp_path, docker), ("secret",))
    assert sorted(c[1] for c in docker.calls) == ["/secrets", "/services"]


async def test_create_secret_sends_the_data_and_audits_only_its_size(tmp_path):
    docker = FakeDocker()
    ops = make_ops(tmp_path, docker)
    text = await resources.create_secret(ops, "secret", "db_password", b"hunter2-topsecret")
    assert text == "created secret db_password on prod (17 bytes)"
    ((method, path, body),) = docker.changes()
    assert (method, path) == ("POST", "/secrets/create")
    assert base64.b64decode(body["Data"]) == b"hunter2-topsecret"
    log = (tmp_path / "audit.jsonl").read_text()
    assert "hunter2" not in log and base64.b64encode(b"hunter2").decode()[:8] not in log
    (entry,) = [json.loads(line) for line in log.splitlines()]
    assert (entry["action"], entry["target"], entry["params"], entry["result"]) == (
        "secret create", "db_password", {"bytes": 17}, "ok")


async def test_duplicate_names_are_refused_before_any_change(tmp_path):
    docker = FakeDocker(NETWORKS, secrets=[{"ID": "s1", "Spec": {"Name": "db_password"}}])
    ops = make_ops(tmp_path, docker)
    with pytest.raises(UsageError, match="a secret named 'db_password' already exists"):
        await resources.create_secret(ops, "secret", "db_password", b"x")
    with pytest.raises(UsageError, match="a network named 'bridge' already exists"):
        await resources.create_network(ops, "bridge")  # local networks count too
    with pytest.raises(UsageError, match="overlaps 10.0.1.0/24"):
        await resources.create_network(ops, "fresh", subnet="10.0.1.128/25")
    assert docker.changes() == []


async def test_create_network_body(tmp_path):
    docker = FakeDocker(NETWORKS)
    text = await resources.create_network(make_ops(tmp_path, docker), "rt-a", encrypted=True,
                                          attachable=True, subnet="10.9.0.0/24")
    assert text == ("created overlay network rt-a on prod (encrypted, attachable, subnet "
                    "10.9.0.0/24)")
    ((_m, path, body),) = docker.changes()
    assert path == "/networks/create"
    assert body["Driver"] == "overlay" and body["Attachable"] is True
    assert body["Options"] == {"encrypted": "true"}
    assert body["IPAM"]["Config"] == [{"Subnet": "10.9.0.0/24"}]


async def test_read_only_refuses_before_any_request_and_is_audited(tmp_path):
    docker = FakeDocker()
    ops = make_ops(tmp_path, docker, read_only="--read-only")
    with pytest.raises(ReadOnly, match="secret create refused: cluster prod is read-only"):
        await resources.create_secret(ops, "secret", "x", b"data")
    with pytest.raises(ReadOnly):
        await resources.remove(ops, "config", "x")
    assert docker.calls == []
    entries = AuditLog(tmp_path / "audit.jsonl").read()
    assert [(e["action"], e["result"]) for e in entries] == [
        ("secret create", "refused"), ("config remove", "refused")]


async def test_remove_in_use_is_refused_and_unused_is_removed(tmp_path):
    secrets = [{"ID": "s1", "Spec": {"Name": "db_password"}},
               {"ID": "s9", "Spec": {"Name": "spare"}}]
    docker = FakeDocker(secrets=secrets, services=SERVICES)
    ops = make_ops(tmp_path, docker)
    with pytest.raises(Refused, match="in use by 2 service.*: old, web"):
        await resources.remove(ops, "secret", "db_password")
    assert docker.changes() == []
    assert await resources.remove(ops, "secret", "spare") == "removed secret spare from prod"
    assert docker.changes() == [("DELETE", "/secrets/s9", None)]


async def test_network_removal_waits_for_stopping_tasks(tmp_path, monkeypatch):
    monkeypatch.setattr(resources.asyncio, "sleep", _no_sleep)
    docker = FakeDocker(NETWORKS)
    docker.endpoint_busy = 2
    ops = make_ops(tmp_path, docker)
    assert await resources.remove(ops, "network", "net2") == "removed network by-name from prod"
    assert len(docker.changes()) == 3
    docker.endpoint_busy = 100
    with pytest.raises(Refused, match="still has containers attached"):
        await resources.remove(ops, "network", "by-name")


async def _no_sleep(_seconds):
    return None


async def test_config_data(tmp_path):
    configs = [{"ID": "c1", "Spec": {"Name": "app.conf",
                                     "Data": base64.b64encode(b"a=1\n\x1b[2J").decode()}}]
    row, data = await resources.config_data(make_ops(tmp_path, FakeDocker(configs=configs)),
                                            "app.conf")
    assert row.id == "c1" and data == b"a=1\n\x1b[2J"  # raw: callers sanitize


# ---- the command line, before any connection ---------------------------------------------
@pytest.fixture
def unreachable(tmp_path):
    """A config whose cluster cannot be reached: input errors must come first."""
    path = tmp_path / "config.toml"
    path.write_text('[clusters.prod]\nmanagers = ["root@192.0.2.1:1"]\n')
    path.chmod(0o600)
    return str(path)


@pytest.mark.parametrize("argv, says", [
    (["network", "create", "rt-a", "--subnet", "10.0.0.1/24"], "has host bits set"),
    (["network", "create", "rt-a", "--subnet", "nope"], "is not a subnet"),
    (["network", "create", "bad/name"], "is not a valid network name"),
    (["secret", "create", "rt-s", "--file", "/nonexistent/file"], "no such file"),
    (["secret", "create", "rt-s"], "give --file PATH or -"),
    (["config", "create", "bad name", "-"], "is not a valid config name"),
])
def test_bad_input_exits_2_without_connecting(unreachable, argv, says, capsys):
    assert main(["--config", unreachable, *argv]) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err and err.count("\n") == 1


def test_empty_stdin_is_refused(unreachable, monkeypatch, capsys):
    import io

    monkeypatch.setattr("sys.stdin", SimpleNamespace(buffer=io.BytesIO(b""),
                                                     isatty=lambda: False))
    assert main(["--config", unreachable, "secret", "create", "rt-s", "-"]) == 2
    assert "the secret data is empty" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["network"], ["secret", "create"], ["config", "inspect"],
                                  ["config", "rm"]])
def test_resource_commands_have_help(argv, capsys):
    with pytest.raises(SystemExit) as done:
        main([*argv, "--help"])
    assert done.value.code == 0
    assert "usage: swarmdeck" in capsys.readouterr().out
