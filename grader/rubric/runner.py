"""Run a rubric's pytest tests in this (trusted) process against one student module.

Collecting a rubric costs far more than running it (it imports and rewrites every test file), so a
`RubricSuite` collects each rubric version once, in a pytest session that lives in its own
thread, and re-runs the collected items for every submission.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from _pytest.runner import runtestprotocol

from grader.errors import GradingAborted
from grader.rubric import plugin as plugin_module
from grader.rubric.files import import_rubric_file
from grader.rubric.misconceptions import load_misconceptions
from grader.rubric.plugin import RubricPlugin
from grader.rubric_spec import Question, Rubric, RubricError
from grader.scoring import TestOutcome

__all__ = ["GradingAborted", "RubricSuite", "load_reference", "run_rubric", "suite_for"]

EMPTY_INI = Path(__file__).with_name("pytest.ini")
JOB_TIMEOUT_S = 3600


def _ignore_pytest_environment() -> None:
    """pytest takes options and plugins from the environment too; a score must not depend on who
    started the grader (a PYTEST_ADDOPTS of `-k nothing` would score every submission 0). They
    are dropped from the grading process for good: a pytest run already going read them at its start."""
    for name in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS"):
        os.environ.pop(name, None)
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"


@lru_cache(maxsize=8)
def _load_reference(path: Path, content_hash: str) -> ModuleType:
    return import_rubric_file(path, f"grader_reference_{content_hash}")


def load_reference(rubric: Rubric) -> ModuleType:
    """The trusted reference solution, imported once per rubric version."""
    path = rubric.directory / "reference.py"
    if not path.is_file():
        raise RubricError(f"{rubric.directory}: no reference.py")
    return _load_reference(path, rubric.content_hash)


class _Job:
    def __init__(self, student: Callable[[], Any], on_test: Callable[[Question], None] | None) -> None:
        self.student, self.on_test = student, on_test
        self.done = threading.Event()
        self.outcomes: list[TestOutcome] = []
        self.error: BaseException | None = None


class RubricSuite:
    """One rubric version's collected tests, ready to run against any number of submissions."""

    def __init__(self, rubric: Rubric) -> None:
        self.rubric = rubric
        self.plugin = RubricPlugin(rubric, load_reference(rubric), load_misconceptions(rubric))
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name=f"rubric-{rubric.assignment}", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            self._thread.join()
            raise self._failure

    def _main(self) -> None:
        _ignore_pytest_environment()
        before = set(sys.modules)
        args = [
            *(str(p) for p in self.rubric.test_files),
            "--rootdir", str(self.rubric.directory), "-c", str(EMPTY_INI),
            "--import-mode=importlib", "--capture=no",
            # Plugins that cost time on every item and that nobody reads here.
            "-p", "no:cacheprovider", "-p", "no:terminal", "-p", "no:stepwise", "-p", "no:faulthandler",
            "-p", "no:logging", "-p", "no:warnings", "-p", "no:threadexception", "-p", "no:unraisableexception",
        ]
        try:
            exit_code = pytest.main(args, plugins=[self.plugin, self, plugin_module])
            if self._failure is None and exit_code not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
                self._failure = GradingAborted(f"pytest stopped with {exit_code!r}")
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, never lost in this thread
            self._failure = exc
        finally:
            self._forget_test_modules(before)
            self._ready.set()

    def _forget_test_modules(self, before: set[str]) -> None:
        """pytest names test modules by their path inside the rubric ("test_conv") and would reuse
        a cached one: forget them, or the next version (or hw3's test_conv.py) would get these."""
        for name in set(sys.modules) - before:
            file = getattr(sys.modules[name], "__file__", None)
            if file and Path(file).is_relative_to(self.rubric.directory):
                del sys.modules[name]

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        try:
            self.plugin.raise_problems()
        except RubricError as exc:
            self._failure = exc
            return True
        items = list(session.items)
        self._ready.set()
        while (job := self._jobs.get()) is not None:
            try:
                self.plugin.start(job.student, job.on_test)
                for index, item in enumerate(items):
                    runtestprotocol(item, log=False, nextitem=items[index + 1] if index + 1 < len(items) else None)
                job.outcomes = self.plugin.finish()
            except BaseException as exc:  # noqa: BLE001
                job.error = exc
            finally:
                job.done.set()
        return True

    def run(self, student: Callable[[], Any], on_test: Callable[[Question], None] | None = None) -> list[TestOutcome]:
        """Every test's outcome; `student` builds the object the `student` fixture returns, and
        `on_test` hears which question each test grades before it starts."""
        if not self._thread.is_alive():
            raise GradingAborted(f"the test session of rubric {self.rubric.assignment} has stopped")
        job = _Job(student, on_test)
        self._jobs.put(job)
        if not job.done.wait(JOB_TIMEOUT_S):
            raise GradingAborted("the rubric run did not finish")
        if job.error is not None:
            raise job.error
        return job.outcomes

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join()


_suites: dict[Path, RubricSuite] = {}
_suites_lock = threading.Lock()


def suite_for(rubric: Rubric) -> RubricSuite:
    """The collected suite of this rubric version; at most one lives per process, since test
    modules of two rubrics (or two versions of one) would share names in sys.modules."""
    with _suites_lock:
        current = _suites.get(rubric.directory)
        if current is not None and current.rubric.content_hash == rubric.content_hash:
            return current
        for old in _suites.values():
            old.close()
        _suites.clear()
        _suites[rubric.directory] = RubricSuite(rubric)
        return _suites[rubric.directory]


def run_rubric(rubric: Rubric, student: Callable[[], Any],
               on_test: Callable[[Question], None] | None = None) -> list[TestOutcome]:
    """Every test's outcome for one submission; `student` builds the `student` fixture's value."""
    return suite_for(rubric).run(student, on_test)
