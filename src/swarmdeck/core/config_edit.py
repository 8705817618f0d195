"""Edits of the config file, written back as the user wrote it: every comment, blank line and
the order of what was there kept (`swarmdeck init`, `cluster add|rm`, the console's
`:ctx add`).

tomlkit keeps comments, but files them with the table above them: deleting `[clusters.a]`
took the comment written over the next table with it, and a table it added landed between a
comment and the header that comment describes. So a cluster written as `[clusters.NAME]`
tables (what people write) is cut or inserted as lines of text, with the comments over its
header; any other shape (`[clusters]` with inline tables) is left to tomlkit. Either way,
before anything is written: the new text must read as exactly the old data with that one
cluster changed (nothing else moved), and pass the same checks as a config that is loaded.
The file is replaced atomically (a temporary file in its directory, renamed), mode 0600 or
the file's own when stricter, and the edit goes to the audit log.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import stat
import tempfile
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit

from swarmdeck.core.audit import AuditLog
from swarmdeck.core.config import (
    HEADER,
    NAME_PATTERN,
    NAME_RULE,
    did_you_mean,
    dotted_parts,
    parse_config,
)
from swarmdeck.core.destinations import parse_destination
from swarmdeck.core.errors import ConfigError, UsageError

MODE = 0o600
HEADER_COMMENT = """\
# swarmdeck config, first written by swarmdeck (`swarmdeck init` or `cluster add`). Edit it
# freely: your comments and order are kept when swarmdeck edits it (`swarmdeck cluster
# add|rm`, `:ctx add` in the console). config.example.toml documents every key.
"""


@dataclass(frozen=True)
class ClusterEntry:
    """What `cluster add` writes for one cluster: its managers or its docker context."""

    managers: tuple[str, ...] = ()
    context: str | None = None
    read_only: bool = False

    def __post_init__(self) -> None:
        if bool(self.managers) == bool(self.context):
            raise UsageError("give the cluster's managers (--manager DEST, repeatable) or a "
                             "docker context (--context NAME), one of the two")
        for manager in self.managers:
            parse_destination(manager)  # says what is wrong with it, and the forms accepted

    def table(self) -> dict[str, Any]:
        data: dict[str, Any] = ({"managers": list(self.managers)} if self.managers
                                else {"context": self.context})
        if self.read_only:
            data["read_only"] = True
        return data

    def describe(self) -> str:
        where = (f"managers {', '.join(self.managers)}" if self.managers
                 else f"docker context {self.context}")
        return where + (", read-only" if self.read_only else "")


@dataclass
class Edit:
    """A change of the config file, checked and ready to write (nothing is written before
    write())."""

    path: Path  # the file written (a symlink's target)
    before: str | None  # the text read (None: no file yet)
    after: str
    action: str  # for the audit log: "cluster add", "cluster rm", "init"
    clusters: list[str]
    removed: str = ""  # the lines taken out (rm)
    params: dict[str, Any] = field(default_factory=dict)

    def write(self, *, audit: AuditLog | None = None) -> None:
        """Replace the file atomically; refused if it changed since it was read. AUDIT: the
        user's audit log unless given; checked before, the edit recorded after."""
        log = audit or AuditLog.default()
        log.check()
        try:
            write_atomically(self.path, self.after, expected=self.before)
        except ConfigError as exc:
            for name in self.clusters:
                log.record(cluster=name, manager=None, action=f"config {self.action}",
                           target=str(self.path), params=self.params, result="failed",
                           error=str(exc))
            raise
        for name in self.clusters:
            log.record(cluster=name, manager=None, action=f"config {self.action}",
                       target=str(self.path), params=self.params)


# ---- the three edits -----------------------------------------------------------------------

