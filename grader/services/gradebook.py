"""The instructor's gradebook: each student's latest submission, scored per question, as a table,
a Canvas-importable CSV, and per-question statistics."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grader.db.models import Assignment, CourseRole, Enrolment, Submission, User
from grader.services.courses import require_instructor
from grader.services.histograms import Histogram, histogram
from grader.services.rubrics import load_assignment_rubric
from grader.services.scores import ScoredQuestion, score_submissions
from grader.services.spreadsheet import csv_text

# Canvas matches rows on these columns; "SIS Login ID" carries the email, the Canvas ID is unknown here.
CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


@dataclass(frozen=True)
class GradebookQuestion:
    id: str
    title: str
    grading: str
    max_score: float


@dataclass(frozen=True)
class GradebookRow:
    student: User
    submission_id: int | None
    status: str | None
    scores: dict[str, ScoredQuestion]  # question id -> score, each with the rubric hash behind it
    rubric_hash: str | None  # of the run the auto scores come from
    stale: bool

    @property
    def total(self) -> float:
        return round(sum(s.score or 0.0 for s in self.scores.values()), 4)


@dataclass(frozen=True)
class Gradebook:
    assignment: Assignment
    rubric_hash: str
    questions: list[GradebookQuestion]
    rows: list[GradebookRow]

    @property
    def max_score(self) -> float:
        return round(sum(q.max_score for q in self.questions), 4)


@dataclass(frozen=True)
class QuestionStats:
    id: str  # a question's, or TOTAL for the totals
    mean: float | None
    max_score: float
    distribution: Histogram

    @property
    def histogram(self) -> list[int]:
        """Counts over equal ranges of [0, max_score]."""
        return self.distribution.counts


TOTAL = "total"


def students_of(db: Session, assignment: Assignment) -> list[User]:
    """The students of the assignment's course, by name."""
    return list(db.scalars(
        select(User).join(Enrolment, Enrolment.user_id == User.id)
        .where(Enrolment.course_id == assignment.course_id, Enrolment.role == CourseRole.student)
        .order_by(User.name, User.email)
    ))


def latest_submissions(db: Session, assignment: Assignment, students: list[User]) -> dict[int, Submission]:
    """user id -> that student's latest submission to the assignment (the one that is graded)."""
    latest_ids = (
        select(func.max(Submission.id))
        .where(Submission.assignment_id == assignment.id, Submission.user_id.in_([s.id for s in students]))
        .group_by(Submission.user_id)
    )
    return {s.user_id: s for s in db.scalars(select(Submission).where(Submission.id.in_(latest_ids)))}


def gradebook(db: Session, viewer: User, assignment: Assignment) -> Gradebook:
    require_instructor(db, viewer, assignment.course)
    rubric = load_assignment_rubric(assignment.rubric_id)
    students = students_of(db, assignment)
    latest = latest_submissions(db, assignment, students)
    scores = score_submissions(db, assignment, rubric, list(latest.values()), texts=False)
    rows = []
    for student in students:
        submission = latest.get(student.id)
        score = scores[submission.id] if submission else None
        rows.append(GradebookRow(
            student=student,
            submission_id=submission.id if submission else None,
            status=submission.status if submission else None,
            scores={q.question_id: q for q in score.questions} if score else {},
            rubric_hash=score.run.rubric_hash if score and score.run else None,
            stale=score.stale if score else False,
        ))
    questions = [GradebookQuestion(q.id, q.title, q.grading, q.points) for q in rubric.questions]
    return Gradebook(assignment, assignment.rubric_hash, questions, rows)


def _points(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def gradebook_csv(book: Gradebook) -> str:
    """One column per question and one for the total, under Canvas's identity columns, with a
    "Points Possible" row first as Canvas expects."""
    slug = book.assignment.slug
    rows = [
        [*CANVAS_COLUMNS, *(f"{slug} {q.id}" for q in book.questions), book.assignment.title],
        ["    Points Possible", "", "", "", "", *(_points(q.max_score) for q in book.questions),
         _points(book.max_score)],
    ]
    for row in book.rows:
        cells = [_points(row.scores[q.id].score) if q.id in row.scores else "" for q in book.questions]
        total = _points(row.total) if row.submission_id is not None else ""
        rows.append([row.student.name, "", "", row.student.email, "", *cells, total])
    return csv_text(rows)


def _stats(key: str, scores: list[float], max_score: float) -> QuestionStats:
    mean = round(sum(scores) / len(scores), 4) if scores else None
    return QuestionStats(key, mean, max_score, histogram(scores, max_score))


def question_stats(book: Gradebook) -> list[QuestionStats]:
    return [
        _stats(question.id, [s.score for row in book.rows
                             if (s := row.scores.get(question.id)) and s.score is not None], question.max_score)
        for question in book.questions
    ]


def total_stats(book: Gradebook) -> QuestionStats:
    """Of the students who submitted: their totals."""
    return _stats(TOTAL, [row.total for row in book.rows if row.submission_id is not None], book.max_score)
