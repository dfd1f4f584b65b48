"""What student code may learn about the tests: no call's inputs before the call is made, nothing
of a hidden question in what a visible one shows, and no other student's answers.

Each attack is a submission graded after correct ones, once the engine has learned the rubric's
calls (the state in which calls are sent ahead of the tests)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from grader.engine import Engine
from grader.rubric_spec import Rubric, load_rubric
from grader.scoring import GradeReport

SECRET_HIDDEN = 987654321
SECRET_LATE = 55443322

RUBRIC = """
[assignment]
id = "secrecy"
module = "secrecy"
total_points = 4
[limits]
call_timeout_s = 20
[[questions]]
id = "q1"
points = 1
[[questions]]
id = "q2"
points = 1
visibility = "hidden"
[[questions]]
id = "q3"
points = 1
visibility = "after_due_date"
[[questions]]
id = "q4"
points = 1
"""
# Visible questions come before and after the secret ones, as they may in any rubric.
TESTS = f"""
from grader.rubric import question

@question("q1")
def test_first(student):
    assert student.first() == 1, "first() should be 1"

@question("q2")
def test_hidden(student):
    assert student.double({SECRET_HIDDEN}) == {2 * SECRET_HIDDEN}, "double() is wrong"

@question("q3")
def test_late(student):
    assert student.double({SECRET_LATE}) == {2 * SECRET_LATE}, "double() is wrong"

@question("q4")
def test_last(student):
    assert student.last() == 4, "last() should be 4"
"""
CORRECT = """
def first():
    return 1

def double(x):
    return 2 * x

def last():
    return 4
"""
# Reads every request queued on its channel without taking it (MSG_PEEK), and prints them.
PEEK = """
import os
import socket

