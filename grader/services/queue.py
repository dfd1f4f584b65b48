"""Sending work to the workers by task name; the database is the truth, a message a hint.

`enqueue` (grading) and `send_after_commit` (any other task) only note the work on the session;
the messages go out when that session commits
(an `after_commit` hook), so a worker never looks for a row it cannot see yet, and a rolled-back
transaction sends nothing. A message that cannot be sent (broker down) is only logged: the
submission stays queued in the database and the reconciler sends it again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from kombu.exceptions import KombuError
from sqlalchemy import event, select
from sqlalchemy.orm import Session, SessionTransaction

from grader.config import get_settings
from grader.db.batches import batches
from grader.db.models import Assignment, Submission
from grader.rubric_spec import Limits
from grader.services import presence, rubrics
from grader.services.broker import CPU_QUEUE, GPU_QUEUE, GRADE_TASK, SENT_AT_HEADER, client

log = logging.getLogger(__name__)

# Fail fast when the broker is down: the reconciler retries, an upload should not hang.
SEND_RETRY_POLICY = {"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2, "interval_max": 0.5}


def queue_for(device: str, gpu_workers: bool, fallback_to_cpu: bool) -> str:
    """`cuda` waits for a GPU worker; `auto` takes one if any runs, else the CPU (unless told not to)."""
    if device == "cuda":
        return GPU_QUEUE
    if device == "cpu":
        return CPU_QUEUE
    return GPU_QUEUE if gpu_workers or not fallback_to_cpu else CPU_QUEUE


def gpu_workers_available() -> bool:
    """GRADER_GPU_WORKERS if set, else whether a worker that takes the gpu queue has announced itself."""
    settings = get_settings()
    if settings.gpu_workers is not None:
        return settings.gpu_workers
    return presence.gpu_worker_announced()


def queue_for_device(device: str) -> str:
    """The queue a rubric version made for `device` grades on now."""
    return queue_for(device, device == "auto" and gpu_workers_available(), get_settings().gpu_fallback_to_cpu)


def queue_of(assignment: Assignment) -> str:
    """The queue the assignment's grading goes to now (its published version's device)."""
    return queue_for_device(assignment.device)


def _route(db: Session, assignment: Assignment, rubric_hash: str) -> tuple[str, float]:
    """The queue and hard time limit of a grade with rubric version `rubric_hash`: its device's
    queue, and its submission_timeout_s plus a grace for the trusted checks. A version that does
    not load goes by the published device and the default limits (the worker records why as the
    run's failure), so that a broken rubric never stops the sending."""
    grace = get_settings().hard_limit_grace_s
    try:
        rubric = rubrics.version(db, rubric_hash, assignment.rubric_id)
    except Exception as exc:  # noqa: BLE001 - see the docstring
        log.error("assignment %s: rubric %r version %s does not load (%s); sending with default limits",
                  assignment.id, assignment.rubric_id, rubric_hash, exc)
        return queue_of(assignment), Limits().submission_timeout_s + grace
    return queue_for_device(rubric.device), rubric.limits.submission_timeout_s + grace


@dataclass(frozen=True)
class Route:
    """Where one submission's grading message goes, and what it carries besides the id."""

    queue: str
    time_limit: float
    sent_at: datetime  # the submission's request or its last send: when this message goes (queue_progress)


def routes(db: Session, assignment: Assignment, submission_ids: Sequence[int]) -> dict[int, Route]:
    """submission id -> its route, from the rubric version it is graded with (the one its request
    names: not always the published one)."""
    asked = select(Submission.id, Submission.rubric_hash, Submission.updated_at)
    requests = {submission_id: (rubric_hash, stamp) for some in batches(submission_ids)
                for submission_id, rubric_hash, stamp in db.execute(asked.where(Submission.id.in_(some)))}
    by_version = {rubric_hash: _route(db, assignment, rubric_hash) for rubric_hash, _ in requests.values()}
    return {submission_id: Route(*by_version[rubric_hash], stamp)
            for submission_id, (rubric_hash, stamp) in requests.items()}


@dataclass(frozen=True)
class _Send:
    queue: str
    time_limit: float
    submissions: tuple[tuple[int, datetime], ...]  # id, and when its message is sent

    def deliver(self) -> None:
        """Send one task per submission; at the first failure the rest stay queued for the reconciler."""
        sender = client()
        for sent, (submission_id, sent_at) in enumerate(self.submissions):
            try:
                # Celery takes the limit in float seconds; celery-types declares int.
                sender.send_task(GRADE_TASK, args=[submission_id], queue=self.queue,
                                 headers={SENT_AT_HEADER: sent_at.isoformat()},
                                 time_limit=self.time_limit,  # type: ignore[arg-type]
                                 retry_policy=SEND_RETRY_POLICY)
            except (KombuError, OSError) as exc:
                log.warning("broker unreachable (%s): %d submission(s) stay queued until the reconciler sends them",
                            exc, len(self.submissions) - sent)
                return


@dataclass(frozen=True)
class _TaskSend:
    """One task that is not grading, with its arguments (ids: the worker reads the rest)."""

    task: str
    args: tuple[int, ...]
    queue: str

    def deliver(self) -> None:
        try:
            client().send_task(self.task, args=list(self.args), queue=self.queue, retry_policy=SEND_RETRY_POLICY)
        except (KombuError, OSError) as exc:
            log.warning("broker unreachable (%s): %s%s was not sent", exc, self.task, self.args)


PENDING = "grader.pending_sends"  # the key of a session's notes in `Session.info`


def enqueue(db: Session, assignment: Assignment, submission_ids: Sequence[int]) -> None:
    """One grading task per submission, sent once `db` commits (nothing if it rolls back).

    Each queue and hard time limit (see `_route`) is decided now, while the assignment and its
    submissions can still be read.
    """
    if not submission_ids:
        return
    if None in submission_ids:
        raise ValueError("enqueue after a flush: a new submission has no id before it")
    routes_now = routes(db, assignment, submission_ids)
    by_route: dict[tuple[str, float], list[tuple[int, datetime]]] = {}
    for submission_id in submission_ids:
        route = routes_now.get(submission_id)
        if route is not None:  # else deleted meanwhile: nothing to grade
            by_route.setdefault((route.queue, route.time_limit), []).append((submission_id, route.sent_at))
    db.info.setdefault(PENDING, []).extend(
        _Send(queue_name, limit, tuple(sends)) for (queue_name, limit), sends in by_route.items())


def send_after_commit(db: Session, task: str, args: Sequence[int], queue: str = CPU_QUEUE) -> None:
    """Send `task` once `db` commits (nothing if it rolls back)."""
    db.info.setdefault(PENDING, []).append(_TaskSend(task, tuple(args), queue))


@event.listens_for(Session, "after_commit")
def _send_after_commit(db: Session) -> None:
    for send in db.info.pop(PENDING, []):
        send.deliver()


@event.listens_for(Session, "after_transaction_end")
def _forget_what_was_not_committed(db: Session, transaction: SessionTransaction) -> None:
    """A rollback, a failed commit or a close without a commit: nothing is sent."""
    if transaction.parent is None:
        db.info.pop(PENDING, None)
