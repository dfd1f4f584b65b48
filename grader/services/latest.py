"""Each enrolled student's latest submission to an assignment: what similarity runs compare (the
gradebook and the wrong-answer groups take the submission that counts by the assignment's rule
instead, see grader.services.standings). The staff's own uploads are left out."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grader.db.models import Assignment, CourseRole, Enrolment, Submission


def latest_submission_ids(db: Session, assignment: Assignment) -> list[int]:
    """The ids, ascending."""
    return sorted(db.scalars(
        select(func.max(Submission.id))
        .join(Enrolment, Enrolment.user_id == Submission.user_id)
        .where(Submission.assignment_id == assignment.id, Enrolment.course_id == assignment.course_id,
               Enrolment.role == CourseRole.student)
        .group_by(Submission.user_id)
    ))
