"""Recording how an attempt ended: its scores, its failure, or the task's hard time limit.

Each record holds only while the attempt still owns its claim (grader.services.claims); every
text taken from the submission is stored through `storable`. The `record_*` functions are part of
the claim protocol and commit (or roll back) themselves: the ownership check and the write are
one transaction of their own. `handle_timeout`, like the other services, leaves the commit to its
caller.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, case, insert, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from grader.config import get_settings
from grader.db.base import utcnow
from grader.db.models import (
    AnswerSignature,
    GradingRun,
    QuestionScore,
    RegradeItemStatus,
    RunStatus,
    Submission,
    SubmissionStatus,
    TestResult,
)
from grader.db.text import storable
from grader.scoring import GradeReport
from grader.services import claims, queue
from grader.services.claims import Claim

STAFF_ERROR_FOR_STUDENT = "Grading failed because of a problem on our side; the course staff can see why."


def _own(db: Session, claim: Claim, **values: object) -> bool:
    """Update the submission if this attempt still holds it; False if another attempt took over."""
    done = db.execute(
        update(Submission.__table__)
        .where(Submission.id == claim.submission_id, Submission.attempts == claim.attempt_no)
        .values(updated_at=utcnow(), heartbeat_at=None, **values)
    )
    return cast("CursorResult[Any]", done).rowcount == 1  # an UPDATE: a cursor result


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
    """Store the scores of a finished attempt and commit; False (rolled back) if it lost its claim."""
    if not _own(db, claim, status=_if_current(claim, Submission.status, SubmissionStatus.graded), error=None):
        db.rollback()
        return False
    _close_run(db, claim.run_id, claim.started_at, RunStatus.completed, device=report.device,
               rubric_hash=report.rubric_hash, score=report.score, max_score=report.max_score,
               output=storable(report.output), student_output=storable(report.student_output))
    # Bulk INSERTs of plain rows: the ORM's unit of work over ~80 new objects is slow, in every grade.
    questions = [
        dict(run_id=claim.run_id, question_id=q.id, title=q.title, visibility=q.visibility, score=q.score,
             max_score=q.max_score, status=q.status, passed_tests=q.passed_tests, total_tests=q.total_tests,
             feedback=storable(q.output), printed=storable(q.printed))
        for q in report.questions if q.grading == "auto"
    ]
    for model, rows in ((QuestionScore, questions), (TestResult, _test_results(claim.run_id, report)),
                        (AnswerSignature, _answer_signatures(claim.run_id, report))):
        if rows:
            db.execute(insert(model.__table__), rows)
    claims.settle_regrade_item(db, claim.submission_id, claim.request_no, RegradeItemStatus.done, claim.run_id)
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


def _answer_signatures(run_id: int, report: GradeReport) -> list[dict[str, Any]]:
    """One row per wrong answer of a failed case (grader.services.answer_groups groups them), with
    the first known mistake it matches."""
    return [
        dict(run_id=run_id, question_id=t.question, case_name=t.name, function=a.function, signature=a.signature,
             misconception=a.matches[0].id if a.matches else None)
        for t in report.tests for a in t.answers
    ]


def record_failure(db: Session, claim: Claim, error: str) -> bool:
    """A failure that retrying cannot fix (the rubric, or a bug): the request ends failed (committed);
    False (rolled back) if the attempt lost its claim."""
    if not _own(db, claim, status=_if_current(claim, Submission.status, SubmissionStatus.failed),
                error=_if_current(claim, Submission.error, STAFF_ERROR_FOR_STUDENT)):
        db.rollback()
        return False
    _close_run(db, claim.run_id, claim.started_at, RunStatus.failed, storable(error))
    claims.settle_regrade_item(db, claim.submission_id, claim.request_no, RegradeItemStatus.failed, claim.run_id)
    db.commit()
    return True


def handle_timeout(db: Session, submission_id: int, task_id: str, limit_s: float) -> bool:
    """Task `task_id` was killed at its hard time limit: close the run it made, and while that is
    still the submission's current attempt, send the submission again once more. An overtaken
    attempt (a regrade's request claimed by another worker) leaves the live one alone.

    True if it is sent again (when the caller commits).
    """
    submission = db.get(Submission, submission_id, populate_existing=True)
    if submission is None:
        return False
    run = db.scalar(
        select(GradingRun).where(GradingRun.submission_id == submission_id, GradingRun.task_id == task_id,
                                 GradingRun.status == RunStatus.running)
    )
    if run is None:
        return False  # the attempt was already settled (taken over, or it finished after all)
    _close_run(db, run.id, run.started_at, RunStatus.timed_out,
               f"stopped at the task's hard time limit of {limit_s:g} s "
               f"(the rubric's submission_timeout_s plus {get_settings().hard_limit_grace_s:g} s)")
    if run.attempt_no != submission.attempts:
        return False
    retry = claims.unfinished_attempts(db, submission_id, run.request_no) < get_settings().grading_attempts
    if retry:
        submission.status = SubmissionStatus.queued
        submission.updated_at = utcnow()
        submission.heartbeat_at = None
        queue.enqueue(db, submission.assignment, [submission_id])
    else:
        claims.fail_request(db, submission_id, run.request_no,
                            f"Grading took longer than the time limit ({limit_s:g} s) on every attempt.")
    return retry
