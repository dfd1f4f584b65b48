"""Diagnosis of wrong answers: the known mistake a failed case matches (named per function, never
costing points), the wrong-answer signature of each failed case, and `grader rubric check`'s proof
that each known mistake can be told from the right answer wherever it is used."""

from __future__ import annotations

import json
import math
import struct
import textwrap
from collections import namedtuple
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from grader.errors import GradingAborted, StudentFault
from grader.rubric.audit import audit_misconceptions
from grader.rubric.diagnosis import MAX_ROUNDED, _rounded, _rounded_float, _significant_digits, same_answer, signature
from grader.rubric.runner import run_rubric
from grader.rubric_spec import Question, Rubric, RubricError, Tolerance, load_rubric
from grader.sandbox.child import plain_sequences
from grader.scoring import MAX_FEEDBACK_LINES, GradeReport, build_report, score_question
from grader.scoring import TestOutcome as Outcome
from harness.samples import submission_source

RUBRIC = """
[assignment]
id = "diagnosis"
module = "diagnosis"
[checks]
rtol = 1e-4
atol = 1e-6
[[questions]]
id = "two"
points = 2
[[questions]]
id = "secret"
points = 1
visibility = "hidden"
"""

TESTS = """
import pytest
import torch
from grader.rubric import check_close, check_int, question

CASES = [pytest.param(n, id=f"n{n}") for n in (1, 2, 3)]

@question("two")
@pytest.mark.parametrize("n", CASES)
def test_double(student, n):
    x = torch.arange(float(n + 1))
    check_close(student.double(x), 2 * x, name="double()")

@question("two")
@pytest.mark.parametrize("n", CASES)
def test_count(student, n):
    check_int(student.count(n), n + 1, name="count()")

@question("two")
def test_count_by_assert(student):
    assert student.count(4) == 5

@question("secret")
def test_secret(student):
    check_close(student.double(torch.full((2,), 7.0)), torch.full((2,), 14.0), name="double()")
"""

REFERENCE = """
def double(x):
    return 2 * x

def count(n):
    return n + 1
"""

MISCONCEPTIONS = """
from grader.rubric import misconception

@misconception("double", id="square", title="squares instead of doubling", hint="twice x is x + x")
def square(x):
    return x * x

@misconception("count", id="one-short", title="one short", hint="both ends count")
def one_short(n):
    return n
"""


def make_rubric(directory: Path, misconceptions: str | None = MISCONCEPTIONS, tests: str = TESTS) -> Rubric:
    directory.mkdir()
    (directory / "rubric.toml").write_text(RUBRIC)
    (directory / "test_cases.py").write_text(textwrap.dedent(tests))
    (directory / "reference.py").write_text(textwrap.dedent(REFERENCE))
    if misconceptions is not None:
        (directory / "misconceptions.py").write_text(textwrap.dedent(misconceptions))
    return load_rubric(directory)


def grade(rubric: Rubric, **functions: object) -> GradeReport:
    outcomes = run_rubric(rubric, lambda: SimpleNamespace(**functions))
    return build_report(rubric, outcomes, device="cpu", execution_time=0.0)


def right_count(n: int) -> int:
    return n + 1


def test_each_function_of_a_question_is_diagnosed_on_its_own(tmp_path):
    report = grade(make_rubric(tmp_path / "r"), double=lambda x: x * x, count=lambda n: n)
    two = report.question("two")
    assert [m.id for m in two.misconceptions] == ["square", "one-short"]
    assert two.output.splitlines()[1:3] == [
        "double(): This matches a known mistake: squares instead of doubling; twice x is x + x",
        "count(): This matches a known mistake: one short; both ends count",
    ]
    assert two.score == 0.0  # what the tests decide; a named mistake costs nothing more


def test_a_named_mistake_costs_no_points_and_passing_cases_carry_nothing(tmp_path):
    rubric = make_rubric(tmp_path / "r")
    named = grade(rubric, double=lambda x: 2 * x, count=lambda n: n)  # count is wrong, one short
    unnamed = grade(rubric, double=lambda x: 2 * x, count=lambda n: n + 2)  # count is wrong another way
    assert named.question("two").score == unnamed.question("two").score == round(2 * 3 / 7, 4)
    assert [m.id for m in named.question("two").misconceptions] == ["one-short"]
    assert unnamed.question("two").misconceptions == () and "known mistake" not in unnamed.question("two").output
    assert all(t.extra_data == {} for t in named.tests if t.passed)


