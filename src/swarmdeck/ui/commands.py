"""`:` commands, as k9s has them: a view by name (`:svc`, `:nodes /web`, `:tasks`), a cluster
(`:ctx prod`), `:q`. One table of name -> Command; other views add themselves with
register() (a command's handler gets the app and the text after its name).

A command acts on the cluster of the screen it was typed on (the main screen's otherwise)
and opens its view from the main screen, as a key there would.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from swarmdeck.core.errors import SwarmdeckError
from swarmdeck.core.sanitize import clean
from swarmdeck.ui.deck import Deck, screen_cluster
from swarmdeck.ui.screens.history import open_history

if TYPE_CHECKING:
    from textual.screen import Screen

    from swarmdeck.ui.screens.main import MainScreen

Handler = Callable[[Deck, str], "str | None"]  # returns what went wrong, if anything
Completer = Callable[[Deck], list[str]]


@dataclass(frozen=True)
class Command:
    name: str
    summary: str  # one line for `?` and the completion hint
    run: Handler
    aliases: tuple[str, ...] = ()
    argument: str = ""  # how its argument reads in the help: "/TEXT", "NAME"
    complete: Completer | None = None  # the argument's candidates


COMMANDS: dict[str, Command] = {}


def register(command: Command) -> Command:
    COMMANDS[command.name] = command
    return command


def lookup(word: str) -> Command | None:
    for command in COMMANDS.values():
        if word == command.name or word in command.aliases:
            return command
    return None


def words() -> list[str]:
    """Every name a command answers to."""
    return sorted({w for c in COMMANDS.values() for w in (c.name, *c.aliases)})


def split(text: str) -> tuple[str, str]:
    """`:svc /web` -> ("svc", "/web")."""
    text = text.strip().removeprefix(":").lstrip()
    word, _, rest = text.partition(" ")
    return word, rest.strip()


def _common(choices: list[str]) -> str:
    first, last = min(choices), max(choices)
    size = 0
    while size < min(len(first), len(last)) and first[size] == last[size]:
        size += 1
    return first[:size]


def complete(app: Deck, text: str) -> tuple[str, list[str]]:
    """Tab: TEXT completed as far as it is unambiguous, and the candidates it could be."""
    body = text.lstrip().removeprefix(":")
    if " " not in body:  # the command's name
        choices = [w for w in words() if w.startswith(body)]
        if len(choices) == 1:
            return choices[0] + " ", choices
        return (_common(choices) or body) if choices else body, choices
    word, _, argument = body.partition(" ")
    command = lookup(word)
    if command is None or command.complete is None:
        return body, []
    argument = argument.lstrip()
    choices = [c for c in command.complete(app) if c.startswith(argument)]
    if len(choices) == 1:
        return f"{word} {choices[0]}", choices
    return f"{word} {_common(choices) or argument}" if choices else body, choices


def run(app: Deck, text: str) -> str | None:
    """Run what was typed; returns the one line that says why not (made inert)."""
    word, argument = split(text)
    if not word:
        return None
    command = lookup(word)
    if command is None:
        close = difflib.get_close_matches(word, words(), n=1, cutoff=0.6)
        hint = f": did you mean :{close[0]}?" if close else " (Tab lists them)"
        return clean(f"unknown command :{word}{hint}")
    problem = command.run(app, argument)
    return clean(problem) if problem else None


# ---- the views ---------------------------------------------------------------------------
def main_screen(app: Deck) -> MainScreen:
    from swarmdeck.ui.screens.main import MainScreen

    return next(s for s in app.screen_stack if isinstance(s, MainScreen))


def cluster_here(app: Deck) -> str:
    """The cluster of the topmost screen that shows one (a doctor of staging: staging, with
    a dialog over it too), else the main's."""
    for screen in reversed(app.screen_stack):
        cluster = screen_cluster(screen)
        if cluster in app.fleet.names:
            return cluster
    return main_screen(app).cluster


def back_to_main(app: Deck) -> MainScreen:
    main = main_screen(app)
    while app.screen is not main and len(app.screen_stack) > 1:
        app.pop_screen()
    return main


def _filter_text(argument: str) -> str:
    return argument[1:] if argument.startswith("/") else argument


def _pane(which: str) -> Handler:
    def show(app: Deck, argument: str) -> str | None:
        cluster = cluster_here(app)
        main = back_to_main(app)
        if main.cluster != cluster:
            main.switch_cluster(cluster)
        main.show_filtered(which, _filter_text(argument))
        return None
    return show


def _stacks(app: Deck, _argument: str) -> str | None:
    from swarmdeck.ui.widgets.projects import ProjectsTree

    back_to_main(app).query_one(ProjectsTree).focus()
    return None


def _open(app: Deck, make: Callable[[str], Screen]) -> str | None:
    """The view MAKE builds for the cluster of the screen the command was typed on, opened
    from the main screen (as its key there would); nothing to say, as a handler returns."""
    cluster = cluster_here(app)  # before leaving the screen it names
    back_to_main(app)
    app.push_screen(make(cluster))
    return None


