"""Crash reports: an unexpected error written to a file only its owner can read, and the one
line that points at it.

A traceback on the terminal can carry secrets: Textual's shows every frame's local variables
(a secret's data just created, a join token just rotated). A report here holds the frames and
the exception messages, never a local variable, with join tokens masked as in the audit log
(messages can quote one). The terminal, the console's header or a log gets one line. The CLI,
the console and the supervisors of background tasks call `report` (or `write_report` for the
path alone).
"""

from __future__ import annotations

import os
import platform
import tempfile
import traceback
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from swarmdeck import __version__
from swarmdeck.core.audit import mask
from swarmdeck.core.config_paths import state_dir
from swarmdeck.core.sanitize import clean

#: the exit code of a process that crashed (sysexits' EX_SOFTWARE): not 1, which says that
#: a cluster or a change failed, so that a script can tell a bug from a failure
EXIT_CODE = 70

SUMMARY_LENGTH = 300  # characters of the exception's message on the one line


def summary(error: BaseException) -> str:
    """`TypeName: first line of the message`, masked, made inert, shortened."""
    try:
        message = str(error)
    except Exception:  # a broken __str__ must not hide the crash it describes
        message = "<the error's message could not be read>"
    return describe(type(error).__name__, message)


def describe(type_name: str, message: str) -> str:
    """The one-line form of an error known by its type's name and its message."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    if len(first) > SUMMARY_LENGTH:
        first = first[:SUMMARY_LENGTH] + "…"
    return clean(mask(f"{type_name}: {first}" if first else type_name))


def traceback_text(error: BaseException) -> str:
    """The traceback as Python prints it (chained causes included): frames, source lines and
    messages, no local variable."""
    return "".join(traceback.format_exception(error))


def save(text: str, *, context: str, env: Mapping[str, str] | None = None,
         now: datetime | None = None) -> Path:
    """Write TEXT (a traceback) under a header to $XDG_STATE_HOME/swarmdeck/crash-<UTC time>.txt,
    mode 0600; where the state directory cannot be written (the crash may be about just that),
    to the temporary directory. Join tokens are masked and control characters made inert.
    Returns the file's path; raises OSError when neither place takes it."""
    now = now or datetime.now(UTC)
    header = (f"{context}\n"
              f"time: {now.isoformat(timespec='seconds')}\n"
              f"swarmdeck {__version__}, Python {platform.python_version()}, "
              f"{platform.system()} {platform.release()}\n"
              "(frames and messages only: local variables are never written)\n\n")
    body = "\n".join(clean(mask(line)) for line in (header + text).splitlines()) + "\n"
    stamp = now.strftime("%Y%m%d-%H%M%S")
    failure: OSError | None = None
    for folder in (state_dir(env), Path(tempfile.gettempdir())):
        try:
            return _write_private(folder, stamp, body.encode("utf-8", errors="replace"))
        except OSError as exc:
            failure = failure or exc
    assert failure is not None
    raise failure


def _write_private(folder: Path, stamp: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for attempt in range(1, 100):  # two crashes in one second (background tasks) keep both
        path = folder / (f"crash-{stamp}.txt" if attempt == 1 else f"crash-{stamp}-{attempt}.txt")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        return path
    raise FileExistsError(f"{folder}: too many crash reports for {stamp}")


def write_report(error: BaseException, *, context: str = "swarmdeck crashed",
                 env: Mapping[str, str] | None = None) -> Path:
    """ERROR's traceback (no locals, tokens masked) in a new 0600 file; its path. Raises
    OSError when it cannot be written anywhere."""
    return save(traceback_text(error), context=f"{context}: {summary(error)}", env=env)


def report(error: BaseException, *, context: str = "swarmdeck crashed",
           env: Mapping[str, str] | None = None) -> str:
    """Write ERROR's report and return the one line to show: `CONTEXT: Type: message — details
    in PATH` (or why no details were written). Never raises: a supervisor calls it from a
    place where things already went wrong."""
    try:
        written: Path | Exception = write_report(error, context=context, env=env)
    except Exception as exc:  # an unwritable disk must not hide the crash itself
        written = exc
    return line(context, summary(error), written)


def line(context: str, summary_text: str, written: Path | Exception) -> str:
    """The one line of a crash: CONTEXT, what happened, and where the details are."""
    if isinstance(written, Exception):
        reason = getattr(written, "strerror", None) or str(written)
        return f"{context}: {summary_text} — no details written ({clean(reason)})"
    return f"{context}: {summary_text} — details in {written}"
