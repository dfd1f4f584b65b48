"""What diagnosing wrong answers costs (grader/rubric/diagnosis.py): the time the rubric run spends
in `diagnose` per graded submission, measured on the floor (the rubric with the student's code
in-process), where nothing else blurs it.

Diagnosis runs only for failed cases: a correct submission costs nothing, a buggy one pays for
the signatures of its wrong answers and for running the known mistakes of the functions that gave
them on the same inputs. The plugin's `diagnose` is wrapped with a timer for the section only, so
grader/ is measured as it is.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from benchmarks.floor import floor_once
from benchmarks.population import Submission
from grader.rubric import plugin as plugin_module
from grader.rubric_spec import Rubric


@dataclass
class DiagnosisClock:
    seconds: float = 0.0
    cases: int = 0  # failed cases diagnosed


@contextlib.contextmanager
def timed_diagnosis(clock: DiagnosisClock) -> Iterator[None]:
    """Count the time spent in the rubric plugin's `diagnose` inside the block."""
    original = plugin_module.diagnose

    def diagnose(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            clock.seconds += time.perf_counter() - started
            clock.cases += 1

    plugin_module.diagnose = diagnose
    try:
        yield
    finally:
        plugin_module.diagnose = original


def run_diagnosis(population: list[Submission], rubric: Rubric, progress: Callable[[str], None]) -> list[dict]:
    """One row per submission: its diagnosis time and cases next to its floor time."""
    rows = []
    for submission in population:
        clock = DiagnosisClock()
        with timed_diagnosis(clock):
            floor = floor_once(submission, rubric)
        rows.append({"index": submission.index, "name": submission.name, "category": submission.category,
                     "diagnosis_s": clock.seconds, "cases": clock.cases, "floor_run_s": floor.run_s})
        progress(f"diagnosis {submission.name}: {clock.cases} failed cases, {clock.seconds * 1000:.2f} ms "
                 f"of {floor.run_s * 1000:.1f} ms")
    return rows