def _tasks(app: Deck, argument: str) -> str | None:
    from swarmdeck.ui.screens.tasks import TasksScreen

    return _open(app, lambda cluster: TasksScreen(cluster, filter_text=_filter_text(argument)))


def _resources(kind: str) -> Handler:
    def show(app: Deck, _argument: str) -> str | None:
        from swarmdeck.ui.screens.resources import ResourcesScreen

        return _open(app, lambda cluster: ResourcesScreen(cluster, focus=kind))
    return show


def _events(app: Deck, _argument: str) -> str | None:
    from swarmdeck.ui.screens.events import EventsScreen

    return _open(app, EventsScreen)


def _doctor(app: Deck, _argument: str) -> str | None:
    from swarmdeck.ui.screens.doctor import DoctorScreen

    return _open(app, DoctorScreen)


def _service_names(app: Deck) -> list[str]:
    state = app.fleet.state(cluster_here(app))
    return sorted(s.name for s in state.services.values())


def _logs(app: Deck, argument: str) -> str | None:
    from swarmdeck.ui.screens.logs import LogsScreen

    cluster = cluster_here(app)
    if not argument:
        back_to_main(app).action_full_logs()
        return None
    state = app.fleet.state(cluster)
    service = next((s for s in state.services.values() if s.name == argument), None)
    if service is None:
        names = [s.name for s in state.services.values()]
        close = difflib.get_close_matches(argument, names, n=1, cutoff=0.6)
        return (f"no service {argument!r} in cluster {cluster}"
                + (f": did you mean {close[0]!r}?" if close else ""))
    back_to_main(app)
    app.push_screen(LogsScreen(cluster, [(service.id, service.name)], service.name))
    return None


def _cluster_names(app: Deck) -> list[str]:
    return list(app.fleet.names)


def _switch(app: Deck, argument: str) -> str | None:
    names = app.fleet.names
    word, _, rest = argument.partition(" ")
    if word == "add" and (rest.strip() or "add" not in names):
        return _add_cluster(app, rest.split())
    if not argument:
        return f"which cluster? :ctx NAME ({', '.join(names)})"
    if argument not in names:
        close = difflib.get_close_matches(argument, names, n=1, cutoff=0.6)
        return (f"no cluster {argument!r} in the config"
                + (f": did you mean {close[0]!r}?" if close else
                   f" (clusters: {', '.join(names)})"))
    back_to_main(app).switch_cluster(argument)
    app.notify(f"cluster {argument}", timeout=1.5)
    return None


def _add_cluster(app: Deck, words: list[str]) -> str | None:
    """`:ctx add NAME DEST [DEST...]`: written to the config as `swarmdeck cluster add` does
    (once a manager answers), then followed here like the others."""
    from swarmdeck.core.config_edit import ClusterEntry, add_cluster
    from swarmdeck.core.errors import SwarmdeckError

    if len(words) < 2:
        return "usage: :ctx add NAME DEST [DEST...] (DEST: a manager, ssh alias or user@host)"
    name, managers = words[0], tuple(words[1:])
    try:  # a name taken, a bad destination, a config that does not load: said at once
        edit = add_cluster(app.config.path, name, ClusterEntry(managers=managers))
    except SwarmdeckError as exc:
        return str(exc)

    async def check_and_write() -> None:
        from swarmdeck.core.config import parse_config
        from swarmdeck.core.discovery import answering_manager

        try:
            found = await answering_manager(edit)
            edit.write()
        except SwarmdeckError as exc:
            app.notify(clean(str(exc)), title=f"cluster {name} not added", severity="error",
                       timeout=15)
            return
        app.add_cluster(name, parse_config(edit.after, edit.path).clusters[name])
        back_to_main(app).switch_cluster(name)
        app.notify(clean(f"{found}; added to {edit.path}"), title=f"cluster {name} added",
                   timeout=5)

    app.notify(clean(f"asking {', '.join(managers)}..."), title=f"cluster {name}", timeout=3)
    app.run_worker(check_and_write(), name=f"add cluster {name}", group="config")
    return None


def _volumes(app: Deck, _argument: str) -> str | None:
    from swarmdeck.ui.screens.volumes import VolumesScreen

    return _open(app, VolumesScreen)


def _no_service(app: Deck, ref: str) -> str | None:
    """Why REF (SERVICE or SERVICE.SLOT) names no service of the current cluster, if so."""
    base = ref.rsplit(".", 1)[0] if ref.rsplit(".", 1)[-1].isdigit() else ref
    names = _service_names(app)
    if ref in names or base in names:
        return None
    close = difflib.get_close_matches(base, names, n=1, cutoff=0.6)
    return (f"no service {base!r} in cluster {cluster_here(app)}"
            + (f": did you mean {close[0]!r}?" if close else ""))


