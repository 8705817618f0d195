"""Registries: which registry an image names, where its credentials come from (the docker
config and its helpers, a command, the cluster's config), the X-Registry-Auth header, and
that a secret never shows in a repr, an error, a config message or the audit log."""

from __future__ import annotations

import base64
import json
import os
import pickle
import stat
import sys
from pathlib import Path

import pytest
from test_compose import FULL, compose
from test_deploy import FakeDocker, audit, fake_ops

from swarmdeck.core.config import load_config
from swarmdeck.core.errors import ConfigError, UsageError
from swarmdeck.core.ops.compose import stack_plan
from swarmdeck.core.ops.deploy import apply, plan_changes
from swarmdeck.core.registries import (
    Credentials,
    RegistryAuth,
    RegistryConfig,
    docker_credentials,
    registry_auth,
    registry_of,
    resolve,
)

SECRET = "s3cr3t-Pa55"


def decode(header: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(header))


# ---- image references --------------------------------------------------------------------

@pytest.mark.parametrize(("image", "registry"), [
    ("busybox", "docker.io"),
    ("busybox:1.36", "docker.io"),
    ("library/busybox", "docker.io"),
    ("user/app:2", "docker.io"),
    ("user/app@sha256:" + "a" * 64, "docker.io"),
    ("docker.io/library/nginx:1", "docker.io"),
    ("index.docker.io/library/nginx", "docker.io"),
    ("registry-1.docker.io/x/y", "docker.io"),
    ("registry.example.com/app", "registry.example.com"),
    ("Registry.Example.COM/team/app:1", "registry.example.com"),
    ("10.213.0.1:5000/swarmdeck/demo:1.1", "10.213.0.1:5000"),
    ("registry:5000/web:1", "registry:5000"),
    ("localhost/app", "localhost"),
    ("localhost:5000/a/b/c:latest", "localhost:5000"),
    ("my.registry/a/b:tag@sha256:" + "b" * 64, "my.registry"),
    ("team/sub.dir/app", "docker.io"),  # a '.' past the first component is no host
])
def test_the_registry_an_image_names(image, registry):
    assert registry_of(image) == registry


# ---- credentials and the header ----------------------------------------------------------

def test_credentials_never_show_their_secret():
    creds = Credentials("reg:5000", "bob", SECRET)
    token = Credentials("reg:5000", identity_token=SECRET)
    for shown in (repr(creds), str(creds), f"{creds}", repr([creds]), repr(token),
                  repr(RegistryAuth({"reg:5000": creds})), str(RegistryAuth({"x": token}))):
        assert SECRET not in shown
    assert repr(creds) == "Credentials(server='reg:5000', username='bob', password=****)"
    assert "identity_token=****" in repr(token)
    assert repr(RegistryAuth({"reg:5000": creds})) == "RegistryAuth(registries=['reg:5000'])"
    with pytest.raises(TypeError):
        pickle.dumps(creds)


def test_the_header_is_docker_s_base64url_json():
    creds = Credentials("reg:5000", "bob", "p+/?=" * 5)  # characters base64url must encode
    header = creds.header()
    assert "+" not in header and "/" not in header
    assert decode(header) == {"username": "bob", "password": "p+/?=" * 5,
                              "serveraddress": "reg:5000"}
    assert header == registry_auth("bob", "p+/?=" * 5, "reg:5000")
    assert decode(Credentials("https://index.docker.io/v1/", identity_token="tok").header()) \
        == {"identitytoken": "tok", "serveraddress": "https://index.docker.io/v1/"}


def test_registry_auth_sends_each_image_its_registry_s_credentials():
    auth = RegistryAuth({"reg:5000": Credentials("reg:5000", "a", "1"),
                         "index.docker.io": Credentials("x", "b", "2")})
    assert decode(auth.headers("reg:5000/app:1")["X-Registry-Auth"])["username"] == "a"
    assert decode(auth.headers("busybox")["X-Registry-Auth"])["username"] == "b"
    assert auth.headers("other.example.com/app") == {}
    assert not RegistryAuth() and auth and auth.registries == ["docker.io", "reg:5000"]


# ---- the docker config -------------------------------------------------------------------