def test_a_mistake_is_named_only_if_every_wrong_answer_of_the_function_matches_it(tmp_path):
    rubric = make_rubric(tmp_path / "r")
    report = grade(rubric, double=lambda x: 2 * x, count=lambda n: n if n < 4 else 0)
    assert report.question("two").misconceptions == ()
    report = grade(rubric, double=lambda x: 2 * x, count=lambda n: n if n < 3 else n + 1)  # wrong on n1, n2 only
    assert [m.id for m in report.question("two").misconceptions] == ["one-short"]


def test_a_mistake_that_gives_the_right_answer_is_never_named(tmp_path):
    """Within the tolerance of a mistake that is within the tolerance of the right answer, yet
    outside the right answer's: the mistake cannot be told apart there, so it is not named."""
    almost = MISCONCEPTIONS + textwrap.dedent("""
        @misconception("double", id="almost", title="almost", hint="almost")
        def almost(x):
            return 2 * x + 0.9e-6
    """)
    rubric = make_rubric(tmp_path / "r", almost)
    report = grade(rubric, double=lambda x: 2 * x + 1.8e-6, count=right_count)
    assert report.question("two").score < 2 and report.question("two").misconceptions == ()
    assert all(t.answers[0].matches == () for t in report.tests if not t.passed)
    assert len(audit_misconceptions(rubric).problems) == 4  # the proof says so first: every case of double


def test_a_crash_on_one_case_shows_and_does_not_hide_the_mistake_of_the_others(tmp_path):
    def double(x):
        if len(x) == 3:
            raise StudentFault("double raised ValueError: no (line 3 of diagnosis.py)")
        return x * x

    report = grade(make_rubric(tmp_path / "r"), double=double, count=right_count)
    output = report.question("two").output
    assert [m.id for m in report.question("two").misconceptions] == ["square"]
    assert "- test_double[n2]: double raised ValueError: no (line 3 of diagnosis.py)" in output
    assert "- test_double[n1]: double(): largest error" in output
    crashed = next(t for t in report.tests if t.name == "test_double[n2]")
    assert crashed.fault and crashed.answers == ()


def test_every_message_names_the_function_it_is_about(tmp_path):
    report = grade(make_rubric(tmp_path / "r"), double=lambda x: 2 * x, count=lambda n: n)
    message = next(t.message for t in report.tests if t.name == "test_count_by_assert")
    assert message == "count(): check failed: assert 4 == 5"


def test_each_failed_case_carries_a_signature_of_its_wrong_answer(tmp_path):
    rubric = make_rubric(tmp_path / "r")
    double64 = grade(rubric, double=lambda x: x * x, count=right_count)
    double32 = grade(rubric, double=lambda x: (x * x).float().numpy(), count=right_count)
    other = grade(rubric, double=lambda x: x * x + 1, count=right_count)

    def signatures(report: GradeReport) -> dict[str, dict[str, str]]:
        return {t.name: t.extra_data["signature"] for t in report.tests if not t.passed}

    assert signatures(double64) == signatures(double32)  # the same wrong answers, whatever their precision
    assert set(signatures(other)) == set(signatures(double64))
    assert all(signatures(other)[name] != signatures(double64)[name] for name in signatures(other))
    entry = next(t for t in double64.to_gradescope()["tests"] if t["number"] == "two")
    assert entry["extra_data"]["misconception"] == "square"
    assert entry["extra_data"]["signature"]["test_double[n1]"] == signatures(double64)["test_double[n1]"]


def test_a_hidden_question_names_the_mistake_in_words_only(tmp_path):
    report = grade(make_rubric(tmp_path / "r"), double=lambda x: x * x, count=right_count)
    secret = report.question("secret")
    assert secret.output.splitlines()[1] == secret.misconceptions[0].sentence
    assert "7" not in secret.misconceptions[0].sentence and "49" not in secret.misconceptions[0].sentence


@pytest.mark.parametrize("actual, wrong, same", [
    (torch.tensor([1.0, 2.0]), np.array([1.0, 2.00001]), True),
    (torch.tensor([1.0, 2.0], dtype=torch.float32), torch.tensor([1.0, 2.0], dtype=torch.float64), True),
    (torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.01]), False),
    (torch.zeros(2, 3), torch.zeros(3, 2), False),
    ((8, 5.25, 2.75), [8, 5.25, 2.75], True),
    ((8, 5, 2), (8, 5.0, 2.0), False),  # an int is never a float's answer
    (5, 5.0, False),
    (torch.tensor(5), 5, True),
    ((torch.ones(2), torch.zeros(1)), (torch.ones(2), torch.zeros(1)), True),
    ((torch.ones(2),), (torch.ones(2), torch.zeros(1)), False),
    (float("nan"), float("nan"), True),
    ("a", "a", True),
    (None, 0, False),
])
def test_same_answer_compares_as_the_checks_do(actual, wrong, same):
    assert same_answer(actual, wrong, Tolerance(1e-4, 1e-6)) is same