def _shell(app: Deck, argument: str) -> str | None:
    """A shell in SERVICE[.SLOT]'s task, else in the highlighted service's (as `!`)."""
    from swarmdeck.ui.shell import open_shell
    from swarmdeck.ui.widgets.services_table import ServicesTable

    screen = back_to_main(app)
    if not argument:
        screen.query_one(ServicesTable).action_shell()
        return None
    problem = _no_service(app, argument)
    if problem:
        return problem
    cluster = cluster_here(app)
    screen.run_worker(open_shell(screen, cluster, argument), group="operations",
                      name="shell")
    return None


def _history(app: Deck, argument: str) -> str | None:
    """`:history [PROJECT [ENV]]`: without one, the environment selected in the projects
    pane (as `h`)."""
    words = argument.split()
    if len(words) > 2:
        return "too many words: :history [PROJECT [ENV]]"
    if not words:
        scope = main_screen(app).scope
        if scope is None:
            return "which project? :history PROJECT [ENV] (or select one in the projects pane)"
        return open_history(app, scope.cluster, scope.project, scope.environment, scope.stack,
                            first=lambda: back_to_main(app))
    return open_history(app, cluster_here(app), words[0], words[1] if len(words) > 1 else None,
                        first=lambda: back_to_main(app))


def _environment_names(app: Deck) -> list[str]:
    return sorted({f"{p} {e}" for p, e, _env in app.config.environments()}
                  | set(app.config.projects))


def _forwards(app: Deck, _argument: str) -> str | None:
    from swarmdeck.ui.screens.forwards import ForwardsScreen

    if isinstance(app.screen, ForwardsScreen):
        return None
    app.push_screen(ForwardsScreen(cluster_here(app)))
    return None


def _port_forward(app: Deck, argument: str) -> str | None:
    """`:pf` alone lists the forwards; `:pf SERVICE[.SLOT] [LOCAL:]REMOTE` starts one (the
    ports asked for when not given, the replica when SERVICE has several)."""
    from swarmdeck.core.port_spec import parse_ports
    from swarmdeck.core.task_exec import find_service
    from swarmdeck.ui.forwards import ask_and_forward

    if not argument:
        return _forwards(app, argument)
    ref, _, typed = argument.partition(" ")
    ports = typed.strip() or None
    if ports is not None:
        try:
            parse_ports(ports)
        except SwarmdeckError as exc:
            return str(exc)
    problem = _no_service(app, ref)
    if problem:
        return problem
    cluster = cluster_here(app)
    service = find_service(app.fleet.state(cluster), ref)[0]
    # SERVICE alone: the replica is picked as `>` picks it; SERVICE.SLOT names it
    named = None if ref == service.name else ref
    app.run_worker(ask_and_forward(app.screen, cluster, service, ports, ref=named),
                   group="operations", name="port-forward")
    return None


def _quit(app: Deck, _argument: str) -> str | None:
    app.exit()
    return None


for _command in (
    Command("services", "the services pane (/TEXT filters it)", _pane("services"),
            ("svc", "service"), "/TEXT"),
    Command("nodes", "the nodes pane (/TEXT filters it)", _pane("nodes"), ("no", "node"),
            "/TEXT"),
    Command("tasks", "every task of the cluster (/TEXT filters them)", _tasks, ("ps", "task"),
            "/TEXT"),
    Command("stacks", "the projects and stacks pane", _stacks, ("stack",)),
    Command("networks", "the cluster's overlay networks", _resources("networks"),
            ("net", "network")),
    Command("secrets", "the cluster's secrets (never their data)", _resources("secrets"),
            ("secret",)),
    Command("configs", "the cluster's configs", _resources("configs"), ("config", "cm")),
    Command("events", "the cluster's live events", _events, ("ev", "event")),
    Command("doctor", "what is broken or fragile in the cluster", _doctor, ("dr",)),
    Command("logs", "the full log view of the highlighted service, or of SERVICE", _logs,
            ("log",), "[SERVICE]", _service_names),
    Command("ctx", "switch to another cluster of the config; add NAME DEST... adds one to it",
            _switch, ("cluster", "context"), "NAME | add NAME DEST...", _cluster_names),
    Command("volumes", "every volume and container of every node", _volumes,
            ("vol", "volume", "containers", "co")),
    Command("shell", "a shell in the highlighted service's task, or in SERVICE[.SLOT]'s",
            _shell, ("sh", "exec"), "[SERVICE[.SLOT]]", _service_names),
    Command("history", "the deploy history of a project environment (d deploys a revision "
            "again)", _history, ("hist",), "[PROJECT [ENV]]", _environment_names),
    Command("pf", "list the port-forwards, or carry [LOCAL:]REMOTE of SERVICE[.SLOT]'s "
            "task to 127.0.0.1", _port_forward, ("port-forward",),
            "[SERVICE[.SLOT] [[LOCAL:]REMOTE]]", _service_names),
    Command("forwards", "the console's active port-forwards", _forwards, ("fw",)),
    Command("quit", "leave the console", _quit, ("q", "q!", "exit")),
):
    register(_command)
