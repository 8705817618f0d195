"""Every `swarmdeck` command: its one-line help, the options it takes, and what runs it.

This module imports argparse and nothing of swarmdeck, so `swarmdeck --version`, `--help` and
`swarmdeck CMD --help` cost no more than the interpreter's start: a command's options are added
only when that command is chosen (see main.build_parser), and the module that runs it (with
asyncssh, pydantic, the config...) is imported only when it runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from functools import partial
from typing import NamedTuple

LS_WHAT = ("clusters", "nodes", "services", "stacks", "tasks", "containers")
EVENTS_SINCE = "10m"  # `swarmdeck events` without --since or --follow


class Command(NamedTuple):  # not a dataclass: that would import inspect, 10 ms
    help: str  # the line `swarmdeck --help` shows
    runner: str  # "module:function" called with the parsed arguments, returns the exit code
    arguments: Callable[[argparse.ArgumentParser], None]  # adds the options, the description
    # run as the process's own command line, the process ends as soon as it returns (its
    # output flushed): no interpreter teardown (cli.main.end_now)
    ends_at_once: bool = False


# ---- options, one function per command (or family of commands) -----------------------------
def _ls(p: argparse.ArgumentParser) -> None:
    p.description = ("List what the configured clusters hold. Clusters are fetched "
                     "concurrently; one failing cluster does not stop the others (exit code 1).")
    p.add_argument("what", choices=LS_WHAT, nargs="?", default="services",
                   help="what to list (default: services)")
    p.add_argument("--cluster", "-c", metavar="NAME", action="append",
                   help="only this cluster (repeatable; default: all configured)")
    p.add_argument("--stack", "-s", metavar="STACK", help="only services/tasks of this stack")
    p.add_argument("--all", "-a", action="store_true",
                   help="tasks: include the history (shut down, failed), like docker service "
                        "ps; containers: stopped ones too")
    p.add_argument("--node", metavar="NODE",
                   help="containers: only this node's (hostname or ID)")
    p.add_argument("--json", action="store_true", help="print a JSON list of objects")


def _doctor(p: argparse.ArgumentParser) -> None:
    p.description = ("Check each cluster for what is broken or fragile (managers, nodes, "
                     "services, placement, images, networks, certificates): what, why, and "
                     "what to do. Exit code 1 when a cluster has an error; warnings alone "
                     "exit 0.")
    p.add_argument("--cluster", "-c", metavar="NAME", action="append",
                   help="only this cluster (repeatable; default: all configured)")
    p.add_argument("--json", action="store_true",
                   help="print a JSON list with one object per cluster")


def _lab(p: argparse.ArgumentParser) -> None:
    p.description = ("Run real Docker Swarm clusters on this machine, one set of namespaces "
                     "(dockerd + sshd) per node. Needs root.")
    p.add_argument("action", choices=("up", "down", "status", "env", "solo"),
                   help="up: build (idempotent); down: remove everything; status: show "
                        "nodes; env: print the config path to use; solo add NAME...|rm "
                        "[NAME...]: one-node swarms beside the lab's own (for benches)")
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="for solo: add NAME... or rm [NAME...]")
    p.add_argument("--dir", metavar="DIR",
                   help="lab directory (default: $SWARMDECK_LAB_DIR or /var/lib/swarmdeck-lab)")
    p.add_argument("--cluster", metavar="NAME:MANAGERS:WORKERS", action="append",
                   help="a swarm to create (repeatable; default prod:3:2 and staging:1:1)")
    p.add_argument("--spares", type=int, metavar="N",
                   help="hosts in no swarm, for adding nodes (default 2)")


def _logs(p: argparse.ArgumentParser) -> None:
    p.description = ("Lines of every replica of a service, or of every service of a stack, "
                     "merged in time order and prefixed with service.slot@node. Control "
                     "characters are shown as placeholders unless --raw.")
    p.add_argument("target", metavar="SERVICE|STACK")
    p.add_argument("--cluster", "-c", metavar="NAME",
                   help="the cluster (default: the only one configured)")
    p.add_argument("--follow", "-f", action="store_true", help="keep streaming new lines")
    p.add_argument("--since", metavar="T",
                   help="only lines since T: a duration ago (90s, 10m, 2h, 1d) by the "
                        "manager's clock, a unix time or an RFC 3339 time")
    p.add_argument("--tail", default="100", metavar="N|all",
                   help="lines per replica to start with (default 100)")
    p.add_argument("--grep", metavar="REGEX", help="only lines matching the regular expression")
    p.add_argument("--timestamps", "-t", action="store_true", help="show each line's time")
    p.add_argument("--raw", action="store_true",
                   help="print the bytes as they are, escape sequences included (unsafe)")


def _trust(p: argparse.ArgumentParser) -> None:
    p.description = ("Connect to HOST with the ssh config swarmdeck uses, show the host key it "
                     "offers (type and SHA256 fingerprint) and, once confirmed, add it to the "
                     "known_hosts file that config names. A key that differs from the known "
                     "one is refused (exit 1), never replaced.")
    p.add_argument("host", metavar="HOST", help="an ssh Host alias or [user@]host[:port]")
    p.add_argument("--cluster", "-c", metavar="NAME",
                   help="use this cluster's ssh settings (default: the cluster that lists HOST "
                        "as a manager, else the [ssh] section)")
    p.add_argument("--yes", "-y", action="store_true",
                   help="do not ask for confirmation (needed without a terminal)")


def _events(p: argparse.ArgumentParser) -> None:
    from swarmdeck.core.events import EVENT_TYPES  # with the models: what events runs with

    p.description = ("Events as swarm reports them: services, nodes, networks, secrets, "
                     "configs, and the containers of the manager connected to. The engine "
                     "keeps only its last 256 events in memory: older ones are gone.")
    p.add_argument("--cluster", "-c", metavar="NAME",
                   help="the cluster (default: the only one configured)")
    p.add_argument("--since", metavar="T", default=None,
                   help=f"from T: a duration ago (90s, 10m, 2h, 1d), a unix time or an RFC "
                        f"3339 time (default {EVENTS_SINCE}; with --follow: now)")
    p.add_argument("--until", metavar="T", help="up to T (same forms; not with --follow)")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing new events")
    p.add_argument("--type", "-t", metavar="TYPE", action="append", dest="types",
                   help=f"only these types (repeatable or comma-separated: "
                        f"{', '.join(EVENT_TYPES)})")
    p.add_argument("--json", action="store_true",
                   help="JSON: a list; with --follow one object per line")


def _change(p: argparse.ArgumentParser, *, wait: bool = True, confirm: bool = True
            ) -> argparse.ArgumentParser:
    """The options every change shares: the cluster, --yes, and following it."""
    p.add_argument("--cluster", "-c", metavar="NAME",
                   help="the cluster (default: the only one configured)")
    if confirm:
        p.add_argument("--yes", "-y", action="store_true",
                       help="do not ask for confirmation (needed without a terminal)")
    if wait:
        p.add_argument("--detach", "-d", action="store_true",
                       help="return once the change is made, without following it")
        p.add_argument("--timeout", type=float, default=300, metavar="SECONDS",
                       help="give up following after this long (default 300)")
    return p


def _scale(p: argparse.ArgumentParser) -> None:
    p.description = ("Scale replicated services: SERVICE=REPLICAS ... A count above the "
                     "cluster's max_replicas (1000 unless configured) or above 10x the current "
                     "one is refused without --force.")
    _change(p)
    p.add_argument("targets", nargs="+", metavar="SERVICE=REPLICAS")
    p.add_argument("--force", action="store_true",
                   help="allow a count above max_replicas or 10x the current one")


def _update(p: argparse.ArgumentParser) -> None:
    _change(p)
    p.add_argument("service")
    p.add_argument("--image", metavar="REF", help="the new image reference")
    p.add_argument("--pull", action="store_true",
                   help="resolve the tag (--image's, else the service's own) to the digest "
                        "its registry holds now, and update only if that changed")
    p.add_argument("--with-registry-auth", action="store_true",
                   help="also send `docker login`'s credentials for the image's registry "
                        "(a registry configured for the cluster sends its own anyway)")


def _one_service(p: argparse.ArgumentParser) -> None:
    _change(p)
    p.add_argument("service")


def _rm(p: argparse.ArgumentParser) -> None:
    _change(p, wait=False)
    p.add_argument("kind", choices=("service", "stack"))
    p.add_argument("name")


def _node(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="node_action", metavar="ACTION", required=True)
    for action, text in (("drain", "move the node's tasks away, schedule none there"),
                         ("activate", "schedule tasks on the node again"),
                         ("pause", "schedule no new tasks on the node"),
                         ("promote", "make the node a manager"),
                         ("demote", "make the node a worker (quorum is checked)")):
        # a drain is followed until its tasks have moved (unless --detach)
        _change(actions.add_parser(action, help=text), wait=action == "drain"
                ).add_argument("node")
    a = _change(actions.add_parser("label", help="add (KEY=VALUE) or remove (--rm KEY) labels"),
                wait=False)
    a.add_argument("node")
    a.add_argument("labels", nargs="*", metavar="KEY=VALUE")
    a.add_argument("--rm", action="append", default=[], metavar="KEY")
    a = _change(actions.add_parser("rm", help="drain, wait, demote, leave and remove a node"),
                wait=False)
    a.add_argument("node")
    a.add_argument("--timeout", type=float, default=180, metavar="SECONDS")
    a = _change(actions.add_parser("add", help="SSH into a fresh host and join it"), wait=False)
    a.add_argument("destination", metavar="DEST", help="[user@]host[:port] or ssh alias")
    a.add_argument("--role", choices=("worker", "manager"), default="worker")
    a.add_argument("--advertise-addr", metavar="ADDR")
    a.add_argument("--timeout", type=float, default=120, metavar="SECONDS")


def _token(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="token_action", metavar="ACTION", required=True)
    a = _change(actions.add_parser("show", help="the join token (masked unless --reveal)"),
                wait=False, confirm=False)
    a.add_argument("role", choices=("worker", "manager"))
    a.add_argument("--reveal", action="store_true", help="print the whole token")
    a = _change(actions.add_parser("rotate", help="replace the token; nodes in the swarm stay"),
                wait=False)
    a.add_argument("role", choices=("worker", "manager"))
    a.add_argument("--reveal", action="store_true", help="print the whole new token")


def _deploy(p: argparse.ArgumentParser) -> None:
    p.description = ("Deploy [projects.P.environments.E] of the config: its compose file, as "
                     "its stack, on its cluster, with docker stack deploy semantics. Shows what "
                     "changes, asks, applies, then follows the services until they converge.")
    p.add_argument("project")
    p.add_argument("--env", "-e", metavar="ENV",
                   help="the environment (default: the project's only one)")
    p.add_argument("--dry-run", action="store_true", help="show what would change, only")
    p.add_argument("--prune", action="store_true",
                   help="remove the stack's services the compose file no longer has")
    p.add_argument("--with-registry-auth", action="store_true",
                   help="also send `docker login`'s credentials for the images' registries "
                        "(registries configured for the cluster send their own anyway)")
    p.add_argument("--revision", type=int, metavar="N",
                   help="deploy revision N of the environment's history again (see "
                        "`swarmdeck history`), not the compose file")
    p.add_argument("--pull", action="store_true",
                   help="resolve every image's tag to the digest its registry holds now and "
                        "show old -> new per service; only the services whose digest changed "
                        "are updated (nothing when none did). Every deploy resolves tags so; "
                        "--pull says it and names what moves")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.add_argument("--detach", "-d", action="store_true",
                   help="return once applied, without following the services")
    p.add_argument("--timeout", type=float, default=300, metavar="SECONDS")


def _history(p: argparse.ArgumentParser) -> None:
    p.description = ("Each deploy of a project environment is a revision kept on the cluster "
                     "itself (the last 10): when, who, the git commit of the compose file, the "
                     "images it ran. Deploy one again with `swarmdeck deploy PROJECT --env E "
                     "--revision N`.")
    p.add_argument("project")
    p.add_argument("--env", "-e", metavar="ENV",
                   help="the environment (default: the project's only one)")
    p.add_argument("--json", action="store_true",
                   help="JSON rows: revision, time, user, commit, images")


def _drift(p: argparse.ArgumentParser) -> None:
    p.description = ("For each project environment (or PROJECT's), whether the running stack "
                     "differs from its compose file: services changed by hand, added or removed "
                     "outside a deploy, each field with its running and declared value. Exit "
                     "code 1 when a cluster could not be asked; drift alone exits 0.")
    p.add_argument("project", nargs="?")
    p.add_argument("--env", "-e", metavar="ENV", help="only this environment")
    p.add_argument("--json", action="store_true",
                   help="JSON rows: project, environment, cluster, stack, drifted, changes "
                        "[{service, field, running, declared}]")


def _volume(p: argparse.ArgumentParser) -> None:
    p.description = ("Volumes live on nodes, not in the swarm: every node's own engine is asked "
                     "(over its SSH connection), with the services using each volume.")
    actions = p.add_subparsers(dest="volume_action", metavar="ACTION", required=True)
    a = actions.add_parser("ls", help="every volume on every node, and who uses it")
    a.add_argument("--cluster", "-c", metavar="NAME",
                   help="the cluster (default: the only one configured)")
    a.add_argument("--node", metavar="NODE", help="only this node's volumes")
    a.add_argument("--json", action="store_true",
                   help="JSON rows: cluster, node, name, driver, mountpoint, used_by, "
                        "containers")
    a = _change(actions.add_parser("rm", help="remove a volume no container uses from a node"),
                wait=False)
    a.add_argument("name")
    a.add_argument("--node", required=True, metavar="NODE", help="the node holding it")


def _run(p: argparse.ArgumentParser) -> None:
    p.description = ("Run a custom command of the config ([[commands]]: an argument list with "
                     "{cluster} {service} {task} {container} {node} {node_address}) for a "
                     "service, a task (SERVICE.SLOT), a node or the cluster, here or over SSH "
                     "on the target's node. Its output is made inert unless --raw; the exit "
                     "status is the command's.")
    p.add_argument("name", help="the command's name in the config")
    p.add_argument("target", nargs="?", metavar="TARGET",
                   help="SERVICE, SERVICE.SLOT or NODE, as the command's scope asks")
    p.add_argument("--cluster", "-c", metavar="NAME",
                   help="the cluster (default: the only one configured)")
    p.add_argument("--yes", "-y", action="store_true",
                   help="do not ask (for a command marked confirm or dangerous)")
    p.add_argument("--raw", action="store_true",
                   help="print the output as it is, escape sequences included (unsafe)")
    p.add_argument("--timeout", type=float, default=300, metavar="SECONDS")


def _audit(p: argparse.ArgumentParser) -> None:
    p.add_argument("-n", type=int, default=50, metavar="N", help="the last N entries")
    p.add_argument("--json", action="store_true", help="print the JSON lines as stored")


def _resource(kind: str, p: argparse.ArgumentParser) -> None:
    """network, secret or config: ls, create, rm (and a config's inspect)."""
    actions = p.add_subparsers(dest="resource_action", metavar="ACTION", required=True)
    a = _change(actions.add_parser("ls", help=f"the swarm's {kind}s and the services using "
                                              "them"), wait=False, confirm=False)
    a.add_argument("--json", action="store_true", help="print a JSON list of objects")
    a = _change(actions.add_parser("create", help=f"create a {kind}"), wait=False)
    a.add_argument("name")
    if kind == "network":
        a.add_argument("--encrypted", action="store_true",
                       help="encrypt the overlay's traffic between nodes (IPsec)")
        a.add_argument("--attachable", action="store_true",
                       help="let standalone containers join it (docker run --network)")
        a.add_argument("--subnet", metavar="CIDR",
                       help="e.g. 10.20.0.0/24 (default: one picked by the swarm)")
    else:
        a.add_argument("source", nargs="?", metavar="-",
                       help="read the data from standard input" + (
                           " (at a terminal: typed twice, not shown, no trailing newline; "
                           "from a pipe: every byte as given)" if kind == "secret" else ""))
        a.add_argument("--file", "-f", metavar="PATH",
                       help="read the data from PATH (- for standard input)")
    if kind != "network":
        a = _change(actions.add_parser(
            "rotate", help=f"a new version of a {kind}, swapped into every service using it "
                           "(same target), then the old one removed"), wait=False)
        a.add_argument("name")
        a.add_argument("source", nargs="?", metavar="-",
                       help="read the new data from standard input")
        a.add_argument("--file", "-f", metavar="PATH",
                       help="read the new data from PATH (- for standard input)")
        a.add_argument("--timeout", type=float, default=300, metavar="SECONDS",
                       help="how long each service may take to converge (default 300)")
    if kind == "config":
        a = _change(actions.add_parser("inspect", help="print a config's data"),
                    wait=False, confirm=False)
        a.add_argument("name")
    a = _change(actions.add_parser("rm", help=f"remove a {kind} no service uses"), wait=False)
    a.add_argument("name")


def _placement_change(p: argparse.ArgumentParser) -> None:
    p.add_argument("service")
    _change(p)


def _pin(p: argparse.ArgumentParser) -> None:
    p.description = ("Add a placement constraint: --node pins to one node (by hostname, or by "
                     "ID when given an ID), --label KEY=VALUE to the nodes with that label, "
                     "--constraint any docker expression. An `==` on the same key replaces the "
                     "earlier one. Refused when no ready, active node would satisfy the "
                     "constraints, unless --force.")
    _placement_change(p)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--node", "-n", metavar="NODE", help="hostname or ID")
    what.add_argument("--label", "-l", metavar="KEY=VALUE", help="a node label")
    what.add_argument("--constraint", metavar="EXPR",
                      help="e.g. node.role==worker or node.labels.zone!=a")
    p.add_argument("--force", action="store_true",
                   help="write the constraints even when no node satisfies them (the tasks "
                        "stay pending)")


def _unpin(p: argparse.ArgumentParser) -> None:
    _placement_change(p)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--node", "-n", metavar="NODE", help="the constraints naming this node")
    what.add_argument("--label", "-l", metavar="KEY",
                      help="the constraints on this node label (KEY=VALUE: that value only)")
    what.add_argument("--constraint", metavar="EXPR", help="this exact constraint")
    what.add_argument("--all", "-a", action="store_true", dest="everything",
                      help="every constraint")


def _placement(p: argparse.ArgumentParser) -> None:
    p.add_argument("service")
    p.add_argument("--cluster", "-c", metavar="NAME",
                   help="the cluster (default: the only one configured)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _stats(p: argparse.ArgumentParser) -> None:
    p.description = ("CPU and memory of every service (summed over its running tasks) and "
                     "every node, from one sampler per node. A service's CPU is a percent of "
                     "one core, like `docker stats` (200 %% is two busy cores); a node's is a "
                     "percent of the whole node. Memory: in use, without the reclaimable file "
                     "cache (as docker stats counts it). Refreshes every sample interval until "
                     "Ctrl+C, unless --once.")
    p.add_argument("names", nargs="*", metavar="SERVICE|NODE",
                   help="only these services or nodes (default: all)")
    p.add_argument("--cluster", "-c", metavar="NAME", action="append",
                   help="only this cluster (repeatable; default: all configured)")
    p.add_argument("--once", action="store_true", help="sample one interval, print, exit")
    p.add_argument("--json", action="store_true",
                   help="JSON: a list of rows; refreshing, one list per line")


def _exec(p: argparse.ArgumentParser) -> None:
    p.usage = ("swarmdeck exec [-h] [--cluster NAME] [--node NODE] [--user USER] "
               "SERVICE[.SLOT] [-- CMD ...]")
    p.description = ("Run a shell (no command: bash if the image has it, else sh, or [exec] "
                     "shell of the config) or the command after -- in a container of SERVICE, "
                     "through the Docker API of the node that runs it. SERVICE.SLOT picks a "
                     "replica; otherwise the first running one, on --node if given (a global "
                     "service's task is picked by --node). At a terminal the process gets a "
                     "TTY; otherwise its stdout and stderr stay apart. The exit status is the "
                     "process's.")
    p.add_argument("target", metavar="SERVICE[.SLOT]")
    p.add_argument("--cluster", "-c", metavar="NAME",
                   help="the cluster (default: the only one configured)")
    p.add_argument("--node", metavar="NODE", help="the task on this node (hostname or ID)")
    p.add_argument("--user", "-u", metavar="USER", help="run as this user (name or uid[:gid])")
    p.set_defaults(argv=[])  # what follows --: see split_command


def split_command(argv: list[str]) -> tuple[list[str], list[str] | None]:
    """An exec command line cut at its first `--`: swarmdeck's arguments, and the command
    to run, kept exactly as given (None: no `--` after `exec`)."""
    if "--" not in argv:
        return argv, None
    cut = argv.index("--")
    if "exec" not in argv[:cut]:
        return argv, None
    return argv[:cut], argv[cut + 1:]


def _port_forward(p: argparse.ArgumentParser) -> None:
    p.description = ("Listen on 127.0.0.1:LOCAL (default: REMOTE; 0: any free port) and carry "
                     "each connection to REMOTE of a container of SERVICE, from the node that "
                     "runs it (an SSH channel of that node's connection). SERVICE.SLOT picks a "
                     "replica, --node the task on a node, as for exec. Runs until Ctrl+C.")
    p.add_argument("target", metavar="SERVICE[.SLOT]")
    p.add_argument("ports", metavar="[LOCAL:]REMOTE")
    p.add_argument("--cluster", "-c", metavar="NAME",
                   help="the cluster (default: the only one configured)")
    p.add_argument("--node", metavar="NODE", help="the task on this node (hostname or ID)")


def _init(p: argparse.ArgumentParser) -> None:
    p.description = ("Write a first config: the docker contexts over ssh:// and the Hosts of "
                     "the ssh config are asked (in parallel) whether they answer as a swarm "
                     "manager; the managers of one swarm make one cluster. Asks which to keep, "
                     "then writes config.toml (mode 0600). Refused when a config exists: add "
                     "to it with `swarmdeck cluster add`.")
    p.add_argument("--yes", "-y", action="store_true",
                   help="keep every swarm found, without asking")
    p.add_argument("--ssh-config", metavar="PATH", action="append",
                   help="read the hosts from this ssh config, and write it as [ssh] config "
                        "(repeatable; default: ~/.ssh/config, not written)")
    p.add_argument("--timeout", type=float, default=5, metavar="SECONDS",
                   help="how long each candidate gets to answer (default 5)")


def _cluster(p: argparse.ArgumentParser) -> None:
    p.description = ("Add or remove a [clusters.NAME] table of the config file; its comments, "
                     "blank lines and order are kept. The swarm itself is not changed.")
    actions = p.add_subparsers(dest="cluster_action", metavar="ACTION", required=True)
    a = actions.add_parser("add", help="add a cluster, once a manager of it answers")
    a.add_argument("name")
    where = a.add_mutually_exclusive_group(required=True)
    where.add_argument("--manager", "-m", metavar="DEST", action="append",
                       help="a manager: ssh alias, [user@]host[:port] (repeatable, in the "
                            "order to try them)")
    where.add_argument("--context", metavar="NAME", help="a docker context over ssh://")
    a.add_argument("--read-only", action="store_true", dest="mark_read_only",
                   help="write read_only = true: every change to it is refused")
    a.add_argument("--force", action="store_true",
                   help="replace a cluster of that name (under the same comments)")
    a.add_argument("--no-check", action="store_true",
                   help="write it without asking the manager (offline edits)")
    a.add_argument("--timeout", type=float, default=10, metavar="SECONDS",
                   help="how long a manager gets to answer (default 10)")
    a = actions.add_parser("rm", help="remove a cluster from the config (asks first)")
    a.add_argument("name")
    a.add_argument("--yes", "-y", action="store_true",
                   help="do not ask for confirmation (needed without a terminal)")


# ---- the table, in the order `swarmdeck --help` lists them ---------------------------------
_OPS = "swarmdeck.cli.ops:run_ops"  # the changes share one runner (it also routes resources
# and placement to their modules)
COMMANDS: dict[str, Command] = {
    # it has printed and closed its connections when it returns: no teardown (60 ms of 1000
    # services' models and the imports)
    "ls": Command("list clusters, nodes, services, stacks or tasks",
                  "swarmdeck.cli.ls:run_ls", _ls, ends_at_once=True),
    "doctor": Command("check clusters for faults and fragile setups",
                      "swarmdeck.cli.doctor:run_doctor", _doctor),
    "init": Command("write a first config from the swarm managers this machine reaches",
                    "swarmdeck.cli.clusters:run_init", _init),
    "cluster": Command("add or remove a cluster in the config file (comments kept)",
                       "swarmdeck.cli.clusters:run_cluster", _cluster),
    "lab": Command("the demo and test lab: real swarms on this machine",
                   "swarmdeck.cli.lab:run_lab", _lab),
    "logs": Command("logs of a service or a whole stack, every replica",
                    "swarmdeck.cli.logs:run_logs", _logs),
    "trust": Command("show a host's SSH key fingerprint and add it to known_hosts",
                     "swarmdeck.cli.trust:run_trust", _trust),
    "events": Command("a cluster's events: recent ones, or followed",
                      "swarmdeck.cli.events:run_events", _events),
    "scale": Command("set the replica count of services", _OPS, _scale),
    "update": Command("update a service's image", _OPS, _update),
    "restart": Command("replace every task of a service", _OPS, _one_service),
    "rollback": Command("roll a service back to its previous spec", _OPS, _one_service),
    "rm": Command("remove a service or a whole stack", _OPS, _rm),
    "node": Command("drain, activate, pause, promote, demote, label, remove or add nodes",
                    _OPS, _node),
    "token": Command("show or rotate the join tokens", _OPS, _token),
    "deploy": Command("deploy a project environment as a stack", _OPS, _deploy),
    "history": Command("a project environment's deploys, kept on its cluster",
                       "swarmdeck.cli.history:run_history", _history),
    "drift": Command("does each project environment still run what its compose file says",
                     "swarmdeck.cli.drift:run_drift", _drift),
    "audit": Command("show the audit log of changes made from this account",
                     "swarmdeck.cli.audit:run_audit", _audit),
    "network": Command("list, create or remove overlay networks", _OPS,
                       partial(_resource, "network")),
    "secret": Command("list, create, rotate or remove secrets (their data is never shown)", _OPS,
                      partial(_resource, "secret")),
    "config": Command("list, create, show, rotate or remove configs", _OPS,
                      partial(_resource, "config")),
    "pin": Command("run a service's tasks only on a node, or on nodes with a label", _OPS,
                   _pin),
    "unpin": Command("remove placement constraints of a service", _OPS, _unpin),
    "placement": Command("a service's constraints and the nodes that can run it (and why the "
                         "others cannot)", _OPS, _placement),
    "stats": Command("CPU and memory of every service and node of the swarm",
                     "swarmdeck.cli.stats:run_stats", _stats),
    "volume": Command("volumes on every node: list, or remove an unused one",
                      "swarmdeck.cli.volumes:run_volume", _volume),
    "run": Command("run a custom command of the config on a service, task, node or cluster",
                   "swarmdeck.cli.custom:run_custom", _run),
    "exec": Command("a shell or a command in a task's container",
                    "swarmdeck.cli.exec:run_exec", _exec, ends_at_once=True),
    "port-forward": Command("a local port carried to a port of a task's container",
                            "swarmdeck.cli.port_forward:run_port_forward", _port_forward),
}
CONSOLE = "swarmdeck.cli.console:run_console"  # without a command
