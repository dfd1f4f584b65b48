"""Memory figures: RSS of processes (from /proc), the memory a sandbox's cgroup was charged, and a
probe submission that reports its own peak RSS from inside the sandbox."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

KiB = 1024
MiB = 1 << 20
CGROUP_ROOT = Path("/sys/fs/cgroup")
SANDBOX_CGROUP_PARENT = "grader-sandboxes"  # grader/sandbox/limits.py CGROUP_PARENT


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (peak RSS) and friends of `pid` in bytes; {} if it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key.startswith("Vm") or key.startswith("Rss"):
            parts = rest.split()
            if parts and parts[0].isdigit():
                values[key] = int(parts[0]) * KiB
    return values


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def children_map() -> dict[int, list[int]]:
    """ppid -> child pids, for every process."""
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def sandbox_cgroups() -> list[Path]:
    """The per-sandbox memory cgroups that exist right now (v1 memory controller or v2)."""
    bases = [CGROUP_ROOT / "memory" / SANDBOX_CGROUP_PARENT, CGROUP_ROOT / SANDBOX_CGROUP_PARENT]
    found: list[Path] = []
    for base in bases:
        try:
            found += [p for p in base.iterdir() if p.is_dir() and p.name.startswith("sandbox-")]
        except OSError:
            pass
    return found


def cgroup_peak(directory: Path) -> int | None:
    """Peak memory charged to the cgroup so far (v1 max_usage_in_bytes, v2 memory.peak)."""
    for name in ("memory.max_usage_in_bytes", "memory.peak", "memory.current"):
        try:
            return int((directory / name).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return None


@dataclass
class CgroupSampler:
    """Polls every sandbox cgroup while running; `peaks` maps cgroup name -> peak bytes charged."""

    prefix: str = "sandbox-"  # limits.sandbox_cgroup_prefix(a fork server's pid): only that server's
    interval_s: float = 0.002
    peaks: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> CgroupSampler:
        self._thread = threading.Thread(target=self._run, name="cgroup-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            for directory in sandbox_cgroups():
                if not directory.name.startswith(self.prefix):
                    continue
                peak = cgroup_peak(directory)
                if peak is not None and peak > self.peaks.get(directory.name, 0):
                    self.peaks[directory.name] = peak
            time.sleep(self.interval_s)


PROBE_MARKER = "BENCH_MAXRSS_KB="

PROBE_CODE = '''

# --- appended by the benchmark: report this sandbox's peak RSS after every call ---
import functools as _bench_functools
import resource as _bench_resource


def _bench_probe(function):
    @_bench_functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        finally:
            _bench_rss = _bench_resource.getrusage(_bench_resource.RUSAGE_SELF).ru_maxrss
            print("%s%d" % ("''' + PROBE_MARKER + '''", _bench_rss), flush=True)
    return wrapper


for _bench_name, _bench_value in list(globals().items()):
    if (callable(_bench_value) and not _bench_name.startswith("_")
            and getattr(_bench_value, "__module__", None) == __name__):
        globals()[_bench_name] = _bench_probe(_bench_value)
'''


def probe_source(source: str) -> str:
    """A submission that prints its sandbox's peak RSS (ru_maxrss) after each of its calls."""
    return source + PROBE_CODE


def probe_maxrss(student_output: str) -> int | None:
    """The largest peak RSS the probe printed (bytes), or None if it printed none."""
    values = [int(v) for v in re.findall(PROBE_MARKER + r"(\d+)", student_output)]
    return max(values) * KiB if values else None


@dataclass
class TreeSampler:
    """Samples the RSS of a process tree every `interval_s`; `classify(pid, cmdline, depth)` names
    each process's role (depth 0 is `root`) or returns None to leave it out."""

    root: int
    classify: Callable[[int, str, int], str | None]
    interval_s: float = 1.0
    samples: list[dict] = field(default_factory=list)  # {"t": s, "pid": n, "role": r, "rss": b, "hwm": b}
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _t0: float = field(default_factory=time.monotonic)

    def start(self) -> TreeSampler:
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def now(self) -> float:
        return time.monotonic() - self._t0

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()

    def processes(self) -> list[tuple[int, str, int]]:
        """(pid, role, depth) of every classified process in the tree now."""
        tree = children_map()
        found, frontier, depth = [], [self.root], 0
        while frontier:
            following = []
            for pid in frontier:
                role = self.classify(pid, cmdline(pid), depth)
                if role is not None:
                    found.append((pid, role, depth))
                following += tree.get(pid, [])
            frontier, depth = following, depth + 1
        return found

    def sample_once(self) -> None:
        now = self.now()
        for pid, role, _ in self.processes():
            status = proc_status(pid)
            if status:
                self.samples.append({"t": now, "pid": pid, "role": role,
                                     "rss": status.get("VmRSS", 0), "hwm": status.get("VmHWM", 0)})

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample_once()
            self._stop.wait(self.interval_s)

    def peak(self, role: str) -> int | None:
        """The highest RSS seen for `role`, the kernel's own high-water mark (VmHWM) included."""
        values = [max(s["rss"], s["hwm"]) for s in self.samples if s["role"] == role]
        return max(values) if values else None

    def pids(self, role: str) -> list[int]:
        return sorted({s["pid"] for s in self.samples if s["role"] == role})

    def growth(self, role: str, start: float, end: float, fraction: float = 0.1) -> dict:
        """Per process of `role`: mean RSS over the first and the last `fraction` of [start, end]."""
        span = max(end - start, 1e-9)
        head_end, tail_start = start + span * fraction, end - span * fraction
        result: dict[str, dict] = {}
        for pid in self.pids(role):
            mine = [s for s in self.samples if s["pid"] == pid and start <= s["t"] <= end]
            head = [s["rss"] for s in mine if s["t"] <= head_end] or [s["rss"] for s in mine[:1]]
            tail = [s["rss"] for s in mine if s["t"] >= tail_start] or [s["rss"] for s in mine[-1:]]
            if head and tail:
                first, last = sum(head) / len(head), sum(tail) / len(tail)
                result[str(pid)] = {"first_mib": mib(first), "last_mib": mib(last), "growth_mib": mib(last - first)}
        return result

    def max_growth_mib(self, role: str, start: float, end: float) -> float | None:
        values = [v["growth_mib"] for v in self.growth(role, start, end).values()]
        return max(values) if values else None


def mib(value: int | float | None) -> float | None:
    return None if value is None else round(value / MiB, 1)
