"""One grading attempt, end to end: claim a submission, grade it under a heartbeat, record the result.

The steps each have their module: the claim protocol (claims), the heartbeat that keeps a claim
alive (heartbeat), recording how the attempt ended (results), and sorting out what went wrong
(faults). Student mistakes are scores, never retries. Nothing is left in limbo: every exception,
before the claim or after it, is retried (infrastructure, which gives a claim back first) or ends
as a failed run with a reason, as does a fault after the claim that keeps coming back.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.config import get_settings
from grader.db.models import Assignment, RunStatus, Submission
from grader.db.session import session_scope
from grader.rubric_spec import Rubric
from grader.services import rubrics
from grader.services.claims import Claim, claim, give_back
from grader.services.faults import INFRASTRUCTURE_ERRORS, failure_of, lasting_fault
from grader.services.heartbeat import heartbeat
from grader.services.results import record_failure, record_result

if TYPE_CHECKING:  # the worker hands its engine in; the services never import it
    from grader.engine import Engine


@dataclass(frozen=True)
class _Work:
    data: bytes
    filename: str
    rubric: Rubric | None
    rubric_hash: str  # the stored version the request is graded with, never the folder on disk
    rubric_error: str


def _load_work(db: Session, submission_id: int) -> _Work | None:
    """The upload and the rubric version its request names (or why that version can't be used)."""
    row = db.execute(
        select(Submission.content, Submission.filename, Submission.rubric_hash, Assignment.rubric_id)
        .join(Submission.assignment)
        .where(Submission.id == submission_id)
    ).one_or_none()
    if row is None:
        return None
    try:
        rubric = rubrics.version(db, row.rubric_hash, row.rubric_id)
    except Exception as exc:  # noqa: BLE001 - whatever breaks the rubric is recorded as the run's failure
        reason = failure_of(exc)
        return _Work(row.content, row.filename, None, row.rubric_hash, f"rubric {row.rubric_id!r}: {reason}")
    return _Work(row.content, row.filename, rubric, row.rubric_hash, "")


def _give_back(claimed: Claim) -> bool:
    """The machine's fault is not the attempt's: its claim is given back before the task retries.
    With the database down as well, the lease runs out instead and the attempt counts as lost, as
    a dead worker's does. False once the request has been given back `grading_give_backs` times:
    the caller records the failure."""
    try:
        with session_scope() as db:
            return give_back(db, claimed)
    except INFRASTRUCTURE_ERRORS:
        return True  # retried all the same


def grade_submission(engine: Engine, submission_id: int, device: str, host: str,
                     task_id: str | None = None, sent_at: datetime | None = None) -> RunStatus | None:
    """Grade one submission on `device`; the status of the run it recorded, None if there was nothing to do.
    `task_id` (the worker's task) goes on the run, for the timeout handler to find it, and so does
    `sent_at`, when the message that asked for it was sent (grader.services.queue_progress).

    Raises Busy (retry later) or one of INFRASTRUCTURE_ERRORS (retry with backoff); any other
    failure, before the claim or after it, is recorded as a failed run, and so is an infrastructure
    fault after the claim once the request has been given back `grading_give_backs` times.
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
                except Exception as exc:  # noqa: BLE001 - claimed all the same, so that the failure is recorded
                    error = failure_of(exc)
            # None too if a regrade on another version came while the sandbox started: its task grades it.
            claimed = claim(db, submission_id, work.rubric_hash, device, host, task_id, sent_at)
        if claimed is None:
            return None
        if started is not None:
            try:
                with heartbeat(get_settings().run_lease_s / 3).keep(claimed):
                    report = started.report()
                    with session_scope() as db:  # stored while the kernel tears the sandbox down
                        return RunStatus.completed if record_result(db, claimed, report) else None
            except Exception as exc:  # noqa: BLE001 - any failure of the grading is recorded on the run
                if isinstance(exc, INFRASTRUCTURE_ERRORS) and not _give_back(claimed):
                    error = lasting_fault(exc, get_settings().grading_give_backs + 1)
                else:
                    error = failure_of(exc)  # an infrastructure fault is raised again: the task retries
        with session_scope() as db:
            return RunStatus.failed if record_failure(db, claimed, error) else None
