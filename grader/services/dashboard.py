"""A course at a glance for its staff: per assignment, who submitted and where the grading stands."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import and_, distinct, func, select
from sqlalchemy.orm import Session

from grader.db.models import Assignment, Course, Submission, SubmissionStatus, User
from grader.services.courses import assignments_of, student_ids
from grader.services.permissions import require_view_all


@dataclass(frozen=True)
class AssignmentProgress:
    assignment: Assignment
    students: int  # who submitted at least once
    submissions: int
    graded: int
    failed: int
    queued: int  # waiting for a worker or being graded


def course_progress(db: Session, viewer: User, course: Course) -> list[AssignmentProgress]:
    """Every assignment of the course, oldest first, with its submission counts (two queries).

    Only the current students' submissions count, as on the scores page: staff test uploads and
    dropped students' work would make the numbers disagree with the roster.
    """
    require_view_all(db, viewer, course)
    in_course = and_(Submission.assignment_id.in_(select(Assignment.id).where(Assignment.course_id == course.id)),
                     Submission.user_id.in_(student_ids(course)))
    by_status: dict[int, dict[SubmissionStatus, int]] = defaultdict(dict)
    for assignment_id, status, count in db.execute(
        select(Submission.assignment_id, Submission.status, func.count()).where(in_course)
        .group_by(Submission.assignment_id, Submission.status)
    ):
        by_status[assignment_id][status] = count
    students = dict(db.execute(
        select(Submission.assignment_id, func.count(distinct(Submission.user_id))).where(in_course)
        .group_by(Submission.assignment_id)
    ).all())
    progress = []
    for assignment in assignments_of(db, course):
        counts = by_status[assignment.id]
        progress.append(AssignmentProgress(
            assignment=assignment,
            students=students.get(assignment.id, 0),
            submissions=sum(counts.values()),
            graded=counts.get(SubmissionStatus.graded, 0),
            failed=counts.get(SubmissionStatus.failed, 0),
            queued=counts.get(SubmissionStatus.queued, 0) + counts.get(SubmissionStatus.running, 0),
        ))
    return progress
