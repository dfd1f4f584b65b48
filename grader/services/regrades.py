"""Batch regrades: every chosen submission gets a new grade request on the published rubric version.

One item per submission remembers the run it is compared with (the one that counted before, or
the run a re-run audits) and the run the regrade made, so progress and the list of changed scores
are read from the items. An item whose request a later one overtook (a regrade started again, a
publish with a regrade, a re-run) is superseded once that one is settled: the batch graded nothing
there, and the later request's own batch shows its result.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session, aliased
from typing_extensions import TypedDict  # the variant pydantic accepts on 3.11 (the API returns these)

from grader.db.base import utcnow
from grader.db.batches import batches
from grader.db.models import (
    Assignment,
    GradingRun,
    RegradeBatch,
    RegradeItem,
    RegradeItemStatus,
    Submission,
    SubmissionStatus,
    User,
)
from grader.rubric_spec import RubricError
from grader.services import queue, rubrics
from grader.services.errors import NotFound, Rejected
from grader.services.permissions import require_grade, require_view_all
from grader.services.scores import effective_runs

SCORE_TOLERANCE = 1e-6
# A regrade that lists its submissions names at most this many (each counted once): every query
# on them stays well under PostgreSQL's 65,535 parameters (and SQLite's 32,766).
MAX_LISTED = 10_000


class RegradeProgress(TypedDict):
    total: int
    done: int
    failed: int
    superseded: int
    percent: float
    status: Literal["running", "finished"]


class ScoreChange(TypedDict):
    submission_id: int
    student: str
    old_score: float | None
    new_score: float | None
    old_rubric_hash: str | None
    new_rubric_hash: str | None


def start_regrade(
    db: Session,
    requested_by: User,
    assignment: Assignment,
    reason: str,
    submission_ids: list[int] | None = None,
    since: datetime | None = None,
) -> RegradeBatch:
    """Regrade the assignment's submissions (all, the listed ones, or those made since a time) with
    its published rubric version. Not committed: the tasks go out when the caller commits."""
    require_grade(db, requested_by, assignment.course)
    listed = _listed(submission_ids)
    query = select(Submission.id).where(Submission.assignment_id == assignment.id).order_by(Submission.id)
    if listed is not None:
        query = query.where(Submission.id.in_(listed))
    if since is not None:
        query = query.where(Submission.created_at >= since)
    ids = list(db.scalars(query))
    if listed is not None and len(ids) != len(listed):
        missing = sorted(listed - set(ids))
        raise NotFound(f"submissions {missing} are not part of {assignment.slug}")
    if not ids:
        raise Rejected(409, "no submission matches: nothing to regrade")
    rubrics.require_published(db, assignment)  # stored (or stored now), so every worker can read it
    before = effective_runs(db, ids, assignment.rubric_hash)
    return _request_grading(db, requested_by, assignment, reason, assignment.rubric_hash,
                            {sid: before[sid].id if sid in before else None for sid in ids})


def _listed(submission_ids: list[int] | None) -> set[int] | None:
    """The listed submissions, each once; Rejected (422) past MAX_LISTED."""
    if submission_ids is None:
        return None
    listed = set(submission_ids)
    if len(listed) > MAX_LISTED:
        raise Rejected(422, f"a regrade lists at most {MAX_LISTED:,} submissions, not {len(listed):,}: "
                            "regrade those made since a time, or the whole assignment, instead")
    return listed


def rerun(db: Session, requested_by: User, run_id: int) -> RegradeBatch:
    """Grade a run's submission again with the rubric version that run used, whatever is published
    or on disk now: an audit of that score. Its diff compares the new run with that one. Not committed."""
    run = db.get(GradingRun, run_id)
    if run is None:
        raise NotFound(f"no grading run {run_id}")
    submission = db.get_one(Submission, run.submission_id)
    assignment = submission.assignment
    require_grade(db, requested_by, assignment.course)
    try:
        rubrics.ensure_stored(db, run.rubric_hash, assignment.rubric_id)
    except RubricError as exc:
        raise Rejected(409, f"run {run_id} cannot be re-run: {exc}") from exc
    return _request_grading(db, requested_by, assignment, f"re-run of run {run_id} with rubric {run.rubric_hash}",
                            run.rubric_hash, {submission.id: run.id})


def _request_grading(db: Session, requested_by: User, assignment: Assignment, reason: str, rubric_hash: str,
                     old_runs: dict[int, int | None]) -> RegradeBatch:
    """A new grade request of each submission (id -> the run it is compared with) on `rubric_hash`."""
    batch = RegradeBatch(assignment_id=assignment.id, requested_by_id=requested_by.id, reason=reason,
                         rubric_hash=rubric_hash)
    db.add(batch)
    db.flush()
    now = utcnow()
    requests = [request for some in batches(list(old_runs)) for request in db.execute(
        update(Submission)
        .where(Submission.id.in_(some))
        .values(request_no=Submission.request_no + 1, sends=0, give_backs=0, status=SubmissionStatus.queued,
                error=None, updated_at=now, heartbeat_at=None, rubric_hash=rubric_hash)
        .returning(Submission.id, Submission.request_no)
    )]
    if requests:  # none if every one was deleted meanwhile; an empty list would insert one row of defaults
        # Rows, not objects: a whole-assignment regrade makes one per submission ever made.
        db.execute(insert(RegradeItem.__table__), [
            dict(batch_id=batch.id, submission_id=sid, request_no=request_no, old_run_id=old_runs[sid],
                 status=RegradeItemStatus.pending)
            for sid, request_no in requests
        ])
    queue.enqueue(db, assignment, list(old_runs))  # sent when the caller commits
    return batch


def _batch(db: Session, viewer: User, batch_id: int, assignment_id: int | None = None) -> RegradeBatch:
    """The batch, for its course's staff; with `assignment_id` (a page's address names both), only
    if it is that assignment's."""
    batch = db.get(RegradeBatch, batch_id)
    if batch is None or assignment_id not in (None, batch.assignment_id):
        raise NotFound(f"no regrade {batch_id}" + ("" if assignment_id is None else " of this assignment"))
    require_view_all(db, viewer, batch.assignment.course)
    return batch


