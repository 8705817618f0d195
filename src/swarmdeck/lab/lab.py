"""The lab: real Docker Swarm clusters on this machine, one set of namespaces per node.

`up` builds the bridge, the nodes, the registry and the swarms, seeds demo stacks and writes
an ssh config, known_hosts, key and a swarmdeck config into the lab directory. `down` removes
all of it. Both first clear what a killed lab may have left (namespaces, bridge, rules,
processes, cgroups), so they work whatever state the machine is in.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from swarmdeck.core.errors import LabError
from swarmdeck.lab import node as labnode
from swarmdeck.lab import system
from swarmdeck.lab.topology import (
    BRIDGE,
    BRIDGE_IP,
    CGROUP_PARENT,
    DEMO_IMAGE,
    NETNS_PREFIX,
    PREFIX_LEN,
    REGISTRY,
    SWARM_POOLS,
    VETH_PREFIX,
    LabNode,
    LabSpec,
    check_solo_names,
    solo_node,
    solo_pool,
)

Say = Callable[[str], None]
FORWARD_RULE = ["FORWARD", "-i", BRIDGE, "-o", BRIDGE, "-j", "ACCEPT"]
BUSYBOX_APPLETS = [
    "sh", "echo", "sleep", "cat", "date", "seq", "ls", "hostname", "httpd", "yes", "head",
    "tail", "true", "false", "printf", "env", "wget", "nc", "ps", "kill", "grep", "wc", "od",
    "tr", "dd", "mkdir", "rm", "touch", "id", "uptime", "free", "top",
]


@dataclass
class NodeStatus:
    node: LabNode
    netns: bool
    dockerd: bool
    sshd: bool
    swarm: str  # local node state as dockerd reports it, or "-"


class Lab:
    def __init__(self, lab_dir: Path, say: Say | None = None) -> None:
        self.dir = lab_dir
        self.say: Say = say or (lambda _msg: None)

    # ---- paths -------------------------------------------------------------------------
    @property
    def state_file(self) -> Path:
        return self.dir / "state.json"

    @property
    def ssh_config(self) -> Path:
        return self.dir / "ssh_config"

    @property
    def known_hosts(self) -> Path:
        return self.dir / "known_hosts"

    @property
    def identity(self) -> Path:
        return self.dir / "id_ed25519"

    @property
    def config_file(self) -> Path:
        return self.dir / "config.toml"

    @property
    def solo_config_file(self) -> Path:
        """A swarmdeck config naming only the solo clusters (see add_solo)."""
        return self.dir / "solo.toml"

    def spec(self) -> LabSpec | None:
        try:
            return LabSpec.from_dict(json.loads(self.state_file.read_text())["spec"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def solo(self) -> list[str]:
        """The solo clusters added to this lab, in the order they were added."""
        try:
            return list(json.loads(self.state_file.read_text()).get("solo", []))
        except (OSError, ValueError, TypeError, AttributeError):
            return []

    def solo_nodes(self) -> list[LabNode]:
        return [solo_node(name, i) for i, name in enumerate(self.solo()) if name]

    def all_nodes(self) -> list[LabNode]:
        spec = self.spec()
        return (spec.nodes() if spec else []) + self.solo_nodes()

    # ---- solo clusters: one-node swarms beside the lab's own ------------------------------
    def add_solo(self, names: list[str]) -> None:
        """Start one-node swarms NAMES in the running lab (their own netns, dockerd, sshd,
        address pool), add them to the ssh files and write solo_config_file. The lab's own
        clusters are not touched: tests keep running on them meanwhile."""
        spec = self.spec()
        if spec is None or not self.healthy():
            raise LabError(f"no healthy lab in {self.dir}: run `swarmdeck lab up` first")
        present = self.solo()
        check_solo_names(names, [c.name for c in spec.clusters] + present,
                         len([p for p in present if p]))
        start = len(present)
        new = [solo_node(name, start + i) for i, name in enumerate(names)]
        self._save_solo(present + names)  # first: a failed start is still cleaned up by purge
        try:
            for n in new:
                labnode.create_network(n)
                labnode.write_files(self.dir, n, self.dir / "authorized_keys")
            for n in new:
                labnode.start(self.dir, n)
            _parallel(lambda n: labnode.wait_ready(self.dir, n), new)
            self._write_ssh_files(self.all_nodes())
            _parallel(lambda n: self._init_solo(n, start + new.index(n)), new)
        except BaseException as exc:
            self.say(f"adding solo clusters failed ({exc}); removing them")
            self.remove_solo(names)
            raise
        self._write_solo_config()
        self.say(f"solo clusters up: {', '.join(names)} (config {self.solo_config_file})")

    def remove_solo(self, names: list[str] | None = None) -> None:
        """Stop solo clusters NAMES (all when None) and remove their namespaces."""
        present = self.solo()
        gone = present if names is None else [n for n in present if n in names]
        nodes = [solo_node(name, present.index(name)) for name in gone]
        _parallel(lambda n: labnode.stop(self.dir, n), nodes)
        for n in nodes:
            system.run(["ip", "netns", "del", n.netns], check=False)
            system.run(["ip", "link", "del", n.veth], check=False)
            shutil.rmtree(labnode.NodeDirs(self.dir, n).root, ignore_errors=True)
        # the others keep their index (and so their address and pool)
        kept = [name if name not in gone else "" for name in present]
        while kept and not kept[-1]:
            kept.pop()
        self._save_solo(kept)
        self._write_ssh_files(self.all_nodes())
        self._write_solo_config()

    def _save_solo(self, names: list[str]) -> None:
        state = json.loads(self.state_file.read_text())
        state["solo"] = names
        _write_atomic(self.state_file, json.dumps(state))

    def _init_solo(self, n: LabNode, index: int) -> None:
        host = labnode.docker_host(self.dir, n)
        self.docker(host, "swarm", "init", "--advertise-addr", n.address,
                    "--listen-addr", f"{n.address}:2377",
                    "--default-addr-pool", solo_pool(index),
                    "--default-addr-pool-mask-length", "24")
        self._wait_nodes_ready(host, 1, n.cluster or n.name)

    def _write_solo_config(self) -> None:
        lines = ["# swarmdeck config for the lab's solo clusters, written by "
                 "`swarmdeck lab solo add`.", "[ssh]", f'config = ["{self.ssh_config}"]', ""]
        for n in self.solo_nodes():
            if n.cluster:
                lines += [f"[clusters.{n.cluster}]", f'managers = ["{n.name}"]', ""]
        _write_atomic(self.solo_config_file, "\n".join(lines), mode=0o600)

    # ---- up ----------------------------------------------------------------------------
    def up(self, spec: LabSpec) -> None:
        system.check_prerequisites()
        current = self.spec()
        if current is not None and current.to_dict() == spec.to_dict() and self.healthy():
            self.say(f"lab already up in {self.dir}")
            return
        self.say("clearing any leftovers of an earlier lab")
        self.purge()
        started = time.monotonic()
        try:
            self._build(spec)
        except BaseException as exc:
            self.say(f"lab up failed ({exc}); cleaning up")
            self.purge()
            raise
        self.say(f"lab up in {time.monotonic() - started:.1f}s")

    def _build(self, spec: LabSpec) -> None:
        nodes = spec.nodes()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o700)
        self.state_file.write_text(json.dumps({"spec": spec.to_dict()}))
        self._make_client_key()
        self.say(f"bridge {BRIDGE} {BRIDGE_IP}/{PREFIX_LEN}")
        system.run(["ip", "link", "add", BRIDGE, "type", "bridge"])
        system.run(["ip", "addr", "add", f"{BRIDGE_IP}/{PREFIX_LEN}", "dev", BRIDGE])
        system.run(["ip", "link", "set", BRIDGE, "up"])
        # a dockerd in the host netns sets FORWARD to DROP; bridged frames may pass iptables
        system.run(["iptables", "-I", *FORWARD_RULE])
        self._start_registry()
        self.say(f"starting {len(nodes)} nodes: " + ", ".join(n.name for n in nodes))
        for n in nodes:
            labnode.create_network(n)
            labnode.write_files(self.dir, n, self.dir / "authorized_keys")
        for n in nodes:
            labnode.start(self.dir, n)
        _parallel(lambda n: labnode.wait_ready(self.dir, n), nodes)
        self._write_ssh_files(nodes)
        self._push_demo_image(nodes[0])
        _parallel(lambda c: self._form_swarm(c, nodes), spec.clusters)
        self._seed(spec)
        self._write_config(spec)

    def _make_client_key(self) -> None:
        if not self.identity.exists():
            system.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "swarmdeck-lab",
                        "-f", str(self.identity)])
        pub = (self.dir / "id_ed25519.pub").read_text()
        (self.dir / "authorized_keys").write_text(pub)

    def _write_ssh_files(self, nodes: list[LabNode]) -> None:
        known = []
        blocks = [
            f"# ssh config for the swarmdeck lab in {self.dir}; use with ssh -F {self.ssh_config}",
        ]
        for n in nodes:
            key = (labnode.NodeDirs(self.dir, n).host_key.with_suffix(".pub")).read_text()
            keytype, keydata = key.split()[:2]
            known.append(f"{n.name},{n.address} {keytype} {keydata}")
            blocks.append(f"Host {n.name}\n    HostName {n.address}")
        blocks.append(
            f"Host {' '.join(n.name for n in nodes)} 10.213.0.*\n"
            "    User root\n"
            f"    IdentityFile {self.identity}\n"
            "    IdentitiesOnly yes\n"
            f"    UserKnownHostsFile {self.known_hosts}\n"
            "    StrictHostKeyChecking yes\n"
            "    ServerAliveInterval 15\n"
        )
        # atomically: tests and consoles read these files while solo clusters come and go
        _write_atomic(self.known_hosts, "\n".join(known) + "\n")
        _write_atomic(self.ssh_config, "\n\n".join(blocks) + "\n")

    # ---- registry and image ------------------------------------------------------------
    def _start_registry(self) -> None:
        reg = self.dir / "registry"
        (reg / "data").mkdir(parents=True, exist_ok=True)
        (reg / "config.yml").write_text(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
            f"    rootdirectory: {reg / 'data'}\nhttp:\n  addr: {REGISTRY}\n"
        )
        log = open(reg / "registry.log", "ab")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(
            [system.find_command("docker-registry"), "serve", str(reg / "config.yml")],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        )
        log.close()
        (reg / "registry.pid").write_text(str(proc.pid))
        deadline = time.monotonic() + 20
        while not labnode._tcp_open(BRIDGE_IP, 5000):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise LabError(f"the lab registry did not start; see {reg / 'registry.log'}")
            time.sleep(0.1)

    def _push_demo_image(self, first: LabNode) -> None:
        self.say(f"building and pushing {DEMO_IMAGE}:1.0 and :1.1")
        rootfs = _demo_rootfs()
        host = labnode.docker_host(self.dir, first)
        for tag in ("1.0", "1.1"):
            ref = f"{DEMO_IMAGE}:{tag}"
            self.docker(host, "import", "--change", 'CMD ["/bin/sh"]',
                        "--change", f"LABEL org.opencontainers.image.version={tag}",
                        "-", ref, input=rootfs)
            self.docker(host, "push", ref, timeout=120)

    # ---- swarms ------------------------------------------------------------------------
    def _form_swarm(self, cluster, nodes: list[LabNode]) -> None:
        members = [n for n in nodes if n.cluster == cluster.name]
        managers = [n for n in members if n.role == "manager"]
        workers = [n for n in members if n.role == "worker"]
        leader = managers[0]
        host = labnode.docker_host(self.dir, leader)
        pool = SWARM_POOLS[[c.name for c in self.spec().clusters].index(cluster.name)]
        self.say(f"swarm {cluster.name}: init on {leader.name}")
        self.docker(host, "swarm", "init", "--advertise-addr", leader.address,
                    "--listen-addr", f"{leader.address}:2377",
                    "--default-addr-pool", pool, "--default-addr-pool-mask-length", "24")
        tokens = {
            role: self.docker(host, "swarm", "join-token", "-q", role).strip()
            for role in ("manager", "worker")
        }

        def join(n: LabNode) -> None:
            self.docker(labnode.docker_host(self.dir, n), "swarm", "join",
                        "--token", tokens[n.role], "--advertise-addr", n.address,
                        "--listen-addr", f"{n.address}:2377", f"{leader.address}:2377",
                        timeout=90)

        for m in managers[1:]:  # one at a time: each raft member joins a settled quorum
            join(m)
        _parallel(join, workers)
        self._wait_nodes_ready(host, len(members), cluster.name)
        for i, w in enumerate(workers):
            self.docker(host, "node", "update", "--label-add", f"zone={'ab'[i % 2]}", w.name)
        if workers:
            self.docker(host, "node", "update", "--label-add", "storage=ssd", workers[0].name)

    def _wait_nodes_ready(self, host: str, count: int, cluster: str) -> None:
        deadline = time.monotonic() + 60
        while True:
            out = self.docker(host, "node", "ls", "--format", "{{.Status}}")
            if out.split().count("Ready") == count:
                return
            if time.monotonic() > deadline:
                raise LabError(f"swarm {cluster}: nodes not all Ready after 60s: {out.split()}")
            time.sleep(0.3)

    def _seed(self, spec: LabSpec) -> None:
        stacks = resources.files("swarmdeck.lab") / "stacks"
        target = self.dir / "stacks"
        target.mkdir(exist_ok=True)
        for name in ("shop.yml", "monitoring.yml"):
            (target / name).write_text((stacks / name).read_text())
        nodes = spec.nodes()
        for i, c in enumerate(spec.clusters):
            manager = next(n for n in nodes if n.cluster == c.name)
            host = labnode.docker_host(self.dir, manager)
            self.say(f"seeding demo stacks on {c.name}")
            self.docker(host, "stack", "deploy", "-c", str(target / "shop.yml"), "shop")
            if i == 0:
                self.docker(host, "stack", "deploy", "-c", str(target / "monitoring.yml"),
                            "monitoring")
                self.docker(host, "service", "create", "--detach", "--name", "backup-once",
                            "--mode", "replicated-job", "--stop-grace-period", "1s",
                            f"{DEMO_IMAGE}:1.0", "sh", "-c",
                            "echo backup started; sleep 2; echo backup done")
            self._wait_converged(host, c.name)

    def _wait_converged(self, host: str, cluster: str, timeout: float = 120) -> None:
        """Until every replicated/global service runs all its replicas."""
        deadline = time.monotonic() + timeout
        while True:
            out = self.docker(host, "service", "ls", "--format", "{{.Mode}} {{.Replicas}}")
            pending = []
            for line in out.splitlines():
                if "job" in line:
                    continue
                running, desired = line.split()[1].split("/")
                if running != desired:
                    pending.append(line)
            if not pending:
                return
            if time.monotonic() > deadline:
                raise LabError(f"swarm {cluster}: demo services not converged after "
                               f"{timeout:.0f}s: {pending}")
            time.sleep(0.5)

    def _write_config(self, spec: LabSpec) -> None:
        nodes = spec.nodes()
        lines = [
            "# swarmdeck config for the lab's clusters, written by `swarmdeck lab up`.",
            "# It reads only the lab's own ssh config, key and known_hosts.",
            "[ssh]",
            f'config = ["{self.ssh_config}"]',
            "",
        ]
        for c in spec.clusters:
            managers = ", ".join(f'"{n.name}"' for n in nodes
                                 if n.cluster == c.name and n.role == "manager")
            lines += [f"[clusters.{c.name}]", f"managers = [{managers}]", ""]
        first = spec.clusters[0].name
        envs = [("shop", env, c.name, "shop", "shop.yml")
                for env, c in zip(("production", "staging", "testing"), spec.clusters,
                                  strict=False)]
        envs.append(("monitoring", "production", first, "monitoring", "monitoring.yml"))
        for project, env, cluster, stack, compose in envs:
            lines += [
                f"[projects.{project}.environments.{env}]",
                f'cluster = "{cluster}"',
                f'stack = "{stack}"',
                f'compose = "{self.dir / "stacks" / compose}"',
                "",
            ]
        self.config_file.write_text("\n".join(lines))
        self.config_file.chmod(0o600)

    # ---- docker CLI against a node's socket --------------------------------------------
    def docker(self, host: str, *args: str, input: bytes | None = None,
               timeout: float = 60) -> str:
        cli_config = self.dir / "docker-cli"
        cli_config.mkdir(exist_ok=True)
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
               "DOCKER_CONFIG": str(cli_config), "HOME": str(self.dir)}
        proc = system.run(["docker", "-H", host, *args], input=input, timeout=timeout,
                          env=env)
        return proc.stdout.decode()

    def docker_on(self, node_name: str, *args: str, timeout: float = 60) -> str:
        """Run the docker CLI against one lab node's own socket (for tests and the demo)."""
        spec = self.spec()
        if spec is None:
            raise LabError(f"no lab in {self.dir}: run `swarmdeck lab up` first")
        node = next((n for n in spec.nodes() if n.name == node_name), None)
        if node is None:
            raise LabError(f"no lab node {node_name!r}")
        return self.docker(labnode.docker_host(self.dir, node), *args, timeout=timeout)

    # ---- status ------------------------------------------------------------------------
    def status(self) -> list[NodeStatus]:
        """Every node's state, the solo clusters' nodes last."""
        if self.spec() is None:
            return []
        out = []
        for n in self.all_nodes():
            d = labnode.NodeDirs(self.dir, n)
            netns = Path(f"/var/run/netns/{n.netns}").exists()
            dockerd_pid = system.read_pid(d.dockerd_pid)
            sshd_pid = system.read_pid(d.sshd_pid)
            dockerd = bool(dockerd_pid and system.alive(dockerd_pid))
            swarm = "-"
            if dockerd:
                try:
                    swarm = self.docker(labnode.docker_host(self.dir, n), "info", "--format",
                                        "{{.Swarm.LocalNodeState}}", timeout=10).strip()
                except LabError:
                    swarm = "?"
            out.append(NodeStatus(n, netns, dockerd, bool(sshd_pid and system.alive(sshd_pid)),
                                  swarm))
        return out

    def healthy(self) -> bool:
        """The lab's own clusters and spares are up (solo clusters do not count: a bench may
        be adding or removing them)."""
        solo = set(self.solo())
        states = [s for s in self.status() if s.node.cluster not in solo]
        return bool(states) and all(
            s.netns and s.dockerd and s.sshd
            and (s.swarm == "active" or (s.node.role == "spare" and s.swarm == "inactive"))
            for s in states
        )

    # ---- down / purge ------------------------------------------------------------------
    def down(self) -> None:
        system.check_prerequisites()
        self.purge()

    def purge(self) -> None:
        """Remove every trace of a lab, running or killed: processes, containers, cgroups,
        namespaces, veths, the bridge, the iptables rule, mounts and the lab directory."""
        _parallel(lambda n: labnode.stop(self.dir, n), self.all_nodes())
        pids: set[int] = set()
        namespaces = system.netns_list(NETNS_PREFIX)
        for ns in namespaces:
            pids |= system.netns_pids(ns)
        cgroups = system.cgroup_dirs(CGROUP_PARENT)
        pids |= system.cgroup_pids(cgroups)
        if self.dir.exists():
            pids |= system.pids_mentioning(str(self.dir))
        registry = system.read_pid(self.dir / "registry" / "registry.pid")
        if registry and system.alive(registry):
            pids.add(registry)
        stubborn = system.kill_all({p for p in pids if system.alive(p)}, grace=3)
        if stubborn:
            raise LabError(f"lab processes would not exit: {sorted(stubborn)}")
        system.remove_cgroups(cgroups)
        for ns in namespaces:
            system.run(["ip", "netns", "del", ns], check=False)
        for link in system.links_with_prefix(VETH_PREFIX):
            system.run(["ip", "link", "del", link], check=False)
        if system.link_exists(BRIDGE):
            system.run(["ip", "link", "del", BRIDGE], check=False)
        while system.run(["iptables", "-C", *FORWARD_RULE], check=False).returncode == 0:
            system.run(["iptables", "-D", *FORWARD_RULE], check=False)
        for point in system.mounts_under(self.dir):
            system.run(["umount", "-l", point], check=False)
        if self.dir.exists():
            shutil.rmtree(self.dir, ignore_errors=True)
            if self.dir.exists():
                raise LabError(f"could not remove the lab directory {self.dir}")

    def leftovers(self) -> list[str]:
        """What of a lab is still on this machine (empty after a clean `down`)."""
        found = [f"netns {ns}" for ns in system.netns_list(NETNS_PREFIX)]
        found += [f"link {ln}" for ln in system.links_with_prefix(VETH_PREFIX)]
        if system.link_exists(BRIDGE):
            found.append(f"bridge {BRIDGE}")
        if system.run(["iptables", "-C", *FORWARD_RULE], check=False).returncode == 0:
            found.append("iptables FORWARD rule")
        found += [f"cgroup {p}" for p in system.cgroup_dirs(CGROUP_PARENT)]
        found += [f"mount {m}" for m in system.mounts_under(self.dir)]
        if self.dir.exists():
            found.append(f"directory {self.dir}")
            found += [f"process {p}" for p in system.pids_mentioning(str(self.dir))]
        return found


def _write_atomic(path: Path, text: str, mode: int | None = None) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    if mode is not None:
        tmp.chmod(mode)
    tmp.replace(path)


def _parallel(fn: Callable, items: Iterable) -> None:
    items = list(items)
    if not items:
        return
    with ThreadPoolExecutor(max_workers=min(16, len(items))) as pool:
        for future in [pool.submit(fn, item) for item in items]:
            future.result()


def _demo_rootfs() -> bytes:
    """A tiny image: static busybox with applet links and a web page."""
    busybox = Path(system.find_command("busybox"))
    page = (resources.files("swarmdeck.lab") / "www" / "index.html").read_bytes()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "www", "tmp", "etc"):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if d == "tmp" else 0o755
            tar.addfile(info)
        tar.add(str(busybox), arcname="bin/busybox")
        for applet in BUSYBOX_APPLETS:
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type = tarfile.SYMTYPE
            info.linkname = "busybox"
            tar.addfile(info)
        for name, data in (("www/index.html", page), ("etc/passwd", b"root:x:0:0::/:/bin/sh\n"),
                           ("etc/group", b"root:x:0:\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()

