"""The safety net under the queue: submissions and similarity runs stuck without progress are sent
again, a bounded number of times.

A message can vanish (a broker down when it was sent, a broker restarted without persistence, a
worker killed outright), but the submission is still queued or running in the database. Sending
it again is always safe: the worker's claim (grader.services.claims) lets only one attempt record
a result.

A running submission whose heartbeat is older than the run lease has lost its worker: its
attempt is given up (the run lost, the submission queued again) and it is sent at once, so it
waits about two leases (the beat runs this twice a lease), not `reconcile_after_s`. Queued work
waits `reconcile_after_s` between sends, and is not sent forever when no worker claims it (none
takes its queue, or each fails before the claim): every such send is counted in `sends` (a claim
or a new grade request starts the count again), and once it has been sent `reconcile_sends` times
the request ends failed, with a reason its student and the staff see. Queued work that waits its
turn behind a busy queue (grader.services.queue_progress) is neither sent nor counted: at a deadline
the queue can hold hours of work, and a duplicate would only wait behind the original.

Similarity runs follow the same rules (grader.services.similarity_runs.resend_stuck_runs): a
redelivered run starts over under a new attempt, and the older attempt's writes are refused.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Row, and_, or_, select, update
from sqlalchemy.orm import Session

from grader.config import get_settings
from grader.db.base import utcnow
from grader.db.batches import batches
from grader.db.models import Assignment, Submission, SubmissionStatus
from grader.services import claims, queue, queue_progress, similarity_runs

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    # id, assignment_id, status, request_no, sends, updated_at
    _Stuck = Row[int, int, SubmissionStatus, int, int, datetime]


@dataclass(frozen=True)
class Resent:
    """What one run of the reconciler sends again, once its caller commits."""

    submissions: list[int]
    similarity_runs: list[int]


def reconcile(db: Session, older_than_s: float, lease_s: float | None = None, now: datetime | None = None) -> Resent:
    """Re-enqueue submissions and similarity runs queued for longer than `older_than_s`, or running
    with a heartbeat (a run: progress) older than `lease_s` (default: the run lease); the ids sent.

    Each one sent is stamped, so it is sent again at most once per `older_than_s`. Queued work
    sent `reconcile_sends` times since it was last claimed or requested is failed instead. Not
    committed: the messages go out when the caller commits. `now` (default: the clock) lets a test
    play a later run without ageing the rows, whose age tells whether their queue moved since.
    """
    now = now or utcnow()
    cutoff = now - timedelta(seconds=older_than_s)
    stale_before = now - timedelta(seconds=get_settings().run_lease_s if lease_s is None else lease_s)
    return Resent(_resend_stuck_submissions(db, now, cutoff, stale_before),
                  similarity_runs.resend_stuck_runs(db, now, cutoff, stale_before))


def _resend_stuck_submissions(db: Session, now: datetime, cutoff: datetime, stale_before: datetime) -> list[int]:
    settings = get_settings()
    stuck = db.execute(
        select(Submission.id, Submission.assignment_id, Submission.status, Submission.request_no,
               Submission.sends, Submission.updated_at)
        .where(
            or_(
                and_(Submission.status == SubmissionStatus.queued, Submission.updated_at <= cutoff),
                and_(Submission.status == SubmissionStatus.running, Submission.heartbeat_at < stale_before),
            )
        )
        .order_by(Submission.id)
    ).all()
    if not stuck:
        return []
    assignments = {row.assignment_id: db.get_one(Assignment, row.assignment_id) for row in stuck}
    queued = [row for row in stuck if row.status == SubmissionStatus.queued]
    queue_of = _queues(db, assignments, queued)
    lately = queue_progress.activity(db, min(row.updated_at for row in queued), stale_before) if queued else {}
    unclaimed = [row for row in queued if row.id in queue_of
                 and not lately[queue_of[row.id]].waits_its_turn(row.updated_at, cutoff)]
    for row in unclaimed:
        if row.sends >= settings.reconcile_sends:
            _fail_unclaimed(db, row, queue_of[row.id])
    to_send = [row.id for row in unclaimed if row.sends < settings.reconcile_sends]
    sent_again = [submission_id for some in batches(to_send) for submission_id in _stamp_sent(db, some, cutoff, now)]
    dead = claims.requeue_dead_attempts(
        db, [row.id for row in stuck if row.status == SubmissionStatus.running], stale_before)
    sent = set(sent_again) | set(dead)
    by_assignment: dict[int, list[int]] = defaultdict(list)
    for row in stuck:
        if row.id in sent:
            by_assignment[row.assignment_id].append(row.id)
    for assignment_id, submission_ids in by_assignment.items():
        queue.enqueue(db, assignments[assignment_id], submission_ids)  # sent when the caller commits
    return sorted(sent)


def _queues(db: Session, assignments: dict[int, Assignment], rows: Sequence[_Stuck]) -> dict[int, str]:
    """Submission id -> the queue its request is sent to (by the rubric version it names)."""
    by_assignment: dict[int, list[int]] = defaultdict(list)
    for row in rows:
        by_assignment[row.assignment_id].append(row.id)
    return {submission_id: route.queue
            for assignment_id, ids in by_assignment.items()
            for submission_id, route in queue.routes(db, assignments[assignment_id], ids).items()}


def _stamp_sent(db: Session, submission_ids: Sequence[int], cutoff: datetime, now: datetime) -> list[int]:
    """Those of the submissions still queued and not sent since `cutoff`, stamped as sent now and
    counted; their ids. Another reconciler may have sent them meanwhile: on PostgreSQL this one
    waits for its commit and then finds them stamped."""
    return list(db.scalars(
        update(Submission.__table__)
        .where(Submission.id.in_(submission_ids), Submission.status == SubmissionStatus.queued,
               Submission.updated_at <= cutoff)
        .values(updated_at=now, sends=Submission.sends + 1)
        .returning(Submission.id)
    ))


def _fail_unclaimed(db: Session, stuck: _Stuck, queue_name: str) -> None:
    """Fail the request of a `stuck` row no worker took, unless one claimed it meanwhile."""
    message = (f"Not graded: no worker took it from the {queue_name!r} queue, though it was sent again "
               f"{stuck.sends} times; ask the course staff.")
    if claims.fail_request(db, stuck.id, stuck.request_no, message,
                            Submission.status == SubmissionStatus.queued, Submission.sends == stuck.sends):
        log.warning("submission %s failed: no worker took it from the %r queue in %d sends",
                    stuck.id, queue_name, stuck.sends)
