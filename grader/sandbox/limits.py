"""Resource limits of one sandbox: rlimits set by the child, a cgroup managed by the fork server.

The memory cgroup bounds real RAM (RLIMIT_AS only backs it up loosely: torch maps ~0.6 GB of
address space and threads more); the pids cgroup bounds threads as well as processes.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from grader.rubric_spec import Limits
from grader.sandbox.process_identity import TAG, gone, tag

MiB = 1 << 20
ADDRESS_SPACE_HEADROOM = 6 * 1024 * MiB  # torch's mappings and thread stacks are virtual, not RAM
CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_PARENT = "grader-sandboxes"


def apply_rlimits(limits: Limits, cgroup_memory: bool) -> None:
    """Called in the child before student code: CPU, file size, open files, core dumps, memory."""
    def cap(which: int, value: int) -> None:
        resource.setrlimit(which, (value, value))

    cpu = int(limits.cpu_time_s)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # soft: SIGXCPU, reported as such; hard: SIGKILL
    cap(resource.RLIMIT_FSIZE, int(limits.max_file_mb * MiB))
    cap(resource.RLIMIT_NOFILE, int(limits.max_open_files))
    cap(resource.RLIMIT_CORE, 0)
    memory = int(limits.memory_mb * MiB)
    # Without a memory cgroup the address-space limit is the only memory bound, so keep it tighter.
    headroom = ADDRESS_SPACE_HEADROOM if cgroup_memory else ADDRESS_SPACE_HEADROOM * 2 // 3
    cap(resource.RLIMIT_AS, memory + headroom)


@dataclass
class SandboxCgroup:
    """The cgroup directories (memory and pids) of one sandbox; created and removed by the fork server."""

    memory: Path | None
    pids: Path | None
    unified: bool

    def enter(self) -> None:
        """Move the calling process into the cgroup (run in the child, still privileged)."""
        if not self._directories():
            raise RuntimeError("no writable cgroup")
        for directory in self._directories():
            (directory / "cgroup.procs").write_text("0")

    def oom_killed(self) -> bool:
        if self.memory is None:
            return False
        events = self.memory / ("memory.events" if self.unified else "memory.oom_control")
        try:
            for line in events.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and int(value) > 0:
                    return True
        except OSError:
            pass
        return False

    def _directories(self) -> list[Path]:
        return [d for d in {self.memory, self.pids} if d is not None]

    def kill_all(self) -> None:
        """SIGKILL whatever is still in the cgroup, until it is empty."""
        for directory in self._directories():
            for _ in range(50):
                try:
                    pids = [int(p) for p in (directory / "cgroup.procs").read_text().split()]
                except OSError:
                    break
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                time.sleep(0.001)

    def remove(self) -> None:
        for directory in self._directories():
            try:
                directory.rmdir()
            except OSError:
                pass


SANDBOX_CGROUP = re.compile(rf"sandbox-{TAG}-[0-9]+")
"""A sandbox's cgroup: `sandbox_cgroup_prefix` of its fork server, then the server's number for it."""
ORPHAN_AGE_S = 3600  # an empty sandbox cgroup this old is nobody's, whoever made it


def sandbox_cgroup_prefix(server_pid: int) -> str:
    """How the cgroups of fork server `server_pid`'s sandboxes (`<prefix><n>`) are named: by the
    process (process_identity), as workers in containers share the host's hierarchy."""
    return f"sandbox-{tag(server_pid)}-"


class CgroupManager:
    """Finds a writable cgroup hierarchy (v1 memory+pids, or v2 unified) and makes one per sandbox."""

    def __init__(self, root: Path = CGROUP_ROOT) -> None:
        self.unified = (root / "cgroup.controllers").exists()
        if self.unified:
            base = root / CGROUP_PARENT
            self.memory_base = self.pids_base = self._prepare(base, v2=True)
        else:
            self.memory_base = self._prepare(root / "memory" / CGROUP_PARENT)
            self.pids_base = self._prepare(root / "pids" / CGROUP_PARENT)

    @staticmethod
    def _prepare(base: Path, v2: bool = False) -> Path | None:
        try:
            base.mkdir(exist_ok=True)
            if v2:
                (base / "cgroup.subtree_control").write_text("+memory +pids")
            probe = base / f"probe-{os.getpid()}"
            probe.mkdir(exist_ok=True)
            probe.rmdir()
        except OSError:
            return None
        return base

    def remove_orphans(self) -> None:
        """Remove the empty sandbox cgroups that fork servers killed outright left behind (their
        sandboxes died after them): those of gone servers of this pid namespace, and any other
        (a dead container's, an old name) ORPHAN_AGE_S old. The kernel refuses to remove a
        cgroup that holds a process, and a live server's are never that old and empty."""
        now = time.time()
        for base in {base for base in (self.memory_base, self.pids_base) if base is not None}:
            for directory in base.glob("sandbox-*"):
                match = SANDBOX_CGROUP.fullmatch(directory.name)
                with contextlib.suppress(OSError):
                    if (match is not None and gone(match)) or now - directory.stat().st_mtime >= ORPHAN_AGE_S:
                        directory.rmdir()

    def create(self, name: str, limits: Limits) -> SandboxCgroup:
        memory = self._make(self.memory_base, name)
        pids = memory if self.unified else self._make(self.pids_base, name)
        limit = str(int(limits.memory_mb * MiB))
        if memory is not None:
            if self.unified:
                (memory / "memory.max").write_text(limit)
                swap = memory / "memory.swap.max"
                if swap.exists():
                    swap.write_text("0")
            else:
                (memory / "memory.limit_in_bytes").write_text(limit)
        if pids is not None:
            (pids / "pids.max").write_text(str(int(limits.max_processes)))
        return SandboxCgroup(memory, pids, self.unified)

    @staticmethod
    def _make(base: Path | None, name: str) -> Path | None:
        if base is None:
            return None
        directory = base / name
        try:
            directory.mkdir()  # never an existing one: it may carry another sandbox's OOM kills
        except OSError:
            return None
        return directory