def test_signatures_are_short_and_round_to_the_tolerance():
    tolerance = Tolerance(1e-4, 1e-6)
    digest = signature(torch.tensor([1.0, -2.5]), tolerance)
    assert len(digest) == 16 and int(digest, 16) >= 0
    assert signature(torch.tensor([1.0000001, -2.5000002]), tolerance) == digest
    assert signature(np.array([1.0, -2.5], dtype=np.float32), tolerance) == digest
    assert signature(torch.tensor([1.0, -2.6]), tolerance) != digest
    assert signature(torch.tensor([1e-9, -0.0]), tolerance) == signature(torch.zeros(2), tolerance)
    assert signature((8, 5, 2), tolerance) == signature([8, 5, 2], tolerance) != signature((8, 5.0, 2), tolerance)


CHECKS = Tolerance(1e-4, 1e-6)


# Signatures of answers with plain floats, as each float rounded alone made them: answer groups
# and stored signatures stay as they were however floats are rounded.
@pytest.mark.parametrize(("value", "tolerance", "digest"), [
    pytest.param(2.5, CHECKS, "79fede24819be7b8", id="a float"),
    pytest.param([1.0, -2.5, 3.14159265, 1e-9], CHECKS, "b7f9d9131226c48c", id="flat"),
    pytest.param((0.1, 2, 0.30000000000000004, True, None, "a"), CHECKS, "173ad3a7b1a28e18", id="mixed tuple"),
    pytest.param([math.nan, math.inf, -math.inf, -0.0, 1e300, -1e-300, 5e-324], CHECKS, "a49f39891d41b33a",
                 id="specials"),
    pytest.param([[0.5, [1.25, 2]], (3.0,), {"b": 0.25, "a": [7.5, 1]}], CHECKS, "9600afc3f3e148fb", id="nested"),
    pytest.param([0.5, torch.tensor([1.0, 2.0]), 1.5], CHECKS, "52b2b80071b3549d", id="beside tensors"),
    pytest.param([i / 7 for i in range(-300, 300)], Tolerance(), "a0cdd21bf08d840c", id="sevenths"),
    pytest.param([10.0 ** e for e in range(-320, 309)], Tolerance(), "ae9fefeceab28e72", id="powers of ten"),
    pytest.param([10.0 ** e for e in range(-320, 309)], Tolerance(1e-2, 0.0), "2c785c93f1dd4f58",
                 id="powers of ten, no atol"),
    pytest.param([torch.zeros(MAX_ROUNDED - 2), 0.1, 0.2, 0.3, 0.4], CHECKS, "6e08af4d77bcc293",
                 id="past the rounded entries"),
])
def test_signatures_of_plain_floats_are_as_they_were(value, tolerance: Tolerance, digest: str):
    assert signature(value, tolerance) == digest


# Where rounding is closest to a tie: powers of ten and their neighbours (log10 near an integer),
# halves at the last digit kept, subnormals, the largest float, and what is not finite.
EDGES = [math.nextafter(10.0 ** e, toward) for e in range(-323, 309) for toward in (0, 10.0 ** e, math.inf)]
EDGES += [sign * (n + 0.5) / 10 ** k for sign in (1, -1) for n in range(0, 100, 7) for k in range(8)]
EDGES += [5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 0.0, -0.0, math.inf, -math.inf, math.nan]


@pytest.mark.parametrize("tolerance", [Tolerance(), CHECKS, Tolerance(1e-2, 0.0), Tolerance(1e-30, 0.0)],
                         ids=["default", "checks", "no atol", "past float64's digits"])
def test_a_plain_float_rounds_to_the_bits_of_a_one_element_tensor(tolerance: Tolerance):
    """A float is rounded in Python, as torch rounds a tensor of one element (not of many, whose
    vectorized log10 and pow differ in the last bit), so its signature is the one it always had."""
    digits = _significant_digits(tolerance)
    alone = [_rounded(torch.tensor([x], dtype=torch.float64), tolerance).numpy().tobytes() for x in EDGES]
    assert [struct.pack("d", _rounded_float(x, digits, tolerance.atol)) for x in EDGES] == alone


def outcome(name: str, message: str, fault: bool = False) -> Outcome:
    return Outcome(name, "q", False, message, fault=fault)


