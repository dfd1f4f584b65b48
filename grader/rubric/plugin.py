"""The pytest plugin that runs a rubric's tests in the trusted process and records each outcome.

Fixtures for rubric tests: `student` (the submission's module: a sandbox proxy when grading,
the reference itself when an author checks the rubric) and `reference` (the trusted solution).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from grader.rubric.checks import CheckFailure
from grader.rubric.spec import Rubric, RubricError
from grader.scoring import TestOutcome

MAX_MESSAGE_CHARS = 600


class StudentFault(Exception):
    """Raised in the trusted process when the student's code failed; the message is the feedback."""


def _message(exc: BaseException) -> str:
    if isinstance(exc, (CheckFailure, StudentFault)):
        text = str(exc)
    elif isinstance(exc, AssertionError):
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        text = f"check failed: {first_line}" if first_line else "check failed"
    else:
        text = f"checking the result raised {type(exc).__name__}: {exc}"
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 3] + "..."


class RubricPlugin:
    """Collects the rubric's tests, checks each names one auto question, and records outcomes."""

    def __init__(self, rubric: Rubric, student: Callable[[], Any], reference: ModuleType) -> None:
        self.rubric = rubric
        self._student = student
        self._reference = reference
        self.outcomes: list[TestOutcome] = []
        self.problems: list[str] = []
        self.internal_errors: list[str] = []
        self._question_of: dict[str, str] = {}

    @pytest.fixture(scope="session")
    def student(self) -> Any:
        return self._student()

    @pytest.fixture(scope="session")
    def reference(self) -> ModuleType:
        return self._reference

    def pytest_configure(self, config: pytest.Config) -> None:
        config.addinivalue_line("markers", "question(id): the rubric question this test grades")

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.problems.append(f"{report.nodeid}: could not be collected:\n{report.longreprtext}")

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        auto = {q.id for q in self.rubric.auto_questions}
        manual = {q.id for q in self.rubric.questions if not q.auto}
        for item in items:
            marks = list(item.iter_markers("question"))
            if len(marks) != 1 or len(marks[0].args) != 1:
                self.problems.append(f"{item.nodeid}: needs exactly one @question(\"id\") marker")
                continue
            qid = str(marks[0].args[0])
            if qid in manual:
                self.problems.append(f"{item.nodeid}: question {qid!r} is graded by hand, not by tests")
            elif qid not in auto:
                self.problems.append(f"{item.nodeid}: unknown question id {qid!r}")
            else:
                self._question_of[item.nodeid] = qid
        untested = auto - set(self._question_of.values())
        for qid in sorted(untested):
            self.problems.append(f"auto question {qid!r} has no test")
        if self.problems:
            items.clear()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo) -> Any:
        outcome = yield
        report = outcome.get_result()
        qid = self._question_of.get(item.nodeid)
        if qid is None:
            return
        name = item.name
        if call.when == "setup" and report.failed:
            self.internal_errors.append(f"{item.nodeid}: setup failed: {call.excinfo.exconly() if call.excinfo else ''}")
            self.outcomes.append(TestOutcome(name, qid, False, "internal grading error (the staff have been told)"))
        elif call.when == "call":
            if report.passed:
                self.outcomes.append(TestOutcome(name, qid, True))
            elif report.skipped:
                self.problems.append(f"{item.nodeid}: rubric tests may not skip")
            else:
                assert call.excinfo is not None
                self.outcomes.append(TestOutcome(name, qid, False, _message(call.excinfo.value)))

    def raise_problems(self) -> None:
        if self.problems:
            raise RubricError(f"rubric {self.rubric.assignment}: " + "\n".join(self.problems))
