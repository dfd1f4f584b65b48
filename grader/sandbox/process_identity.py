"""Names that identify a process on this machine while it lives, for what its sandboxes leave.

Sandbox directories (scratch.py) and cgroups (limits.py) are named by the process that made them,
so that a later start removes those of processes that are gone and never a live one's. A pid
alone is not enough: pids are reused, and workers in containers (docker-compose.yml) share the
host's cgroup hierarchy while each counts pids in a namespace of its own. So a name carries the
pid namespace, the pid and the process's start time; another namespace's can't be judged here.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

TAG = r"([0-9]{1,20})-([0-9]{1,10})-([0-9]{1,20})"
"""A `tag()` in a pattern: its groups are the pid namespace, the pid and the start time."""


def _stat(pid: int) -> list[bytes] | None:
    """Process `pid`'s /proc/<pid>/stat fields after its command name (state first), None if it is
    gone. Bytes: the command name is whatever the process set (prctl), UTF-8 or not."""
    try:
        return Path(f"/proc/{pid}/stat").read_bytes().rpartition(b")")[2].split()
    except OSError:
        return None


def process_start(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot), None if it is gone (or a zombie)."""
    fields = _stat(pid)
    if fields is None or fields[0] in (b"Z", b"X"):  # state: it has exited, only its parent has not reaped it yet
        return None
    return fields[19].decode()  # field 22 of stat(5); the fields after the command name start at 3


def parent(pid: int) -> int | None:
    """Process `pid`'s parent, None if it is gone."""
    fields = _stat(pid)
    return None if fields is None else int(fields[1])


@functools.cache
def pid_namespace() -> int:
    """This process's pid namespace: fixed for its life (and its forks'), so read once."""
    return os.stat("/proc/self/ns/pid").st_ino


def tag(pid: int) -> str:
    """Process `pid` of this pid namespace, named uniquely on this machine while it lives."""
    return f"{pid_namespace()}-{pid}-{process_start(pid)}"


def gone(match: re.Match[str]) -> bool:
    """Whether the process of a TAG match has exited; False for another pid namespace's, which
    can't be told from here."""
    namespace, pid, started = match.group(1, 2, 3)
    return namespace == str(pid_namespace()) and process_start(int(pid)) != started
