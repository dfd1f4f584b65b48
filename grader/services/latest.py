"""Each enrolled student's latest submission to an assignment: what similarity runs compare and
wrong-answer groups group (the gradebook counts by the assignment's counting rule instead, see
grader.services.standings). The staff's own uploads are left out."""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from grader.db.models import Assignment, CourseRole, Enrolment, Submission


def _latest_ids(assignment: Assignment) -> Select[int]:
    return (
        select(func.max(Submission.id))
        .join(Enrolment, Enrolment.user_id == Submission.user_id)
        .where(Submission.assignment_id == assignment.id, Enrolment.course_id == assignment.course_id,
               Enrolment.role == CourseRole.student)
        .group_by(Submission.user_id)
    )


def latest_submission_ids(db: Session, assignment: Assignment) -> list[int]:
    """The ids, ascending."""
    return sorted(db.scalars(_latest_ids(assignment)))


def latest_submissions(db: Session, assignment: Assignment) -> dict[int, Submission]:
    """user id -> that student's latest submission."""
    return {s.user_id: s for s in db.scalars(select(Submission).where(Submission.id.in_(_latest_ids(assignment))))}
