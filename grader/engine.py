"""Grade one submission: the trusted rubric run against the student's module in a sandbox.

TEMPORARY: the sandbox is being written; until it lands, student code runs in-process here.
"""

from __future__ import annotations

import time
import types

from grader.rubric.runner import run_rubric
from grader.rubric.spec import Rubric
from grader.scoring import GradeReport, build_report
from grader.submission import prepare_source


class Engine:
    """Long-lived: keeps warm state (a fork server, reference values) across submissions."""

    def grade(self, data: bytes, filename: str, rubric: Rubric, device: str | None = None) -> GradeReport:
        started = time.perf_counter()
        source = prepare_source(filename, data)
        module = types.ModuleType(rubric.module)
        exec(compile(source, f"{rubric.module}.py", "exec"), module.__dict__)
        outcomes = run_rubric(rubric, lambda: module)
        return build_report(rubric, outcomes, device or "cpu", time.perf_counter() - started)

    def close(self) -> None:
        pass

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
