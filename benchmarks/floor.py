"""The floor: the rubric's checks with the student's code called in-process (no sandbox, no queue).

`run_rubric(rubric, factory)` runs exactly the pytest session the engine runs, but `student` is the
submission's module imported into this process (lazily, on the first test that needs it, as the
engine starts its sandbox on the first call). The rubric's reference module is loaded once and
cached by the runner, and the benchmark warms everything up before timing.

Hostile submissions cannot run in-process as they are (a sleep would hang the benchmark, a
segfault would kill it), so the floor runs their `tame_source` (the hostile statement replaced by
an ordinary exception: the same tests pass and fail) and adds `call_timeout_s` for each call that
times out: waiting out a time limit is part of the physical limit. A module that fails at import is
a stand-in whose every function raises, as the engine reports every call after a failed import.
What the student prints is swallowed, and torch runs on one thread (`FLOOR_TORCH_THREADS`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from benchmarks.population import Submission
from grader.errors import StudentFault
from grader.rubric.runner import run_rubric
from grader.rubric_spec import Rubric
from grader.scoring import TestOutcome, build_report
from grader.submission import prepare_source


class TestTimer:
    """A pytest plugin: time spent in test bodies (the checks, their reference values, student calls)."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self) -> None:
        self.seconds = 0.0
        self.tests = 0

    @pytest.hookimpl(hookwrapper=True)
    def pytest_pyfunc_call(self, pyfuncitem: Any) -> Any:
        started = time.perf_counter()
        yield
        self.seconds += time.perf_counter() - started
        self.tests += 1


# One timer for the whole benchmark: the runner keeps one pytest session per rubric version, and
# only the plugins present when that session starts are in it (see `pytest_extras`).
SHARED_TIMER = TestTimer()


@contextlib.contextmanager
def pytest_extras(plugins: list | None = None, args: list[str] | None = None) -> Iterator[None]:
    """Add plugins (and command-line args) to the pytest sessions started inside the block.

    The runner starts a pytest session with `pytest.main(args, plugins=[...])`, once per rubric
    version (its `RubricSuite` then re-runs the collected items for each submission); this wraps
    that function for the block only, so grader/ is measured exactly as it is. A session that was
    started before the block keeps the plugins it had: the benchmark starts the rubric's session
    in its warm-up, inside such a block.
    """
    original = pytest.main

    def main(run_args: Any = None, plugins_: Any = None, **kwargs: Any) -> Any:
        if "plugins" in kwargs:
            plugins_ = kwargs.pop("plugins")
        return original([*(run_args or []), *(args or [])], plugins=[*(plugins_ or []), *(plugins or [])], **kwargs)

    pytest.main = main  # type: ignore[assignment]
    try:
        yield
    finally:
        pytest.main = original  # type: ignore[assignment]


class TimedModule:
    """The student's module as rubric tests see it, with the time spent in its functions counted."""

    def __init__(self, module: Any, clock: FloorResult) -> None:
        self._module, self._clock = module, clock

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        function = getattr(self._module, name, None)
        if not callable(function):
            raise StudentFault(f"hw2.py does not define {name}()")

        def call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self._clock.student_s += time.perf_counter() - started
                self._clock.calls += 1

        return call


class FailedImport:
    """Stands in for a module that could not be imported: every call fails, as in the engine."""

    def __init__(self, reason: str) -> None:
        self._reason = reason

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        def call(*args: Any, **kwargs: Any) -> Any:
            raise StudentFault(self._reason)

        return call


@dataclass
class FloorResult:
    total_s: float = 0.0  # run_s plus the time limits the submission would use up
    run_s: float = 0.0  # the run_rubric call (pytest session, checks, student code)
    tests_s: float | None = 0.0  # inside test bodies (checks, reference values, student calls)
    student_s: float = 0.0  # inside the student's functions, import included
    import_s: float = 0.0
    calls: int = 0
    score: float = 0.0
    outcomes: list[tuple[str, str, bool]] = field(default_factory=list)
    emulated: str = ""  # how a hostile submission was run in-process, if it was


def import_source(source: str, module_name: str, directory: Path) -> Any:
    """Import `source` as `module_name` from a file in `directory` (registered while importing)."""
    path = directory / f"{module_name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    saved = sys.modules.get(module_name)
    sys.modules[module_name] = module
    sys.path.insert(0, str(directory))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(directory))
        if saved is None:
            sys.modules.pop(module_name, None)
        else:
            sys.modules[module_name] = saved
    return module


# The floor runs torch on one thread: HW2's tensors are tiny, so a second thread gains nothing on an
# idle machine, and on a busy one every parallel op waits for a descheduled thread. The engine's
# trusted side runs on one thread too (grader/engine.py), as in the workers.
FLOOR_TORCH_THREADS = 1


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def outcome_key(outcomes: list[TestOutcome]) -> list[tuple[str, str, bool]]:
    return sorted((o.question, o.name, o.passed) for o in outcomes)


def floor_once(submission: Submission, rubric: Rubric, timer: TestTimer | None = None) -> FloorResult:
    """Grade one submission in-process and time it."""
    result = FloorResult()
    timer = timer or SHARED_TIMER
    timer.seconds, timer.tests = 0.0, 0
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
        if submission.category == "import_error":
            result.emulated = "every call fails (the module raises at import)"

            def factory() -> Any:
                return FailedImport("importing the submission failed")
        else:
            if submission.tame_source is not None:
                source = submission.tame_source
                result.emulated = f"tame source, plus {submission.timeouts} x call_timeout_s"
            else:
                source = prepare_source(submission.filename, submission.data)

            def factory() -> Any:
                started = time.perf_counter()
                try:
                    module = import_source(source, rubric.module, Path(tmp))
                finally:
                    result.import_s = time.perf_counter() - started
                    result.student_s += result.import_s
                return TimedModule(module, result)

        sink = io.StringIO()  # what the student prints (the sandbox sends it to a file instead)
        with pytest_extras(plugins=[timer]), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), \
                torch_threads(FLOOR_TORCH_THREADS):
            started = time.perf_counter()
            outcomes = run_rubric(rubric, factory)
            result.run_s = time.perf_counter() - started
    result.tests_s = timer.seconds if timer.tests else None
    result.total_s = result.run_s + submission.timeouts * rubric.limits.call_timeout_s
    result.outcomes = outcome_key(outcomes)
    result.score = build_report(rubric, outcomes, "cpu", result.run_s).score
    return result
