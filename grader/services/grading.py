"""One grading attempt, end to end: claim a submission, grade it under a heartbeat, record the result.

Exactly-once results over at-least-once delivery. A worker claims a submission with one
conditional UPDATE (it is queued, or running with a stale heartbeat) that bumps `attempts`, and
records a result only while `attempts` is still the number it claimed; the database also allows
one completed run per grade request. So a message delivered twice, or re-sent by the
reconciler, finds the work claimed (Busy: retry later) or done (nothing to do), and a takeover
of a dead attempt (or the reconciler queueing it again) marks that attempt lost. An attempt
that dies or times out is retried until the request has had `grading_attempts` of them;
student mistakes are scores, never retries.

Nothing is left in limbo: `failure_of` sorts every exception out of a grading. Infrastructure
faults are retried; anything else, before the claim or after it, ends as a failed run with a
reason, and every text taken from the submission is stored through `storable`.

The statements of a grading go to the tables (`Model.__table__`), not through the ORM: it runs
for every submission, and the ORM's DML path costs more Python time than the database needs.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy import ColumnElement, Select, and_, case, func, insert, or_, select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import InstrumentedAttribute, Session

from grader.config import get_settings
from grader.db.base import utcnow
from grader.db.models import (
    Assignment,
    GradingRun,
    QuestionScore,
    RegradeItem,
    RegradeItemStatus,
    RunStatus,
    Submission,
    SubmissionStatus,
    TestResult,
)
from grader.db.session import session_scope
from grader.db.text import storable
from grader.errors import GradingAborted, SandboxUnavailable
from grader.rubric_spec import Rubric, RubricError
from grader.scoring import GradeReport
from grader.services import queue
from grader.services.rubrics import load_assignment_rubric

if TYPE_CHECKING:  # the worker hands its engine in; the services never import it
    from grader.engine import Engine

log = logging.getLogger(__name__)

# The database or the broker is unreachable, or this machine cannot run sandboxes as configured:
# worth retrying the task, never the student's fault and never a score. (SandboxUnavailable is a
# ConnectionError too; it is named for the reader.)
INFRASTRUCTURE_ERRORS: tuple[type[Exception], ...] = (
    OperationalError, InterfaceError, BrokerError, SandboxUnavailable, ConnectionError,
)

STAFF_ERROR_FOR_STUDENT = "Grading failed because of a problem on our side; the course staff can see why."
UNFINISHED = (RunStatus.lost, RunStatus.timed_out)


def failure_of(exc: Exception) -> str:
    """The one place that sorts out an exception raised while grading.

    An infrastructure fault is raised again: the task is retried and nothing is recorded. Any
    other exception ends the attempt as a failed run, and what is returned is its reason, for
    the staff (the student is told to ask them, see `record_failure`).
    """
    if isinstance(exc, INFRASTRUCTURE_ERRORS):
        raise exc
    if isinstance(exc, (GradingAborted, RubricError)):
        return f"the rubric failed: {exc}"
    log.error("grading failed with an internal error", exc_info=exc)  # a bug in the grader
    return f"internal error: {type(exc).__name__}: {exc}"


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


def _count_unfinished(submission_id: Any, request_no: Any) -> Select[tuple[int]]:
    """How many attempts of a grade request were lost or timed out (values, or columns to correlate)."""
    return select(func.count()).select_from(GradingRun.__table__).where(
        GradingRun.submission_id == submission_id,
        GradingRun.request_no == request_no,
        GradingRun.status.in_(UNFINISHED),
    )


def _unfinished_attempts(db: Session, submission_id: int, request_no: int) -> int:
    return db.scalar(_count_unfinished(submission_id, request_no)) or 0


def _settle_regrade_item(db: Session, submission_id: int, request_no: int, status: RegradeItemStatus,
                         run_id: int | None) -> None:
    db.execute(
        update(RegradeItem.__table__)
        .where(RegradeItem.submission_id == submission_id, RegradeItem.request_no == request_no,
               RegradeItem.status == RegradeItemStatus.pending)
        .values(status=status, new_run_id=run_id)
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
    if failed.rowcount != 1:
        return False
    _settle_regrade_item(db, submission_id, request_no, RegradeItemStatus.failed, None)
    return True


def _lose_running_runs(db: Session, submission_ids: Sequence[int], now: datetime) -> list[int]:
    """The submissions' unfinished runs are lost; their request numbers."""
    return list(db.scalars(
        update(GradingRun.__table__)
        .where(GradingRun.submission_id.in_(submission_ids), GradingRun.status == RunStatus.running)
        .values(status=RunStatus.lost, finished_at=now,
                error="the worker stopped before it finished (crash, restart, or no heartbeat)")
        .returning(GradingRun.request_no)
    ))


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


