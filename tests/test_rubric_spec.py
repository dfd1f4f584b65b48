"""The rubric loader and the collection checks fail with messages that say what to fix."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from grader.rubric.runner import run_rubric
from grader.rubric_spec import Limits, RubricError, Tolerance, load_rubric

RUBRIC = """
[assignment]
id = "demo"
module = "demo"
total_points = 3
[limits]
call_timeout_s = 5
[[questions]]
id = "q1"
points = 2
[[questions]]
id = "q2"
points = 1
grading = "manual"
visibility = "hidden"
"""
TESTS = """
from grader.rubric import question, check_int

@question("q1")
def test_add(student, reference):
    check_int(student.add(1, 2), reference.add(1, 2))
"""


def make_rubric(tmp_path: Path, toml: str = RUBRIC, tests: str = TESTS) -> Path:
    (tmp_path / "rubric.toml").write_text(textwrap.dedent(toml))
    (tmp_path / "test_demo.py").write_text(textwrap.dedent(tests))
    (tmp_path / "reference.py").write_text("def add(a, b):\n    return a + b\n")
    return tmp_path


def test_a_valid_rubric_loads_with_its_questions_limits_and_hash(tmp_path):
    rubric = load_rubric(make_rubric(tmp_path))
    assert [q.id for q in rubric.questions] == ["q1", "q2"]
    assert rubric.question("q2").visibility == "hidden" and not rubric.question("q2").auto
    assert rubric.limits == Limits(call_timeout_s=5)
    assert (rubric.auto_points, rubric.total_points) == (2, 3)
    assert len(rubric.content_hash) == 16
    assert rubric.question("q1").tolerance == Tolerance()  # no [checks]: the checks' defaults


def test_checks_tolerances_apply_to_every_question_unless_it_overrides_them(tmp_path):
    toml = RUBRIC.replace("[limits]", "[checks]\nrtol = 1e-4\natol = 1e-6\n[limits]").replace(
        'grading = "manual"', 'grading = "manual"\nrtol = 1e-2')
    rubric = load_rubric(make_rubric(tmp_path, toml=toml))
    assert rubric.question("q1").tolerance == Tolerance(rtol=1e-4, atol=1e-6)
    assert rubric.question("q2").tolerance == Tolerance(rtol=1e-2, atol=1e-6)


def test_the_hash_changes_with_the_tests_but_not_the_handout(tmp_path):
    directory = make_rubric(tmp_path)
    before = load_rubric(directory).content_hash
    (directory / "handout").mkdir()
    (directory / "handout" / "demo.py").write_text("def add(a, b):\n    raise NotImplementedError\n")
    assert load_rubric(directory).content_hash == before
    (directory / "test_demo.py").write_text(TESTS + "\n# a changed test\n")
    assert load_rubric(directory).content_hash != before


@pytest.mark.parametrize("toml, message", [
    (RUBRIC.replace("total_points = 3", "total_points = 4"), "questions add up to 3 points but total_points is 4"),
    (RUBRIC.replace('grading = "manual"', 'grading = "robot"'), "'robot' is not one of auto, manual"),
    (RUBRIC.replace('visibility = "hidden"', 'visibility = "secret"'), "is not one of visible, hidden, after_due_date"),
    (RUBRIC.replace('id = "q2"', 'id = "q1"'), "question id 'q1' appears twice"),
    (RUBRIC.replace("points = 2", "points = -2"), "points: must be a positive finite number"),
    (RUBRIC.replace("call_timeout_s = 5", "call_timeout = 5"), "unknown keys call_timeout"),
    (RUBRIC.replace("[assignment]", "[assignment"), "rubric.toml"),
    (RUBRIC.replace("points = 2", "points = inf"), "points: must be a positive finite number, got inf"),
    (RUBRIC.replace("call_timeout_s = 5", "call_timeout_s = nan"), r"\[limits\] call_timeout_s: must be a positive"),
    (RUBRIC + "[checks]\nrtol = 0\n", r"\[checks\] rtol: must be a positive finite number, got 0"),
    (RUBRIC + "[checks]\natol = -1e-6\n", r"\[checks\] atol: must be a positive finite number, got -1e-06"),
    (RUBRIC + "[checks]\nrtol = \"1e-4\"\n", "rtol: must be a positive finite number, got '1e-4'"),
    (RUBRIC + "[checks]\natol = true\n", "atol: must be a positive finite number, got True"),
    (RUBRIC + "[checks]\nrtol = inf\n", "rtol: must be a positive finite number, got inf"),
    (RUBRIC + "[checks]\nrtoll = 1e-4\n", r"\[checks\]: unknown keys rtoll \(known: rtol, atol\)"),
    ("checks = 1e-4\n" + RUBRIC, r"\[checks\] must be a table"),
    (RUBRIC.replace('grading = "manual"', "atol = 0"), "question 'q2' atol: must be a positive finite number, got 0"),
    (RUBRIC.replace('visibility = "hidden"', 'visiblity = "hidden"'),
     r"question 'q2': unknown keys visiblity \(known: id, title, points, grading, visibility, rtol, atol\)"),
    (RUBRIC.replace('grading = "manual"', "rtoll = 1e-3"), "question 'q2': unknown keys rtoll"),
    (RUBRIC.replace("total_points = 3", "total_point = 3"), r"\[assignment\]: unknown keys total_point \(known: id,"),
    (RUBRIC + "[check]\nrtol = 1e-4\n",
     r"rubric.toml: unknown keys check \(known: assignment, checks, limits, questions\)"),
    (RUBRIC.replace("[limits]", "[limit]"), "rubric.toml: unknown keys limit"),
    # The database keeps at most 50 characters of a question id and 300 of a title.
    (RUBRIC.replace('id = "q2"', f'id = "{"q" * 51}"'), f"question '{'q' * 51}': id is 51 characters; at most 50"),
    (RUBRIC.replace('id = "q2"', f'id = "q2"\ntitle = "{"t" * 301}"'),
     "question 'q2': title is 301 characters; at most 300"),
    (RUBRIC.replace("total_points = 3", 'total_points = "3 points"'),
     r"\[assignment\] total_points: must be a positive finite number, got '3 points'"),
    (RUBRIC.replace("total_points = 3", "total_points = [3]"),
     r"\[assignment\] total_points: must be a positive finite number, got \[3\]"),
    (RUBRIC.replace("total_points = 3", 'auto_points = "2"'),
     r"\[assignment\] auto_points: must be a positive finite number, got '2'"),
])
def test_bad_rubric_toml_is_refused_with_a_clear_message(tmp_path, toml, message):
    with pytest.raises(RubricError, match=message):
        load_rubric(make_rubric(tmp_path, toml=toml))


def run_reference(directory: Path) -> None:
    rubric = load_rubric(directory)
    run_rubric(rubric, lambda: __import__("types").SimpleNamespace(add=lambda a, b: a + b))


@pytest.mark.parametrize("tests, message", [
    (TESTS.replace('@question("q1")', '@question("q9")'), "unknown question id 'q9'"),
    (TESTS.replace('@question("q1")\n', ""), "needs exactly one @question"),
    (TESTS.replace('@question("q1")', '@question("q2")'), "question 'q2' is graded by hand"),
    (TESTS.replace('@question("q1")', '@question("q1")\n@question("q1")'), "needs exactly one @question"),
    (TESTS + "\n@question('q1')\ndef test_broken(:\n    pass\n", "could not be collected"),
    (TESTS.replace('@question("q1")', f'@pytest.mark.parametrize("n", [1], ids=["{"n" * 292}"])\n@question("q1")')
     .replace("def test_add(student, reference):", "def test_add(student, reference, n):")
     .replace("from grader.rubric", "import pytest\nfrom grader.rubric"),
     r"test_add\[n+\]: the test case name is 302 characters; at most 300"),
])
def test_bad_rubric_tests_are_refused_with_a_clear_message(tmp_path, tests, message):
    with pytest.raises(RubricError, match=message):
        run_reference(make_rubric(tmp_path, tests=tests))


@pytest.mark.parametrize("reference, message", [
    ("def add(a, b):\n    return a +\n", r"reference\.py:2: SyntaxError: invalid syntax$"),
    ("from math import relu_helper\n", r"reference\.py:1: ImportError: cannot import name 'relu_helper' from 'math'"),
])
def test_a_reference_that_does_not_import_is_refused_naming_the_file_and_line(tmp_path, reference, message):
    directory = make_rubric(tmp_path)
    (directory / "reference.py").write_text(reference)
    with pytest.raises(RubricError, match=message):
        run_reference(directory)


def test_an_auto_question_without_tests_is_refused(tmp_path):
    toml = RUBRIC + '\n[[questions]]\nid = "q3"\npoints = 1\n'
    with pytest.raises(RubricError, match="auto question 'q3' has no test"):
        run_reference(make_rubric(tmp_path, toml=toml.replace("total_points = 3", "total_points = 4")))


def test_a_changed_rubric_is_used_at_once_in_the_same_process(tmp_path):
    """A long-running worker must grade with the tests of the rubric version it was given."""
    directory = make_rubric(tmp_path)
    student = __import__("types").SimpleNamespace(add=lambda a, b: a + b + 1)
    before = run_rubric(load_rubric(directory), lambda: student)
    (directory / "test_demo.py").write_text(TESTS.replace("check_int(student.add(1, 2), reference.add(1, 2))",
                                                          "check_int(student.add(1, 2), 4)"))
    after = run_rubric(load_rubric(directory), lambda: student)
    assert [o.passed for o in before] == [False] and [o.passed for o in after] == [True]


def test_once_computes_expected_values_for_the_first_submission_only(tmp_path):
    directory = make_rubric(tmp_path, tests=TESTS.replace(
        "check_int(student.add(1, 2), reference.add(1, 2))",
        "check_int(student.add(1, 2), once('sum', lambda: reference.add(1, 2)))").replace(
        "def test_add(student, reference):", "def test_add(student, reference, once):"))
    calls = []

    class Student:
        @staticmethod
        def add(a, b):
            calls.append((a, b))
            return a + b

    rubric = load_rubric(directory)
    reference = __import__("grader.rubric.runner", fromlist=["load_reference"]).load_reference(rubric)
    original = reference.add
    computed = []
    reference.add = lambda a, b: computed.append(1) or original(a, b)
    try:
        for _ in range(3):
            assert [o.passed for o in run_rubric(rubric, lambda: Student)] == [True]
    finally:
        reference.add = original
    assert len(calls) == 3 and len(computed) == 1
