"""Manual grades on PostgreSQL with a real worker: a resubmission never drops them (they are carried,
marked, until confirmed), an override of an auto question keeps the tests' feedback visible, and a
grade above a question's lowered maximum counts as that maximum, marked, until graded again."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from grader.cli import app
from grader.config import get_settings
from grader.services import gradebook, manual_grades, publishing, submissions
from grader.services.errors import Forbidden
from grader.services.scores import ScoredQuestion
from tests.fixtures.services import WorkerProcess
from tests.service.helpers import WRONG_CONV2D, make_class, new_version, runs_of, set_points, upload, wait_finished

TIMEOUT_S = 120


def _questions(scored: list[ScoredQuestion]) -> dict[str, ScoredQuestion]:
    return {q.question_id: q for q in scored}


def test_manual_grades_are_carried_to_a_resubmission_marked_until_confirmed(
    postgres_db: Session, postgres_worker: WorkerProcess
) -> None:
    db = postgres_db
    klass = make_class(db)
    [student] = klass.students
    first = upload(db, student, klass.assignment, WRONG_CONV2D)
    wait_finished(db, [first.id], TIMEOUT_S)
    manual_grades.set_manual_grade(db, klass.instructor, first, "1.2.1a", 3, "neat diagram")
    manual_grades.set_manual_grade(db, klass.instructor, first, "1.1a", 0.5, "right idea")  # overrides the tests
    db.commit()

    second = upload(db, student, klass.assignment)
    wait_finished(db, [second.id], TIMEOUT_S)
    [row] = [r for r in gradebook.gradebook(db, klass.instructor, klass.assignment).rows if r.student.id == student.id]
    assert row.submission_id == second.id
    diagram = row.scores["1.2.1a"]
    assert (diagram.score, diagram.source, diagram.carried_from, diagram.comment) == (3, "carried", first.id,
                                                                                        "neat diagram")
    shape = row.scores["1.1a"]  # the new run scored it: the old override is shown, not applied
    assert (shape.score, shape.source, shape.carried_from) == (1, "auto", None)
    assert shape.earlier is not None and (shape.earlier.submission_id, shape.earlier.score) == (first.id, 0.5)
    assert row.total == 37 + 3
    book = gradebook.gradebook(db, klass.instructor, klass.assignment)
    header, _points, *rows = list(csv.reader(io.StringIO(gradebook.gradebook_csv(book))))
    [exported] = [dict(zip(header, r, strict=True)) for r in rows if student.email in r]
    assert exported["hw2 1.2.1a"] == "3" and exported["HW2"] == "40"
    seen = _questions(submissions.feedback(db, second, student).questions)  # the student's own view
    assert (seen["1.2.1a"].score, seen["1.2.1a"].source) == (3, "carried")

    manual_grades.set_manual_grade(db, klass.instructor, second, "1.2.1a", 3, "neat diagram")  # confirmed
    db.commit()
    confirmed = _questions(submissions.feedback(db, second, klass.instructor).questions)["1.2.1a"]
    assert (confirmed.score, confirmed.source, confirmed.carried_from) == (3, "manual", None)

    manual_grades.set_manual_grade(db, klass.instructor, second, "1.2.1a", 4, "")  # changed on the latest
    db.commit()
    third = upload(db, student, klass.assignment)
    wait_finished(db, [third.id], TIMEOUT_S)
    carried = _questions(submissions.feedback(db, third, klass.instructor).questions)["1.2.1a"]
    assert (carried.score, carried.source, carried.carried_from) == (4, "carried", second.id)
    earlier_view = _questions(submissions.feedback(db, first, klass.instructor).questions)["1.2.1a"]
    assert (earlier_view.score, earlier_view.source) == (3, "manual")  # later grades never reach back


def test_an_override_of_an_auto_question_keeps_its_feedback_visible(
    postgres_db: Session, postgres_worker: WorkerProcess
) -> None:
    db = postgres_db
    klass = make_class(db)
    [student] = klass.students
    submission = upload(db, student, klass.assignment, WRONG_CONV2D)
    wait_finished(db, [submission.id], TIMEOUT_S)
    [run] = runs_of(db, submission.id)
    auto = next(q for q in run.questions if q.question_id == "1.1a")
    assert auto.score == 0 and "expected 8, got 0" in auto.feedback

    manual_grades.set_manual_grade(db, klass.instructor, submission, "1.1a", 0.5, "right idea, wrong formula")
    db.commit()
    for viewer in (student, klass.instructor):
        shown = _questions(submissions.feedback(db, submission, viewer).questions)["1.1a"]
        assert (shown.score, shown.source, shown.auto_score) == (0.5, "manual", 0)
        assert shown.comment == "right idea, wrong formula" and shown.feedback == auto.feedback


def test_a_grade_above_a_lowered_maximum_counts_as_the_maximum_until_graded_again(quiet_db: Session) -> None:
    db = quiet_db  # no worker takes these uploads: hand-graded questions need no run
    rubrics_dir = get_settings().rubrics_dir
    rubric_id = new_version(rubrics_dir)
    klass = make_class(db, rubric_id=rubric_id)
    [student] = klass.students
    first = upload(db, student, klass.assignment)
    manual_grades.set_manual_grade(db, klass.instructor, first, "1.2.1a", 4, "full marks")
    manual_grades.set_manual_grade(db, klass.instructor, first, "1.2.1d", 1, "half")
    db.commit()
    second = upload(db, student, klass.assignment)  # carries both

    set_points(rubrics_dir / rubric_id, "1.2.1a", 3)  # the diagram is worth 3 now, not 4
    status = publishing.rubric_status(db, klass.instructor, klass.assignment)
    assert status.grades_over_new_max == 1  # told before publishing: only first's own grade of 1.2.1a
    published = CliRunner().invoke(app, ["rubric", "publish", "hw2", "--course", klass.course.code,
                                          "--by", klass.instructor.email])
    assert published.exit_code == 0, published.output
    assert ("1 manual grade(s) above their question's new points count as those points, marked ‡, until graded "
            "again on each submission's page" in published.output)
    db.expire_all()

    graded = _questions(submissions.feedback(db, first, klass.instructor).questions)
    assert (graded["1.2.1a"].score, graded["1.2.1a"].max_score, graded["1.2.1a"].source) == (3, 3, "manual")
    assert graded["1.2.1a"].capped_from == 4 and graded["1.2.1d"].capped_from is None
    carried = _questions(submissions.feedback(db, second, klass.instructor).questions)["1.2.1a"]
    assert (carried.score, carried.max_score, carried.source, carried.capped_from) == (3, 3, "carried", 4)
    seen = _questions(submissions.feedback(db, second, student).questions)["1.2.1a"]  # the staff's to settle
    assert (seen.score, seen.capped_from) == (3, None)
    book = gradebook.gradebook(db, klass.instructor, klass.assignment)
    [row] = [r for r in book.rows if r.student.id == student.id]
    # second is still queued: its carried grades are shown, capped, but it has no total until graded
    assert row.submission_id == second.id and row.scores["1.2.1a"].score == 3 and row.total is None
    header, _points, *rows = list(csv.reader(io.StringIO(gradebook.gradebook_csv(book))))
    [exported] = [dict(zip(header, r, strict=True)) for r in rows if student.email in r]
    assert exported["hw2 1.2.1a"] == "3" and exported["HW2"] == ""

    manual_grades.set_manual_grade(db, klass.instructor, second, "1.2.1a", 2.5, "")  # graded again: counts as given
    db.commit()
    regraded = _questions(submissions.feedback(db, second, klass.instructor).questions)["1.2.1a"]
    assert (regraded.score, regraded.source, regraded.capped_from) == (2.5, "manual", None)
    assert publishing.rubric_status(db, klass.instructor, klass.assignment).grades_over_new_max == 0

    set_points(rubrics_dir / rubric_id, "1.2.1a", 2)
    publishing.publish(db, klass.instructor, klass.assignment)
    db.commit()
    set_points(rubrics_dir / rubric_id, "1.2.1a", 3)  # raised again: first's 4 is still above the new points
    assert publishing.rubric_status(db, klass.instructor, klass.assignment).grades_over_new_max == 1


def test_the_manual_grade_command_removes_a_grade_given_by_mistake(quiet_db: Session) -> None:
    db = quiet_db  # no worker: hand-graded questions need no run
    klass = make_class(db)
    [student] = klass.students
    submission = upload(db, student, klass.assignment)
    manual_grades.set_manual_grade(db, klass.instructor, submission, "1.2.1a", 4, "wrong student")
    db.commit()
    cli = CliRunner()
    command = ["manual-grade", str(submission.id), "1.2.1a", "--remove"]

    refused = cli.invoke(app, [*command, "--by", student.email])
    assert refused.exit_code == 2 and "only" in refused.output
    removed = cli.invoke(app, [*command, "--by", klass.instructor.email])
    assert removed.exit_code == 0, removed.output
    assert f"submission {submission.id} question 1.2.1a: manual grade removed" in removed.output
    db.expire_all()
    shown = _questions(submissions.feedback(db, submission, klass.instructor).questions)["1.2.1a"]
    assert (shown.score, shown.source) == (None, None)  # waiting for a grade again
    again = cli.invoke(app, [*command, "--by", klass.instructor.email])
    assert again.exit_code == 2 and "no manual grade" in again.output
    both = cli.invoke(app, ["manual-grade", str(submission.id), "1.2.1a", "3", "--remove"])
    assert both.exit_code == 2 and "a score or --remove" in both.output
    with pytest.raises(Forbidden):
        manual_grades.remove_manual_grade(db, student, submission, "1.2.1a")
