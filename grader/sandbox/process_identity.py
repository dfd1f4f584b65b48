"""Names that identify a process on this machine while it lives, for what its sandboxes leave.

Sandbox directories (scratch.py) and cgroups (limits.py) are named by the process that made them,
so that a later start removes those of processes that are gone and never a live one's. A pid
alone is not enough: pids are reused, and workers in containers (docker-compose.yml) share the
host's cgroup hierarchy while each counts pids in a namespace of its own. So a name carries the
pid namespace, the pid and the process's start time; another namespace's can't be judged here.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

TAG = r"([0-9]{1,20})-([0-9]{1,10})-([0-9]{1,20})"
"""A `tag()` in a pattern: its groups are the pid namespace, the pid and the start time."""


def process_start(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot), None if it is gone (or a zombie)."""
    try:  # bytes: the command name is whatever the process set (prctl), UTF-8 or not
        fields = Path(f"/proc/{pid}/stat").read_bytes().rpartition(b")")[2].split()
    except OSError:
        return None
    if fields[0] in (b"Z", b"X"):  # state: it has exited, only its parent has not reaped it yet
        return None
    return fields[19].decode()  # field 22 of stat(5); the fields after the command name start at 3


def pid_namespace() -> int:
    return os.stat("/proc/self/ns/pid").st_ino


def tag(pid: int) -> str:
    """Process `pid` of this pid namespace, named uniquely on this machine while it lives."""
    return f"{pid_namespace()}-{pid}-{process_start(pid)}"


def gone(match: re.Match[str], first_group: int = 1) -> bool:
    """Whether the process of a TAG matched at `first_group` has exited; False for another pid
    namespace's, which can't be told from here."""
    namespace, pid, started = match.group(first_group, first_group + 1, first_group + 2)
    return namespace == str(pid_namespace()) and process_start(int(pid)) != started
