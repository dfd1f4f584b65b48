"""What a process-per-submission grader does, minus the container: one fresh Python process per
submission that imports torch and the rubric, collects the tests and runs them with the student's
module imported in-process (no sandbox). Used by benchmarks/naive.py as

    python -m benchmarks.naive_runner RUBRIC_DIR SUBMISSION_FILE

and prints one JSON line: {"score": ..., "seconds_in_process": ..., "torch_import_s": ...}.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402


def main(rubric_dir: str, submission: str) -> None:
    before_torch = time.perf_counter()
    import torch  # noqa: F401 - what every such grader pays first (torch_import_ms in the results)
    torch_import_s = time.perf_counter() - before_torch

    from benchmarks.floor import import_source
    from grader.rubric.runner import run_rubric
    from grader.rubric_spec import load_rubric
    from grader.scoring import build_report
    from grader.submission import prepare_source

    rubric = load_rubric(rubric_dir)
    path = Path(submission)
    source = prepare_source(path.name, path.read_bytes())
    with tempfile.TemporaryDirectory(prefix="bench-naive-") as tmp:
        outcomes = run_rubric(rubric, lambda: import_source(source, rubric.module, Path(tmp)))
    report = build_report(rubric, outcomes, "cpu", time.perf_counter() - STARTED)
    print(json.dumps({"score": report.score, "seconds_in_process": time.perf_counter() - STARTED,
                      "torch_import_s": torch_import_s}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
