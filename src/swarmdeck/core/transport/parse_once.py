"""ssh config lines and known_hosts files parsed once per process, not once per connection.

For every connection asyncssh reads the ssh config files (swarmdeck's resolve() once more, to
know where the connection goes), splitting each line with shlex in Python, and reads the
known_hosts files, decoding every key in them: a few milliseconds of CPU per connection with
a few dozen hosts, the bulk of a connection's setup. A console or `ls clusters` with ten
clusters paid it twenty times at start, on the one core Python has; a console that dials
every node for its metrics, once per node.

- A config line's split depends on the line alone, so it is kept (up to MAX_LINES distinct
  lines). The files are still read, and every Host and Match evaluated, on each connection:
  an edit is seen at the next connection as before.
- A known_hosts file set is read again only when one of its files changed (its inode, size
  or modification time): a key trusted from the console is seen at once. A file that cannot
  be read is not kept, and fails as it did.

Both are left alone if asyncssh no longer reads them the way this was written for (another
version); tests/unit/test_parse_once.py then fails, to say so.
"""

from __future__ import annotations

import functools
import os
import shlex
import threading
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from asyncssh import config as _config
from asyncssh import known_hosts as _known_hosts

MAX_LINES = 4096
MAX_FILE_SETS = 64


@functools.lru_cache(maxsize=MAX_LINES)
def _split(line: str) -> tuple[str, ...]:
    return tuple(shlex.split(line))


def split(line: str) -> list[str]:
    """shlex.split(LINE), remembered."""
    return list(_split(line))


_read_known_hosts = _known_hosts.read_known_hosts
_known: dict[tuple[str, ...], tuple[tuple[Any, ...], Any]] = {}
_lock = threading.Lock()  # asyncssh may read them in its executor's threads


def read_known_hosts(filelist: str | Sequence[str]) -> Any:
    """asyncssh's read_known_hosts(FILELIST), kept while the files are unchanged."""
    files = (filelist,) if isinstance(filelist, str) else tuple(str(f) for f in filelist)
    try:
        stamp = tuple((s.st_ino, s.st_size, s.st_mtime_ns)
                      for s in (os.stat(f) for f in files))
    except (OSError, TypeError, ValueError):
        return _read_known_hosts(filelist)  # as it was: asyncssh says what is wrong
    with _lock:
        kept = _known.get(files)
    if kept is not None and kept[0] == stamp:
        return kept[1]
    known = _read_known_hosts(filelist)
    with _lock:
        if len(_known) >= MAX_FILE_SETS:
            _known.clear()
        _known[files] = (stamp, known)
    return known


def install() -> tuple[bool, bool]:
    """(config lines, known_hosts) put in place; each False when asyncssh no longer reads
    them so (left as it is)."""
    lines = getattr(_config, "shlex", None) is shlex
    if lines:
        _config.shlex = SimpleNamespace(split=split)  # type: ignore[assignment]
    hosts = getattr(_known_hosts, "read_known_hosts", None) is _read_known_hosts and \
        hasattr(_known_hosts, "match_known_hosts")
    if hosts:
        _known_hosts.read_known_hosts = read_known_hosts
    return lines, hosts


INSTALLED = install()
