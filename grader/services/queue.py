"""Sending grading work to the workers by task name; the database is the truth, a message a hint.

Callers commit first and send afterwards. A message that cannot be sent (broker down) is only
logged: the submission stays queued in the database and the reconciler sends it again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from kombu.exceptions import KombuError

from grader.config import get_settings
from grader.db.models import Assignment
from grader.rubric_spec import Limits
from grader.services import presence
from grader.services.broker import CPU_QUEUE, GPU_QUEUE, GRADE_TASK, client
from grader.services.rubrics import load_assignment_rubric

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


def queue_of(assignment: Assignment) -> str:
    """The queue the assignment's grading goes to now."""
    return queue_for(assignment.device, assignment.device == "auto" and gpu_workers_available(),
                     get_settings().gpu_fallback_to_cpu)


def _limits(assignment: Assignment) -> Limits:
    """The rubric's limits; the defaults if it does not load, for whatever reason (the worker
    records why as the run's failure), so that a broken rubric never stops the sending."""
    try:
        return load_assignment_rubric(assignment.rubric_id).limits
    except Exception as exc:
        log.error("assignment %s: rubric %r does not load (%s); sending with default limits",
                  assignment.id, assignment.rubric_id, exc)
        return Limits()


def enqueue(assignment: Assignment, submission_ids: Sequence[int]) -> int:
    """Send one grading task per (committed) submission; returns how many messages went out.

    The hard time limit is the rubric's submission_timeout_s plus a grace for the trusted checks.
    """
    if not submission_ids:
        return 0
    settings = get_settings()
    queue = queue_of(assignment)
    time_limit = _limits(assignment).submission_timeout_s + settings.hard_limit_grace_s
    sender = client()
    for sent, submission_id in enumerate(submission_ids):
        try:
            sender.send_task(GRADE_TASK, args=[submission_id], queue=queue, time_limit=time_limit,
                             retry_policy=SEND_RETRY_POLICY)
        except (KombuError, OSError) as exc:
            log.warning("broker unreachable (%s): %d submission(s) stay queued until the reconciler sends them",
                        exc, len(submission_ids) - sent)
            return sent
    return len(submission_ids)
