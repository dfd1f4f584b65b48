"""The similarity section: one run of the worker's similarity task over a synthetic class
(benchmarks/similarity_population.py) in a fresh process (benchmarks/similarity_task.py), so its
time and memory are its own. A scratch SQLite database; no server, no broker is read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable

from benchmarks.population import ROOT

RUN_TIMEOUT_S = 3600


def run_similarity(size: int, copies: int, seed: int, progress: Callable[[str], None]) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-similarity-") as tmp:
        env = {name: value for name, value in os.environ.items() if not name.startswith("GRADER_")}
        env.update(GRADER_DATABASE_URL=f"sqlite:///{tmp}/grader.db", GRADER_BROKER_URL=f"sqla+sqlite:///{tmp}/broker.db",
                   GRADER_DATA_DIR=tmp, PYTHONPATH=str(ROOT))
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.similarity_task", "--size", str(size), "--copies", str(copies),
             "--seed", str(seed)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
        )
    if done.returncode != 0:
        raise RuntimeError(f"similarity_task exited with {done.returncode}: {done.stderr[-2000:]}")
    result: dict = json.loads(done.stdout.strip().splitlines()[-1])
    progress(f"similarity: {result}")
    return result
