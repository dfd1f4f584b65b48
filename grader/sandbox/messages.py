"""What a student is told when a sandbox ends or reports an error: one sentence each, built
from what the trusted side saw (the exit status) or from what the sandbox sent (which it may
have forged, so it is only ever quoted)."""

from __future__ import annotations

import os
import signal

from grader.rubric_spec import Limits
from grader.sandbox.forkserver import ExitInfo


def describe_exit(info: ExitInfo | None, limits: Limits, during: str) -> str:
    """A student-facing sentence for how a sandbox ended."""
    if info is None:
        return f"the sandbox stopped responding {during}"
    if info.oom:
        return f"ran out of memory {during} (limit {limits.memory_mb} MB)"
    if os.WIFSIGNALED(info.status):
        number = os.WTERMSIG(info.status)
        if number == signal.SIGXCPU:
            return f"used more than {limits.cpu_time_s:g} s of CPU time {during}"
        if number == signal.SIGXFSZ:
            return f"wrote a file larger than {limits.max_file_mb} MB {during}"
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = "unknown"
        return f"was killed by signal {number} ({name}) {during}"
    return f"exited with status {os.WEXITSTATUS(info.status)} {during}"


def describe_error(function: str, error: object) -> str:
    """A student-facing sentence for an error the sandbox reported (which it may have forged)."""
    if type(error) is not dict:
        return f"the sandbox sent malformed data in {function}"
    kind, message, where = (str(error.get(key, "")) for key in ("type", "message", "where"))
    if kind == "NotImplementedError":
        return f"{function} is not implemented (it raised NotImplementedError{where})"
    if kind in ("missing", "not plain data"):
        return message
    if kind == "SystemExit":
        return f"{function} called exit({message}){where}"
    return f"{function} raised {kind}: {message}{where}"