def add_cluster(path: str | Path, name: str, entry: ClusterEntry, *,
                replace: bool = False) -> Edit:
    """[clusters.NAME] added after the last cluster (a new file if there is none). An
    existing NAME is refused unless REPLACE (then its tables are replaced where they are)."""
    check_name(name)
    path = _target(path)
    before = _read(path)
    if before is None:
        after = HEADER_COMMENT + "\n" + _table_text(name, entry)
        return _checked(path, None, after, {"clusters": {name: entry.table()}},
                        "cluster add", [name], entry)
    data = _data(before, path)
    clusters = data.get("clusters") or {}
    if name in clusters and not replace:
        raise UsageError(f"cluster {name!r} is already in {path} ({_shown(clusters[name])})",
                         hint="pick another name, remove it first with `swarmdeck cluster rm "
                              f"{name}`, or replace it with --force")
    expected = copy.deepcopy(data)
    expected.setdefault("clusters", {})[name] = entry.table()
    lines = before.splitlines(keepends=True)
    sections = _sections(lines)
    own = [s for s in sections if s.key[:2] == ["clusters", name]]
    if own:  # --force: the new table where the old one was, under the same comments
        first = own[0]
        end = _body_end(lines, first)
        kept = _kept_indexes(lines, own[1:])
        after_text = ("".join(lines[i] for i in range(first.start) if i in kept)
                      + _table_text(name, entry)
                      + "".join(lines[i] for i in range(end, len(lines)) if i in kept))
    elif name not in clusters and (ours := [s for s in sections if s.key[:1] == ["clusters"]
                                            and len(s.key) >= 2]):
        at = _body_end(lines, ours[-1])
        head = "".join(lines[:at])
        head += "" if head.endswith("\n") else "\n"
        tail = "".join(lines[at:])
        gap = "\n" if tail and not tail.startswith("\n") else ""
        after_text = head + "\n" + _table_text(name, entry) + gap + tail
    elif "clusters" not in data:
        after_text = before.rstrip("\n") + "\n\n" + _table_text(name, entry) if before.strip() \
            else before + _table_text(name, entry)
    else:  # clusters written another way ([clusters] with inline tables, or replaced)
        doc = tomlkit.parse(before)
        doc["clusters"][name] = _tomlkit_table(entry)  # type: ignore[index]
        after_text = tomlkit.dumps(doc)
    return _checked(path, before, after_text, expected, "cluster add", [name], entry)


def remove_cluster(path: str | Path, name: str) -> Edit:
    """[clusters.NAME] (and its sub-tables, and the comments over them) taken out."""
    path = _target(path)
    before = _read(path)
    if before is None:
        raise ConfigError(f"config file {path} does not exist: there is no cluster to remove")
    data = _data(before, path)
    clusters = data.get("clusters") or {}
    if name not in clusters:
        raise UsageError(f"unknown cluster {name!r}{did_you_mean(name, clusters)} "
                         f"(configured in {path}: {', '.join(clusters) or 'none'})")
    used = [f"{p}.{e}" for p, project in (data.get("projects") or {}).items()
            for e, env in (project.get("environments") or {}).items()
            if env.get("cluster") == name]
    if used:
        raise UsageError(f"cluster {name!r} is used by the project environment"
                         f"{'s' if len(used) > 1 else ''} {', '.join(used)} in {path}",
                         hint="remove or move those [projects...] environments first")
    expected = copy.deepcopy(data)
    del expected["clusters"][name]
    if not expected["clusters"]:
        del expected["clusters"]
    lines = before.splitlines(keepends=True)
    own = [s for s in _sections(lines) if s.key[:2] == ["clusters", name]]
    if own:
        after = _cut(lines, own)
        removed = "".join(line for i, line in enumerate(lines)
                          if i not in _kept_indexes(lines, own))
    else:
        doc = tomlkit.parse(before)
        del doc["clusters"][name]  # type: ignore[union-attr]
        if not doc["clusters"]:
            del doc["clusters"]
        after = tomlkit.dumps(doc)
        removed = tomlkit.dumps({"clusters": {name: clusters[name]}})
    edit = _checked(path, before, after, expected, "cluster rm", [name], None)
    edit.removed = removed
    return edit


def new_config(path: str | Path, clusters: Mapping[str, ClusterEntry], *,
               ssh_config: Sequence[str] = ()) -> Edit:
    """A config file that does not exist yet, holding CLUSTERS (`swarmdeck init`)."""
    path = _target(path)
    refuse_existing(path)
    if not clusters:
        raise UsageError("no cluster to write")
    for name in clusters:
        check_name(name)
    parts = [HEADER_COMMENT]
    expected: dict[str, Any] = {}
    if ssh_config:
        parts.append(tomlkit.dumps({"ssh": {"config": list(ssh_config)}}))
        expected["ssh"] = {"config": list(ssh_config)}
    for name, entry in clusters.items():
        parts.append(_table_text(name, entry))
        expected.setdefault("clusters", {})[name] = entry.table()
    edit = _checked(path, None, "\n".join(parts), expected, "init", list(clusters), None)
    edit.params = {"clusters": {n: e.table() for n, e in clusters.items()}}
    return edit


def refuse_existing(path: Path) -> None:
    if os.path.lexists(path):
        raise UsageError(f"{path} exists already: init writes a new config only",
                         hint="add a cluster to it with `swarmdeck cluster add NAME --manager "
                              "DEST`, or pass --config NEW-PATH")


def check_name(name: str) -> None:
    if not re.match(NAME_PATTERN, name):
        raise UsageError(f"bad cluster name {name!r}: use {NAME_RULE}")


# ---- the text ------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Section:
    key: list[str]  # the header's dotted key
    start: int  # the header's line
    end: int  # the next header's line (or the number of lines)


