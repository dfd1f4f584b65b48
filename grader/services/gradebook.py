"""The instructor's gradebook: each student's submission that counts, scored per question, with
its lateness and credited total, as a table, CSV (per question, or totals only for Canvas), and
per-question statistics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.db.models import Assignment, Enrolment, User
from grader.services import rubrics
from grader.services.courses import students_of
from grader.services.histograms import Histogram, histogram
from grader.services.permissions import require_view_all
from grader.services.roster import CANVAS_COLUMNS
from grader.services.scores import ScoredQuestion
from grader.services.spreadsheet import csv_text
from grader.services.standings import standings

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class GradebookQuestion:
    id: str
    title: str
    grading: str
    max_score: float


@dataclass(frozen=True)
class GradebookRow:
    student: User
    roster: Enrolment  # the student's Canvas and SIS ids
    submission_id: int | None  # the submission that counts
    status: str | None
    scores: dict[str, ScoredQuestion]  # question id -> score, each with the rubric hash behind it
    rubric_hash: str | None  # of the run the auto scores come from
    stale: bool
    due_at: datetime | None  # the student's own
    extended: bool
    late_by: timedelta
    grace_days: int
    credit_percent: float
    total: float | None  # the raw total, before late credit; None until graded
    credited_total: float | None  # None until graded


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


def gradebook(db: Session, viewer: User, assignment: Assignment) -> Gradebook:
    require_view_all(db, viewer, assignment.course)
    rubric = rubrics.require_published(db, assignment)
    students = students_of(db, assignment.course)
    roster = {e.user_id: e for e in db.scalars(select(Enrolment).where(Enrolment.course_id == assignment.course_id))}
    table = standings(db, assignment, students)
    rows = []
    for student in students:
        counted = table[student.id].counted
        score = counted.score if counted else None
        rows.append(GradebookRow(
            student=student,
            roster=roster[student.id],
            submission_id=counted.submission.id if counted else None,
            status=counted.submission.status if counted else None,
            scores={q.question_id: q for q in score.questions} if score else {},
            rubric_hash=score.run.rubric_hash if score and score.run else None,
            stale=score.stale if score else False,
            due_at=table[student.id].due_at,
            extended=table[student.id].extended,
            late_by=counted.late_by if counted else timedelta(0),
            grace_days=counted.grace_days if counted else 0,
            credit_percent=counted.percent if counted else 100.0,
            total=counted.raw if counted else None,
            credited_total=counted.credited if counted else None,
        ))
    questions = [GradebookQuestion(q.id, q.title, q.grading, q.points) for q in rubric.questions]
    return Gradebook(assignment, assignment.rubric_hash, questions, rows)


def _points(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _identity(row: GradebookRow) -> list[str]:
    roster = row.roster
    return [row.student.name, roster.canvas_id or "", roster.sis_user_id or "",
            roster.sis_login_id or row.student.email, roster.section or ""]


def gradebook_csv(book: Gradebook, totals_only: bool = False) -> str:
    """Canvas's identity columns, a "Points Possible" row first as Canvas expects, and the credited
    total under the assignment's title. Canvas makes an assignment of every other column, so
    `totals_only` gives just that one; the full sheet adds each question's raw score, the raw total,
    the lateness in hours and the credit in percent, for review."""
    title = book.assignment.title
    if totals_only:
        rows = [[*CANVAS_COLUMNS, title], ["    Points Possible", "", "", "", "", _points(book.max_score)]]
        rows += [[*_identity(row), _points(row.credited_total)] for row in book.rows]
        return csv_text(rows)
    slug = book.assignment.slug
    rows = [
        [*CANVAS_COLUMNS, *(f"{slug} {q.id}" for q in book.questions), f"{slug} raw total", f"{slug} late (hours)",
         f"{slug} credit (%)", title],
        ["    Points Possible", "", "", "", "", *(_points(q.max_score) for q in book.questions),
         _points(book.max_score), "", "", _points(book.max_score)],
    ]
    for row in book.rows:
        cells = [_points(row.scores[q.id].score) if q.id in row.scores else "" for q in book.questions]
        submitted = row.submission_id is not None
        late = [f"{row.late_by / HOUR:.2f}", _points(row.credit_percent)] if submitted else ["", ""]
        rows.append([*_identity(row), *cells, _points(row.total), *late,
                     _points(row.credited_total)])
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
    """Of the students whose submission that counts is graded: their totals (one still queued, or
    failed, has none yet, and a 0 would pull the mean down)."""
    return _stats(TOTAL, [row.total for row in book.rows if row.total is not None], book.max_score)
