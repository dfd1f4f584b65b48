"""Calls sent ahead of the tests: only calls every run makes alike, and never a change to a score."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

from grader.engine import Engine
from grader.rubric_spec import Rubric, load_rubric
from grader.sandbox.call_plan import CallPlan, MadeCall
from grader.sandbox.proxy import StudentModule

RUBRIC = """
[assignment]
id = "ahead"
module = "ahead"
total_points = 2
[limits]
call_timeout_s = 20
[[questions]]
id = "q1"
points = 1
[[questions]]
id = "q2"
points = 1
"""
TESTS = """
from grader.rubric import question

FIRST = {}

@question("q1")
def test_first(student):
    FIRST["answer"] = student.first()
    assert FIRST["answer"] == 1, "first() should be 1"

@question("q1")
def test_second_once_first_works(student):
    assert FIRST["answer"] == 1, "first() should be 1"
    assert student.second() == 2, "second() should be 2"

@question("q2")
def test_third(student):
    assert student.third() == 3, "third() should be 3"
"""
CORRECT = """
def first():
    return 1

def second():
    return 2

def third():
    return 3
"""
# first() is wrong, so second()'s test stops before it would call second(), which hangs.
HANGS_WHERE_NOT_CALLED = """
import time

def first():
    return 0

def second():
    time.sleep(600)

def third():
    return 3
"""


def make_rubric(directory: Path, tests: str = TESTS) -> Rubric:
    directory.mkdir()
    (directory / "rubric.toml").write_text(RUBRIC)
    (directory / "test_ahead.py").write_text(textwrap.dedent(tests))
    (directory / "reference.py").write_text(CORRECT)
    return load_rubric(directory)


def grade(engine: Engine, rubric: Rubric, source: str) -> dict[str, float]:
    report = engine.grade(textwrap.dedent(source).encode(), "ahead.py", rubric)
    return {q.id: q.score for q in report.questions}


def made(*requests: bytes, live: tuple[bytes, ...] = ()) -> list[MadeCall]:
    return [MadeCall(request, request not in live) for request in requests]


def test_a_call_is_sent_ahead_once_two_runs_made_it_alike():
    plan = CallPlan()
    plan.learn(made(b"a", b"b", b"c"))
    assert plan.ahead == [None, None, None]  # one run proves nothing
    plan.learn(made(b"a", b"x", b"c", b"d"))
    assert plan.ahead == [b"a", None, b"c", None]
    assert plan.run_from(0) == [b"a"]  # b varies: the test that makes it sends it
    assert plan.run_from(2) == [b"c"]
    assert (plan.find(b"c", 0), plan.find(b"a", 1), plan.find(b"x", 0)) == (2, None, None)
    plan.learn(made(b"a", b"x", b"c", b"d"))
    assert plan.run_from(1) == [b"x", b"c", b"d"]


def test_a_call_that_may_not_go_ahead_is_never_sent_ahead_however_often_it_is_made():
    """Of a secret question, or after a student answer came back in its test: always live."""
    plan = CallPlan()
    for _ in range(3):
        plan.learn(made(b"a", b"b", b"c", live=(b"b",)))
    assert plan.ahead == [b"a", None, b"c"]
    assert plan.run_from(0) == [b"a"] and plan.find(b"b", 0) is None


def test_the_sandbox_is_sent_the_calls_that_follow(engine: Engine, tmp_path: Path):
    rubric = make_rubric(tmp_path / "ahead")
    for _ in range(2):
        assert grade(engine, rubric, CORRECT) == {"q1": 1, "q2": 1}
    plan = engine._call_plan(rubric)
    assert all(plan.ahead) and len(plan.ahead) == 3
    box = engine._sandbox(CORRECT, "ahead", rubric.limits, "cpu", plan)
    try:
        student = StudentModule(box)
        assert student.first() == 1
        assert box.start().next_request == plan.ahead[1]  # second() and third() went out with first()
        assert (student.second(), student.third()) == (2, 3)
        assert box.start().next_request is None
    finally:
        box.close()


def test_a_call_sent_ahead_that_the_run_does_not_make_costs_nothing(engine: Engine, tmp_path: Path):
    """second() hangs, but its test stops before calling it: graded one call at a time it would
    never run, and sent ahead it must neither time out third() nor hold up the grade."""
    rubric = make_rubric(tmp_path / "ahead")
    for _ in range(2):
        grade(engine, rubric, CORRECT)
    started = time.monotonic()
    report = engine.grade(textwrap.dedent(HANGS_WHERE_NOT_CALLED).encode(), "ahead.py", rubric)
    assert time.monotonic() - started < rubric.limits.call_timeout_s
    scores = {q.id: (q.score, q.output) for q in report.questions}
    assert scores["q2"][0] == 1
    assert scores["q1"][0] == 0 and "first() should be 1" in scores["q1"][1]


def test_an_input_built_from_a_students_answer_is_never_sent_ahead(engine: Engine, tmp_path: Path):
    tests = """
        from grader.rubric import question

        @question("q1")
        def test_echo(student):
            value = student.first()
            assert student.echo(value) == value

        @question("q2")
        def test_third(student):
            assert student.third() == 3
    """
    rubric = make_rubric(tmp_path / "ahead", tests)
    for answer in (1, 2, 3):
        source = CORRECT + f"\ndef echo(v):\n    return v\n\nfirst = lambda: {answer}\n"
        assert grade(engine, rubric, source) == {"q1": 1, "q2": 1}
    plan = engine._call_plan(rubric)
    assert plan.ahead[1] is None  # echo(the student's answer) is made live, by its test
    assert plan.ahead[0] is not None and plan.ahead[2] is not None
