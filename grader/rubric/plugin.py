"""The pytest plugin that runs a rubric's tests in the trusted process and records each outcome.

Fixtures for rubric tests: `student` (the submission's module: a sandbox proxy when grading,
the reference itself when an author checks the rubric), `reference` (the trusted solution) and
`once` (expected values computed for the first submission only).

A failed case is diagnosed (grader/rubric/diagnosis.py): its message is made to name the student
function it is about, and its wrong answers get a signature and the known mistakes they match.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from contextvars import Token
from types import ModuleType
from typing import Any, Literal, TypeVar

import pytest

from grader.errors import GradingAborted, StudentFault
from grader.rubric.checks import CheckFailure, current_tolerance
from grader.rubric.diagnosis import Call, RecordingStudent, culprits, diagnose
from grader.rubric.misconceptions import EMPTY, Catalog
from grader.rubric_spec import (
    MAX_CASE_NAME_CHARS,
    Question,
    Rubric,
    RubricError,
    Tolerance,
    check_length,
    positive_number,
)
from grader.scoring import TestOutcome

T = TypeVar("T")
MAX_MESSAGE_CHARS = 600
PLUGIN_KEY = pytest.StashKey["RubricPlugin"]()


def _marked_question(item: pytest.Item) -> tuple[str, float]:
    """The item's question id and weight, or a RubricError saying what is wrong with its marker."""
    marks = list(item.iter_markers("question"))
    if len(marks) != 1 or len(marks[0].args) != 1 or set(marks[0].kwargs) - {"weight"}:
        raise RubricError(f"{item.nodeid}: needs exactly one @question(\"id\") marker (optionally weight=...)")
    return str(marks[0].args[0]), positive_number(marks[0].kwargs.get("weight", 1), f"{item.nodeid}: weight")


def _message(exc: BaseException, functions: list[str]) -> str:
    """The student's feedback for a failed case, naming the functions it is about (unless the
    check's own words already do)."""
    if isinstance(exc, (CheckFailure, StudentFault)):
        text = str(exc)
    elif isinstance(exc, AssertionError):
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        text = f"check failed: {first_line}" if first_line else "check failed"
    else:
        text = f"checking the result raised {type(exc).__name__}: {exc}"
    unnamed = [f for f in dict.fromkeys(functions) if not re.search(rf"\b{re.escape(f)}\b", text)]
    if unnamed:
        text = f"{', '.join(f + '()' for f in unnamed)}: {text}"
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 3] + "..."