def regrade_progress(db: Session, viewer: User, batch_id: int, assignment_id: int | None = None) -> RegradeProgress:
    batch = _batch(db, viewer, batch_id, assignment_id)
    counts = dict(
        db.execute(
            select(RegradeItem.status, func.count())
            .where(RegradeItem.batch_id == batch.id)
            .group_by(RegradeItem.status)
        ).all()
    )
    done = counts.get(RegradeItemStatus.done, 0)
    failed = counts.get(RegradeItemStatus.failed, 0)
    superseded = counts.get(RegradeItemStatus.superseded, 0)
    settled = done + failed + superseded
    total = settled + counts.get(RegradeItemStatus.pending, 0)
    return RegradeProgress(
        total=total, done=done, failed=failed, superseded=superseded,
        percent=round(100.0 * settled / total, 1) if total else 100.0,
        status="finished" if settled == total else "running",
    )


def regrade_diff(db: Session, viewer: User, batch_id: int) -> list[ScoreChange]:
    """The items this batch graded whose auto score changed (or that have a score for the first time)."""
    batch = _batch(db, viewer, batch_id)
    old, new = aliased(GradingRun), aliased(GradingRun)
    rows = db.execute(
        select(RegradeItem.submission_id, User.email, old.score, new.score, old.rubric_hash, new.rubric_hash)
        .join(Submission, Submission.id == RegradeItem.submission_id)
        .join(User, User.id == Submission.user_id)
        .outerjoin(old, old.id == RegradeItem.old_run_id)
        .join(new, new.id == RegradeItem.new_run_id)
        .where(RegradeItem.batch_id == batch.id, RegradeItem.status == RegradeItemStatus.done)
        .order_by(RegradeItem.submission_id)
    ).all()
    return [
        ScoreChange(submission_id=sid, student=email, old_score=old_score, new_score=new_score,
                    old_rubric_hash=old_hash, new_rubric_hash=new_hash)
        for sid, email, old_score, new_score, old_hash, new_hash in rows
        if old_score is None or abs((new_score or 0.0) - old_score) > SCORE_TOLERANCE
    ]