def claim(db: Session, submission_id: int, rubric_hash: str, device: str, host: str) -> Claim | None:
    """Take the submission for one attempt (committed), or None when there is nothing to do.

    Raises Busy while another attempt's heartbeat is fresh.
    """
    settings = get_settings()
    now = utcnow()
    stale = now - timedelta(seconds=settings.run_lease_s)
    # Returned with the claim, one round trip fewer.
    unfinished_before = (_count_unfinished(Submission.id, Submission.request_no)
                         .correlate(Submission.__table__).scalar_subquery())
    claimed = db.execute(
        update(Submission.__table__)
        .where(
            Submission.id == submission_id,
            or_(
                Submission.status == SubmissionStatus.queued,
                and_(Submission.status == SubmissionStatus.running, Submission.heartbeat_at < stale),
            ),
        )
        .values(status=SubmissionStatus.running, attempts=Submission.attempts + 1, sends=0, heartbeat_at=now,
                updated_at=now)
        .returning(Submission.attempts, Submission.request_no, unfinished_before)
    ).one_or_none()
    if claimed is None:
        current = db.execute(
            select(Submission.status, Submission.heartbeat_at).where(Submission.id == submission_id)
        ).one_or_none()
        db.rollback()
        if current is None or current.status != SubmissionStatus.running or current.heartbeat_at is None:
            return None  # gone, graded or failed: a duplicate message
        waited = (now - current.heartbeat_at).total_seconds()
        raise Busy(submission_id, max(settings.run_lease_s - waited, 1.0))
    attempt_no, request_no, unfinished = claimed
    lost = _lose_running_runs(db, [submission_id], now)
    unfinished += sum(1 for lost_request in lost if lost_request == request_no)
    if unfinished >= settings.grading_attempts:
        fail_request(db, submission_id, request_no,
                     f"Grading was stopped {unfinished} times before it could finish; ask the course staff.")
        db.commit()
        return None
    run_id = db.scalars(
        insert(GradingRun.__table__).returning(GradingRun.id),
        [dict(submission_id=submission_id, request_no=request_no, attempt_no=attempt_no, rubric_hash=rubric_hash,
              worker_host=host, device=device, started_at=now, status=RunStatus.running)],
    ).one()
    db.commit()
    return Claim(submission_id, run_id, request_no, attempt_no, now)


def _own(db: Session, claim: Claim, **values: object) -> bool:
    """Update the submission if this attempt still holds it; False if another attempt took over."""
    done = db.execute(
        update(Submission.__table__)
        .where(Submission.id == claim.submission_id, Submission.attempts == claim.attempt_no)
        .values(updated_at=utcnow(), heartbeat_at=None, **values)
    )
    return done.rowcount == 1


def _if_current(claim: Claim, column: InstrumentedAttribute[Any], value: object) -> ColumnElement[Any]:
    """`value` while the claim's request is the newest; a regrade may have queued another meanwhile."""
    return case((Submission.request_no == claim.request_no, value), else_=column)


