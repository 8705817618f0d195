"""The console's crash: one line on the terminal and a report file (core.crash), in place of
Textual's traceback, which lists every frame's local variables (a secret's data, a join token).
"""

from __future__ import annotations

from rich.traceback import Trace, Traceback
from textual.worker import WorkerFailed

from swarmdeck.core import crash


def cause(error: BaseException) -> BaseException:
    """The error itself, not Textual's wrapper around a failed worker."""
    while isinstance(error, WorkerFailed):
        error = error.error
    return error


def crash_line(error: BaseException) -> str:
    """Write the report of an unhandled ERROR; the line that says so."""
    return crash.report(cause(error))


def traceback_line(rendered: Traceback) -> str:
    """The same for a crash Textual hands over already made into a rich Traceback (its input
    thread's): written as plain frames and messages, whatever locals it captured left out."""
    trace = rendered.trace
    top = trace.stacks[0] if trace.stacks else None
    summary = crash.describe(top.exc_type, top.exc_value) if top else "unknown error"
    try:
        written = crash.save(trace_text(trace), context=f"swarmdeck crashed: {summary}")
    except OSError as exc:
        return crash.line("swarmdeck crashed", summary, exc)
    return crash.line("swarmdeck crashed", summary, written)


CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"


def trace_text(trace: Trace) -> str:
    """A rich Trace as Python prints a traceback: causes first, frames, messages; no locals."""
    text = ""
    for stack in reversed(trace.stacks):  # rich lists the last exception first
        lines = ["Traceback (most recent call last):"]
        for frame in stack.frames:
            lines.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}')
            if frame.line.strip():
                lines.append(f"    {frame.line.strip()}")
        lines.append(f"{stack.exc_type}: {stack.exc_value}" if stack.exc_value
                     else stack.exc_type)
        lines += stack.notes
        text += "\n".join(lines) + "\n"
        if stack is not trace.stacks[0]:  # what links it to the exception after it
            text += CAUSE if stack.is_cause else CONTEXT
    return text
