"""The submission a student marks as the one that counts, for assignments that count `chosen`."""

from __future__ import annotations

from sqlalchemy.orm import Session

from grader.db.base import utcnow
from grader.db.models import ChosenSubmission, CountingRule, Submission, User
from grader.services.courses import require_open
from grader.services.errors import Rejected
from grader.services.permissions import require_grade


def choose(db: Session, viewer: User, submission: Submission) -> ChosenSubmission:
    """Mark `submission` (access already checked) as the one that counts for its student: by the
    student, or by the course's graders for them."""
    assignment = submission.assignment
    if submission.user_id != viewer.id:
        require_grade(db, viewer, assignment.course)
    require_open(assignment.course)
    if assignment.counts != CountingRule.chosen:
        raise Rejected(409, f"{assignment.title} counts the {assignment.counts} submission: "
                            "marking one changes nothing")
    choice = db.get(ChosenSubmission, (assignment.id, submission.user_id))
    if choice is None:
        choice = ChosenSubmission(assignment_id=assignment.id, user_id=submission.user_id)
        db.add(choice)
    choice.submission_id = submission.id
    choice.chosen_at = utcnow()
    db.flush()
    return choice