def docker_config(home: Path, data: dict) -> dict[str, str]:
    (home / ".docker").mkdir(exist_ok=True)
    (home / ".docker" / "config.json").write_text(json.dumps(data))
    return {"DOCKER_CONFIG": str(home / ".docker"), "PATH": os.environ["PATH"]}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_auths_as_docker_login_writes_them(tmp_path):
    env = docker_config(tmp_path, {"auths": {
        "reg.example.com": {"auth": b64(f"bob:{SECRET}")},
        "https://other.example.com/v1/": {"auth": b64("amy:pw:with:colons")},
        "https://index.docker.io/v1/": {"auth": b64("hub:pw")},
        "tok.example.com": {"auth": b64("ann:"), "identitytoken": "itok"},
        "empty.example.com": {}}})
    reg = docker_credentials("reg.example.com", env)
    assert decode(reg.header()) == {"username": "bob", "password": SECRET,
                                    "serveraddress": "reg.example.com"}
    assert decode(docker_credentials("other.example.com", env).header())["password"] \
        == "pw:with:colons"
    hub = decode(docker_credentials("docker.io", env).header())
    assert hub["username"] == "hub" and hub["serveraddress"] == "https://index.docker.io/v1/"
    assert decode(docker_credentials("tok.example.com", env).header())["identitytoken"] \
        == "itok"
    assert docker_credentials("empty.example.com", env) is None
    assert docker_credentials("nowhere.example.com", env) is None
    assert docker_credentials("x", {"DOCKER_CONFIG": str(tmp_path / "none")}) is None