def _sections(lines: Sequence[str]) -> list[_Section]:
    """Each [table] header's section. Lines inside a multi-line string are not headers."""
    heads: list[tuple[list[str], int]] = []
    quote: str | None = None
    for i, line in enumerate(lines):
        if quote is None and line.lstrip().startswith("[") and (m := HEADER.match(line)):
            array = line.lstrip().startswith("[[")
            heads.append((["[[]]"] if array else dotted_parts(m.group(1)), i))
            continue
        for delimiter in ('"""', "'''"):
            if quote in (None, delimiter) and line.count(delimiter) % 2:
                quote = None if quote else delimiter
    ends = [i for _, i in heads[1:]] + [len(lines)]
    return [_Section(key, start, end) for (key, start), end in zip(heads, ends, strict=True)]


def _comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def _blank(line: str) -> bool:
    return not line.strip()


def _lead(lines: Sequence[str], start: int) -> int:
    """The first of the comment lines right over line START (no blank line between): they
    describe what follows."""
    while start > 0 and _comment(lines[start - 1]):
        start -= 1
    return start


def _body_end(lines: Sequence[str], section: _Section) -> int:
    """Where SECTION's own lines end: the comments and blank lines after its last key belong
    to what follows (the comments over the next header, or a comment block set apart by a
    blank line) unless they sit right under its last key with no next header."""
    end = section.end
    last = section.start
    for i in range(section.start + 1, section.end):
        if not (_blank(lines[i]) or _comment(lines[i])):
            last = i
    trailing = range(last + 1, end)
    first_blank = next((i for i in trailing if _blank(lines[i])), None)
    if first_blank is not None:
        return first_blank
    return end if section.end == len(lines) else last + 1


def _kept_indexes(lines: Sequence[str], own: Sequence[_Section]) -> set[int]:
    gone: set[int] = set()
    for section in own:
        start, end = _lead(lines, section.start), _body_end(lines, section)
        gone.update(range(start, end))
        while end < len(lines) and _blank(lines[end]):  # the blank lines that set it apart
            gone.add(end)
            end += 1
    return set(range(len(lines))) - gone


def _cut(lines: Sequence[str], own: Sequence[_Section]) -> str:
    """LINES without the sections OWN, each with the comments over it and the blank lines
    after it; at the end of the file, the blank lines over it too."""
    kept = _kept_indexes(lines, own)
    out = [lines[i] for i in sorted(kept)]
    if len(lines) - 1 not in kept:
        while out and _blank(out[-1]):
            out.pop()
    return "".join(out)


def _table_text(name: str, entry: ClusterEntry) -> str:
    return tomlkit.dumps({"clusters": {name: entry.table()}})


def _tomlkit_table(entry: ClusterEntry) -> Any:
    table = tomlkit.table()
    for key, value in entry.table().items():
        table[key] = value
    return table


# ---- checking and writing ------------------------------------------------------------------

def _target(path: str | Path) -> Path:
    """The file to write: a symlinked config (a dotfiles repository) is edited where it
    lives, the link kept."""
    return Path(os.path.realpath(Path(path).expanduser()))


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from None


def _data(text: str, path: Path) -> dict[str, Any]:
    """The file's data, once it passes the checks a load makes: a config that does not
    load is not edited (the error says what to fix first)."""
    parse_config(text, path)
    return tomllib.loads(text)


def _checked(path: Path, before: str | None, after: str, expected: dict[str, Any],
             action: str, names: list[str], entry: ClusterEntry | None) -> Edit:
    """AFTER must read as EXPECTED (the edit changed that one cluster, nothing else) and pass
    the config's checks."""
    try:
        got = tomllib.loads(after)
    except tomllib.TOMLDecodeError as exc:
        got = {"error": str(exc)}
    if got != expected:
        raise ConfigError(f"cannot edit {path} without disturbing the rest of it (its layout "
                          "is one swarmdeck does not know)",
                          hint="make the change by hand; config.example.toml shows the keys")
    parse_config(after, path)
    return Edit(path, before, after, action, names,
                params=entry.table() if entry is not None else {})


def write_atomically(path: Path, text: str, *, expected: str | None = None) -> None:
    """TEXT as PATH's new content: written to a temporary file in the same directory, then
    renamed over it (a reader sees the old file or the new one, never half of one). Mode
    0600, or the old file's when it is stricter. EXPECTED: the content PATH must still have
    (None: it must not exist), so that an edit made meanwhile is not overwritten."""
    current = _read(path)
    if current != expected:
        raise ConfigError(f"{path} changed while it was being edited: nothing was written",
                          hint="run the command again")
    mode = MODE
    if current is not None:
        mode = stat.S_IMODE(path.stat().st_mode) & MODE
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}",
                          hint="check the directory's permissions") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            os.fchmod(out.fileno(), mode)
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None


def _shown(table: Any) -> str:
    if isinstance(table, dict) and table.get("managers"):
        return f"managers {', '.join(map(str, table['managers']))}"
    if isinstance(table, dict) and table.get("context"):
        return f"docker context {table['context']}"
    return "configured"
