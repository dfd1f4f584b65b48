"""Staff scores (instructors' and TAs') for questions graded by hand (or overriding an auto score)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.db.base import utcnow
from grader.db.models import ManualGrade, Submission, User
from grader.services import rubrics
from grader.services.errors import NotFound, Rejected
from grader.services.permissions import require_grade


def _grade(db: Session, submission: Submission, question_id: str) -> ManualGrade | None:
    return db.scalar(
        select(ManualGrade).where(ManualGrade.submission_id == submission.id, ManualGrade.question_id == question_id)
    )


def set_manual_grade(
    db: Session, grader_user: User, submission: Submission, question_id: str, score: float, comment: str = ""
) -> ManualGrade:
    """Create or replace the grade; it records who gave it, when, and on which rubric version.
    Confirming a grade carried from an earlier submission is setting it here. Not committed."""
    assignment = submission.assignment
    require_grade(db, grader_user, assignment.course)
    rubric = rubrics.require_published(db, assignment)
    try:
        question = rubric.question(question_id)
    except KeyError:
        raise Rejected(422, f"{assignment.slug} has no question {question_id!r}") from None
    if not 0 <= score <= question.points:
        raise Rejected(422, f"question {question_id} is worth 0 to {question.points:g} points, not {score:g}")
    grade = _grade(db, submission, question_id)
    if grade is None:
        grade = ManualGrade(submission_id=submission.id, question_id=question_id)
        db.add(grade)
    grade.score = float(score)
    grade.comment = comment
    grade.grader_id = grader_user.id
    grade.rubric_hash = assignment.rubric_hash
    grade.graded_at = utcnow()
    db.flush()
    return grade


def remove_manual_grade(db: Session, grader_user: User, submission: Submission, question_id: str) -> None:
    """Remove a grade given by mistake: the run's score counts again for an auto question, and a
    question graded by hand waits for a grade (or shows one carried from an earlier submission).
    NotFound when there is none. Not committed."""
    require_grade(db, grader_user, submission.assignment.course)
    grade = _grade(db, submission, question_id)
    if grade is None:
        raise NotFound(f"submission {submission.id} has no manual grade for question {question_id!r}")
    db.delete(grade)
    db.flush()