class RubricPlugin:
    """Checks each collected test names one auto question, and records outcomes per submission."""

    def __init__(self, rubric: Rubric, reference: ModuleType, misconceptions: Catalog = EMPTY) -> None:
        self.rubric = rubric
        self._reference = reference
        self.misconceptions = misconceptions
        self.calls: list[Call] = []  # the running test's calls to the student's code
        self._student: Callable[[], Any] | None = None
        self._on_test: Callable[[Question], None] | None = None
        self._outcomes: list[TestOutcome] = []
        self._internal_errors: list[str] = []
        self.problems: list[str] = []
        self._question_of: dict[str, str] = {}
        self._weight_of: dict[str, float] = {}
        self._tolerance_token: Token[Tolerance] | None = None
        self.memo: dict[tuple[str, str], Any] = {}  # `once` values, for this rubric version's lifetime

    def start(self, student: Callable[[], Any], on_test: Callable[[Question], None] | None = None) -> None:
        self._student, self._on_test, self._outcomes, self._internal_errors = student, on_test, [], []

    def finish(self) -> list[TestOutcome]:
        if self._internal_errors:
            raise GradingAborted("\n".join(self._internal_errors))
        return self._outcomes

    def make_student(self) -> Any:
        assert self._student is not None, "no submission is being graded"
        return RecordingStudent(self._student(), lambda: self.calls)

    @property
    def reference_module(self) -> ModuleType:
        return self._reference

    def pytest_configure(self, config: pytest.Config) -> None:
        config.addinivalue_line("markers", "question(id, weight=1): the rubric question this test grades")
        config.stash[PLUGIN_KEY] = self

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.problems.append(f"{report.nodeid}: could not be collected:\n{report.longreprtext}")

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        auto = {q.id for q in self.rubric.auto_questions}
        manual = {q.id for q in self.rubric.questions if not q.auto}
        for item in items:
            try:
                check_length(item.name, MAX_CASE_NAME_CHARS, "the test case name", item.nodeid)
                qid, self._weight_of[item.nodeid] = _marked_question(item)
            except RubricError as exc:
                self.problems.append(str(exc))
                continue
            if qid in manual:
                self.problems.append(f"{item.nodeid}: question {qid!r} is graded by hand, not by tests")
            elif qid not in auto:
                self.problems.append(f"{item.nodeid}: unknown question id {qid!r}")
            else:
                self._question_of[item.nodeid] = qid
        for qid in sorted(auto - set(self._question_of.values())):
            self.problems.append(f"auto question {qid!r} has no test")
        if self.problems:
            items.clear()
        # Least secret first: a sandbox that answered a hidden question's calls never answers a
        # visible one's, so this order needs the fewest fresh sandboxes (sorting is stable).
        items.sort(key=lambda item: self.rubric.question(self._question_of[item.nodeid]).secrecy)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """Tell the student proxy whose calls follow, and the checks whose tolerance applies
        (before fixtures, which may call and check too)."""
        question = self.rubric.question(self._question_of[item.nodeid])
        self._tolerance_token = current_tolerance.set(question.tolerance)
        self.calls = []
        if self._on_test is not None:
            self._on_test(question)

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        if self._tolerance_token is not None:
            current_tolerance.reset(self._tolerance_token)
            self._tolerance_token = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
        """Record the outcome, and make a light report: pytest's own renders a traceback with
        source for every failure, slowly, and nobody reads it here."""
        excinfo, when = call.excinfo, call.when
        assert when != "collect"  # a runtest hook: setup, call or teardown
        outcome: Literal["passed", "failed"] = "passed" if excinfo is None else "failed"
        qid, weight = self._question_of[item.nodeid], self._weight_of[item.nodeid]
        if when == "setup" and excinfo is not None:
            self._internal_errors.append(f"{item.nodeid}: setup failed: {excinfo.exconly()}")
        elif when == "call":
            if excinfo is None:
                self._outcomes.append(TestOutcome(item.name, qid, True, weight=weight))
            elif excinfo.errisinstance(pytest.skip.Exception):
                self._internal_errors.append(f"{item.nodeid}: rubric tests may not skip")
            elif excinfo.errisinstance(RubricError):  # the test misuses the rubric API: not the student's fault
                self._internal_errors.append(f"{item.nodeid}: {excinfo.value}")
            else:
                self._outcomes.append(self._failed(item.name, qid, weight, excinfo.value))
        elif when == "teardown" and excinfo is not None:
            self._internal_errors.append(f"{item.nodeid}: teardown failed: {excinfo.exconly()}")
        return pytest.TestReport(
            item.nodeid, item.location, {}, outcome, None if excinfo is None else excinfo.exconly(),
            when, [], call.duration, call.start, call.stop,
        )

    def _failed(self, name: str, qid: str, weight: float, failure: BaseException) -> TestOutcome:
        """A failed case, diagnosed: the calls it is about, their wrong answers and known mistakes."""
        about = culprits(self.calls, failure)
        functions = [call.function for call in about]
        try:
            answers = diagnose(about, failure, self.rubric.question(qid).tolerance, self.misconceptions,
                               self._reference)
        except RubricError as exc:  # a broken misconception is the rubric's fault, never the student's
            self._internal_errors.append(f"{name}: {exc}")
            answers = ()
        return TestOutcome(name, qid, False, _message(failure, functions), weight,
                           fault=isinstance(failure, StudentFault), answers=answers)

    def raise_problems(self) -> None:
        if self.problems:
            raise RubricError(f"rubric {self.rubric.assignment}: " + "\n".join(self.problems))


@pytest.fixture(scope="session")
def student(request: pytest.FixtureRequest) -> Any:
    """The submission's module (re-made for every submission: the session is torn down between)."""
    return request.config.stash[PLUGIN_KEY].make_student()


@pytest.fixture(scope="session")
def reference(request: pytest.FixtureRequest) -> ModuleType:
    """The trusted reference solution of this rubric version."""
    return request.config.stash[PLUGIN_KEY].reference_module


def _without_the_student(plugin: RubricPlugin, key: str, make: Callable[[], T]) -> T:
    """`make()`, refused if it called the student: `once` keeps the value for every later
    submission, so a student's answer would become everyone's expected value."""
    before = len(plugin.calls)
    value = make()
    if len(plugin.calls) > before:
        raise RubricError(f"once({key!r}, ...) called the student's {plugin.calls[before].function}(): "
                          "compute expected values from `reference`")
    return value


@pytest.fixture
def once(request: pytest.FixtureRequest) -> Callable[[str, Callable[[], T]], T]:
    """`once("expected h", lambda: ...)`: computed for the first submission graded with this rubric
    version, then reused, so reference work is not redone for every student. Values are keyed by
    the test case and the name given, never by the call's order, so reordering calls cannot swap
    them; a name may be used once per test case. Each call gets its own copy, so nothing a test
    (or a student, through a test) does to a value can spoil it for the next submission."""
    plugin = request.config.stash[PLUGIN_KEY]
    memo = plugin.memo
    used: set[str] = set()

    def compute(key: str, make: Callable[[], T] | None = None) -> T:
        if not isinstance(key, str) or make is None or not callable(make):
            raise RubricError('once takes a name and a function, e.g. once("expected h", lambda: ...)')
        if key in used:
            raise RubricError(f"once({key!r}, ...) is used twice in this test; give each value its own name")
        used.add(key)
        memo_key = (request.node.nodeid, key)
        if memo_key not in memo:
            memo[memo_key] = _without_the_student(plugin, key, make)
        value: T = copy.deepcopy(memo[memo_key])
        return value

    return compute
