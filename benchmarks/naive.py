"""The naive baseline: a fresh Python process per submission (benchmarks/naive_runner.py), as
subprocess- and container-per-submission graders do before any container starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.population import ROOT, Submission

RUN_TIMEOUT_S = 300


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def sample(population: list[Submission], n: int) -> list[Submission]:
    """The first `n` submissions that can run in-process (hostile ones would hang or kill it; a
    naive grader needs a per-process timeout for those, which only makes it slower)."""
    return [s for s in population if not s.hostile][:n]


def run_naive(submissions: list[Submission], rubric_dir: Path, progress: Callable[[str], None]) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-naive-") as tmp:
        for i, submission in enumerate(submissions):
            path = Path(tmp) / f"{submission.index:04d}" / submission.filename
            path.parent.mkdir()
            path.write_bytes(submission.data)
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "benchmarks.naive_runner", str(rubric_dir), str(path)],
                cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
            )
            wall = time.perf_counter() - started
            row: dict = {"index": submission.index, "name": submission.name, "wall_s": wall,
                         "returncode": done.returncode}
            if done.returncode == 0:
                result = json.loads(done.stdout.strip().splitlines()[-1])
                row["score"] = result["score"]
                row["in_process_s"] = result["seconds_in_process"]
                row["torch_import_s"] = result["torch_import_s"]
            else:
                row["error"] = done.stderr[-2000:]
            rows.append(row)
            progress(f"[{i + 1}/{len(submissions)}] naive {submission.name:<44} {wall * 1000:8.1f} ms"
                     + ("" if done.returncode == 0 else f"  FAILED ({done.returncode})"))
    return rows