def peek_channel():
    seen = b""
    for fd in range(3, 64):
        try:
            sock = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        try:
            seen += sock.recv(1 << 20, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except OSError:
            pass
        finally:
            sock.close()
    return seen
"""
PEEKS_AND_PRINTS = PEEK + """
def first():
    print("queued:", peek_channel())
    return 1

def double(x):
    return 2 * x

def last():
    print("queued:", peek_channel())
    return 4
"""
# Prints its inputs where they arrive, and again (from memory) in the visible question after them.
PRINTS_ITS_INPUTS = """
SEEN = []

def first():
    return 1

def double(x):
    SEEN.append(x)
    print("double got", x)
    return 2 * x

def last():
    print("inputs seen so far:", SEEN)
    return 4
"""


def make_rubric(directory: Path, rubric: str = RUBRIC, tests: str = TESTS, reference: str = CORRECT) -> Rubric:
    directory.mkdir()
    (directory / "rubric.toml").write_text(rubric)
    (directory / "test_secrecy.py").write_text(textwrap.dedent(tests))
    (directory / "reference.py").write_text(textwrap.dedent(reference))
    return load_rubric(directory)


def grade(engine: Engine, rubric: Rubric, source: str) -> GradeReport:
    return engine.grade(textwrap.dedent(source).encode(), f"{rubric.module}.py", rubric)


def learned(engine: Engine, rubric: Rubric, source: str = CORRECT) -> None:
    """Grade correct submissions until the engine knows the rubric's calls."""
    for _ in range(3):
        report = grade(engine, rubric, source)
        assert report.score == report.max_score


def shown_to_student(report: GradeReport) -> str:
    """Everything a student may see before the due date: the CLI's results.json with the secret
    questions removed, as the service shows them, and what their code printed outside any question."""
    document = report.to_gradescope()
    document["tests"] = [t for t in document["tests"] if t["visibility"] == "visible"]
    return json.dumps(document) + report.student_output


def test_requests_of_secret_questions_cannot_be_peeked_at(engine: Engine, tmp_path: Path):
    rubric = make_rubric(tmp_path / "secrecy")
    learned(engine, rubric)
    report = grade(engine, rubric, PEEKS_AND_PRINTS)
    assert report.score == report.max_score
    visible = shown_to_student(report)
    assert "queued:" in visible  # the printing did happen, and is shown where it belongs
    assert str(SECRET_HIDDEN) not in visible
    assert str(SECRET_LATE) not in visible


def test_output_of_a_secret_question_is_shown_only_with_it(engine: Engine, tmp_path: Path):
    rubric = make_rubric(tmp_path / "secrecy")
    report = grade(engine, rubric, PRINTS_ITS_INPUTS)
    visible = shown_to_student(report)
    assert str(SECRET_HIDDEN) not in visible and str(SECRET_LATE) not in visible
    assert "inputs seen so far: []" in report.question("q4").printed  # q4 ran where nothing secret had been
    assert f"double got {SECRET_HIDDEN}" in report.question("q2").printed  # instructors see all of it
    assert f"double got {SECRET_LATE}" in report.question("q3").printed
    assert str(SECRET_HIDDEN) not in report.question("q3").printed


ANSWER = 4242
CHAINED_RUBRIC = """
[assignment]
id = "chained"
module = "chained"
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
# g's test feeds it the student's own f(); f's answer is what a student must work out.
CHAINED_TESTS = f"""
from grader.rubric import question

@question("q1")
def test_f(student):
    assert student.f() == {ANSWER}, "f() is wrong"

@question("q2")
def test_g_of_f(student):
    y = student.f()
    assert student.g(y) == y + 1, "g() is wrong"
"""
CHAINED_CORRECT = f"""
def f():
    return {ANSWER}

def g(y):
    return y + 1
"""
# Implements nothing: f() returns whatever argument the queued g() request carries.
COPIES_FROM_THE_QUEUE = PEEK + """
import re

def f():
    found = re.search(rb'"g"\\W{0,8}"args"\\W{0,4}(-?\\d+)', peek_channel())
    return int(found.group(1)) if found else None

def g(y):
    return y + 1
"""


def test_a_previous_students_answer_is_never_sent_ahead(engine: Engine, tmp_path: Path):
    rubric = make_rubric(tmp_path / "chained", CHAINED_RUBRIC, CHAINED_TESTS, CHAINED_CORRECT)
    learned(engine, rubric, CHAINED_CORRECT)
    report = grade(engine, rubric, COPIES_FROM_THE_QUEUE)
    assert report.question("q1").score == 0
    assert report.score == 0


@pytest.mark.parametrize("source", [PEEKS_AND_PRINTS, PRINTS_ITS_INPUTS])
def test_scores_are_those_of_one_call_at_a_time(engine: Engine, tmp_path: Path, source: str):
    """Sending ahead and the fresh sandboxes that secrecy needs change no score."""
    rubric = make_rubric(tmp_path / "secrecy")
    before = {q.id: q.score for q in grade(engine, rubric, source).questions}
    learned(engine, rubric)
    after = {q.id: q.score for q in grade(engine, rubric, source).questions}
    assert before == after == {"q1": 1, "q2": 1, "q3": 1, "q4": 1}


OUTPUT_KB = 1
# A small output limit, so a few prints fill it.
SMALL_OUTPUT_RUBRIC = RUBRIC.replace("call_timeout_s = 20", f"call_timeout_s = 20\nmax_output_kb = {OUTPUT_KB}")
CUT_NOTE = f"[output cut: only the last {OUTPUT_KB} KB a submission prints are kept]\n"


def prints(visible: int, late: int, hidden: int) -> str:
    """A correct submission printing `visible` characters at import and in each visible question's
    call, `late` in the after_due_date question's and `hidden` in the hidden one's."""
    return f"""
    print("i" * {visible}, end="")

    def first():
        print("f" * {visible}, end="")
        return 1

    def double(x):
        print("#" * {hidden} if x == {SECRET_HIDDEN} else "~" * {late}, end="")
        return 2 * x

    def last():
        print("l" * {visible}, end="")
        return 4
    """


def printed_before_release(report: GradeReport) -> tuple[str, ...]:
    """What a student sees of the printed output before the due date."""
    return report.student_output, report.question("q1").printed, report.question("q4").printed


def kept(printed: str) -> int:
    """How many characters of what was printed were kept (the cut note is not)."""
    return len(printed.removeprefix(CUT_NOTE))


@pytest.mark.parametrize("visible", [100, 600])  # within the limit in all, and over it
def test_printed_output_shown_does_not_depend_on_secret_output(engine: Engine, tmp_path: Path, visible: int):
    """The output limit is spent on what a student sees first: how much of it is cut must not
    tell them how much a question they may not see printed (a number computed from its input)."""
    rubric = make_rubric(tmp_path / "secrecy", SMALL_OUTPUT_RUBRIC)
    reports = {(late, hidden): grade(engine, rubric, prints(visible, late, hidden))
               for late in (0, 700) for hidden in (0, 3000)}
    assert len({printed_before_release(report) for report in reports.values()}) == 1
    for late in (0, 700):
        assert reports[late, 0].question("q3").printed == reports[late, 3000].question("q3").printed
    for report in reports.values():
        everything = [report.student_output, *(q.printed for q in report.questions)]
        assert sum(kept(text) for text in everything) <= OUTPUT_KB * 1024


def test_secret_output_is_kept_within_what_the_shown_output_leaves(engine: Engine, tmp_path: Path):
    rubric = make_rubric(tmp_path / "secrecy", SMALL_OUTPUT_RUBRIC)
    report = grade(engine, rubric, prints(100, 700, 3000))
    assert printed_before_release(report) == ("i" * 100, "f" * 100, "l" * 100)
    assert report.question("q3").printed == "~" * 700
    assert report.question("q2").printed == CUT_NOTE + "#" * (OUTPUT_KB * 1024 - 1000)


def test_shown_output_over_the_limit_keeps_its_latest_part(engine: Engine, tmp_path: Path):
    rubric = make_rubric(tmp_path / "secrecy", SMALL_OUTPUT_RUBRIC)
    report = grade(engine, rubric, prints(600, 700, 3000))
    assert printed_before_release(report) == (CUT_NOTE, CUT_NOTE + "f" * (OUTPUT_KB * 1024 - 600), "l" * 600)
    assert report.question("q3").printed == report.question("q2").printed == CUT_NOTE


def crashes_in_the_late_question(crash: bool) -> str:
    """Prints at import, and its after_due_date call ends the sandbox or not, as a secret input
    could decide: the hidden call after it is answered by a fresh sandbox, which imports again."""
    return f"""
    import os

    print("imported")

    def first():
        return 1

    def double(x):
        if x == {SECRET_LATE} and {crash}:
            os._exit(3)
        return 2 * x

    def last():
        return 4
    """


def test_a_sandbox_started_in_a_secret_question_prints_its_import_with_it(engine: Engine, tmp_path: Path):
    """What the fresh sandbox prints while imported would otherwise show as printed at import: how
    many times it shows would tell whether a secret call crashed."""
    rubric = make_rubric(tmp_path / "secrecy")
    survives, crashes = (grade(engine, rubric, crashes_in_the_late_question(crash)) for crash in (False, True))
    assert crashes.question("q3").score == 0 and crashes.question("q2").score == 1
    assert printed_before_release(crashes) == printed_before_release(survives) == ("imported\n", "", "")
    assert crashes.question("q2").printed == "imported\n"  # the hidden question's fresh sandbox
