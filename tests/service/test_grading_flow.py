"""Upload -> PostgreSQL -> Redis -> a real worker -> scores, read back through the services."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy.orm import Session

from grader.db.models import RunStatus
from grader.services import gradebook, manual_grades, submissions
from grader.services.errors import Forbidden, NotFound, Rejected
from tests.fixtures.services import WorkerProcess
from tests.service.helpers import WRONG_CONV2D, make_class, runs_of, upload, wait_finished

GRADING_TIMEOUT_S = 120


def test_an_upload_is_graded_by_a_worker_and_reaches_the_gradebook(
    postgres_db: Session, postgres_worker: WorkerProcess
) -> None:
    db = postgres_db
    klass = make_class(db, students=2)
    student, other = klass.students
    submission = upload(db, student, klass.assignment)
    assert submission.status == "queued"

    assert wait_finished(db, [submission.id], GRADING_TIMEOUT_S) == {submission.id: "graded"}
    [run] = runs_of(db, submission.id)
    assert run.status == RunStatus.completed
    assert (run.score, run.max_score) == (37.0, 37.0)
    assert run.rubric_hash == klass.assignment.rubric_hash
    assert run.device == "cpu"
    assert run.worker_host.startswith(postgres_worker.name)
    assert len(run.tests) == 58 and all(t.status == "passed" for t in run.tests)  # every case, by name
    assert sum(t.score for t in run.tests) == pytest.approx(37.0)
    assert {t.question_id for t in run.tests} == {q.question_id for q in run.questions}

    book = gradebook.gradebook(db, klass.instructor, klass.assignment)
    rows = {row.student.id: row for row in book.rows}
    assert rows[student.id].submission_id == submission.id
    assert rows[student.id].total == 37.0
    assert rows[student.id].rubric_hash == klass.assignment.rubric_hash
    auto = [s for s in rows[student.id].scores.values() if s.grading == "auto"]
    assert auto and all(s.source == "auto" and s.rubric_hash == run.rubric_hash for s in auto)
    assert rows[other.id].submission_id is None and rows[other.id].total is None  # nothing graded: no total

    assert [r.id for r in submissions.runs_of(db, klass.instructor, submission)] == [run.id]
    with pytest.raises(Forbidden):
        submissions.runs_of(db, student, submission)

    staff_view = submissions.feedback(db, submission, klass.instructor)
    student_view = submissions.feedback(db, submission, student)
    assert "1.2.3d" in {q.question_id for q in staff_view.questions}  # hidden from students
    assert "1.2.3d" not in {q.question_id for q in student_view.questions}
    assert "1.1c.iv" not in {q.question_id for q in student_view.questions}  # after the due date
    assert student_view.rubric_hash == run.rubric_hash


def test_a_student_cannot_read_another_students_submission(postgres_db: Session) -> None:
    db = postgres_db
    klass = make_class(db, students=2)
    owner, other = klass.students
    submission = upload(db, owner, klass.assignment)

    with pytest.raises(Forbidden):
        submissions.get_submission(db, other, submission.id)
    with pytest.raises(Forbidden):
        submissions.feedback(db, submission, other)
    assert submission.id not in {s.id for s in submissions.submissions_of(db, other, klass.assignment)}
    with pytest.raises(Forbidden):
        gradebook.gradebook(db, other, klass.assignment)
    with pytest.raises(NotFound):
        submissions.get_submission(db, other, submission.id + 10_000)

    stranger = make_class(db).instructor  # teaches another course
    with pytest.raises(Forbidden):
        submissions.get_submission(db, stranger, submission.id)
    assert submissions.get_submission(db, owner, submission.id).id == submission.id
    assert submissions.get_submission(db, klass.instructor, submission.id).id == submission.id


def test_manual_grades_and_auto_scores_are_in_the_csv_export(
    postgres_db: Session, postgres_worker: WorkerProcess
) -> None:
    db = postgres_db
    klass = make_class(db, students=1)
    [student] = klass.students
    submission = upload(db, student, klass.assignment, WRONG_CONV2D)
    wait_finished(db, [submission.id], GRADING_TIMEOUT_S)
    [run] = runs_of(db, submission.id)

    manual_grades.set_manual_grade(db, klass.instructor, submission, "1.2.1a", 3, "diagram misses the gate")
    manual_grades.set_manual_grade(db, klass.instructor, submission, "1.3.1", 1)
    db.commit()
    with pytest.raises(Forbidden):
        manual_grades.set_manual_grade(db, student, submission, "1.3.2", 1)
    with pytest.raises(Rejected) as too_many:
        manual_grades.set_manual_grade(db, klass.instructor, submission, "1.3.2", 5)
    assert too_many.value.status_code == 422

    book = gradebook.gradebook(db, klass.instructor, klass.assignment)
    rows = list(csv.reader(io.StringIO(gradebook.gradebook_csv(book))))
    header, points, *students = rows
    assert points[0].strip() == "Points Possible" and points[-1] == "50"
    [row] = [dict(zip(header, r, strict=True)) for r in students if student.email in r]
    assert row["hw2 1.1a"] == "0"  # the auto score of the broken function
    assert row["hw2 1.1c.i"] == "1"
    assert row["hw2 1.2.1a"] == "3" and row["hw2 1.3.1"] == "1"  # manual grades
    assert row["hw2 1.3.2"] == ""  # not graded yet
    assert float(row[header[-1]]) == pytest.approx(run.score + 4)

    [stats] = [s for s in gradebook.question_stats(book) if s.id == "1.2.1a"]
    assert stats.mean == 3 and sum(stats.histogram) == 1