def test_feedback_collapses_equal_messages_and_counts_them():
    question = Question(id="q", title="q", points=1)
    outcomes = [outcome("t[1]", "f(): wrong"), outcome("t[2]", "f(): wrong"), outcome("t[3]", "f(): wrong"),
                outcome("t[4]", "f(): other"), Outcome("t[5]", "q", True)]
    assert score_question(question, outcomes).output.splitlines() == [
        "1 of 5 checks passed.",
        "- t[1]: f(): wrong (and 2 more with the same message)",
        "- t[4]: f(): other",
    ]


def test_feedback_shows_crashes_and_wrong_answers_when_both_are_more_than_it_lists():
    question = Question(id="q", title="q", points=1)
    wrong = [outcome(f"t[{i}]", f"f(): largest error {i}") for i in range(MAX_FEEDBACK_LINES + 2)]
    crash = outcome("t[crash]", "f raised IndexError: out of range", fault=True)
    lines = score_question(question, [*wrong, crash]).output.splitlines()
    assert "- t[crash]: f raised IndexError: out of range" in lines
    assert sum(line.startswith("- ") for line in lines) == MAX_FEEDBACK_LINES
    assert lines[-1] == "... and 3 more failures"


@pytest.mark.parametrize("fault", [False, True], ids=["wrong answers", "crashes"])
def test_feedback_past_its_lines_of_one_kind_alone_lists_the_first_ones(fault: bool):
    question = Question(id="q", title="q", points=1)
    failures = [outcome(f"t[{i}]", f"f(): failure {i}", fault=fault) for i in range(MAX_FEEDBACK_LINES + 2)]
    lines = score_question(question, failures).output.splitlines()
    assert [line.split(":")[0] for line in lines if line.startswith("- ")] == [
        f"- t[{i}]" for i in range(MAX_FEEDBACK_LINES)]
    assert lines[-1] == "... and 2 more failures"


def test_reports_without_diagnosis_keep_their_shape():
    """A report built from outcomes made before diagnosis existed (stored ones, the engine's
    unusable-file outcomes) has no extra data, and its Gradescope entries no extra keys."""
    rubric_question = Question(id="q", title="q", points=1)
    result = score_question(rubric_question, [Outcome("t", "q", False, "bad")])
    assert result.misconceptions == () and Outcome("t", "q", False, "bad").extra_data == {}
    report = GradeReport("a", "h", "cpu", [result], [Outcome("t", "q", False, "bad")], 0.0)
    assert set(report.to_gradescope()["tests"][0]) == {
        "name", "number", "score", "max_score", "status", "output", "visibility"}


def test_student_sequences_arrive_as_plain_tuples_and_lists():
    Shape = namedtuple("Shape", "f h w")

    class Sneaky(list):
        def __iter__(self):
            return iter(["not", "these"])

    value = plain_sequences({"shape": torch.Size([8, 5, 2]), "named": Shape(1, 2, 3), "list": Sneaky([1, (2,)])})
    assert value == {"shape": (8, 5, 2), "named": (1, 2, 3), "list": [1, (2,)]}
    assert [type(v) for v in value.values()] == [tuple, tuple, list]


# The rubric author's proof (grader rubric check)


def test_the_proof_holds_for_distinct_mistakes(tmp_path):
    audit = audit_misconceptions(make_rubric(tmp_path / "r"))
    assert audit.problems == []
    assert (audit.misconceptions, audit.cases) == (2, 3 + 1 + 3 + 1)  # double: 3 + secret; count: 3 + the assert


def test_the_proof_finds_a_case_where_a_mistake_gives_the_right_answer(tmp_path):
    doubled = MISCONCEPTIONS + textwrap.dedent("""
        @misconception("count", id="doubled", title="doubled", hint="count, don't double")
        def doubled(n):
            return 2 * n
    """)
    problems = audit_misconceptions(make_rubric(tmp_path / "r", doubled)).problems
    assert problems == [
        "test_count[n1]: misconception 'doubled' of count() gives the reference's answer within the tolerance, so "
        "this case cannot tell them apart (a degenerate case: give it inputs where the mistake shows, or narrow the "
        "misconception's `when`)"]
    narrowed = doubled.replace('hint="count, don\'t double")', 'hint="count, don\'t double", when=lambda n: n > 1)')
    assert audit_misconceptions(make_rubric(tmp_path / "narrowed", narrowed)).problems == []


def test_the_proof_finds_a_mistake_that_is_never_named(tmp_path):
    narrow = MISCONCEPTIONS.replace('hint="both ends count")', 'hint="both ends count", when=lambda n: n == 2)')
    problems = audit_misconceptions(make_rubric(tmp_path / "r", narrow)).problems
    assert problems == [
        "question two: misconception 'one-short' of count() fails test_count[n1], test_count[n2], test_count[n3], "
        "test_count_by_assert but is not named: it also fails cases it is not used for (widen its `when`)"]


