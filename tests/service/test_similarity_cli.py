"""`grader similarity`: an operator starts a run, watches it to the end and reads the pairs table."""

from __future__ import annotations

from collections.abc import Callable

from click.testing import Result
from sqlalchemy.orm import Session

from harness.samples import submission_source
from harness.variants import disguise
from tests.fixtures.services import WorkerProcess
from tests.service.helpers import make_class, upload

VECTORISED = submission_source("correct_vectorised")[1]
LOOPS = submission_source("correct_loops")[1]


def test_the_command_runs_a_comparison_and_prints_the_similar_pairs(
    postgres_db: Session, postgres_worker: WorkerProcess, grader_cli: Callable[..., Result]
) -> None:
    db = postgres_db
    klass = make_class(db, students=3)
    for student, text in zip(klass.students, (VECTORISED, LOOPS, disguise(VECTORISED, 8)), strict=True):
        upload(db, student, klass.assignment, text.encode())
    course, prof = klass.course.code, klass.instructor.email

    wide = {"COLUMNS": "200"}  # the whole table on one line per pair
    done = grader_cli("similarity", "hw2", "--course", course, "--threshold", "0.6", "--by", prof, env=wide)
    assert done.exit_code == 0, done.output
    assert "compared 3 submission(s)" in done.output
    assert "1 pair(s) at or above 0.6" in done.output
    row = next(line for line in done.output.splitlines() if klass.students[0].email in line)
    assert klass.students[2].email in row and klass.students[1].email not in done.output

    none = grader_cli("similarity", "hw2", "--course", course, "--threshold", "1", "--by", prof)
    assert none.exit_code == 0 and "No pair reached the threshold of 1." in none.output


def test_bad_input_exits_2_with_the_reason(postgres_db: Session, grader_cli: Callable[..., Result]) -> None:
    klass = make_class(postgres_db)
    course, prof, student = klass.course.code, klass.instructor.email, klass.students[0].email
    cases = [
        (["--threshold", "1.5", "--by", prof], "threshold"),
        (["--threshold", "nan", "--by", prof], "threshold"),
        (["--by", student], "only instructors"),
    ]
    for args, reason in cases:
        result = grader_cli("similarity", "hw2", "--course", course, *args)
        assert result.exit_code == 2 and "error:" in result.stderr and reason in result.stderr, result.output
    missing = grader_cli("similarity", "hw9", "--course", course, "--by", prof)
    assert missing.exit_code == 2 and "no assignment 'hw9'" in missing.stderr