def test_a_damaged_docker_config_is_one_clear_error(tmp_path):
    env = docker_config(tmp_path, {})
    Path(env["DOCKER_CONFIG"], "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"cannot read the docker config .*config\.json"):
        docker_credentials("reg", env)


@pytest.fixture
def helper(tmp_path):
    """A fake `docker-credential-test` on PATH: it records its stdin and answers from a
    table of server -> [Username, Secret]; unknown servers get the helpers' own answer."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    table = tmp_path / "helper-table.json"
    table.write_text("{}")
    script = bin_dir / "docker-credential-test"
    script.write_text(f"""#!{sys.executable}
import json, sys
assert sys.argv[1:] == ["get"], sys.argv
server = sys.stdin.read().strip()
open({str(tmp_path / "helper-asked")!r}, "a").write(server + "\\n")
table = json.load(open({str(table)!r}))
if server == "broken.example.com":
    print("the keychain is locked: unlock it", file=sys.stderr)
    sys.exit(3)
if server not in table:
    print("credentials not found in native keychain")
    sys.exit(1)
user, secret = table[server]
print(json.dumps({{"ServerURL": server, "Username": user, "Secret": secret}}))
""")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)

    def setup(entries: dict[str, list[str]], config: dict) -> dict[str, str]:
        table.write_text(json.dumps(entries))
        env = docker_config(tmp_path, config)
        env["PATH"] = f"{bin_dir}:{env['PATH']}"
        return env

    setup.asked = lambda: (tmp_path / "helper-asked").read_text().split()
    return setup


def test_a_creds_store_is_asked_with_the_server_on_stdin(helper):
    env = helper({"reg.example.com": ["bob", SECRET],
                  "https://index.docker.io/v1/": ["<token>", "hub-identity"]},
                 {"credsStore": "test", "auths": {"reg.example.com": {}}})
    assert decode(docker_credentials("reg.example.com", env).header()) == {
        "username": "bob", "password": SECRET, "serveraddress": "reg.example.com"}
    assert decode(docker_credentials("docker.io", env).header()) == {
        "identitytoken": "hub-identity", "serveraddress": "https://index.docker.io/v1/"}
    assert docker_credentials("unknown.example.com", env) is None  # "not found": none
    assert helper.asked() == ["reg.example.com", "https://index.docker.io/v1/",
                              "unknown.example.com"]


def test_cred_helpers_per_registry_come_before_auths(helper):
    env = helper({"reg.example.com": ["helper-user", "helper-pw"]},
                 {"credHelpers": {"reg.example.com": "test"},
                  "auths": {"reg.example.com": {"auth": b64("file-user:file-pw")},
                            "other.example.com": {"auth": b64("amy:pw")}}})
    assert decode(docker_credentials("reg.example.com", env).header())["username"] \
        == "helper-user"
    assert decode(docker_credentials("other.example.com", env).header())["username"] == "amy"
    assert helper.asked() == ["reg.example.com"]


def test_a_failing_helper_says_which_and_why(helper):
    env = helper({}, {"credsStore": "test"})
    with pytest.raises(ConfigError) as failed:
        docker_credentials("broken.example.com", env)
    assert str(failed.value) == ("the docker credential helper docker-credential-test (for "
                                 "broken.example.com) failed (exit code 3): the keychain is "
                                 "locked: unlock it")
    env = helper({}, {"credsStore": "missing-helper"})
    with pytest.raises(ConfigError, match="docker-credential-missing-helper .* was not found"):
        docker_credentials("reg.example.com", env)


# ---- a credentials command ---------------------------------------------------------------

def script(tmp_path: Path, body: str, name: str = "creds") -> str:
    path = tmp_path / name
    path.write_text(f"#!{sys.executable}\nimport json, os, sys, time\n{body}\n")
    path.chmod(0o755)
    return str(path)


def cluster_config(tmp_path: Path, table: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[clusters.prod]\nmanagers = ["m1"]\n\n{table}')
    path.chmod(0o600)
    return path


def resolve_with(tmp_path: Path, table: str, images: list[str], **kwargs):
    config = load_config(cluster_config(tmp_path, table))
    return resolve(config, "prod", images, environ=kwargs.pop("environ", os.environ), **kwargs)


def test_a_command_prints_json_or_user_colon_password(tmp_path):
    json_cmd = script(tmp_path, 'print(json.dumps({"username": "ci", "password": '
                                f'{SECRET!r} + os.environ["SWARMDECK_REGISTRY"]}}))', "a")
    plain_cmd = script(tmp_path, f'print("bot:{SECRET}")', "b")
    auth = resolve_with(tmp_path, f'''
[clusters.prod.registries."10.213.0.1:5000"]
command = ["{json_cmd}"]
[clusters.prod.registries."registry.example.com"]
command = "{plain_cmd} --flag"
''', ["10.213.0.1:5000/demo:1", "registry.example.com/app:2", "busybox"])
    assert auth.registries == ["10.213.0.1:5000", "registry.example.com"]
    assert decode(auth.headers("10.213.0.1:5000/demo:1")["X-Registry-Auth"]) == {
        "username": "ci", "password": SECRET + "10.213.0.1:5000",
        "serveraddress": "10.213.0.1:5000"}
    assert decode(auth.headers("registry.example.com/x")["X-Registry-Auth"])["password"] \
        == SECRET
    assert auth.headers("busybox") == {}


def test_a_command_runs_without_a_shell(tmp_path):
    argv_cmd = script(tmp_path, 'print("u:" + "|".join(sys.argv[1:]))')
    entry = RegistryConfig(command=f"{argv_cmd} '$HOME' a;b ~")
    assert entry.argv() == [argv_cmd, "$HOME", "a;b", "~"]
    auth = resolve_with(tmp_path, f'[clusters.prod.registries."reg:5000"]\n'
                                  f'command = "{argv_cmd} \'$HOME\' a;b ~"\n', ["reg:5000/x"])
    assert decode(auth.headers("reg:5000/x")["X-Registry-Auth"])["password"] == "$HOME|a;b|~"


@pytest.mark.parametrize(("body", "says"), [
    (f'print("oops {SECRET}", file=sys.stderr); print("{SECRET}"); sys.exit(4)',
     "failed (exit code 4): oops"),
    (f'print("just-a-password-{SECRET}")', "printed neither a JSON object with username and "
                                           "password nor one line user:password"),
    (f'print(json.dumps({{"username": "u", "pass": "{SECRET}"}}))', "printed neither"),
    ("time.sleep(5)", "did not finish within 0.3 s"),
])
def test_a_failing_command_says_why_without_its_output(tmp_path, body, says):
    cmd = script(tmp_path, body)
    # the time limit is the point only for the command that sleeps: the others get a fresh
    # Python process's start-up time on a busy machine (0.3 s was not always enough)
    timeout = 0.3 if "sleep" in body else 30
    with pytest.raises(ConfigError) as failed:
        resolve_with(tmp_path, f'[clusters.prod.registries."reg:5000"]\ncommand = ["{cmd}", '
                               f'"--token={SECRET}"]\ntimeout = {timeout}\n', ["reg:5000/x"])
    message = str(failed.value)
    assert says in message
    assert f"credentials command {cmd!r} of registry reg:5000" in message
    assert '[clusters.prod.registries."reg:5000"]' in message
    if "oops" not in says:
        assert SECRET not in message  # neither the output nor the arguments
    assert "--token" not in message


def test_a_missing_command_is_named(tmp_path):
    with pytest.raises(ConfigError, match="'/nonexistent/creds' of registry reg:5000 .* was "
                                          "not found"):
        resolve_with(tmp_path, '[clusters.prod.registries."reg:5000"]\n'
                               'command = ["/nonexistent/creds"]\n', ["reg:5000/x"])


# ---- resolving for an operation ----------------------------------------------------------

def test_configured_registries_first_then_docker_login(tmp_path):
    env = docker_config(tmp_path, {"auths": {
        "reg:5000": {"auth": b64("from-docker:1")},
        "hub.example.com": {"auth": b64("from-docker:2")}}})
    cmd = script(tmp_path, 'print("from-command:3")')
    table = (f'[clusters.prod.registries."reg:5000"]\ncommand = ["{cmd}"]\n'
             '[clusters.prod.registries."anon.example.com"]\n')
    images = ["reg:5000/a", "hub.example.com/b", "anon.example.com/c"]
    auth = resolve_with(tmp_path, table, images, environ=env)
    assert auth.registries == ["reg:5000"]  # no --with-registry-auth: configured ones only
    auth = resolve_with(tmp_path, table, images, environ=env, docker_login=True)
    assert auth.registries == ["hub.example.com", "reg:5000"]
    assert decode(auth.headers("reg:5000/a")["X-Registry-Auth"])["username"] == "from-command"
    assert decode(auth.headers("hub.example.com/b")["X-Registry-Auth"])["username"] \
        == "from-docker"


def test_docker_login_with_nothing_to_send_is_refused(tmp_path):
    env = docker_config(tmp_path, {"auths": {}})
    with pytest.raises(UsageError, match=r"--with-registry-auth: no credentials for reg:5000 "
                                         r".*run `docker login reg:5000` first"):
        resolve(None, "prod", ["reg:5000/a"], docker_login=True, environ=env)


def test_a_registry_configured_for_docker_credentials_needs_a_login(tmp_path):
    env = docker_config(tmp_path, {"auths": {}})
    with pytest.raises(ConfigError, match=r'no credentials for registry reg:5000 in the docker '
                                          r'config .*\[clusters.prod.registries."reg:5000"\] '
                                          r'names \(run `docker login reg:5000`\)'):
        resolve_with(tmp_path, '[clusters.prod.registries."reg:5000"]\ncredentials = "docker"\n',
                     ["reg:5000/a"], environ=env)


# ---- the config --------------------------------------------------------------------------

@pytest.mark.parametrize(("table", "says"), [
    (f'[clusters.prod.registries."reg:5000"]\nusername = "bob"\npassword = "{SECRET}"\n',
     'clusters.prod.registries."reg:5000" in {path}: registry credentials are never stored in '
     'the config file: use credentials = "docker" (`docker login HOST` or a docker credential '
     'helper keeps them) or command = ["PROGRAM", "ARG"...] (a command that prints them) '
     '(line 4)'),
    (f'[clusters.prod.registries."reg:5000"]\nauth = "{SECRET}"\n', "are never stored"),
    (f'[clusters.prod.registries]\n"reg:5000" = {{ token = "{SECRET}" }}\n',
     "are never stored"),
    ('[clusters.prod.registries."reg:5000"]\ncomand = "x"\n',
     "unknown key 'comand' in [clusters.prod.registries.\"reg:5000\"] of {path}: did you mean "
     "'command'? (line 5)"),
    ('[clusters.prod.registries."https://reg.example.com/v2"]\ncredentials = "docker"\n',
     'clusters.prod.registries in {path}: "https://reg.example.com/v2" is not a registry '
     "address: use HOST or HOST:PORT as in image names"),
    ('[clusters.prod.registries."reg:5000"]\ncredentials = "docker"\ncommand = ["x"]\n',
     'set credentials = "docker" or command = [...], not both'),
    ('[clusters.prod.registries."reg:5000"]\ncredentials = "login"\n',
     "clusters.prod.registries.\"reg:5000\".credentials in {path}: must be 'docker'"),
    ('[clusters.prod.registries."reg:5000"]\ncommand = ""\n', "must not be empty"),
    ('[clusters.prod.registries."reg:5000"]\ncommand = "a \'b"\n', "cannot be split"),
    ('[clusters.prod.registries."reg:5000"]\ntimeout = 0\n', "greater than 0"),
    ('[clusters.prod.registries."docker.io"]\n[clusters.prod.registries."index.docker.io"]\n',
     "'docker.io' and 'index.docker.io' are the same registry: keep one"),
])
def test_config_errors_name_the_key_and_never_the_secret(tmp_path, table, says):
    path = cluster_config(tmp_path, table)
    with pytest.raises(ConfigError) as failed:
        load_config(path)
    assert says.format(path=path) in str(failed.value)
    assert SECRET not in str(failed.value)


def test_the_example_config_declares_registries():
    example = Path(__file__).parents[2] / "config.example.toml"
    registries = load_config(example).clusters["prod"].registries
    assert registries["registry.example.com"].credentials == "docker"
    assert registries["10.0.0.5:5000"].argv()[0] == "pass-registry-login"


# ---- deploy sends each service its registry's credentials ---------------------------------

class RecordingDocker(FakeDocker):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str, dict[str, str]]] = []

    async def request(self, method, path, *, params=None, body=None, headers=None):
        name = body.get("Name", "") if isinstance(body, dict) else ""
        self.sent.append((f"{method} {path}", name, dict(headers or {})))
        return await super().request(method, path, params=params, body=body, headers=headers)


async def test_deploy_sends_credentials_per_image_registry(tmp_path):
    plan = stack_plan(compose(tmp_path, FULL, app__conf="listen 80\n", pw__txt="hunter2"),
                      "shop")
    docker = RecordingDocker()
    ops = fake_ops(docker, tmp_path)
    auth = RegistryAuth({"registry:5000": Credentials("registry:5000", "ci", SECRET)})
    preview = await plan_changes(ops, plan, registry_auth=auth)
    await apply(ops, plan, preview, with_registry_auth=auth)
    web = auth.headers("registry:5000/web:1")
    lookups = [("GET /distribution/busybox:latest/json", "", {}),  # docker.io: none configured
               ("GET /distribution/registry:5000/web:1/json", "", web)]
    assert web and [(call, name, headers) for call, name, headers in docker.sent
                    if headers or "/distribution/" in call or "/services/" in call] == [
        *lookups,  # the preview's, then the deploy's own
        *lookups,
        ("POST /services/create", "shop_agent", {}),
        ("POST /services/create", "shop_web", web)]
    assert audit(tmp_path)[-1]["params"]["registry_auth"] is True
    assert SECRET not in (tmp_path / "audit.jsonl").read_text()


# ---- update, restart and rollback send the configured registry's credentials ---------------

class ServiceDocker:
    """One service `app` running IMAGE, with a previous spec on OLD."""

    def __init__(self, image: str, old: str) -> None:
        spec = {"Name": "app", "TaskTemplate": {"ContainerSpec": {"Image": image}}}
        previous = {"Name": "app", "TaskTemplate": {"ContainerSpec": {"Image": old}}}
        self.data = {"ID": "sid", "Version": {"Index": 7}, "Spec": spec, "PreviousSpec": previous}
        self.updates: list[tuple[dict, dict, dict]] = []

    async def get(self, path, **params):
        return json.loads(json.dumps(self.data))

    async def request(self, method, path, *, params=None, body=None, headers=None):
        if method == "GET":
            return await self.get(path)
        assert (method, path) == ("POST", "/services/sid/update")
        self.updates.append((params, body, dict(headers or {})))
        return {}


async def test_update_restart_rollback_send_the_configured_credentials(tmp_path):
    from swarmdeck.core.audit import AuditLog
    from swarmdeck.core.ops import services
    from swarmdeck.core.ops.base import ClusterOps

    cmd = script(tmp_path, f'print("ci:{SECRET}")')
    config = load_config(cluster_config(
        tmp_path, f'[clusters.prod.registries."reg:5000"]\ncommand = ["{cmd}"]\n'))
    docker = ServiceDocker("reg:5000/app:1", "other.example.com/app:0")
    session = type("Session", (), {"docker": docker, "label": "root@m1"})()
    ops = ClusterOps("prod", session, audit=AuditLog(tmp_path / "audit.jsonl"), config=config)

    await services.update_image(ops, "app", "reg:5000/app:2")
    await services.restart(ops, "app")
    await services.rollback(ops, "app")  # back to an image of an unconfigured registry
    sent = [(body["TaskTemplate"]["ContainerSpec"]["Image"], params.get("rollback"),
             decode(headers["X-Registry-Auth"]) if headers else None)
            for params, body, headers in docker.updates]
    creds = {"username": "ci", "password": SECRET, "serveraddress": "reg:5000"}
    assert sent == [("reg:5000/app:2", None, creds), ("reg:5000/app:1", None, creds),
                    ("reg:5000/app:1", "previous", None)]
    entries = ops.audit.read()
    assert [(e["action"], e["params"].get("registry_auth")) for e in entries] == [
        ("update image", True), ("restart", None), ("rollback", None)]
    assert SECRET not in (tmp_path / "audit.jsonl").read_text()
