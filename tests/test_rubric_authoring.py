"""What an author declares once takes effect in every test: the rubric's tolerances, `once`
values under their own names, and each test's weight within its question."""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from grader.errors import GradingAborted
from grader.rubric import CheckFailure, check_close, check_float
from grader.rubric.runner import run_rubric
from grader.rubric_spec import Question, Rubric, RubricError, load_rubric
from grader.scoring import GradeReport, build_report, score_question
from grader.scoring import TestOutcome as Outcome
from grader.services.results import _test_results

RUBRIC = """
[assignment]
id = "authoring"
module = "authoring"
[checks]
rtol = 1e-2
atol = 1e-6
[[questions]]
id = "loose"
points = 1
[[questions]]
id = "tight"
points = 1
rtol = 1e-6
[[questions]]
id = "weighted"
points = 4
"""


def make_rubric(directory: Path, tests: str, toml: str = RUBRIC) -> Rubric:
    directory.mkdir()
    (directory / "rubric.toml").write_text(toml)
    (directory / "test_authoring.py").write_text(textwrap.dedent(tests))
    (directory / "reference.py").write_text("")
    return load_rubric(directory)


def grade(rubric: Rubric, **functions: object) -> GradeReport:
    outcomes = run_rubric(rubric, lambda: SimpleNamespace(**functions))
    return build_report(rubric, outcomes, device="cpu", execution_time=0.0)


def scores(report: GradeReport) -> dict[str, float]:
    return {q.id: q.score for q in report.questions}


# Tolerances

TOLERANCE_TESTS = """
import torch
from grader.rubric import check_close, check_float, question

@question("loose")
def test_loose_close(student):
    check_close(student.value(), torch.ones(3))

@question("loose")
def test_loose_float(student):
    check_float(student.value()[0], 1.0)

@question("tight")
def test_tight_close(student):
    check_close(student.value(), torch.ones(3))

@question("tight")
def test_tight_but_this_test_allows_more(student):
    check_close(student.value(), torch.ones(3), rtol=1e-2)

@question("weighted")
def test_weighted(student):
    check_close(student.value(), torch.ones(3))
"""


def test_checks_use_the_rubric_tolerance_unless_the_question_or_the_call_sets_one(tmp_path):
    rubric = make_rubric(tmp_path / "tolerances", TOLERANCE_TESTS)
    report = grade(rubric, value=lambda: torch.full((3,), 1.001, dtype=torch.float64))  # 1e-3 off
    assert {t.name: t.passed for t in report.tests} == {
        "test_loose_close": True,  # [checks] rtol = 1e-2
        "test_loose_float": True,
        "test_tight_close": False,  # the question's own rtol = 1e-6
        "test_tight_but_this_test_allows_more": True,  # the call's rtol wins
        "test_weighted": True,
    }
    tight = next(t for t in report.tests if t.name == "test_tight_close")
    assert "rtol=1e-06, atol=1e-06" in tight.message


def test_outside_a_rubric_run_checks_use_their_defaults():
    with pytest.raises(CheckFailure, match="expected 1"):
        check_close(torch.full((3,), 1.001), torch.ones(3))
    with pytest.raises(CheckFailure, match="expected 1"):
        check_float(1.001, 1.0)
    check_close(torch.full((3,), 1.001), torch.ones(3), rtol=1e-2)


# once

ONCE_TESTS = """
from grader.rubric import question

@question("loose")
def test_order_depends_on_the_student(student, reference, once):
    if student.first():
        first, second = once("first", lambda: "one"), once("second", lambda: "two")
    else:
        second, first = once("second", lambda: "two"), once("first", lambda: "one")
    assert (first, second) == ("one", "two"), f"got {first}, {second}"

@question("tight")
def test_tight(student):
    pass

@question("weighted")
def test_weighted(student):
    pass
"""


def test_once_values_follow_their_names_not_the_order_of_the_calls(tmp_path):
    """The second submission makes the calls in the other order; it must get the same values."""
    rubric = make_rubric(tmp_path / "once", ONCE_TESTS)
    for first in (True, False, True):
        report = grade(rubric, first=lambda first=first: first)
        assert [(t.name, t.passed, t.message) for t in report.tests][0] == (
            "test_order_depends_on_the_student", True, "")


@pytest.mark.parametrize("call, message", [
    ('once("x", lambda: 1) + once("x", lambda: 2)', r"once\('x', \.\.\.\) is used twice in this test"),
    ("[once('x', lambda: i) for i in range(2)]", r"once\('x', \.\.\.\) is used twice in this test"),
    ("once(lambda: 1)", r'once takes a name and a function, e\.g\. once\("expected h", lambda: \.\.\.\)'),
    ('once(("x", 1), lambda: 1)', "once takes a name and a function"),
    # Cached, the first student's answer would be every later student's expected value.
    ('once("expected", lambda: student.first())',
     r"once\('expected', \.\.\.\) called the student's first\(\): compute expected values from `reference`"),
])
def test_a_misused_once_aborts_the_run_with_the_rubric_at_fault(tmp_path, call, message):
    """A rubric mistake must never turn into a student's lost points."""
    tests = ONCE_TESTS.replace("def test_tight(student):\n    pass",
                               f"def test_tight(student, once):\n    {call}")
    rubric = make_rubric(tmp_path / "once", tests)
    with pytest.raises(GradingAborted, match=r"test_authoring\.py::test_tight: " + message):
        grade(rubric, first=lambda: True)