def test_the_proof_refuses_a_mistake_of_an_unknown_function(tmp_path):
    unknown = MISCONCEPTIONS + '\n@misconception("triple", id="x", title="t", hint="h")\ndef x(v):\n    return v\n'
    problems = audit_misconceptions(make_rubric(tmp_path / "r", unknown)).problems
    assert problems == ["misconceptions of triple(), which reference.py does not define"]


@pytest.mark.parametrize("misconceptions, message", [
    (MISCONCEPTIONS.replace('id="one-short"', 'id="square"'), "misconception id 'square' is used twice"),
    (MISCONCEPTIONS.replace('hint="both ends count"', 'hint=""'), "hint must be a non-empty string"),
    # Stored with each wrong answer it names: a longer one failed every grade's results on PostgreSQL.
    (MISCONCEPTIONS.replace('id="one-short"', f'id="{"x" * 101}"'), "id is 101 characters; at most 100"),
    (MISCONCEPTIONS.replace('@misconception("count"', f'@misconception("{"c" * 101}"'),
     "function is 101 characters; at most 100"),
    (MISCONCEPTIONS.replace('"count", id=', '"count", when=3, id='), "when must be a function"),
    (MISCONCEPTIONS + "import torchh\n",
     rf"misconceptions\.py:{MISCONCEPTIONS.count(chr(10)) + 1}: ModuleNotFoundError: No module named 'torchh'$"),
    (MISCONCEPTIONS + "def broken(:\n", rf"misconceptions\.py:{MISCONCEPTIONS.count(chr(10)) + 1}: SyntaxError: "),
])
def test_a_malformed_misconception_is_refused_when_the_rubric_loads(tmp_path, misconceptions, message):
    with pytest.raises(RubricError, match=message):
        grade(make_rubric(tmp_path / "r", misconceptions), double=lambda x: 2 * x, count=right_count)


def test_a_misconception_that_breaks_aborts_grading_as_the_rubric_s_fault(tmp_path):
    broken = MISCONCEPTIONS.replace("return n\n", "return n / 0\n")
    rubric = make_rubric(tmp_path / "r", broken)
    with pytest.raises(GradingAborted, match=r"misconception 'one-short' of count\(\) raised ZeroDivisionError"):
        grade(rubric, double=lambda x: 2 * x, count=lambda n: n)
    with pytest.raises(RubricError, match="raised ZeroDivisionError"):
        audit_misconceptions(rubric)


# Through the sandbox


def test_an_int_answer_given_as_a_float_is_told_how_to_fix_it(grade_attack):
    report = grade_attack("""
        import collections
        _size = conv_output_size
        _Shape = collections.namedtuple("Shape", "F H W")
        _shape = conv2d_output_shape
        def conv_output_size(*args):
            return np.float64(_size(*args))
        def conv2d_output_shape(*args, **kwargs):
            return _Shape(*(int(n) for n in _shape(*args, **kwargs)))
    """)
    assert report.question("1.1a").score == 1.0  # a namedtuple is a tuple
    output = report.question("1.1b").output
    assert "conv_output_size(): returned 8.0, a float: return an int (use // or int())" in output
    assert report.question("1.1b").misconceptions == ()  # right but for the type: no known mistake


def test_a_value_that_is_not_plain_data_is_said_so_in_a_sentence(grade_attack):
    report = grade_attack("""
        def initial_accuracy(num_classes):
            return {1 / num_classes}
    """)
    assert ("initial_accuracy() returned a value of type builtins.set, and builtins.set is not plain data "
            "(return tensors,") in report.question("1.3.4").output


def test_one_mistake_in_two_styles_has_one_signature(engine, hw2_rubric):
    float32 = submission_source("correct_float32")[1] + textwrap.dedent("""

        def conv1d_grad_W(x, W, grad_out, stride=1):
            windows = x.float().unfold(1, W.shape[2], stride)
            return windows.sum(dim=1)[None].expand(W.shape[0], -1, -1)
    """)
    reports = [engine.grade(submission_source("buggy_grad_W_ones")[1].encode(), "hw2.py", hw2_rubric),
               engine.grade(float32.encode(), "hw2.py", hw2_rubric)]
    entries = [next(t for t in r.to_gradescope()["tests"] if t["number"] == "1.1c.iv") for r in reports]
    assert entries[0]["extra_data"] == entries[1]["extra_data"]
    assert json.loads(json.dumps(entries[0]["extra_data"]))["misconception"] == "grad-W-ones-upstream"