def _close_run(db: Session, run_id: int, started_at: datetime, status: RunStatus, error: str | None = None,
               **values: Any) -> None:
    """Settle a run: its status, why, when, and any other `values` (one UPDATE, no ORM load)."""
    finished = utcnow()
    db.execute(
        update(GradingRun.__table__).where(GradingRun.id == run_id)
        .values(status=status, error=error, finished_at=finished, duration_s=(finished - started_at).total_seconds(),
                **values)
    )


def record_result(db: Session, claim: Claim, report: GradeReport) -> bool:
    """Store the scores of a finished attempt; False (nothing stored) if it lost its claim."""
    if not _own(db, claim, status=_if_current(claim, Submission.status, SubmissionStatus.graded), error=None):
        db.rollback()
        return False
    _close_run(db, claim.run_id, claim.started_at, RunStatus.completed, device=report.device,
               rubric_hash=report.rubric_hash, score=report.score, max_score=report.max_score,
               output=storable(report.output), student_output=storable(report.student_output))
    # Bulk INSERTs of plain rows: a unit of work over ~80 new objects cost 7 ms a grade.
    questions = [
        dict(run_id=claim.run_id, question_id=q.id, title=q.title, visibility=q.visibility, score=q.score,
             max_score=q.max_score, status=q.status, passed_tests=q.passed_tests, total_tests=q.total_tests,
             feedback=storable(q.output), printed=storable(q.printed))
        for q in report.questions if q.grading == "auto"
    ]
    for model, rows in ((QuestionScore, questions), (TestResult, _test_results(claim.run_id, report))):
        if rows:
            db.execute(insert(model.__table__), rows)
    _settle_regrade_item(db, claim.submission_id, claim.request_no, RegradeItemStatus.done, claim.run_id)
    db.commit()
    return True


def _test_results(run_id: int, report: GradeReport) -> list[dict[str, Any]]:
    """One row per test case, each worth its share of its question's points."""
    questions = {q.id: q for q in report.questions}
    return [
        dict(run_id=run_id, name=t.name, question_id=t.question, status="passed" if t.passed else "failed",
             max_score=questions[t.question].share(t),
             score=questions[t.question].share(t) if t.passed else 0.0,
             feedback=storable(t.message), visibility=questions[t.question].visibility)
        for t in report.tests
    ]


def record_failure(db: Session, claim: Claim, error: str) -> bool:
    """A failure that retrying cannot fix (the rubric, or a bug): the request ends failed."""
    if not _own(db, claim, status=_if_current(claim, Submission.status, SubmissionStatus.failed),
                error=_if_current(claim, Submission.error, STAFF_ERROR_FOR_STUDENT)):
        db.rollback()
        return False
    _close_run(db, claim.run_id, claim.started_at, RunStatus.failed, storable(error))
    _settle_regrade_item(db, claim.submission_id, claim.request_no, RegradeItemStatus.failed, claim.run_id)
    db.commit()
    return True


def handle_timeout(db: Session, submission_id: int, limit_s: float) -> bool:
    """The task was killed at its hard time limit: record it, and send the submission again once more.

    True if it was sent again.
    """
    submission = db.get(Submission, submission_id, populate_existing=True)
    if submission is None:
        return False
    run = db.scalar(
        select(GradingRun).where(GradingRun.submission_id == submission_id,
                                 GradingRun.attempt_no == submission.attempts,
                                 GradingRun.status == RunStatus.running)
    )
    if run is None:
        return False  # the attempt was already settled (taken over, or it finished after all)
    _close_run(db, run.id, run.started_at, RunStatus.timed_out,
               f"stopped at the task's hard time limit of {limit_s:g} s "
               f"(the rubric's submission_timeout_s plus {get_settings().hard_limit_grace_s:g} s)")
    retry = _unfinished_attempts(db, submission_id, run.request_no) < get_settings().grading_attempts
    if retry:
        submission.status = SubmissionStatus.queued
        submission.updated_at = utcnow()
        submission.heartbeat_at = None
    else:
        fail_request(db, submission_id, run.request_no,
                     f"Grading took longer than the time limit ({limit_s:g} s) on every attempt.")
    db.commit()
    if retry:
        queue.enqueue(submission.assignment, [submission_id])
    return retry


