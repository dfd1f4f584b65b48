"""The safety net under the queue: submissions stuck without progress are sent again.

A message can vanish (a broker restarted without persistence, a worker killed outright), but the
submission is still queued or running in the database. Sending it again is always safe: the
worker's claim (grader.services.grading) lets only one attempt record a result.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from grader.db.base import utcnow
from grader.db.models import Assignment, Submission, SubmissionStatus
from grader.services import queue


def reconcile(db: Session, older_than_s: float) -> list[int]:
    """Re-enqueue submissions queued, or running without a heartbeat, for longer than `older_than_s`.

    Each one sent is stamped, so it is sent again at most once per `older_than_s`.
    """
    now = utcnow()
    cutoff = now - timedelta(seconds=older_than_s)
    stuck = db.execute(
        select(Submission.id, Submission.assignment_id)
        .where(
            Submission.updated_at <= cutoff,
            or_(
                Submission.status == SubmissionStatus.queued,
                and_(Submission.status == SubmissionStatus.running, Submission.heartbeat_at <= cutoff),
            ),
        )
        .order_by(Submission.id)
    ).all()
    if not stuck:
        return []
    ids = [row.id for row in stuck]
    db.execute(update(Submission).where(Submission.id.in_(ids)).values(updated_at=now))
    db.commit()
    by_assignment: dict[int, list[int]] = defaultdict(list)
    for row in stuck:
        by_assignment[row.assignment_id].append(row.id)
    for assignment_id, submission_ids in by_assignment.items():
        queue.enqueue(db.get_one(Assignment, assignment_id), submission_ids)
    return ids
