"""The claim protocol: exactly-once results over at-least-once delivery.

A worker claims a submission with one conditional UPDATE (it is queued, or running with a stale
heartbeat, and its request names the rubric version the worker loaded) that bumps `attempts`, and
records a result only while `attempts` is still the number it claimed (grader.services.results);
the database also allows one completed run per grade request. So a message delivered twice, or
re-sent by the reconciler, finds the work claimed (Busy: retry later) or done (nothing to do), and
a takeover of a dead attempt (or the reconciler queueing it again) marks that attempt lost. An
attempt that dies or times out is retried until the request has had `grading_attempts` of them;
one the machine stops (`give_back`) spends none, `grading_give_backs` times at most.

The statements go to the tables (`Model.__table__`), not through the ORM: they run for every
submission, and the ORM's DML path costs more Python time than the database needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, and_, case, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from grader.config import get_settings
from grader.db.base import utcnow
from grader.db.models import GradingRun, RegradeItem, RegradeItemStatus, RunStatus, Submission, SubmissionStatus
from grader.db.text import storable
from grader.services.broker import queue_of_run

UNFINISHED = (RunStatus.lost, RunStatus.timed_out)


class Busy(Exception):
    """Another worker holds a live claim on the submission; try again in `retry_in` seconds."""

    def __init__(self, submission_id: int, retry_in: float) -> None:
        super().__init__(f"submission {submission_id} is being graded elsewhere")
        self.retry_in = retry_in


@dataclass(frozen=True)
class Claim:
    submission_id: int
    run_id: int
    request_no: int
    attempt_no: int
    started_at: datetime


def unfinished_attempts(db: Session, submission_id: int, request_no: int) -> int:
    """How many attempts of a grade request were lost or timed out."""
    return db.scalar(select(func.count()).select_from(GradingRun.__table__).where(
        GradingRun.submission_id == submission_id,
        GradingRun.request_no == request_no,
        GradingRun.status.in_(UNFINISHED),
    )) or 0


def settle_regrade_item(db: Session, submission_id: int, request_no: int, status: RegradeItemStatus,
                         run_id: int | None) -> None:
    """The request's regrade item gets `status` and `run_id`. The submission's earlier requests still
    pending were overtaken (the claim of this one lost their attempts): their items are superseded,
    or their batches would wait forever."""
    own = RegradeItem.request_no == request_no
    db.execute(
        update(RegradeItem.__table__)
        .where(RegradeItem.submission_id == submission_id, RegradeItem.request_no <= request_no,
               RegradeItem.status == RegradeItemStatus.pending)
        .values(status=case((own, status), else_=RegradeItemStatus.superseded),
                new_run_id=case((own, run_id), else_=RegradeItem.new_run_id))
    )


def fail_request(db: Session, submission_id: int, request_no: int, message: str,
                 *only_if: ColumnElement[bool]) -> bool:
    """The grade request is over without a result: the submission shows `message` to its student
    and the staff. Not committed; False (nothing changed) if the `only_if` conditions do not hold."""
    failed = db.execute(
        update(Submission.__table__)
        .where(Submission.id == submission_id, Submission.request_no == request_no, *only_if)
        .values(status=SubmissionStatus.failed, error=storable(message), updated_at=utcnow(), heartbeat_at=None)
    )
    if cast("CursorResult[Any]", failed).rowcount != 1:  # an UPDATE: a cursor result
        return False
    settle_regrade_item(db, submission_id, request_no, RegradeItemStatus.failed, None)
    return True


def _lose_running_runs(db: Session, submission_ids: Sequence[int], now: datetime) -> None:
    """The submissions' unfinished runs are lost."""
    db.execute(
        update(GradingRun.__table__)
        .where(GradingRun.submission_id.in_(submission_ids), GradingRun.status == RunStatus.running)
        .values(status=RunStatus.lost, finished_at=now,
                error="the worker stopped before it finished (crash, restart, or no heartbeat)")
    )