class Heartbeat:
    """Keeps the heartbeat of the claims being graded in this process fresh, from one thread that
    is started once (a thread per attempt took 1.5 ms to start on a busy worker)."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._claims: set[Claim] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def keep(self, claim: Claim) -> Iterator[None]:
        """Beat for `claim` while the block runs."""
        with self._lock:
            self._claims.add(claim)
            if self._thread is None or not self._thread.is_alive():  # not started, or lost in a fork
                self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._claims.discard(claim)

    def _run(self) -> None:
        while True:
            time.sleep(self.interval_s)
            with self._lock:
                claims = list(self._claims)
            for claim in claims:
                self._beat(claim)

    @staticmethod
    def _beat(claim: Claim) -> None:
        try:
            with session_scope() as db:
                db.execute(
                    update(Submission.__table__)
                    .where(Submission.id == claim.submission_id, Submission.attempts == claim.attempt_no)
                    .values(heartbeat_at=utcnow())
                )
                db.commit()
        except INFRASTRUCTURE_ERRORS as exc:
            log.warning("heartbeat of submission %s failed: %s", claim.submission_id, exc)


@functools.lru_cache(maxsize=4)
def heartbeat(interval_s: float) -> Heartbeat:
    """This process's heartbeat thread for claims with leases of 3 x `interval_s`."""
    return Heartbeat(interval_s)


@dataclass(frozen=True)
class _Work:
    data: bytes
    filename: str
    rubric: Rubric | None
    rubric_hash: str  # of the rubric on disk, or the assignment's last known one if it does not load
    rubric_error: str


def _load_work(db: Session, submission_id: int) -> _Work | None:
    """The upload and its rubric (or why the rubric can't be used)."""
    row = db.execute(
        select(Submission.content, Submission.filename, Assignment.rubric_id, Assignment.rubric_hash)
        .join(Submission.assignment)
        .where(Submission.id == submission_id)
    ).one_or_none()
    if row is None:
        return None
    try:
        rubric = load_assignment_rubric(row.rubric_id)
    except Exception as exc:
        reason = failure_of(exc)
        return _Work(row.content, row.filename, None, row.rubric_hash, f"rubric {row.rubric_id!r}: {reason}")
    return _Work(row.content, row.filename, rubric, rubric.content_hash, "")


def grade_submission(engine: Engine, submission_id: int, device: str, host: str) -> RunStatus | None:
    """Grade one submission on `device`; the status of the run it recorded, None if there was nothing to do.

    Raises Busy (retry later) or one of INFRASTRUCTURE_ERRORS (retry with backoff); any other
    failure, before the claim or after it, is recorded as a failed run.
    """
    with contextlib.ExitStack() as stack:
        with session_scope() as db:
            work = _load_work(db, submission_id)
            if work is None:
                return None
            error, started = work.rubric_error, None
            if work.rubric is not None:
                try:
                    # The sandbox imports the submission while the claim is made; closing the grading
                    # on the way out waits until nothing of it runs any more.
                    started = stack.enter_context(engine.start(work.data, work.filename, work.rubric, device=device))
                except Exception as exc:  # claimed all the same, so that the failure is recorded
                    error = failure_of(exc)
            claimed = claim(db, submission_id, work.rubric_hash, device, host)
        if claimed is None:
            return None
        if started is not None:
            try:
                with heartbeat(get_settings().run_lease_s / 3).keep(claimed):
                    report = started.report()
                    with session_scope() as db:  # stored while the kernel tears the sandbox down
                        return RunStatus.completed if record_result(db, claimed, report) else None
            except Exception as exc:
                error = failure_of(exc)
        with session_scope() as db:
            return RunStatus.failed if record_failure(db, claimed, error) else None
