"""py-spy (if installed) samples this process (all threads), its fork server and the sandboxes while
submissions are graded; the collapsed stacks go to a file and are summarized per function and role."""

from __future__ import annotations

import collections
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.population import Submission, spread_templates
from grader.engine import Engine
from grader.rubric_spec import Rubric


def _py_spy() -> str | None:
    found = Path(sys.executable).parent / "py-spy"
    return str(found) if found.exists() else shutil.which("py-spy")


def _role(processes: list[str], me: int) -> str:
    """Which process a py-spy sample is from: the trusted side, the fork server or a sandbox."""
    pids = [int(p.split(":", 1)[0].split()[1]) for p in processes]
    if not pids or pids[-1] == me:
        return "trusted"
    return "fork_server" if len(pids) == 2 else "sandbox"


def _frame_name(frame: str) -> str:
    """'function (path/to/file.py:123)' -> 'function (file.py)', the line dropped so lines add up."""
    match = re.match(r"(.*) \((.*?)(?::\d+)?\)$", frame)
    if not match:
        return frame
    function, path = match.groups()
    return f"{function} ({'/'.join(Path(path).parts[-2:])})"


def analyze_raw(lines: list[str], me: int, grades: int, rate: int) -> dict:
    """Own and inclusive time per function and per process role, ms per grade, from py-spy's raw
    (collapsed-stack) output."""
    per_role: dict[str, float] = collections.defaultdict(float)
    own: dict[str, dict[str, float]] = collections.defaultdict(lambda: collections.defaultdict(float))
    inclusive: dict[str, dict[str, float]] = collections.defaultdict(lambda: collections.defaultdict(float))
    for line in lines:
        stack, _, count_text = line.rstrip().rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        parts = stack.split(";")
        processes = [p for p in parts if p.startswith("process ")]
        frames = [_frame_name(p) for p in parts if not p.startswith("process ")]
        role = _role(processes, me)
        per_role[role] += count
        if frames:
            own[role][frames[-1]] += count
        for name in set(frames):
            inclusive[role][name] += count
    scale = 1000.0 / rate / max(grades, 1)  # samples -> ms per grade

    def top(table: dict[str, float], n: int, grader_only: bool = False) -> list[dict]:
        items = [(k, v) for k, v in table.items() if not grader_only or "grader/" in k or "sandbox/" in k or "rubric/" in k]
        return [{"function": k, "ms_per_grade": round(v * scale, 2)} for k, v in sorted(items, key=lambda kv: -kv[1])[:n]]

    return {
        "ms_per_grade_by_process": {role: round(v * scale, 2) for role, v in sorted(per_role.items())},
        "own_time": {role: top(own[role], 12) for role in sorted(own)},
        "inclusive_grader_functions": {role: top(inclusive[role], 20, grader_only=True) for role in sorted(inclusive)},
    }


def py_spy_profile(engine: Engine, population: list[Submission], rubric: Rubric, n: int, out_path: Path,
                   rate: int = 250) -> dict:
    """py-spy samples this process (every thread: the rubric runs in its own), its fork server and
    the sandboxes while `n` submissions are graded; collapsed stacks go to `out_path`."""
    binary = _py_spy()
    if binary is None:
        return {"skipped": "py-spy is not installed (it is in the test extras: make install)"}
    chosen = spread_templates([s for s in population if not s.hostile], n)
    engine.grade(chosen[0].data, chosen[0].filename, rubric)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    spy = subprocess.Popen([binary, "record", "--pid", str(os.getpid()), "--rate", str(rate), "--format", "raw",
                            "--output", str(out_path), "--subprocesses", "--nonblocking"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)  # py-spy attaches
    if spy.poll() is not None:
        return {"skipped": f"py-spy could not attach: {spy.stderr.read().decode(errors='replace')[-500:]}"}  # type: ignore[union-attr]
    started = time.perf_counter()
    for submission in chosen:
        engine.grade(submission.data, submission.filename, rubric)
    wall = time.perf_counter() - started
    spy.send_signal(signal.SIGINT)
    try:
        spy.wait(timeout=60)
    except subprocess.TimeoutExpired:
        spy.kill()
        spy.wait()
    if not out_path.exists():
        return {"skipped": f"py-spy wrote nothing: {spy.stderr.read().decode(errors='replace')[-500:]}"}  # type: ignore[union-attr]
    result = analyze_raw(out_path.read_text().splitlines(), os.getpid(), len(chosen), rate)
    result.update({
        "grades": len(chosen), "wall_ms_per_grade": round(wall / len(chosen) * 1000, 1), "rate_hz": rate,
        "raw": str(out_path),
        "note": ("on-CPU samples only (idle waits are left out); the sandboxes live ~0.1 s and py-spy finds "
                 "new processes by polling, so their figures are a lower bound; the raw file opens in speedscope"),
    })
    return result