def give_back(db: Session, claim: Claim) -> bool:
    """Undo the claim of an attempt the machine stopped before any result (the database, the broker
    or the sandbox layer failed): the request is queued again and the attempt leaves no run, so it
    counts nothing against `grading_attempts`, and the task's retry claims it anew. Nothing changes
    if the attempt lost its claim meanwhile, or a regrade queued another request. Commits.

    False once the request has been given back `grading_give_backs` times: a fault that keeps
    coming back would retry it forever, so the claim is kept for the caller to end it failed."""
    held = (Submission.id == claim.submission_id, Submission.attempts == claim.attempt_no,
            Submission.status == SubmissionStatus.running)
    given = cast(CursorResult[Any], db.execute(
        update(Submission.__table__)
        .where(*held, Submission.give_backs < get_settings().grading_give_backs)
        .values(status=SubmissionStatus.queued, give_backs=Submission.give_backs + 1, heartbeat_at=None,
                updated_at=utcnow())
    ))
    if given.rowcount:
        db.execute(delete(GradingRun.__table__).where(GradingRun.id == claim.run_id))
    spent = not given.rowcount and db.scalar(select(Submission.id).where(*held)) is not None
    db.commit()
    return not spent


def requeue_dead_attempts(db: Session, submission_ids: Sequence[int], stale_before: datetime) -> list[int]:
    """Those of the submissions whose attempt stopped beating before `stale_before` are queued
    again and their runs lost (not committed); their ids.

    An attempt that was only slow keeps its claim until another worker claims the submission,
    so it may still record its result.
    """
    if not submission_ids:
        return []
    now = utcnow()
    dead = list(db.scalars(
        update(Submission.__table__)
        .where(Submission.id.in_(submission_ids), Submission.status == SubmissionStatus.running,
               Submission.heartbeat_at < stale_before)
        .values(status=SubmissionStatus.queued, heartbeat_at=None, updated_at=now)
        .returning(Submission.id)
    ))
    if dead:
        _lose_running_runs(db, dead, now)
    return dead


def claim(db: Session, submission_id: int, rubric_hash: str, device: str, host: str,
          task_id: str | None = None, sent_at: datetime | None = None) -> Claim | None:
    """Take the submission for one attempt, or None when there is nothing to do. The run names the
    queue of `device` and `sent_at`, when the message that asked for it was sent: what workers did
    on each queue (grader.services.queue_progress).

    Only while its request is still graded with `rubric_hash`, the version the caller loaded: a
    later request on another version (a publish with a regrade while the sandbox started) is left
    queued for its own message, never recorded as graded with the old one.

    Unlike the other services it commits (or rolls back) itself: the claim must be visible to
    every other worker and to the reconciler before grading starts, so it is its own
    transaction. Raises Busy while another attempt's heartbeat is fresh.
    """
    settings = get_settings()
    now = utcnow()
    stale = now - timedelta(seconds=settings.run_lease_s)
    claimed = db.execute(
        update(Submission.__table__)
        .where(
            Submission.id == submission_id,
            Submission.rubric_hash == rubric_hash,
            or_(
                Submission.status == SubmissionStatus.queued,
                and_(Submission.status == SubmissionStatus.running, Submission.heartbeat_at < stale),
            ),
        )
        .values(status=SubmissionStatus.running, attempts=Submission.attempts + 1, sends=0, heartbeat_at=now,
                updated_at=now)
        .returning(Submission.attempts, Submission.request_no)
    ).one_or_none()
    if claimed is None:
        current = db.execute(
            select(Submission.status, Submission.heartbeat_at).where(Submission.id == submission_id)
        ).one_or_none()
        db.rollback()
        if current is None or current.status != SubmissionStatus.running or current.heartbeat_at is None:
            return None  # gone, graded or failed (a duplicate message), or queued on another version
        waited = (now - current.heartbeat_at).total_seconds()
        raise Busy(submission_id, max(settings.run_lease_s - waited, 1.0))
    attempt_no, request_no = claimed
    # Counted apart, not as a subquery of the RETURNING above: SQLite renders the columns there
    # bare, and inside the subquery they named the run's own, so it counted other submissions' runs.
    _lose_running_runs(db, [submission_id], now)
    unfinished = unfinished_attempts(db, submission_id, request_no)
    if unfinished >= settings.grading_attempts:
        fail_request(db, submission_id, request_no,
                     f"Grading was stopped {unfinished} times before it could finish; ask the course staff.")
        db.commit()
        return None
    run_id = db.scalars(
        insert(GradingRun.__table__).returning(GradingRun.id),
        [dict(submission_id=submission_id, request_no=request_no, attempt_no=attempt_no, rubric_hash=rubric_hash,
              worker_host=host, task_id=task_id, device=device, queue=queue_of_run(device),
              started_at=now, sent_at=sent_at, status=RunStatus.running)],
    ).one()
    db.commit()
    return Claim(submission_id, run_id, request_no, attempt_no, now)