# Weights

WEIGHT_TESTS = """
import pytest
import torch
from grader.rubric import check_shape, check_close, question

@question("loose")
def test_loose(student):
    pass

@question("tight")
def test_tight(student):
    pass

@question("weighted", weight=1)
def test_shape(student):
    check_shape(student.value(), (3,))

@question("weighted", weight=3)
def test_value(student):
    check_close(student.value(), torch.tensor([1.0, 2.0, 3.0]))
"""


def test_a_shape_test_of_weight_1_and_a_value_test_of_weight_3_earn_a_quarter_and_three_quarters(tmp_path):
    rubric = make_rubric(tmp_path / "weights", WEIGHT_TESTS)
    right = grade(rubric, value=lambda: torch.tensor([1.0, 2.0, 3.0]))
    shape_only = grade(rubric, value=lambda: torch.zeros(3))
    wrong_shape = grade(rubric, value=lambda: torch.zeros(2))
    assert [scores(r)["weighted"] for r in (right, shape_only, wrong_shape)] == [4.0, 1.0, 0.0]
    assert shape_only.question("weighted").passed_tests == 1 and shape_only.question("weighted").total_tests == 2


def test_stored_test_results_are_each_worth_their_weighted_share(tmp_path):
    rubric = make_rubric(tmp_path / "weights", WEIGHT_TESTS)
    rows = _test_results(7, grade(rubric, value=lambda: torch.zeros(3)))
    weighted = {row["name"]: (row["score"], row["max_score"]) for row in rows if row["question_id"] == "weighted"}
    assert weighted == {"test_shape": (1.0, 1.0), "test_value": (0.0, 3.0)}


def test_every_parametrized_case_carries_its_tests_weight(tmp_path):
    """Two cases of weight 3 and one test of weight 2: the cases earn 3/8 each of the 4 points."""
    tests = WEIGHT_TESTS.replace('@question("weighted", weight=1)', '@question("weighted", weight=2)').replace(
        '@question("weighted", weight=3)\ndef test_value(student):\n'
        '    check_close(student.value(), torch.tensor([1.0, 2.0, 3.0]))',
        '@question("weighted", weight=3)\n@pytest.mark.parametrize("n", [1, 2])\n'
        'def test_value(student, n):\n    assert n == 1, "only the first case passes"')
    rubric = make_rubric(tmp_path / "cases", tests)
    report = grade(rubric, value=lambda: torch.zeros(3))
    assert [(t.name, t.weight) for t in report.tests if t.question == "weighted"] == [
        ("test_shape", 2.0), ("test_value[1]", 3.0), ("test_value[2]", 3.0)]
    assert scores(report)["weighted"] == pytest.approx(4 * (2 + 3) / 8)


def test_without_weights_points_are_split_evenly_as_before():
    question = Question(id="q", title="q", points=3)
    outcomes = [Outcome(f"t{i}", "q", passed) for i, passed in enumerate((True, True, False, True))]
    result = score_question(question, outcomes)
    assert result.score == 2.25 and [result.share(o) for o in outcomes] == [0.75] * 4


def test_a_question_that_no_test_checked_is_not_reported_as_passed():
    """Nothing checked is nothing passed: the question reads failed, with no points and the reason
    (it had read "passed" with 0 points when an outside setting deselected every test)."""
    result = score_question(Question(id="q", title="q", points=3), [])
    assert (result.status, result.score, result.output) == ("failed", 0.0, "No test ran for this question.")


@pytest.mark.parametrize("marker, message", [
    ('@question("weighted", weight=0)', r"test_shape: weight: must be a positive finite number, got 0"),
    ('@question("weighted", weight=-1)', "weight: must be a positive finite number, got -1"),
    ('@question("weighted", weight=float("inf"))', "weight: must be a positive finite number, got inf"),
    ('@question("weighted", weight=float("nan"))', "weight: must be a positive finite number, got nan"),
    ('@question("weighted", weight=True)', "weight: must be a positive finite number, got True"),
    ('@question("weighted", weight="2")', "weight: must be a positive finite number, got '2'"),
    ('@pytest.mark.question("weighted", wieght=2)', r'test_shape: needs exactly one @question\("id"\) marker'),
])
def test_a_bad_weight_is_refused_with_a_clear_message(tmp_path, marker, message):
    rubric = make_rubric(tmp_path / "bad", WEIGHT_TESTS.replace('@question("weighted", weight=1)', marker))
    with pytest.raises(RubricError, match=message):
        grade(rubric, value=lambda: torch.zeros(3))
